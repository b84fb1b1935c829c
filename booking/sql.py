"""The one SQL store: every query written once, run on SQLite or PostgreSQL through a small database interface.

A store method hands a *body* — an async function of a transaction `tx` — to the engine: `db.read(body, …)`
or `db.write(body, …)`. A body awaits nothing but `tx` (SQLite runs it to the end on its one thread), and calls
`tx.changed(*topics)` for what it touches: PostgreSQL announces those topics to the other processes inside the
transaction (delivered only on commit), and after the commit this process's `notify` gets the same list.
Statements use `:name` parameters; an engine translates each text once (PostgreSQL's `$n`; SQLite drops the row
locks, as BEGIN IMMEDIATE already holds the whole file).
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import fields, replace
from datetime import UTC, date, datetime, time, timedelta
from functools import cache
from time import monotonic
from typing import Any, Protocol, TypeVar, get_args, get_type_hints

from . import schedule, topics
from .batches import Batches
from .migrations import MIGRATIONS
from .model import (
    EMAIL,
    GONE,
    NOT_YET,
    RESOURCE_SETTINGS,
    VENUE_DETAILS,
    AuditEntry,
    Booking,
    CapacityConflict,
    DayException,
    Duplicate,
    Forbidden,
    IdempotencyMismatch,
    LimitReached,
    NotFound,
    NotMovable,
    NotOpenYet,
    OfferGone,
    OpeningRule,
    OtherResource,
    Resource,
    Slot,
    SlotAvailable,
    SlotFull,
    SlotUnavailable,
    Venue,
    WaitlistEntry,
    contact_key,
    local_today,
    movable,
    new_cancel_token,
    new_reference,
    opens_at,
    slot_state,
    waiting_line,
)
from .outbox import Message, Notices, Webhook, event_body

T = TypeVar("T")
Row = Mapping[str, Any]


class UniqueViolation(Exception):
    """A row would repeat a unique value (each engine turns its driver's error into this)."""


class Tx(Protocol):
    """One connection, inside a transaction for writes."""

    types: Mapping[str, str]  # the engine's column types for {id}, {ts} and {date} in MIGRATIONS

    async def fetch(self, sql: str, **params) -> list[Row]: ...
    async def fetch_one(self, sql: str, **params) -> Row | None: ...
    async def fetch_value(self, sql: str, **params) -> Any: ...
    async def execute(self, sql: str, **params) -> int: ...  # rows affected
    async def execute_many(self, sql: str, rows: Sequence[Mapping[str, Any]]) -> None: ...
    async def changed(self, *names: str) -> None: ...  # topics this transaction touches
    async def lock_schema(self) -> None: ...  # concurrent starts migrate one at a time


class Database(Protocol):
    """What an engine offers the store."""

    listening: bool  # whether other processes' changes reach this one now (always, for a one-process engine)

    async def open(self) -> None: ...
    async def close(self) -> None: ...
    async def read(self, body: Callable[..., Awaitable[T]], *args) -> T: ...
    async def write(self, body: Callable[..., Awaitable[T]], *args) -> tuple[T, list[str]]: ...  # and its topics
    async def listen(self, on_change: Callable[..., object], on_resync: Callable[[], object]) -> None: ...


class KeyTaken(Exception):
    """A concurrent request with the same idempotency key committed first: roll back and return its booking."""


@cache
def _converters(cls: type) -> dict[str, Callable[[Any], Any]]:
    """Field name -> how a column value becomes that field (SQLite hands back text and 0/1)."""
    hints = get_type_hints(cls)
    converters = {}
    for f in fields(cls):
        types = get_args(hints[f.name]) or (hints[f.name],)
        parse = next((PARSE[t] for t in types if t in PARSE), None)
        converters[f.name] = _converter(parse) if parse else _same
    return converters


PARSE = {datetime: lambda text: datetime.fromisoformat(text).replace(tzinfo=UTC), date: date.fromisoformat,
         time: time.fromisoformat, bool: bool}


def _same(value):
    return value


def _converter(parse):
    def convert(value):
        return parse(value) if isinstance(value, str | int) and not isinstance(value, bool) else value

    return convert


as_date = _converter(date.fromisoformat)
as_moment = _converter(PARSE[datetime])


def build(cls: type[T], row: Row, **extra) -> T:
    """A dataclass from a row, by column name (columns it has no field for are left out)."""
    converters = _converters(cls)
    return cls(**{k: converters[k](row[k]) for k in row.keys() if k in converters}, **extra)


def hhmm(moment: time | None) -> str | None:
    return moment and moment.isoformat("minutes")


FULL_KEPT, FULL_KEPT_SECONDS = 10_000, 1.0  # full slots kept at most, and for how long without a change heard
SLOTS_PER_STATEMENT = 512  # slot ids read by one statement at most


class SqlStore:
    """The Store, over any Database; `notify(*topics)` hears every change this process commits."""

    def __init__(self, db: Database, notify: Callable[..., object] = lambda *names: None,
                 offer_for: timedelta = timedelta(minutes=10), notices: Notices = Notices()):
        self.db = db
        self.notify = notify
        self.offer_for = offer_for  # how long a freed place is held for the waitlist entry it is offered to
        self.notices = notices  # what the outbox gets besides webhooks: e-mails, reminders
        # Every venue with its resources, read once and read again after a change to any of them (this process's
        # writes, or another's, heard through listen): a booking and a render need them, and they seldom change.
        self._venues: list[Venue] | None = None
        self._venues_era = 0  # counts those changes: a read that a change overtook is not kept
        # Slots read with no place left, kept until any change is heard (or FULL_KEPT_SECONDS pass): at a release
        # most attempts are at full slots, and refusing them then reads nothing.
        self._full: dict[int, tuple[Slot, float]] = {}
        self._full_era = 0
        self._attempts = Batches(self._count_attempts)  # a crowd's attempts: one transaction for many
        # A crowd's slot reads: one statement for many. At a release 2,000 requests each read their slot at once,
        # and queued one by one for the database's thread, they kept a render's read waiting for a second.
        self._slot_reads = Batches(self._read_slots)

    async def _write(self, body: Callable[..., Awaitable[T]], *args) -> T:
        result, changed = await self.db.write(body, *args)
        if changed:
            self._heard(changed)
            self.notify(*dict.fromkeys(changed))
        return result

    def _heard(self, names) -> None:
        """Changes committed: forget the full slots, and the venues when any of them was one."""
        self._forget_full()
        if topics.VENUES in names:
            self._forget_venues()

    def _forget_full(self) -> None:
        self._full.clear()
        self._full_era += 1

    def _forget_venues(self) -> None:
        self._venues = None
        self._venues_era += 1

    async def _every_venue(self) -> list[Venue]:
        """Every venue, archived ones too, as kept (read when none is kept)."""
        if self._venues is not None:
            return self._venues
        era = self._venues_era
        found = await self.db.read(_venues, "", {})
        if era == self._venues_era:
            self._venues = found
        return found

    async def open(self) -> None:
        """Connect and bring the schema up to date."""
        await self.db.open()
        await self.db.write(_migrate)

    async def close(self) -> None:
        await self.db.close()

    async def trouble(self) -> str | None:
        """Why this store cannot serve now (None: it can): the database must answer, a listener be connected."""
        try:
            await self.db.read(_ping)
        except Exception as error:  # whatever the driver says, the answer is "not ready"
            return f"database: {type(error).__name__}"
        return None if self.db.listening else "listener: not connected"

    async def listen(self, on_change, on_resync) -> None:
        """Until cancelled: on_change(*topics) for other processes' changes, on_resync() when some may be lost."""

        def changed(*names):
            self._heard(names)
            on_change(*names)

        def resync():
            self._forget_full()
            self._forget_venues()
            on_resync()

        await self.db.listen(changed, resync)

    # -- venues and resources

    async def venues(self, include_archived: bool = False) -> list[Venue]:
        """Every venue (open ones unless asked) with its resources, rules and exceptions."""
        return [v for v in await self._every_venue() if include_archived or not v.archived]

    async def venue(self, slug: str) -> Venue | None:
        """The venue with this slug."""
        return next((v for v in await self._every_venue() if v.slug == slug), None)

    async def venue_by_id(self, venue_id: int) -> Venue | None:
        """The venue with this id."""
        return next((v for v in await self._every_venue() if v.id == venue_id), None)

    async def venue_of_resource(self, resource_id: int) -> Venue | None:
        """The venue that owns a resource."""
        return next((v for v in await self._every_venue() if v.resource(resource_id)), None)

    async def add_venue(self, slug: str, name: str, kind: str, timezone: str, per_person_limit: int = 0,
                        **details: str) -> int:
        """Create a venue; returns its id (Duplicate if the slug is taken). `details`: any of VENUE_DETAILS."""
        return await self._write(_add_venue, slug, name, kind, timezone, per_person_limit, venue_details(details))

    async def update_venue(self, venue_id: int, name: str, kind: str, timezone: str, archived: bool,
                           per_person_limit: int = 0, **details: str | None) -> None:
        """Change a venue's details (of VENUE_DETAILS, those not given or None stay as they are)."""
        await self._write(_update_venue, venue_id, name, kind, timezone, archived, per_person_limit,
                          venue_details(details))

    async def add_resource(self, venue_id: int, slug: str, name: str, rules: list[OpeningRule], *,
                           exceptions: list[DayException] = (), now: datetime | None = None, **settings) -> int:
        """Create a resource with its schedule (and its slots when given `now`); returns its id (or Duplicate).

        `settings`: any of RESOURCE_SETTINGS but the name (max_party=1, horizon_days=14, … by default).
        """
        return await self._write(_add_resource, venue_id, slug, rules, exceptions,
                                 columns({"max_party": 1, "horizon_days": 14, **settings, "name": name}), now)

    async def edit_resource(self, resource_id: int, settings: dict, rules: list[OpeningRule],
                            exceptions: list[DayException], now: datetime) -> list[date]:
        """Save a resource's settings and schedule and regenerate its slots with them, in one transaction.

        Returns the days whose slots changed; raises CapacityConflict (changing nothing) when a booked slot
        would be left with less room than it holds.
        """
        return await self._write(_edit_resource, resource_id, columns(settings), rules, exceptions, now,
                                 self.offer_for)

    async def extend_slots(self, now: datetime) -> int:
        """Create the missing slots of every resource up to its booking horizon; how many were new."""
        created = 0
        for venue in await self.venues(include_archived=True):
            for resource in venue.resources:
                created += await self._write(_extend, venue, resource, now)
        return created

    # -- slots

    async def slots_for_day(self, resource_id: int, day: date) -> list[Slot]:
        """A resource's slots on a venue-local date, in time order."""
        return await self.db.read(_slots, "resource_id = :resource_id AND local_date = :day",
                                  {"resource_id": resource_id, "day": day})

    async def slots_between(self, resource_id: int, first: date, last: date) -> list[Slot]:
        """A resource's slots from one venue-local date to another (both included), in time order."""
        return await self.db.read(_slots, "resource_id = :resource_id AND local_date BETWEEN :first AND :last",
                                  {"resource_id": resource_id, "first": first, "last": last})

    async def free_slots_after(self, resource_id: int, day: date, party_size: int, limit: int = 50) -> list[Slot]:
        """The first open slots with room for the party after a venue-local date (the caller judges release
        and notice: this is the candidates' query)."""
        return await self.db.read(_slots, "resource_id = :resource_id AND local_date > :day AND NOT closed"
                                  " AND capacity - booked - held >= :size", {"resource_id": resource_id, "day": day,
                                  "size": party_size}, f"LIMIT {int(limit)}")

    async def slot(self, slot_id: int) -> Slot | None:
        """One slot by id (a full one as kept: see _full). Reads asked for while one runs go together next."""
        kept = self._full.get(slot_id)
        if kept and monotonic() < kept[1]:
            return kept[0]
        return await self._slot_reads.add(slot_id)

    async def _read_slots(self, ids: list[int]) -> list[Slot | None]:
        """Several slot() reads as one statement, each slot once; the full ones are kept."""
        era = self._full_era
        found = await self.db.read(_slots_by_id, list(dict.fromkeys(ids)))
        if era == self._full_era:  # no change overtook the read
            for slot in found.values():
                if slot.remaining <= 0:
                    if len(self._full) >= FULL_KEPT:
                        self._full.clear()
                    self._full[slot.id] = (slot, monotonic() + FULL_KEPT_SECONDS)
        return [found.get(slot_id) for slot_id in ids]

    async def free_slots_near(self, slot: Slot, party_size: int, now: datetime, limit: int = 3) -> list[Slot]:
        """Slots of the same resource the public can book now with room for the party, nearest in time first."""
        return await self.db.read(_free_near, slot, party_size, now, limit)

    async def set_slot_closed(self, slot_id: int, closed: bool, now: datetime | None = None) -> Slot:
        """Close a slot to new bookings, or open it again (its free places go to its waitlist first)."""
        return await self._write(_set_closed, slot_id, closed, now, self.offer_for)

    # -- bookings

    async def book(self, slot_id: int, name: str, contact: str, party_size: int, now: datetime,
                   idempotency_key: str | None = None, for_staff: bool = False, fingerprint: str = "",
                   over_limit: bool = False, locale: str = "en") -> tuple[Booking, Slot]:
        """Book `party_size` places, or raise NotFound / NotOpenYet / SlotUnavailable / LimitReached / SlotFull.

        One transaction. A key seen before answers with its booking when `fingerprint` (of the request) is the
        same, and raises IdempotencyMismatch when it is not. Staff may book `over_limit` (the per-person limit).
        """
        key = (idempotency_key, fingerprint)
        try:
            return await self._write(_book, slot_id, name, contact, party_size, now, key, (for_staff, over_limit),
                                     locale, self.notices)
        except KeyTaken:
            return await self.db.read(_replay, *key)

    async def booking(self, reference: str) -> tuple[Booking, Slot] | None:
        """A booking by reference, with its slot."""
        return await self.db.read(_booking_where, "reference", reference)

    async def booking_by_id(self, booking_id: int) -> tuple[Booking, Slot] | None:
        """A booking by id, with its slot."""
        return await self.db.read(_booking_where, "id", booking_id)

    async def cancel(self, reference: str, token: str, now: datetime) -> tuple[Booking, Slot, bool]:
        """Cancel with the secret token; the places go back (to the slot's waitlist first, as offers).
        Returns whether anything changed."""
        return await self._write(_cancel, reference, token, now, self.offer_for, self.notices)

    async def reschedule(self, reference: str, token: str, slot_id: int, now: datetime) -> tuple[Booking, Slot]:
        """Move a booking to another slot of its resource in one transaction: the new places are taken before the
        old ones go back (to their waitlist first). Raises NotFound, Forbidden, NotMovable, OtherResource,
        NotOpenYet, SlotUnavailable, LimitReached or SlotFull, and then nothing has moved."""
        return await self._write(_reschedule, reference, token, slot_id, now, self.offer_for, self.notices)

    # -- the waitlist (候补)

    async def join_waitlist(self, slot_id: int, name: str, contact: str, party_size: int,
                            now: datetime) -> tuple[WaitlistEntry, int]:
        """Wait for places in a full slot: the entry and its place in line (1 = next). Raises NotFound,
        SlotAvailable (book it instead), NotOpenYet, SlotUnavailable or LimitReached."""
        return await self._write(_join, slot_id, name, contact, party_size, now)

    async def waitlist_entry(self, reference: str) -> tuple[WaitlistEntry, Slot, int | None] | None:
        """An entry by reference, its slot, and its place in line (None once it waits no more)."""
        return await self.db.read(_entry, "reference", reference)

    async def waitlist_entry_by_id(self, entry_id: int) -> tuple[WaitlistEntry, Slot, int | None] | None:
        """An entry by id, like waitlist_entry."""
        return await self.db.read(_entry, "id", entry_id)

    async def accept_offer(self, reference: str, token: str, now: datetime,
                           locale: str = "en") -> tuple[Booking, Slot]:
        """Turn an offer's held places into a booking. Raises NotFound, Forbidden or OfferGone."""
        return await self._write(_accept, reference, token, now, locale, self.notices)

    async def leave_waitlist(self, reference: str, token: str, now: datetime) -> WaitlistEntry:
        """Stop waiting (an offer held passes on). Raises NotFound or Forbidden."""
        return await self._write(_leave, reference, token, now, self.offer_for)

    async def expire_offers(self, now: datetime) -> int:
        """Offers past their time pass on to the next in line, or back to the public; how many expired."""
        return await self._write(_expire_offers, now, self.offer_for)

    async def waitlist_counts(self, resource_id: int, day: date) -> dict[int, int]:
        """Slot id -> entries waiting or holding an offer, for a resource's day (staff boards)."""
        return await self.db.read(_waitlist_counts, resource_id, day)

    async def bookings_on(self, venue_id: int, day: date) -> list[tuple[Booking, Slot]]:
        """Every booking (cancelled too) in a venue's slots on a local date, by time and ticket."""
        return await self.db.read(_entries, "r.venue_id = :venue_id", {"venue_id": venue_id, "day": day})

    async def bookings_of(self, resource_id: int, day: date) -> list[tuple[Booking, Slot]]:
        """Every booking (cancelled too) in a resource's slots on a local date, by time and ticket."""
        return await self.db.read(_entries, "s.resource_id = :resource_id", {"resource_id": resource_id, "day": day})

    async def bookings_between(self, venue_id: int, first: date, last: date) -> list[tuple[Booking, Slot]]:
        """Every booking (cancelled too) in a venue's slots on the local dates first..last, by time and ticket."""
        return await self.db.read(_entries_in, "r.venue_id = :venue_id AND s.local_date BETWEEN :first AND :last",
                                  {"venue_id": venue_id, "first": first, "last": last})

    # -- the line: attendance and calls

    async def set_attendance(self, booking_id: int, attendance: str | None) -> tuple[Booking, Slot]:
        """Mark a confirmed booking checked in, no-show, or neither."""
        return await self._write(_update_booking, booking_id, "attendance = :attendance", {"attendance": attendance})

    async def call(self, booking_id: int, counter: str, now: datetime) -> tuple[Booking, Slot]:
        """Call a ticket to a counter or room."""
        return await self._write(_update_booking, booking_id, CALL, {"now": now, "counter": counter})

    async def call_next(self, resource_id: int, day: date, counter: str, now: datetime) -> tuple[Booking, Slot] | None:
        """Call the first ticket waiting in a resource-day's line (None when nobody waits)."""
        return await self._write(_call_next, resource_id, day, counter, now)

    async def requeue(self, booking_id: int, now: datetime) -> tuple[Booking, Slot]:
        """A called ticket that did not come (过号) goes back into the line, behind those due now."""
        return await self._write(_update_booking, booking_id, REQUEUE, {"now": now})

    # -- staff accounts

    async def set_staff_password(self, username: str, password_hash: str) -> None:
        """Create a staff account or change its password hash."""
        await self._write(_set_password, username, password_hash)

    async def add_staff(self, username: str, password_hash: str) -> bool:
        """Create a staff account unless it exists; whether it was created."""
        return await self._write(_add_staff, username, password_hash)

    async def staff_password_hash(self, username: str) -> str | None:
        """The stored hash of a staff account's password."""
        return await self.db.read(_password_hash, username)

    async def staff_session_version(self, username: str) -> int | None:
        """The version a staff member's sessions must carry (None: no such account)."""
        return await self.db.read(_session_version, username)

    async def end_staff_sessions(self, username: str) -> None:
        """Every session of this account stops working (logout, new password)."""
        await self._write(_end_sessions, username)

    # -- the audit trail, retention and erasure

    async def record(self, entry: AuditEntry) -> None:
        """Keep a staff action in the audit trail (it is never edited)."""
        await self._write(_record, entry)

    async def audit_trail(self, venue_id: int | None = None, day: date | None = None,
                          limit: int = 200) -> list[AuditEntry]:
        """The newest staff actions first, of one venue and day when given."""
        return await self.db.read(_audit_trail, venue_id, day, limit)

    async def erase_ended(self, before: datetime) -> int:
        """Erase names and contacts of bookings and waitlist entries whose slot ended before `before`; how many.
        Counts, times and references stay."""
        return await self._write(_erase, "s.ends_at < :before", {"before": before}, None)

    async def erase_person(self, contact: str) -> int:
        """Erase one person's names and contacts everywhere (matched by the normalised contact); how many."""
        return await self._write(_erase, "TRUE", {}, contact_key(contact))

    # -- the outbox: webhooks and e-mail, delivered after commit

    async def add_webhook(self, venue_id: int, url: str, secret: str, now: datetime) -> int:
        """Register an endpoint for every event of a venue."""
        return await self._write(_add_webhook, venue_id, url, secret, now)

    async def remove_webhook(self, webhook_id: int) -> None:
        """Stop sending to an endpoint (what is queued for it is skipped); its deliveries stay on record."""
        await self._write(_remove_webhook, webhook_id)

    async def webhooks(self, venue_id: int | None = None) -> list[Webhook]:
        """Active endpoints, of one venue when given."""
        return await self.db.read(_webhooks, venue_id)

    async def outbox(self, venue_id: int | None = None, limit: int = 50) -> list[Message]:
        """The newest deliveries, of one venue when given, with their state and last error (for staff)."""
        return await self.db.read(_outbox, venue_id, limit)

    async def claim_messages(self, now: datetime, lease: timedelta, limit: int = 20) -> list[Message]:
        """Messages due now, claimed for `lease`: no other sender takes them meanwhile (SKIP LOCKED between
        processes); one not settled by then (its sender died) is due again."""
        return await self._write(_claim, now, lease, limit)

    async def settle_message(self, message_id: int, state: str, now: datetime, error: str | None = None,
                             retry_at: datetime | None = None) -> None:
        """A delivery's outcome: sent, skipped, failed for good, or (`retry_at`) pending again."""
        await self.db.write(_settle, message_id, state, now, error, retry_at)

    async def next_due(self) -> datetime | None:
        """When the next pending message is due (None: none is)."""
        return await self.db.read(_next_due)

    async def prune_outbox(self, before: datetime) -> int:
        """Forget deliveries settled before `before`; how many."""
        return (await self.db.write(_prune_outbox, before))[0]

    # -- limits every process sees

    async def count_attempt(self, keys: list[str], now: datetime, window: timedelta) -> list[tuple[int, datetime]]:
        """Count one attempt under each key (e.g. a client address, a user name) in its window, atomically.

        Returns (attempts in the window, its start) per key; a window older than `window` starts again.
        """
        return await self._attempts.add((keys, now, window))

    async def _count_attempts(self, calls: list[tuple[list[str], datetime, timedelta]]) -> list:
        """Several count_attempt calls in one transaction, in the order they came."""
        return await self._write(_count_attempts, calls)

    async def forget_attempts(self, keys: list[str]) -> None:
        """Clear these keys' counts (a login that succeeded)."""
        await self._write(_forget_attempts, keys)


# The transaction bodies: each takes the transaction first and awaits nothing else.

OF_RESOURCE = "WHERE id = (SELECT venue_id FROM resources WHERE id = :resource_id)"
CALL = "called_at = :now, called_to = :counter"
REQUEUE = "called_at = NULL, called_to = NULL, requeued_at = :now"


async def _ping(tx: Tx) -> None:
    await tx.fetch_value("SELECT 1")


async def _migrate(tx: Tx) -> None:
    await tx.lock_schema()
    await tx.execute("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)")
    done = await tx.fetch_value("SELECT COALESCE(MAX(version), 0) FROM schema_version")
    for version, step in enumerate(MIGRATIONS[done:], start=done + 1):
        for statement in step.format(**tx.types).split(";"):
            if statement.strip():
                await tx.execute(statement)
        await tx.execute("INSERT INTO schema_version (version) VALUES (:version)", version=version)


async def _venues(tx: Tx, where: str, params: dict) -> list[Venue]:
    venues = await tx.fetch(f"SELECT * FROM venues {where} ORDER BY id", **params)
    if not venues:
        return []
    of_these = f"SELECT id FROM resources WHERE venue_id IN (SELECT id FROM venues {where})"
    rules: dict[int, list[OpeningRule]] = {}
    for row in await tx.fetch(f"SELECT * FROM opening_rules WHERE resource_id IN ({of_these}) ORDER BY id", **params):
        rules.setdefault(row["resource_id"], []).append(build(OpeningRule, row))
    exceptions: dict[int, list[DayException]] = {}
    for row in await tx.fetch(
        "SELECT resource_id, local_date, opens, closes, COALESCE(slot_minutes, 30) AS slot_minutes,"
        f" COALESCE(capacity, 0) AS capacity FROM day_exceptions WHERE resource_id IN ({of_these})"
        " ORDER BY local_date", **params,
    ):
        exceptions.setdefault(row["resource_id"], []).append(build(DayException, row))
    resources: dict[int, list[Resource]] = {}
    for row in await tx.fetch(
        f"SELECT * FROM resources WHERE venue_id IN (SELECT id FROM venues {where}) ORDER BY id", **params,
    ):
        resources.setdefault(row["venue_id"], []).append(build(
            Resource, row, rules=tuple(rules.get(row["id"], ())), exceptions=tuple(exceptions.get(row["id"], ()))))
    return [build(Venue, v, resources=tuple(resources.get(v["id"], ()))) for v in venues]


async def _venue(tx: Tx, where: str, params: dict) -> Venue | None:
    found = await _venues(tx, where, params)
    return found[0] if found else None


def venue_details(details: dict) -> dict:
    """A venue's details that are given (only known names: they go into the SQL text)."""
    unknown = set(details) - set(VENUE_DETAILS)
    if unknown:
        raise ValueError(f"not a venue detail: {sorted(unknown)}")
    return {k: v for k, v in details.items() if v is not None}


async def _add_venue(tx: Tx, slug: str, name: str, kind: str, timezone: str, limit: int, details: dict) -> int:
    await tx.changed(topics.VENUES)
    try:
        return await tx.fetch_value(
            f"INSERT INTO venues (slug, name, kind, timezone, per_person_limit{''.join(f', {k}' for k in details)})"
            f" VALUES (:slug, :name, :kind, :timezone, :limit{''.join(f', :{k}' for k in details)}) RETURNING id",
            slug=slug, name=name, kind=kind, timezone=timezone, limit=limit, **details)
    except UniqueViolation:
        raise Duplicate(slug) from None


async def _update_venue(tx: Tx, venue_id: int, name: str, kind: str, timezone: str, archived: bool,
                        limit: int, details: dict) -> None:
    await tx.execute("UPDATE venues SET name = :name, kind = :kind, timezone = :timezone, archived = :archived,"
                     f" per_person_limit = :limit{''.join(f', {k} = :{k}' for k in details)} WHERE id = :id",
                     id=venue_id, name=name, kind=kind, timezone=timezone, archived=archived, limit=limit, **details)
    resource_ids = [r["id"] for r in await tx.fetch("SELECT id FROM resources WHERE venue_id = :id", id=venue_id)]
    await tx.changed(topics.VENUES, topics.clock(venue_id), *(t for r in resource_ids for t in topics.of_resource(r)))


def columns(settings: dict) -> dict:
    """A resource's settings as its columns hold them (only known names: they go into the SQL text)."""
    unknown = set(settings) - set(RESOURCE_SETTINGS)
    if unknown:
        raise ValueError(f"not a resource setting: {sorted(unknown)}")
    return {k: hhmm(v) if isinstance(v, time) else v for k, v in settings.items()}


async def _add_resource(tx: Tx, venue_id: int, slug: str, rules, exceptions, settings: dict,
                        now: datetime | None) -> int:
    try:
        resource_id = await tx.fetch_value(
            f"INSERT INTO resources (venue_id, slug, {', '.join(settings)})"
            f" VALUES (:venue_id, :slug, {', '.join(f':{k}' for k in settings)}) RETURNING id",
            venue_id=venue_id, slug=slug, **settings)
    except UniqueViolation:
        raise Duplicate(slug) from None
    await _save_schedule(tx, resource_id, rules, exceptions)
    if now is not None:
        await _regenerate(tx, resource_id, now)
    return resource_id


async def _edit_resource(tx: Tx, resource_id: int, details: dict, rules, exceptions, now: datetime,
                         offer_for: timedelta) -> list[date]:
    # The row lock makes concurrent edits of one resource take turns.
    if await tx.fetch_one("SELECT id FROM resources WHERE id = :id FOR UPDATE", id=resource_id) is None:
        raise NotFound(resource_id)
    if details:
        await tx.execute(f"UPDATE resources SET {', '.join(f'{k} = :{k}' for k in details)} WHERE id = :id",
                         id=resource_id, **details)
    await tx.execute("DELETE FROM opening_rules WHERE resource_id = :id", id=resource_id)
    await tx.execute("DELETE FROM day_exceptions WHERE resource_id = :id", id=resource_id)
    await _save_schedule(tx, resource_id, rules, exceptions)
    return await _regenerate(tx, resource_id, now, offer_for)


async def _save_schedule(tx: Tx, resource_id: int, rules, exceptions) -> None:
    await tx.changed(topics.VENUES)  # a resource's settings or schedule, new or changed
    await tx.execute_many(
        "INSERT INTO opening_rules (resource_id, weekday, opens, closes, slot_minutes, capacity)"
        " VALUES (:resource_id, :weekday, :opens, :closes, :slot_minutes, :capacity)",
        [dict(resource_id=resource_id, weekday=r.weekday, opens=hhmm(r.opens), closes=hhmm(r.closes),
              slot_minutes=r.slot_minutes, capacity=r.capacity) for r in rules])
    await tx.execute_many(
        "INSERT INTO day_exceptions (resource_id, local_date, opens, closes, slot_minutes, capacity)"
        " VALUES (:resource_id, :local_date, :opens, :closes, :slot_minutes, :capacity)",
        [dict(resource_id=resource_id, local_date=e.local_date, opens=hhmm(e.opens), closes=hhmm(e.closes),
              slot_minutes=e.slot_minutes, capacity=e.capacity) for e in exceptions])


async def _regenerate(tx: Tx, resource_id: int, now: datetime, offer_for: timedelta | None = None) -> list[date]:
    """Bring a resource's future slots in line with its stored schedule and horizon; the days that changed.

    Bookings are never touched. A booked slot may gain room, never lose it below its bookings, move or vanish
    (CapacityConflict, raised before anything is written); beyond a lowered horizon it stays, unbookable.
    """
    venue = await _venue(tx, OF_RESOURCE, {"resource_id": resource_id})
    resource = venue.resource(resource_id)
    today = local_today(venue.timezone, now)
    last = today + timedelta(days=resource.horizon_days)
    existing: dict[date, list[Slot]] = {}
    for slot in await _slots(tx, "resource_id = :resource_id AND local_date >= :today AND starts_at > :now",
                             {"resource_id": resource_id, "today": today, "now": now}, "FOR UPDATE"):
        existing.setdefault(slot.local_date, []).append(slot)  # locked: no booking squeezes in meanwhile
    changed, gone, reshaped, added, conflicts = [], [], [], [], []
    for day in sorted({*schedule.days(today, resource.horizon_days + 1), *existing}):
        plans = schedule.plan_day(resource.rules, day, venue.timezone, resource.exceptions) if day <= last else []
        change = schedule.reconcile(existing.get(day, []), plans, now)
        if day > last:  # beyond the horizon: unbooked slots go, booked ones stay as they are
            change.conflicts, change.reshape = [], []
        conflicts += change.conflicts
        gone += change.remove
        reshaped += change.reshape
        added += change.add
        if change.changed:
            changed.append(day)
    if conflicts:
        raise CapacityConflict(conflicts)
    for slot_id in gone:  # a slot that leaves the schedule goes away, or closes if past bookings or entries name it
        await tx.execute("DELETE FROM slots WHERE id = :id AND NOT EXISTS (SELECT 1 FROM bookings WHERE slot_id = :id)"
                         " AND NOT EXISTS (SELECT 1 FROM waitlist WHERE slot_id = :id)", id=slot_id)
        await tx.execute("UPDATE slots SET closed = TRUE, capacity = booked WHERE id = :id", id=slot_id)
    await tx.execute_many("UPDATE slots SET ends_at = :ends_at, capacity = :capacity WHERE id = :id",
                          [dict(id=i, ends_at=end, capacity=capacity) for i, end, capacity in reshaped])
    for slot_id, _end, _capacity in reshaped if offer_for else ():  # more room: the waitlist's first
        await _offer_freed(tx, slot_id, now, offer_for)
    await _insert_slots(tx, resource_id, added)
    await tx.execute("UPDATE resources SET generated_through = :last WHERE id = :id", last=last, id=resource_id)
    await tx.changed(*topics.of_resource(resource_id))
    return changed


async def _insert_slots(tx: Tx, resource_id: int, plans: list[schedule.SlotPlan]) -> None:
    await tx.execute_many(
        "INSERT INTO slots (resource_id, starts_at, ends_at, local_date, capacity)"
        " VALUES (:resource_id, :starts_at, :ends_at, :local_date, :capacity) ON CONFLICT DO NOTHING",
        [dict(resource_id=resource_id, starts_at=p.starts_at, ends_at=p.ends_at, local_date=p.local_date,
              capacity=p.capacity) for p in plans])


async def _extend(tx: Tx, venue: Venue, resource: Resource, now: datetime) -> int:
    # The row lock makes processes extending at once take turns.
    through = await tx.fetch_value("SELECT generated_through FROM resources WHERE id = :id FOR UPDATE",
                                   id=resource.id)
    today = local_today(venue.timezone, now)
    first = max(today, as_date(through) + timedelta(days=1)) if through else today
    last = today + timedelta(days=resource.horizon_days)
    if first > last:
        return 0
    days = schedule.days(first, (last - first).days + 1)
    count = "SELECT COUNT(*) FROM slots WHERE resource_id = :id AND local_date BETWEEN :first AND :last"
    before = await tx.fetch_value(count, id=resource.id, first=first, last=last)
    await _insert_slots(tx, resource.id, [p for day in days for p in schedule.plan_day(
        resource.rules, day, venue.timezone, resource.exceptions)])
    created = await tx.fetch_value(count, id=resource.id, first=first, last=last) - before
    await tx.execute("UPDATE resources SET generated_through = :last WHERE id = :id", last=last, id=resource.id)
    if created:
        await tx.changed(*topics.of_days(resource.id, days))
    return created


async def _slots(tx: Tx, where: str, params: dict, then: str = "") -> list[Slot]:
    """Slots by a condition, in time order; `then` follows the ORDER BY (LIMIT, FOR UPDATE)."""
    rows = await tx.fetch(f"SELECT * FROM slots WHERE {where} ORDER BY starts_at {then}", **params)
    return [build(Slot, r) for r in rows]


async def _slot(tx: Tx, slot_id: int) -> Slot | None:
    row = await tx.fetch_one("SELECT * FROM slots WHERE id = :id", id=slot_id)
    return build(Slot, row) if row else None


async def _slots_by_id(tx: Tx, ids: list[int]) -> dict[int, Slot]:
    found = {}
    for start in range(0, len(ids), SLOTS_PER_STATEMENT):
        chunk = ids[start:start + SLOTS_PER_STATEMENT]
        chunk += chunk[-1:] * ((1 << (len(chunk) - 1).bit_length()) - len(chunk))  # padded: few distinct statements
        params = {f"id{i}": slot_id for i, slot_id in enumerate(chunk)}
        found.update((s.id, s) for s in await _slots(tx, f"id IN ({', '.join(':' + name for name in params)})", params))
    return found


async def _free_near(tx: Tx, slot: Slot, party_size: int, now: datetime, limit: int) -> list[Slot]:
    venue = await _venue(tx, OF_RESOURCE, {"resource_id": slot.resource_id})
    resource = venue.resource(slot.resource_id)
    free = ("resource_id = :resource_id AND id != :id AND NOT closed AND capacity - booked >= :size"
            " AND starts_at >= :earliest AND starts_at {} :at")
    params = dict(resource_id=slot.resource_id, id=slot.id, size=party_size, at=slot.starts_at,
                  earliest=now + timedelta(minutes=resource.min_notice_minutes))
    later = await _slots(tx, free.format(">="), params, f"LIMIT {int(limit)}")
    earlier = await tx.fetch(f"SELECT * FROM slots WHERE {free.format('<')} ORDER BY starts_at DESC"
                             f" LIMIT {int(limit)}", **params)
    near = [s for s in later + [build(Slot, r) for r in earlier]
            if slot_state(s, resource, venue.timezone, now) not in (*GONE, NOT_YET)]
    near.sort(key=lambda s: (abs(s.starts_at - slot.starts_at), s.starts_at))
    return sorted(near[:limit], key=lambda s: s.starts_at)


async def _set_closed(tx: Tx, slot_id: int, closed: bool, now: datetime | None, offer_for: timedelta) -> Slot:
    row = await tx.fetch_one("UPDATE slots SET closed = :closed WHERE id = :id RETURNING *", closed=closed, id=slot_id)
    if row is None:
        raise NotFound(slot_id)
    slot = build(Slot, row)
    await tx.changed(*topics.of_slot(slot))
    if not closed and now is not None:
        slot = await _offer_freed(tx, slot_id, now, offer_for)
    return slot


async def _offer_freed(tx: Tx, slot_id: int, now: datetime, offer_for: timedelta) -> Slot:
    """Offer a slot's free places to its waitlist, first come first served among those whose party fits; each
    offer holds its places (taken to everyone else) until it is accepted, left or expires."""
    slot = await _slot(tx, slot_id)
    free, offered = slot.remaining if slot.starts_at > now else 0, []
    if free:
        for entry in await tx.fetch(
            "SELECT id, party_size FROM waitlist WHERE slot_id = :id AND status = 'waiting' ORDER BY id FOR UPDATE",
            id=slot_id,
        ):
            if entry["party_size"] <= free:
                await tx.execute("UPDATE waitlist SET status = 'offered', offered_until = :until WHERE id = :id",
                                 until=now + offer_for, id=entry["id"])
                await tx.execute("UPDATE slots SET held = held + :n WHERE id = :id", n=entry["party_size"], id=slot_id)
                free -= entry["party_size"]
                offered.append(entry["id"])
        slot = await _slot(tx, slot_id)
    for entry_id in offered:
        entry = build(WaitlistEntry, await tx.fetch_one("SELECT * FROM waitlist WHERE id = :id", id=entry_id))
        await _tell(tx, "waitlist.offered", slot, now, {
            "reference": entry.reference, "slot_id": slot.id, "start": slot.starts_at.isoformat(),
            "end": slot.ends_at.isoformat(), "party_size": entry.party_size,
            "offered_until": entry.offered_until.isoformat(), "name": entry.name, "contact": entry.contact})
    return slot


async def _release_hold(tx: Tx, entry: WaitlistEntry, status: str) -> None:
    """An entry stops waiting or holding: its held places go free (the caller offers them on)."""
    await tx.execute("UPDATE waitlist SET status = :status WHERE id = :id", status=status, id=entry.id)
    if entry.status == "offered":
        await tx.execute("UPDATE slots SET held = held - :n WHERE id = :id", n=entry.party_size, id=entry.slot_id)


async def _replay(tx: Tx, key: str | None, fingerprint: str) -> tuple[Booking, Slot] | None:
    """The booking made earlier with this idempotency key, if the request is the same (else a mismatch)."""
    if not key:
        return None
    row = await tx.fetch_one("SELECT id, request_fingerprint FROM bookings WHERE idempotency_key = :key", key=key)
    if row is None:
        return None
    if row["request_fingerprint"] != fingerprint:
        raise IdempotencyMismatch(key)
    return await _booking_where(tx, "id", row["id"])


async def _book(tx: Tx, slot_id: int, name: str, contact: str, party_size: int, now: datetime,
                idempotency: tuple[str | None, str], staff: tuple[bool, bool], locale: str,
                notices: Notices) -> tuple[Booking, Slot]:
    (key, fingerprint), (for_staff, over_limit) = idempotency, staff
    if done := await _replay(tx, key, fingerprint):
        return done
    slot, venue_limit = await _open_slot(tx, slot_id, now, for_staff)
    if slot.remaining < party_size:  # full as read: refused before any write (most attempts at a release)
        raise SlotFull(slot_id)
    await tx.changed(*topics.of_slot(slot))  # before the row locks, to hold them briefly
    limit = 0 if over_limit else venue_limit
    # The per-person limit, like the capacity, is one conditional statement: exact under any concurrency.
    await _count_person(tx, contact, slot, limit)
    # The capacity check lives in this statement, never in Python. Exact under READ COMMITTED too:
    # a concurrent booker waits for the row, then re-checks the condition on the new count.
    after = await tx.fetch_one("UPDATE slots SET booked = booked + :n WHERE id = :id"
                               " AND booked + held + :n <= capacity RETURNING *", n=party_size, id=slot_id)
    if after is None:
        raise SlotFull(slot_id)
    booking, slot = await _insert_booking(tx, build(Slot, after), name, contact, party_size, now, locale, key,
                                          fingerprint)
    await _announce(tx, "booking.created", booking, slot, now, notices)
    return booking, slot


async def _count_person(tx: Tx, contact: str, slot: Slot, limit: int) -> None:
    """One more active booking for this person on the slot's resource and day, or LimitReached (0: no limit)."""
    if await tx.fetch_value(
        "INSERT INTO person_days (contact_key, resource_id, local_date, active) VALUES (:person, :resource_id, :day, 1)"
        " ON CONFLICT (contact_key, resource_id, local_date) DO UPDATE SET active = person_days.active + 1"
        " WHERE :limit = 0 OR person_days.active < :limit RETURNING active",
        person=contact_key(contact), resource_id=slot.resource_id, day=slot.local_date, limit=limit,
    ) is None:
        raise LimitReached(limit)


async def _uncount_person(tx: Tx, contact: str, slot: Slot) -> None:
    """One fewer active booking for this person on the slot's resource and day."""
    await tx.execute("UPDATE person_days SET active = active - 1 WHERE contact_key = :person"
                     " AND resource_id = :resource_id AND local_date = :day AND active > 0",
                     person=contact_key(contact), resource_id=slot.resource_id, day=slot.local_date)


async def _open_slot(tx: Tx, slot_id: int, now: datetime, for_staff: bool = False) -> tuple[Slot, int]:
    """A slot that can be booked (or waited for) now, and its venue's per-person limit; else NotFound, NotOpenYet
    or SlotUnavailable."""
    slot = await _slot(tx, slot_id)
    if slot is None:
        raise NotFound(slot_id)
    row = await tx.fetch_one("SELECT r.*, v.timezone, v.per_person_limit FROM resources r"
                             " JOIN venues v ON v.id = r.venue_id WHERE r.id = :id", id=slot.resource_id)
    resource = build(Resource, row)
    state = slot_state(slot, resource, row["timezone"], now, for_staff)
    if state == NOT_YET:
        raise NotOpenYet(opens_at(slot, resource, row["timezone"]))
    if state in GONE:
        raise SlotUnavailable(slot_id)
    return slot, row["per_person_limit"]


async def _insert_booking(tx: Tx, slot: Slot, name: str, contact: str, party_size: int, now: datetime,
                          locale: str, key: str | None = None, fingerprint: str = "") -> tuple[Booking, Slot]:
    """The booking row for places already taken in `slot`, with the day's next ticket."""
    ticket = await _next_ticket(tx, slot)
    token, slot_id = new_cancel_token(), slot.id
    for _ in range(5):
        row = await tx.fetch_one(
            "INSERT INTO bookings (reference, cancel_token, slot_id, name, contact, party_size, status,"
            " idempotency_key, request_fingerprint, created_at, ticket, locale) VALUES (:reference, :token, :slot_id,"
            " :name, :contact, :n, 'confirmed', :key, :fingerprint, :now, :ticket, :locale)"
            " ON CONFLICT DO NOTHING RETURNING *",
            reference=new_reference(), token=token, slot_id=slot_id, name=name, contact=contact, n=party_size,
            key=key, fingerprint=fingerprint, now=now, ticket=ticket, locale=locale)
        if row:
            return build(Booking, row), slot
        # A unique column was taken: the same idempotency key, committed by a concurrent request meanwhile
        # (PostgreSQL made this insert wait for it), or else the reference: draw again.
        if key and await tx.fetch_value("SELECT 1 FROM bookings WHERE idempotency_key = :key", key=key):
            raise KeyTaken
    raise RuntimeError("could not draw a unique reference")


async def _next_ticket(tx: Tx, slot: Slot) -> int:
    """The next ticket number of the slot's resource and day."""
    return await tx.fetch_value(
        "INSERT INTO ticket_counters (resource_id, local_date, last) VALUES (:resource_id, :day, 1)"
        " ON CONFLICT (resource_id, local_date) DO UPDATE SET last = ticket_counters.last + 1 RETURNING last",
        resource_id=slot.resource_id, day=slot.local_date)


async def _booking_where(tx: Tx, column: str, value, lock: str = "") -> tuple[Booking, Slot] | None:
    """The booking whose unique `column` is `value`, with its slot."""
    row = await tx.fetch_one(f"SELECT * FROM bookings WHERE {column} = :value {lock}", value=value)
    return (build(Booking, row), await _slot(tx, row["slot_id"])) if row else None


async def _cancel(tx: Tx, reference: str, token: str, now: datetime,
                  offer_for: timedelta, notices: Notices) -> tuple[Booking, Slot, bool]:
    found = await _booking_where(tx, "reference", reference, "FOR UPDATE")  # a concurrent cancel waits here
    if found is None:
        raise NotFound(reference)
    booking, slot = found
    if not booking.token_matches(token):
        raise Forbidden(reference)
    if booking.status == "cancelled":
        return booking, slot, False
    await tx.execute("UPDATE bookings SET status = 'cancelled', cancelled_at = :now WHERE id = :id",
                     now=now, id=booking.id)
    await _uncount_person(tx, booking.contact, slot)
    await tx.changed(*topics.of_slot(slot))
    await tx.execute("UPDATE slots SET booked = booked - :n WHERE id = :id", n=booking.party_size, id=slot.id)
    booking = replace(booking, status="cancelled")
    await _announce(tx, "booking.cancelled", booking, slot, now, notices)
    return booking, await _offer_freed(tx, slot.id, now, offer_for), True


async def _reschedule(tx: Tx, reference: str, token: str, slot_id: int, now: datetime,
                      offer_for: timedelta, notices: Notices) -> tuple[Booking, Slot]:
    found = await _booking_where(tx, "reference", reference, "FOR UPDATE")  # one move or cancel at a time
    if found is None:
        raise NotFound(reference)
    booking, old = found
    if not booking.token_matches(token):
        raise Forbidden(reference)
    if not movable(booking, old, now):
        raise NotMovable(reference)
    if slot_id == old.id:
        return booking, old
    # Both slots' rows in id order, so two moves in opposite directions cannot deadlock.
    await tx.fetch("SELECT id FROM slots WHERE id IN (:a, :b) ORDER BY id FOR UPDATE", a=old.id, b=slot_id)
    new, limit = await _open_slot(tx, slot_id, now)
    if new.resource_id != old.resource_id:
        raise OtherResource(slot_id)
    await tx.changed(*topics.of_slot(old), *topics.of_slot(new))
    if new.local_date != old.local_date:
        await _count_person(tx, booking.contact, new, limit)
        await _uncount_person(tx, booking.contact, old)
    after = await tx.fetch_one("UPDATE slots SET booked = booked + :n WHERE id = :id"
                               " AND booked + held + :n <= capacity RETURNING *", n=booking.party_size, id=new.id)
    if after is None:
        raise SlotFull(new.id)
    ticket = booking.ticket if new.local_date == old.local_date else await _next_ticket(tx, new)
    await tx.execute("UPDATE bookings SET slot_id = :slot_id, ticket = :ticket, attendance = NULL,"
                     " requeued_at = NULL WHERE id = :id", slot_id=new.id, ticket=ticket, id=booking.id)
    await tx.execute("UPDATE slots SET booked = booked - :n WHERE id = :id", n=booking.party_size, id=old.id)
    booking, new = await _booking_where(tx, "id", booking.id)
    await _announce(tx, "booking.rescheduled", booking, new, now, notices,
                    previous_slot_id=old.id, previous_start=old.starts_at.isoformat())
    await _offer_freed(tx, old.id, now, offer_for)
    return booking, new


async def _join(tx: Tx, slot_id: int, name: str, contact: str, party_size: int,
                now: datetime) -> tuple[WaitlistEntry, int]:
    slot, limit = await _open_slot(tx, slot_id, now)
    if slot.remaining >= party_size:
        raise SlotAvailable(slot_id)
    person = contact_key(contact)
    if limit:  # bookings held and entries waiting count alike
        held = await tx.fetch_value("SELECT active FROM person_days WHERE contact_key = :person"
                                    " AND resource_id = :r AND local_date = :day",
                                    person=person, r=slot.resource_id, day=slot.local_date) or 0
        waiting = [w for w in await tx.fetch(
            "SELECT contact FROM waitlist w JOIN slots s ON s.id = w.slot_id WHERE s.resource_id = :r"
            " AND s.local_date = :day AND w.status IN ('waiting', 'offered')", r=slot.resource_id,
            day=slot.local_date) if contact_key(w["contact"]) == person]
        if held + len(waiting) >= limit:
            raise LimitReached(limit)
    for _ in range(5):
        entry = await tx.fetch_one(
            "INSERT INTO waitlist (reference, cancel_token, slot_id, name, contact, party_size, status, created_at)"
            " VALUES (:reference, :token, :slot_id, :name, :contact, :n, 'waiting', :now) ON CONFLICT DO NOTHING"
            " RETURNING *", reference=new_reference(), token=new_cancel_token(), slot_id=slot_id, name=name,
            contact=contact, n=party_size, now=now)
        if entry:
            await tx.changed(*topics.of_slot(slot))
            return build(WaitlistEntry, entry), await _position(tx, build(WaitlistEntry, entry))
    raise RuntimeError("could not draw a unique reference")


async def _position(tx: Tx, entry: WaitlistEntry) -> int | None:
    if entry.status != "waiting":
        return None
    return await tx.fetch_value("SELECT COUNT(*) FROM waitlist WHERE slot_id = :slot_id AND status = 'waiting'"
                                " AND id <= :id", slot_id=entry.slot_id, id=entry.id)


async def _entry(tx: Tx, column: str, value, lock: str = "") -> tuple[WaitlistEntry, Slot, int | None] | None:
    row = await tx.fetch_one(f"SELECT * FROM waitlist WHERE {column} = :value {lock}", value=value)
    if row is None:
        return None
    entry = build(WaitlistEntry, row)
    return entry, await _slot(tx, entry.slot_id), await _position(tx, entry)


async def _holder_entry(tx: Tx, reference: str, token: str) -> tuple[WaitlistEntry, Slot]:
    found = await _entry(tx, "reference", reference, "FOR UPDATE")  # a concurrent accept, leave or expiry waits
    if found is None:
        raise NotFound(reference)
    if not found[0].token_matches(token):
        raise Forbidden(reference)
    return found[0], found[1]


async def _accept(tx: Tx, reference: str, token: str, now: datetime, locale: str,
                  notices: Notices) -> tuple[Booking, Slot]:
    entry, slot = await _holder_entry(tx, reference, token)
    if entry.status != "offered" or entry.offered_until <= now:
        raise OfferGone(reference)
    # The held places become booked ones: the capacity never moves, so no other booking can be squeezed out.
    await tx.execute("UPDATE slots SET held = held - :n, booked = booked + :n WHERE id = :id",
                     n=entry.party_size, id=slot.id)
    await _count_person(tx, entry.contact, slot, limit=0)  # it was checked when the entry joined
    booking, slot = await _insert_booking(tx, await _slot(tx, slot.id), entry.name, entry.contact,
                                          entry.party_size, now, locale)
    await tx.execute("UPDATE waitlist SET status = 'booked', booking_id = :booking WHERE id = :id",
                     booking=booking.id, id=entry.id)
    await tx.changed(*topics.of_slot(slot))
    await _announce(tx, "booking.created", booking, slot, now, notices, waitlist_reference=entry.reference)
    return booking, slot


async def _leave(tx: Tx, reference: str, token: str, now: datetime, offer_for: timedelta) -> WaitlistEntry:
    entry, slot = await _holder_entry(tx, reference, token)
    if entry.status in ("waiting", "offered"):
        await _release_hold(tx, entry, "left")
        await _offer_freed(tx, slot.id, now, offer_for)
        await tx.changed(*topics.of_slot(slot))
        entry = replace(entry, status="left")
    return entry


async def _expire_offers(tx: Tx, now: datetime, offer_for: timedelta) -> int:
    rows = await tx.fetch("SELECT * FROM waitlist WHERE status = 'offered' AND offered_until <= :now FOR UPDATE",
                          now=now)
    for entry in (build(WaitlistEntry, r) for r in rows):
        await _release_hold(tx, entry, "expired")
        slot = await _offer_freed(tx, entry.slot_id, now, offer_for)
        await tx.changed(*topics.of_slot(slot))
    return len(rows)


async def _waitlist_counts(tx: Tx, resource_id: int, day: date) -> dict[int, int]:
    rows = await tx.fetch("SELECT w.slot_id, COUNT(*) AS n FROM waitlist w JOIN slots s ON s.id = w.slot_id"
                          " WHERE s.resource_id = :r AND s.local_date = :day AND w.status IN ('waiting', 'offered')"
                          " GROUP BY w.slot_id", r=resource_id, day=day)
    return {r["slot_id"]: r["n"] for r in rows}


async def _entries(tx: Tx, where: str, params: dict, lock: str = "") -> list[tuple[Booking, Slot]]:
    """Bookings with their slots on a day (`params` has `day`), by time and ticket."""
    return await _entries_in(tx, f"{where} AND s.local_date = :day", params, lock)


async def _entries_in(tx: Tx, where: str, params: dict, lock: str = "") -> list[tuple[Booking, Slot]]:
    """Bookings with their slots in the slots `where` picks (`s` slots, `r` resources), by time and ticket."""
    scope = f"FROM slots s JOIN resources r ON r.id = s.resource_id WHERE {where}"
    slots = {r["id"]: build(Slot, r) for r in await tx.fetch(f"SELECT s.* {scope}", **params)}
    rows = await tx.fetch(f"SELECT b.* FROM bookings b WHERE b.slot_id IN (SELECT s.id {scope})"
                          f" ORDER BY b.ticket {lock}", **params)
    entries = [(build(Booking, r), slots[r["slot_id"]]) for r in rows]
    return sorted(entries, key=lambda e: e[1].starts_at)  # stable: tickets stay in order within a slot


async def _update_booking(tx: Tx, booking_id: int, assignments: str, params: dict) -> tuple[Booking, Slot]:
    if not await tx.fetch_value(f"UPDATE bookings SET {assignments} WHERE id = :id AND status = 'confirmed'"
                                " RETURNING id", id=booking_id, **params):
        raise NotFound(booking_id)
    booking, slot = await _booking_where(tx, "id", booking_id)
    await tx.changed(*topics.of_slot(slot))
    return booking, slot


async def _call_next(tx: Tx, resource_id: int, day: date, counter: str, now: datetime) -> tuple[Booking, Slot] | None:
    # Locked, so two counters calling at once never call the same ticket.
    entries = await _entries(tx, "s.resource_id = :resource_id", {"resource_id": resource_id, "day": day},
                             "FOR UPDATE")
    line = waiting_line(entries)
    if not line:
        return None
    return await _update_booking(tx, line[0][0].id, CALL, {"now": now, "counter": counter})


async def _set_password(tx: Tx, username: str, password_hash: str) -> None:
    await tx.execute("INSERT INTO staff (username, password_hash) VALUES (:username, :hash) ON CONFLICT (username)"
                     " DO UPDATE SET password_hash = excluded.password_hash,"
                     " session_version = staff.session_version + 1", username=username, hash=password_hash)


async def _add_staff(tx: Tx, username: str, password_hash: str) -> bool:
    return bool(await tx.execute("INSERT INTO staff (username, password_hash) VALUES (:username, :hash)"
                                 " ON CONFLICT (username) DO NOTHING", username=username, hash=password_hash))


async def _session_version(tx: Tx, username: str) -> int | None:
    return await tx.fetch_value("SELECT session_version FROM staff WHERE username = :username", username=username)


async def _end_sessions(tx: Tx, username: str) -> None:
    await tx.execute("UPDATE staff SET session_version = session_version + 1 WHERE username = :username",
                     username=username)


async def _record(tx: Tx, entry: AuditEntry) -> None:
    await tx.execute("INSERT INTO audit_log (at, actor, address, action, subject, venue_id, local_date)"
                     " VALUES (:at, :actor, :address, :action, :subject, :venue_id, :local_date)",
                     at=entry.at, actor=entry.actor, address=entry.address, action=entry.action,
                     subject=entry.subject, venue_id=entry.venue_id, local_date=entry.local_date)


async def _audit_trail(tx: Tx, venue_id: int | None, day: date | None, limit: int) -> list[AuditEntry]:
    where = " AND ".join(["TRUE", *(["venue_id = :venue_id"] if venue_id else []), *(["local_date = :day"] if day else [])])
    rows = await tx.fetch(f"SELECT * FROM audit_log WHERE {where} ORDER BY at DESC, id DESC LIMIT {int(limit)}",
                          **({"venue_id": venue_id} if venue_id else {}), **({"day": day} if day else {}))
    return [build(AuditEntry, r) for r in rows]


async def _erase(tx: Tx, where: str, params: dict, person: str | None) -> int:
    """Blank the name and contact of matching bookings and waitlist entries (of one person, when given)."""
    erased = 0
    for table in ("bookings", "waitlist"):
        rows = await tx.fetch(f"SELECT t.id, t.contact FROM {table} t JOIN slots s ON s.id = t.slot_id"
                              f" WHERE {where} AND t.contact != ''", **params)
        for row in rows:
            if person is None or contact_key(row["contact"]) == person:
                erased += await tx.execute(f"UPDATE {table} SET name = '', contact = '' WHERE id = :id", id=row["id"])
                if table == "bookings":  # what the outbox holds of them: their names and contacts too
                    await tx.execute("DELETE FROM outbox WHERE booking_id = :id", id=row["id"])
    return erased


async def _count_attempts(tx: Tx, calls: list[tuple[list[str], datetime, timedelta]]) -> list:
    return [await _count_attempt(tx, *call) for call in calls]


async def _count_attempt(tx: Tx, keys: list[str], now: datetime, window: timedelta) -> list[tuple[int, datetime]]:
    counted = []
    for key in keys:  # one statement each: the count and the check are one step, whoever else counts at once
        row = await tx.fetch_one(
            "INSERT INTO login_limits (key, attempts, window_start) VALUES (:key, 1, :now) ON CONFLICT (key)"
            " DO UPDATE SET attempts = CASE WHEN login_limits.window_start <= :since THEN 1"
            " ELSE login_limits.attempts + 1 END, window_start = CASE WHEN login_limits.window_start <= :since"
            " THEN :now ELSE login_limits.window_start END RETURNING attempts, window_start",
            key=key, now=now, since=now - window)
        counted.append((row["attempts"], as_moment(row["window_start"])))
    return counted


async def _forget_attempts(tx: Tx, keys: list[str]) -> None:
    for key in keys:
        await tx.execute("DELETE FROM login_limits WHERE key = :key", key=key)


async def _password_hash(tx: Tx, username: str) -> str | None:
    return await tx.fetch_value("SELECT password_hash FROM staff WHERE username = :username", username=username)


# -- the outbox: written in the change's own transaction, delivered after commit

def booking_data(booking: Booking, slot: Slot) -> dict:
    """A booking as webhooks tell it (to the venue's own systems: with the name and contact, never the token)."""
    return {"reference": booking.reference, "slot_id": slot.id, "start": slot.starts_at.isoformat(),
            "end": slot.ends_at.isoformat(), "party_size": booking.party_size, "status": booking.status,
            "ticket": booking.ticket, "name": booking.name, "contact": booking.contact}


async def _announce(tx: Tx, event: str, booking: Booking, slot: Slot, now: datetime, notices: Notices,
                    **extra) -> None:
    """Queue a booking's event for its venue's webhooks, and its e-mails when it has an e-mail address."""
    await _tell(tx, event, slot, now, booking_data(booking, slot) | extra, booking.id)
    if notices.mail and EMAIL.fullmatch(booking.contact):
        mails = [(event, now)]
        remind = notices.remind_before and slot.starts_at - notices.remind_before
        if event != "booking.cancelled" and remind and remind > now:
            mails.append(("booking.reminder", remind))
        venue_id = await tx.fetch_value("SELECT venue_id FROM resources WHERE id = :id", id=slot.resource_id)
        await tx.execute_many(
            "INSERT INTO outbox (kind, event, delivery, venue_id, booking_id, body, created_at, due_at)"
            " VALUES ('email', :event, :delivery, :venue_id, :booking_id, :body, :now, :due)",
            [dict(event=e, delivery="mail_" + new_cancel_token(), venue_id=venue_id, booking_id=booking.id,
                  body=json.dumps({"slot_id": slot.id}), now=now, due=due) for e, due in mails])
        await tx.changed(topics.OUTBOX)


async def _tell(tx: Tx, event: str, slot: Slot, now: datetime, data: dict, booking_id: int | None = None) -> None:
    """Queue an event for every active webhook of the slot's venue (one SELECT when it has none)."""
    hooks = await tx.fetch("SELECT w.id, w.venue_id, v.slug AS venue, r.slug AS resource FROM resources r"
                           " JOIN venues v ON v.id = r.venue_id JOIN webhooks w ON w.venue_id = v.id"
                           " WHERE r.id = :id AND w.active", id=slot.resource_id)
    if not hooks:
        return
    event_id, body = event_body(event, now, {"venue": hooks[0]["venue"], "resource": hooks[0]["resource"]} | data)
    await tx.execute_many(
        "INSERT INTO outbox (kind, event, delivery, venue_id, webhook_id, booking_id, body, created_at, due_at)"
        " VALUES ('webhook', :event, :delivery, :venue_id, :webhook_id, :booking_id, :body, :now, :now)",
        [dict(event=event, delivery=f"{event_id}.{h['id']}", venue_id=h["venue_id"], webhook_id=h["id"],
              booking_id=booking_id, body=body, now=now) for h in hooks])
    await tx.changed(topics.OUTBOX)


async def _add_webhook(tx: Tx, venue_id: int, url: str, secret: str, now: datetime) -> int:
    return await tx.fetch_value("INSERT INTO webhooks (venue_id, url, secret, created_at) VALUES"
                                " (:venue_id, :url, :secret, :now) RETURNING id",
                                venue_id=venue_id, url=url, secret=secret, now=now)


async def _remove_webhook(tx: Tx, webhook_id: int) -> None:
    if not await tx.execute("UPDATE webhooks SET active = FALSE WHERE id = :id AND active", id=webhook_id):
        raise NotFound(webhook_id)


async def _webhooks(tx: Tx, venue_id: int | None) -> list[Webhook]:
    where = "" if venue_id is None else "AND venue_id = :venue_id"
    rows = await tx.fetch(f"SELECT * FROM webhooks WHERE active {where} ORDER BY id", venue_id=venue_id)
    return [build(Webhook, r) for r in rows]


async def _outbox(tx: Tx, venue_id: int | None, limit: int) -> list[Message]:
    where = "" if venue_id is None else "WHERE venue_id = :venue_id"
    rows = await tx.fetch(f"SELECT * FROM outbox {where} ORDER BY id DESC LIMIT :limit", venue_id=venue_id,
                          limit=limit)
    return [build(Message, r) for r in rows]


async def _claim(tx: Tx, now: datetime, lease: timedelta, limit: int) -> list[Message]:
    rows = await tx.fetch(
        "UPDATE outbox SET due_at = :lapses, attempts = attempts + 1 WHERE id IN (SELECT id FROM outbox"
        " WHERE state = 'pending' AND due_at <= :now ORDER BY due_at, id LIMIT :limit FOR UPDATE SKIP LOCKED)"
        " RETURNING *", now=now, lapses=now + lease, limit=limit)
    return sorted((build(Message, r) for r in rows), key=lambda m: m.id)


async def _settle(tx: Tx, message_id: int, state: str, now: datetime, error: str | None,
                  retry_at: datetime | None) -> None:
    await tx.execute("UPDATE outbox SET state = :state, last_error = :error, due_at = :due,"
                     " done_at = :done WHERE id = :id", state=state, error=error and error[:500],
                     due=retry_at or now, done=None if state == "pending" else now, id=message_id)


async def _next_due(tx: Tx) -> datetime | None:
    return as_moment(await tx.fetch_value("SELECT MIN(due_at) FROM outbox WHERE state = 'pending'"))


async def _prune_outbox(tx: Tx, before: datetime) -> int:
    return await tx.execute("DELETE FROM outbox WHERE state != 'pending' AND done_at < :before", before=before)
