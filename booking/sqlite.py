"""SQLite for the one SQL store: stdlib sqlite3 on one dedicated thread, WAL, BEGIN IMMEDIATE."""

from __future__ import annotations

import asyncio
import os
import re
import sqlite3
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, date, datetime
from functools import cache, partial
from pathlib import Path

from .batches import Batches, Raised
from .outages import BUSY, DOWN, FULL, CommitUnknown, Unavailable
from .sql import UniqueViolation

TYPES = {"id": "INTEGER PRIMARY KEY", "ts": "TEXT", "date": "TEXT"}
LOW_ON_DISK = 1 << 20  # bytes free on the database's file system below which it counts as full (/readyz)
# SQLite's primary result codes that mean the file cannot be written or read now (other errors are bugs).
OUTAGES = {
    sqlite3.SQLITE_FULL: FULL,
    sqlite3.SQLITE_IOERR: DOWN,
    sqlite3.SQLITE_CANTOPEN: DOWN,
    sqlite3.SQLITE_READONLY: DOWN,
    sqlite3.SQLITE_NOMEM: DOWN,
    sqlite3.SQLITE_BUSY: BUSY,
    sqlite3.SQLITE_LOCKED: BUSY,
}


def outage(error: BaseException) -> Unavailable | None:
    """The outage an sqlite3 error stands for ("database or disk is full", "disk I/O error", …), or None."""
    code = getattr(error, "sqlite_errorcode", None)
    reason = OUTAGES.get(code & 0xFF) if isinstance(error, sqlite3.Error) and code is not None else None
    return Unavailable.of(reason, error) if reason else None


@cache
def translate(sql: str) -> str:
    """The statement for SQLite: no row locks (BEGIN IMMEDIATE already holds the whole file)."""
    return re.sub(r"\s+FOR UPDATE( SKIP LOCKED)?\b", "", sql)


def adapt(value):
    """A parameter as SQLite stores it: UTC timestamps and dates as sortable text."""
    if isinstance(value, datetime):
        return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f" if value.microsecond else "%Y-%m-%d %H:%M:%S")
    if isinstance(value, date):
        return value.isoformat()
    return value


def run_to_end(body):
    """Run a coroutine whose every await is answered at once (on this thread) and return its result."""
    try:
        body.send(None)
    except StopIteration as done:
        return done.value
    body.close()
    raise RuntimeError("a store transaction awaited something other than its database")


class SqliteTx:
    """The store's view of the connection, on the database thread: its awaits never wait."""

    types = TYPES

    def __init__(self, db: sqlite3.Connection):
        self._db = db
        self.changes: list[str] = []

    def _run(self, sql: str, params: dict) -> sqlite3.Cursor:
        try:
            return self._db.execute(translate(sql), {k: adapt(v) for k, v in params.items()})
        except sqlite3.IntegrityError as error:
            if "UNIQUE" in str(error):
                raise UniqueViolation(str(error)) from None
            raise

    async def fetch(self, sql: str, **params) -> list[sqlite3.Row]:
        return self._run(sql, params).fetchall()

    async def fetch_one(self, sql: str, **params) -> sqlite3.Row | None:
        return self._run(sql, params).fetchone()

    async def fetch_value(self, sql: str, **params):
        row = self._run(sql, params).fetchone()
        return row[0] if row else None

    async def execute(self, sql: str, **params) -> int:
        return self._run(sql, params).rowcount

    async def execute_many(self, sql: str, rows) -> None:
        self._db.executemany(translate(sql), [{k: adapt(v) for k, v in row.items()} for row in rows])

    async def changed(self, *names: str) -> None:
        self.changes.extend(names)  # one process owns the file: nobody else to tell

    async def lock_schema(self) -> None:
        """BEGIN IMMEDIATE holds the file already."""


