"""The SQLite store: stdlib sqlite3 on one dedicated thread, WAL, BEGIN IMMEDIATE."""

from __future__ import annotations

import asyncio
import functools
import sqlite3
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import replace
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path

from . import schedule
from .migrations import MIGRATIONS
from .model import (
    Booking, CapacityConflict, DayException, Duplicate, Forbidden, NotFound, OpeningRule, Resource, Slot, SlotFull,
    SlotUnavailable, Venue, new_cancel_token, new_reference, waiting_line,
)

TYPES = {"id": "INTEGER PRIMARY KEY", "ts": "TEXT", "date": "TEXT"}
SLOT_COLUMNS = "id, resource_id, starts_at, ends_at, local_date, capacity, booked, closed"
BOOKING_COLUMNS = ("id, reference, slot_id, name, contact, party_size, status, created_at, cancel_token, ticket,"
                   " attendance, called_at, called_to, requeued_at")


def on_thread(method):
    """Run a blocking method on the store's one database thread."""

    @functools.wraps(method)
    async def run(self, *args, **kwargs):
        call = functools.partial(method, self, *args, **kwargs)
        return await asyncio.get_running_loop().run_in_executor(self._thread, call)

    return run


def ts(moment: datetime) -> str:
    """A UTC timestamp as stored: sortable text."""
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S")


def precise_ts(moment: datetime) -> str:
    """A UTC timestamp to the microsecond: for calls and re-queues, whose order within a second matters."""
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")


