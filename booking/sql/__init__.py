"""The one SQL store: every query written once, run on SQLite or PostgreSQL through a small database interface.

A store method hands a *body* — an async function of a transaction `tx` — to the engine: `db.read(body, …)`
or `db.write(body, …)`. A body awaits nothing but `tx` (SQLite runs it to the end on its one thread), and calls
`tx.changed(*topics)` for what it touches: PostgreSQL announces those topics to the other processes inside the
transaction (delivered only on commit), and after the commit this process's `notify` gets the same list.
Statements use `:name` parameters; an engine translates each text once (PostgreSQL's `$n`; SQLite drops the row
locks, as BEGIN IMMEDIATE already holds the whole file).

The package by entity: `engine` (the Database and Tx an engine implements), `rows` (rows into dataclasses),
`store` (SqlStore, whose methods stay thin), and the transaction bodies — each a plain `async def _name(tx, …)`
that takes the transaction first and awaits nothing else — in `venues` (venues, resources, schedules and the slots
they make), `slots` (slot reads), `bookings` (and the day's line), `waitlist`, `people` (the per-person rule,
counted in person_days), `staff` (accounts and password links, with SqlStore's methods for them; erasure), `audit` (the audit trail, with SqlStore's methods for it), `outbox` (webhooks and e-mail), `limits`
(attempt counts), `drawing` (the draw's one transaction, 抽签), `draws` (entries, with SqlStore's methods for the
draw) and `keys` (API keys, with KeyStore). Bodies call each other one way only: `people` below `slots`, `slots`
and `outbox` below `waitlist`, `waitlist` below `bookings` and `venues`, `bookings` and `drawing` below `draws`, all
of them below `store`.
"""

from .engine import Database, Tx, UniqueViolation
from .store import SqlStore

__all__ = ["Database", "SqlStore", "Tx", "UniqueViolation"]