class SqliteDatabase:
    """One SQLite file, one connection, one thread: statements never wait for each other's locks."""

    listening = True  # one process owns the file: nothing to listen to

    def __init__(self, path: Path):
        self.path = path
        self._thread = ThreadPoolExecutor(1, thread_name_prefix="sqlite")
        self._writes = Batches(partial(self._on_thread, self._write))
        self._db: sqlite3.Connection | None = None

    async def _on_thread(self, call, *args):
        return await asyncio.get_running_loop().run_in_executor(self._thread, call, *args)

    async def open(self) -> None:
        """Connect and tune."""
        await self._on_thread(self._connect)

    def _connect(self) -> None:
        self.path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        os.close(os.open(self.path, os.O_CREAT | os.O_RDWR, 0o600))  # private; SQLite gives its WAL the same mode
        db = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
        db.row_factory = sqlite3.Row
        for pragma in ("journal_mode=WAL", "synchronous=FULL", "busy_timeout=5000", "foreign_keys=ON"):
            db.execute(f"PRAGMA {pragma}")
        self._db = db

    async def close(self) -> None:
        """Close the connection and stop the thread."""
        if self._db is not None:
            await self._on_thread(self._db.close)
            self._db = None
        self._thread.shutdown(wait=True)

    async def read(self, body, *args):
        """body(tx, *args) on the database thread, each statement on its own; an outage raises Unavailable."""
        return await outages_raised(self._on_thread(self._read, body, args))

    def _read(self, body, args):
        return run_to_end(body(SqliteTx(self._db), *args))

    async def write(self, body, *args):
        """body(tx, *args) as one transaction: all of it or none, committed (and on disk) before this returns. An
        outage raises Unavailable (nothing saved), or CommitUnknown (an I/O error during COMMIT)."""
        return await outages_raised(self._writes.add((body, args)))

    def _write(self, calls: list) -> list:
        """Group commit: the writes that queued while the last ran go in one transaction, each in a savepoint of
        its own (one that raises leaves no trace, and its caller gets the error), then one COMMIT, one fsync.
        As if run one after another: one connection, one thread, and the write lock held from the start. A write
        alone needs no savepoint: if it raises, the whole transaction rolls back."""
        self._roll_back()
        self._db.execute("BEGIN IMMEDIATE")
        try:
            if len(calls) == 1:
                return [self._alone(*calls[0])]
            done = [self._in_savepoint(*call) for call in calls]
            self._commit()
        except BaseException:
            self._roll_back()
            raise
        return done

    def _alone(self, body, args):
        """The transaction's one write, committed: its result and changes; or Raised, all of it rolled back."""
        done = self._attempt(body, args, "ROLLBACK")
        if not isinstance(done, Raised):
            self._commit()
        return done

    def _in_savepoint(self, body, args):
        """One write of several in the transaction, in a savepoint: its result and changes, or Raised."""
        self._db.execute("SAVEPOINT one")
        done = self._attempt(body, args, "ROLLBACK TO one")
        self._db.execute("RELEASE one")
        return done

    def _attempt(self, body, args, undo: str):
        """Run one write: its result and changes; or, if it raised, `undo` run and Raised (unless SQLite gave the
        whole transaction up, a full disk or I/O: then the error goes on)."""
        tx = SqliteTx(self._db)
        try:
            result = run_to_end(body(tx, *args))
        except Exception as error:
            if not self._db.in_transaction:
                raise
            self._db.execute(undo)
            return Raised(error)
        return result, tx.changes

    def _commit(self) -> None:
        """COMMIT; an I/O error there may have left the transaction on disk all the same: CommitUnknown."""
        try:
            self._db.execute("COMMIT")
        except sqlite3.Error as error:
            if (down := outage(error)) is not None and down.reason == DOWN:
                raise CommitUnknown.of(DOWN, error) from error
            raise

    def _roll_back(self) -> None:
        """End a transaction left open (a COMMIT that failed on a full disk leaves one): the next write can begin."""
        if self._db.in_transaction:
            self._db.execute("ROLLBACK")

    async def listen(self, on_change, on_resync) -> None:
        """Nothing to wait for: one process owns the file, and its hub hears every change directly."""

    def full(self) -> str | None:
        """Whether the file's disk is (all but) full: a write that rolls back never reaches the disk to find out."""
        disk = os.statvfs(self.path.parent)
        free = disk.f_bavail * disk.f_frsize
        return f"{free // 1024} KiB free on its disk" if free < LOW_ON_DISK else None


async def outages_raised(work):
    """Await `work`; an sqlite3 error that stands for an outage is raised as Unavailable."""
    try:
        return await work
    except sqlite3.Error as error:
        if (down := outage(error)) is None:
            raise
        raise down from error


def backup(source: Path, target: Path) -> None:
    """A consistent copy of a database in use (SQLite's online backup, never a file copy), private like it."""
    target.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    os.close(os.open(target, os.O_CREAT | os.O_RDWR, 0o600))
    with sqlite3.connect(source) as live, sqlite3.connect(target) as copy:
        live.backup(copy)