def from_ts(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def to_slot(row) -> Slot:
    return Slot(row[0], row[1], from_ts(row[2]), from_ts(row[3]), date.fromisoformat(row[4]),
                row[5], row[6], bool(row[7]))


def to_booking(row) -> Booking:
    return Booking(*row[:7], from_ts(row[7]), row[8], row[9], row[10], row[11] and from_ts(row[11]), row[12],
                   row[13] and from_ts(row[13]))


@contextmanager
def unique(slug: str):
    """Turn a unique-constraint failure into the domain's Duplicate."""
    try:
        yield
    except sqlite3.IntegrityError as error:
        if "UNIQUE" not in str(error):
            raise
        raise Duplicate(slug) from None


class SqliteStore:
    """A Store over one SQLite file."""

    def __init__(self, path: Path):
        self.path = path
        self._thread = ThreadPoolExecutor(1, thread_name_prefix="sqlite")
        self._db: sqlite3.Connection | None = None

    @on_thread
    def open(self) -> None:
        """Connect, tune and migrate."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        db = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("PRAGMA synchronous=FULL")
        db.execute("PRAGMA busy_timeout=5000")
        db.execute("PRAGMA foreign_keys=ON")
        self._db = db
        with self._tx():
            db.execute("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)")
            done = db.execute("SELECT COALESCE(MAX(version), 0) FROM schema_version").fetchone()[0]
            for version, step in enumerate(MIGRATIONS[done:], start=done + 1):
                # statement by statement: executescript() would commit mid-transaction
                for statement in step.format(**TYPES).split(";"):
                    if statement.strip():
                        db.execute(statement)
                db.execute("INSERT INTO schema_version VALUES (?)", (version,))

    async def close(self) -> None:
        """Close the connection and stop the thread."""
        if self._db is not None:
            await asyncio.get_running_loop().run_in_executor(self._thread, self._db.close)
            self._db = None
        self._thread.shutdown(wait=True)

    async def listen(self, on_change, on_resync) -> None:
        """Nothing to wait for: one process owns the file, and its hub hears every change directly."""

    @contextmanager
    def _tx(self) -> Iterator[sqlite3.Connection]:
        """A write transaction that holds the lock from its first statement."""
        self._db.execute("BEGIN IMMEDIATE")
        try:
            yield self._db
        except BaseException:
            self._db.execute("ROLLBACK")
            raise
        self._db.execute("COMMIT")

    # -- venues and resources

    def _load_venues(self, where: str = "", args: tuple = ()) -> list[Venue]:
        db = self._db
        venues = db.execute(f"SELECT id, slug, name, kind, timezone, archived FROM venues {where} ORDER BY id",
                            args).fetchall()
        if not venues:
            return []
        ids = [v[0] for v in venues]
        marks = ",".join("?" * len(ids))
        rules: dict[int, list[OpeningRule]] = {}
        for rid, wd, opens, closes, minutes, cap in db.execute(
            "SELECT resource_id, weekday, opens, closes, slot_minutes, capacity FROM opening_rules"
            f" WHERE resource_id IN (SELECT id FROM resources WHERE venue_id IN ({marks})) ORDER BY id", ids,
        ):
            rules.setdefault(rid, []).append(
                OpeningRule(wd, time.fromisoformat(opens), time.fromisoformat(closes), minutes, cap))
        exceptions: dict[int, list[DayException]] = {}
        for rid, day, opens, closes, minutes, cap in db.execute(
            "SELECT resource_id, local_date, opens, closes, slot_minutes, capacity FROM day_exceptions"
            f" WHERE resource_id IN (SELECT id FROM resources WHERE venue_id IN ({marks})) ORDER BY local_date", ids,
        ):
            exceptions.setdefault(rid, []).append(DayException(
                date.fromisoformat(day), opens and time.fromisoformat(opens), closes and time.fromisoformat(closes),
                minutes or 30, cap or 0))
        resources: dict[int, list[Resource]] = {}
        for row in db.execute(
            "SELECT id, venue_id, slug, name, max_party, horizon_days, min_notice_minutes, archived FROM resources"
            f" WHERE venue_id IN ({marks}) ORDER BY id", ids,
        ):
            resources.setdefault(row[1], []).append(Resource(
                *row[:7], rules=tuple(rules.get(row[0], ())), exceptions=tuple(exceptions.get(row[0], ())),
                archived=bool(row[7])))
        return [Venue(*v[:5], resources=tuple(resources.get(v[0], ())), archived=bool(v[5])) for v in venues]

    @on_thread
    def venues(self, include_archived: bool = False) -> list[Venue]:
        """Every venue (open ones unless asked) with its resources, rules and exceptions."""
        return self._load_venues("" if include_archived else "WHERE NOT archived")

    @on_thread
    def venue(self, slug: str) -> Venue | None:
        """The venue with this slug."""
        found = self._load_venues("WHERE slug = ?", (slug,))
        return found[0] if found else None

    @on_thread
    def venue_by_id(self, venue_id: int) -> Venue | None:
        """The venue with this id."""
        found = self._load_venues("WHERE id = ?", (venue_id,))
        return found[0] if found else None

    @on_thread
    def venue_of_resource(self, resource_id: int) -> Venue | None:
        """The venue that owns a resource."""
        found = self._load_venues("WHERE id = (SELECT venue_id FROM resources WHERE id = ?)", (resource_id,))
        return found[0] if found else None

    @on_thread
    def add_venue(self, slug: str, name: str, kind: str, timezone: str) -> int:
        """Create a venue; returns its id (Duplicate if the slug is taken)."""
        with self._tx() as db, unique(slug):
            return db.execute("INSERT INTO venues (slug, name, kind, timezone) VALUES (?, ?, ?, ?)",
                              (slug, name, kind, timezone)).lastrowid

    @on_thread
    def add_resource(self, venue_id, slug, name, rules, *, max_party=1, horizon_days=14, min_notice_minutes=0) -> int:
        """Create a resource with its weekly rules; returns its id (Duplicate if the slug is taken)."""
        with self._tx() as db, unique(slug):
            rid = db.execute(
                "INSERT INTO resources (venue_id, slug, name, max_party, horizon_days, min_notice_minutes)"
                " VALUES (?, ?, ?, ?, ?, ?)", (venue_id, slug, name, max_party, horizon_days, min_notice_minutes),
            ).lastrowid
            db.executemany(
                "INSERT INTO opening_rules (resource_id, weekday, opens, closes, slot_minutes, capacity)"
                " VALUES (?, ?, ?, ?, ?, ?)",
                [(rid, r.weekday, r.opens.isoformat("minutes"), r.closes.isoformat("minutes"), r.slot_minutes,
                  r.capacity) for r in rules],
            )
            return rid

    @on_thread
    def extend_slots(self, now: datetime) -> int:
        """Create the missing slots of every resource up to its booking horizon."""
        created = 0
        for venue in self._load_venues():
            today = schedule.local_today(venue.timezone, now)
            for resource in venue.resources:
                with self._tx() as db:
                    through = db.execute("SELECT generated_through FROM resources WHERE id = ?",
                                         (resource.id,)).fetchone()[0]
                    first = max(today, date.fromisoformat(through) + timedelta(days=1)) if through else today
                    last = today + timedelta(days=resource.horizon_days)
                    for day in schedule.days(first, (last - first).days + 1):
                        plans = schedule.plan_day(resource.rules, day, venue.timezone, resource.exceptions)
                        created += db.executemany(
                            "INSERT OR IGNORE INTO slots (resource_id, starts_at, ends_at, local_date, capacity)"
                            " VALUES (?, ?, ?, ?, ?)",
                            [(resource.id, ts(p.starts_at), ts(p.ends_at), p.local_date.isoformat(), p.capacity)
                             for p in plans],
                        ).rowcount
                    if first <= last:
                        db.execute("UPDATE resources SET generated_through = ? WHERE id = ?",
                                   (last.isoformat(), resource.id))
        return created

    # -- slots

    @on_thread
    def slots_for_day(self, resource_id: int, day: date) -> list[Slot]:
        """A resource's slots on a venue-local date, in time order."""
        rows = self._db.execute(
            f"SELECT {SLOT_COLUMNS} FROM slots WHERE resource_id = ? AND local_date = ? ORDER BY starts_at",
            (resource_id, day.isoformat()),
        )
        return [to_slot(r) for r in rows]

    def _slot(self, slot_id: int) -> Slot | None:
        row = self._db.execute(f"SELECT {SLOT_COLUMNS} FROM slots WHERE id = ?", (slot_id,)).fetchone()
        return to_slot(row) if row else None

    @on_thread
    def slot(self, slot_id: int) -> Slot | None:
        """One slot by id."""
        return self._slot(slot_id)

    @on_thread
    def free_slots_near(self, slot: Slot, party_size: int, now: datetime, limit: int = 3) -> list[Slot]:
        """Bookable slots of the same resource with room for the party, nearest in time first."""
        rows = self._db.execute(
            f"SELECT {SLOT_COLUMNS} FROM slots s WHERE resource_id = ? AND id != ? AND NOT closed"
            " AND capacity - booked >= ? AND starts_at >= datetime(?, '+' || (SELECT min_notice_minutes"
            " FROM resources WHERE id = s.resource_id) || ' minutes')"
            " ORDER BY ABS(julianday(starts_at) - julianday(?)), starts_at LIMIT ?",
            (slot.resource_id, slot.id, party_size, ts(now), ts(slot.starts_at), limit),
        )
        return sorted((to_slot(r) for r in rows), key=lambda s: s.starts_at)

    # -- bookings

    @on_thread
    def book(self, slot_id, name, contact, party_size, now, idempotency_key=None, for_staff=False):
        """Book `party_size` places, or raise NotFound / SlotUnavailable / SlotFull. One transaction.

        Staff may book a slot until it ends (a walk-in); the public only up to the minimum notice.
        """
        with self._tx() as db:
            if idempotency_key:
                row = db.execute(f"SELECT {BOOKING_COLUMNS} FROM bookings WHERE idempotency_key = ?",
                                 (idempotency_key,)).fetchone()
                if row:
                    booking = to_booking(row)
                    return booking, self._slot(booking.slot_id)
            row = db.execute(
                "SELECT s.starts_at, s.ends_at, s.closed, r.min_notice_minutes, s.resource_id, s.local_date"
                " FROM slots s JOIN resources r ON r.id = s.resource_id WHERE s.id = ?", (slot_id,),
            ).fetchone()
            if row is None:
                raise NotFound(slot_id)
            too_late = from_ts(row[1]) <= now if for_staff else from_ts(row[0]) < now + timedelta(minutes=row[3])
            if row[2] or too_late:
                raise SlotUnavailable(slot_id)
            # The capacity check lives in this statement, never in Python.
            taken = db.execute(
                "UPDATE slots SET booked = booked + ? WHERE id = ? AND booked + ? <= capacity",
                (party_size, slot_id, party_size),
            ).rowcount
            if not taken:
                raise SlotFull(slot_id)
            token = new_cancel_token()
            ticket = db.execute(
                "INSERT INTO ticket_counters (resource_id, local_date, last) VALUES (?, ?, 1)"
                " ON CONFLICT (resource_id, local_date) DO UPDATE SET last = last + 1 RETURNING last", row[4:6],
            ).fetchone()[0]
            for _ in range(5):
                reference = new_reference()
                try:
                    booking_id = db.execute(
                        "INSERT INTO bookings (reference, cancel_token, slot_id, name, contact, party_size, status,"
                        " idempotency_key, created_at, ticket) VALUES (?, ?, ?, ?, ?, ?, 'confirmed', ?, ?, ?)",
                        (reference, token, slot_id, name, contact, party_size, idempotency_key, ts(now), ticket),
                    ).lastrowid
                    break
                except sqlite3.IntegrityError:  # a reference collision: draw again
                    continue
            else:
                raise RuntimeError("could not draw a unique reference")
            return self._booking_by_id(booking_id)

    def _booking_by_id(self, booking_id: int) -> tuple[Booking, Slot] | None:
        row = self._db.execute(f"SELECT {BOOKING_COLUMNS} FROM bookings WHERE id = ?", (booking_id,)).fetchone()
        return (to_booking(row), self._slot(row[2])) if row else None

    @on_thread
    def booking_by_id(self, booking_id: int) -> tuple[Booking, Slot] | None:
        """A booking by id, with its slot."""
        return self._booking_by_id(booking_id)

    @on_thread
    def booking(self, reference: str) -> tuple[Booking, Slot] | None:
        """A booking by reference, with its slot."""
        row = self._db.execute(f"SELECT {BOOKING_COLUMNS} FROM bookings WHERE reference = ?",
                               (reference,)).fetchone()
        if row is None:
            return None
        booking = to_booking(row)
        return booking, self._slot(booking.slot_id)

    @on_thread
    def cancel(self, reference: str, token: str, now: datetime) -> tuple[Booking, Slot, bool]:
        """Cancel with the secret token; the places go back. Returns whether anything changed."""
        with self._tx() as db:
            row = db.execute(f"SELECT {BOOKING_COLUMNS} FROM bookings WHERE reference = ?",
                             (reference,)).fetchone()
            if row is None:
                raise NotFound(reference)
            booking = to_booking(row)
            if not booking.token_matches(token):
                raise Forbidden(reference)
            if booking.status == "cancelled":
                return booking, self._slot(booking.slot_id), False
            db.execute("UPDATE bookings SET status = 'cancelled', cancelled_at = ? WHERE id = ?",
                       (ts(now), booking.id))
            db.execute("UPDATE slots SET booked = booked - ? WHERE id = ?", (booking.party_size, booking.slot_id))
            booking = replace(booking, status="cancelled")
            return booking, self._slot(booking.slot_id), True

    @on_thread
    def bookings_on(self, venue_id: int, day: date) -> list[tuple[Booking, Slot]]:
        """Every booking (cancelled too) in a venue's slots on a local date, by time and ticket."""
        rows = self._db.execute(
            f"SELECT {', '.join('b.' + c for c in BOOKING_COLUMNS.split(', '))} FROM bookings b"
            " JOIN slots s ON s.id = b.slot_id JOIN resources r ON r.id = s.resource_id"
            " WHERE r.venue_id = ? AND s.local_date = ? ORDER BY s.starts_at, b.ticket", (venue_id, day.isoformat()),
        ).fetchall()
        slots = {}
        return [(to_booking(r), slots.get(r[2]) or slots.setdefault(r[2], self._slot(r[2]))) for r in rows]

    # -- staff actions

    @on_thread
    def set_slot_closed(self, slot_id: int, closed: bool) -> Slot:
        """Close a slot to new bookings, or open it again; bookings already made stay."""
        with self._tx() as db:
            if not db.execute("UPDATE slots SET closed = ? WHERE id = ?", (closed, slot_id)).rowcount:
                raise NotFound(slot_id)
            return self._slot(slot_id)

    def _update_booking(self, booking_id: int, assignments: str, args: tuple) -> tuple[Booking, Slot]:
        with self._tx() as db:
            changed = db.execute(f"UPDATE bookings SET {assignments} WHERE id = ? AND status = 'confirmed'",
                                 (*args, booking_id)).rowcount
            if not changed:
                raise NotFound(booking_id)
            return self._booking_by_id(booking_id)

    @on_thread
    def set_attendance(self, booking_id: int, attendance: str | None) -> tuple[Booking, Slot]:
        """Mark a confirmed booking checked in, no-show, or neither."""
        return self._update_booking(booking_id, "attendance = ?", (attendance,))

    @on_thread
    def call(self, booking_id: int, counter: str, now: datetime) -> tuple[Booking, Slot]:
        """Call a ticket to a counter or room."""
        return self._update_booking(booking_id, "called_at = ?, called_to = ?", (precise_ts(now), counter))

    @on_thread
    def call_next(self, resource_id: int, day: date, counter: str, now: datetime) -> tuple[Booking, Slot] | None:
        """Call the first ticket waiting in a resource-day's line (None when nobody waits)."""
        with self._tx() as db:
            rows = db.execute(
                f"SELECT {', '.join('b.' + c for c in BOOKING_COLUMNS.split(', '))} FROM bookings b"
                " JOIN slots s ON s.id = b.slot_id WHERE s.resource_id = ? AND s.local_date = ?"
                " AND b.status = 'confirmed' AND b.called_at IS NULL"
                " AND COALESCE(b.attendance, '') != 'no_show'",
                (resource_id, day.isoformat())).fetchall()
            line = waiting_line([(to_booking(r), self._slot(r[2])) for r in rows])
            if not line:
                return None
            first = line[0][0].id
            db.execute("UPDATE bookings SET called_at = ?, called_to = ? WHERE id = ?",
                       (precise_ts(now), counter, first))
            return self._booking_by_id(first)

    @on_thread
    def requeue(self, booking_id: int, now: datetime) -> tuple[Booking, Slot]:
        """A called ticket that did not come (过号) goes back into the line, behind those due now."""
        return self._update_booking(booking_id, "called_at = NULL, called_to = NULL, requeued_at = ?",
                                    (precise_ts(now),))

    # -- staff accounts

    @on_thread
    def set_staff_password(self, username: str, password_hash: str) -> None:
        """Create a staff account or change its password hash."""
        with self._tx() as db:
            db.execute("INSERT INTO staff (username, password_hash) VALUES (?, ?) ON CONFLICT (username)"
                       " DO UPDATE SET password_hash = excluded.password_hash", (username, password_hash))

    @on_thread
    def staff_password_hash(self, username: str) -> str | None:
        """The stored hash of a staff account's password."""
        row = self._db.execute("SELECT password_hash FROM staff WHERE username = ?", (username,)).fetchone()
        return row[0] if row else None

    # -- venues, resources and schedules

    @on_thread
    def update_venue(self, venue_id: int, name: str, kind: str, timezone: str, archived: bool) -> None:
        """Change a venue's details."""
        with self._tx() as db:
            db.execute("UPDATE venues SET name = ?, kind = ?, timezone = ?, archived = ? WHERE id = ?",
                       (name, kind, timezone, archived, venue_id))

    @on_thread
    def update_resource(self, resource_id: int, name: str, max_party: int, horizon_days: int,
                        min_notice_minutes: int, archived: bool) -> None:
        """Change a resource's details (its schedule has its own method)."""
        with self._tx() as db:
            db.execute("UPDATE resources SET name = ?, max_party = ?, horizon_days = ?, min_notice_minutes = ?,"
                       " archived = ? WHERE id = ?",
                       (name, max_party, horizon_days, min_notice_minutes, archived, resource_id))

    @on_thread
    def set_schedule(self, resource_id: int, rules: list[OpeningRule], exceptions: list[DayException],
                     now: datetime) -> list[date]:
        """Replace a resource's rules and exceptions and regenerate its future slots; the changed days.

        Bookings are never touched: a change that would leave a booked slot with less room than it
        holds raises CapacityConflict and changes nothing.
        """
        with self._tx() as db:
            db.execute("DELETE FROM opening_rules WHERE resource_id = ?", (resource_id,))
            db.execute("DELETE FROM day_exceptions WHERE resource_id = ?", (resource_id,))
            db.executemany(
                "INSERT INTO opening_rules (resource_id, weekday, opens, closes, slot_minutes, capacity)"
                " VALUES (?, ?, ?, ?, ?, ?)",
                [(resource_id, r.weekday, r.opens.isoformat("minutes"), r.closes.isoformat("minutes"),
                  r.slot_minutes, r.capacity) for r in rules])
            db.executemany(
                "INSERT INTO day_exceptions (resource_id, local_date, opens, closes, slot_minutes, capacity)"
                " VALUES (?, ?, ?, ?, ?, ?)",
                [(resource_id, e.local_date.isoformat(), e.opens and e.opens.isoformat("minutes"),
                  e.closes and e.closes.isoformat("minutes"), e.slot_minutes, e.capacity) for e in exceptions])
            venue = self._load_venues("WHERE id = (SELECT venue_id FROM resources WHERE id = ?)", (resource_id,))[0]
            resource = venue.resource(resource_id)
            today = schedule.local_today(venue.timezone, now)
            conflicts, changed = [], []
            for day in schedule.days(today, resource.horizon_days + 1):
                existing = [to_slot(r) for r in db.execute(
                    f"SELECT {SLOT_COLUMNS} FROM slots WHERE resource_id = ? AND local_date = ? AND starts_at > ?",
                    (resource_id, day.isoformat(), ts(now)))]
                plans = schedule.plan_day(resource.rules, day, venue.timezone, resource.exceptions)
                change = schedule.reconcile(existing, plans, now)
                conflicts += change.conflicts
                if change.changed:
                    changed.append(day)
                # A slot that leaves the schedule goes away, or closes with no room if cancelled bookings name it.
                for slot_id in change.remove:
                    db.execute("DELETE FROM slots WHERE id = ? AND NOT EXISTS"
                               " (SELECT 1 FROM bookings WHERE slot_id = slots.id)", (slot_id,))
                    db.execute("UPDATE slots SET closed = TRUE, capacity = booked WHERE id = ?", (slot_id,))
                db.executemany("UPDATE slots SET ends_at = ?, capacity = ? WHERE id = ?",
                               [(ts(end), capacity, slot_id) for slot_id, end, capacity in change.reshape])
                db.executemany(
                    "INSERT INTO slots (resource_id, starts_at, ends_at, local_date, capacity) VALUES (?, ?, ?, ?, ?)",
                    [(resource_id, ts(p.starts_at), ts(p.ends_at), day.isoformat(), p.capacity) for p in change.add])
            if conflicts:
                raise CapacityConflict(conflicts)
            db.execute("UPDATE resources SET generated_through = ? WHERE id = ?",
                       ((today + timedelta(days=resource.horizon_days)).isoformat(), resource_id))
            return changed
