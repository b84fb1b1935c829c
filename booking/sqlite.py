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
    Booking, Forbidden, NotFound, OpeningRule, Resource, Slot, SlotFull, SlotUnavailable, Venue,
    new_cancel_token, new_reference,
)

TYPES = {"id": "INTEGER PRIMARY KEY", "ts": "TEXT", "date": "TEXT"}
SLOT_COLUMNS = "id, resource_id, starts_at, ends_at, local_date, capacity, booked, closed"
BOOKING_COLUMNS = "id, reference, slot_id, name, contact, party_size, status, created_at, cancel_token"


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


def from_ts(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def to_slot(row) -> Slot:
    return Slot(row[0], row[1], from_ts(row[2]), from_ts(row[3]), date.fromisoformat(row[4]),
                row[5], row[6], bool(row[7]))


def to_booking(row) -> Booking:
    return Booking(*row[:7], from_ts(row[7]), cancel_token=row[8])


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
        venues = db.execute(f"SELECT id, slug, name, kind, timezone FROM venues {where} ORDER BY id", args).fetchall()
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
        resources: dict[int, list[Resource]] = {}
        for row in db.execute(
            "SELECT id, venue_id, slug, name, max_party, horizon_days, min_notice_minutes FROM resources"
            f" WHERE venue_id IN ({marks}) ORDER BY id", ids,
        ):
            resources.setdefault(row[1], []).append(Resource(*row, rules=tuple(rules.get(row[0], ()))))
        return [Venue(*v, resources=tuple(resources.get(v[0], ()))) for v in venues]

    @on_thread
    def venues(self) -> list[Venue]:
        """Every venue with its resources and rules."""
        return self._load_venues()

    @on_thread
    def venue(self, slug: str) -> Venue | None:
        """The venue with this slug."""
        found = self._load_venues("WHERE slug = ?", (slug,))
        return found[0] if found else None

    @on_thread
    def venue_of_resource(self, resource_id: int) -> Venue | None:
        """The venue that owns a resource."""
        found = self._load_venues("WHERE id = (SELECT venue_id FROM resources WHERE id = ?)", (resource_id,))
        return found[0] if found else None

    @on_thread
    def add_venue(self, slug: str, name: str, kind: str, timezone: str) -> int:
        """Create a venue; returns its id."""
        with self._tx() as db:
            return db.execute("INSERT INTO venues (slug, name, kind, timezone) VALUES (?, ?, ?, ?)",
                              (slug, name, kind, timezone)).lastrowid

    @on_thread
    def add_resource(self, venue_id, slug, name, rules, *, max_party=1, horizon_days=14, min_notice_minutes=0) -> int:
        """Create a resource with its weekly rules; returns its id."""
        with self._tx() as db:
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
                        plans = schedule.plan_day(resource.rules, day, venue.timezone)
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
    def book(self, slot_id, name, contact, party_size, now, idempotency_key=None) -> tuple[Booking, Slot]:
        """Book `party_size` places, or raise NotFound / SlotUnavailable / SlotFull. One transaction."""
        with self._tx() as db:
            if idempotency_key:
                row = db.execute(f"SELECT {BOOKING_COLUMNS} FROM bookings WHERE idempotency_key = ?",
                                 (idempotency_key,)).fetchone()
                if row:
                    booking = to_booking(row)
                    return booking, self._slot(booking.slot_id)
            row = db.execute(
                "SELECT s.starts_at, s.closed, r.min_notice_minutes FROM slots s"
                " JOIN resources r ON r.id = s.resource_id WHERE s.id = ?", (slot_id,),
            ).fetchone()
            if row is None:
                raise NotFound(slot_id)
            if row[1] or from_ts(row[0]) < now + timedelta(minutes=row[2]):
                raise SlotUnavailable(slot_id)
            # The capacity check lives in this statement, never in Python.
            taken = db.execute(
                "UPDATE slots SET booked = booked + ? WHERE id = ? AND booked + ? <= capacity",
                (party_size, slot_id, party_size),
            ).rowcount
            if not taken:
                raise SlotFull(slot_id)
            token = new_cancel_token()
            for _ in range(5):
                reference = new_reference()
                try:
                    booking_id = db.execute(
                        "INSERT INTO bookings (reference, cancel_token, slot_id, name, contact, party_size, status,"
                        " idempotency_key, created_at) VALUES (?, ?, ?, ?, ?, ?, 'confirmed', ?, ?)",
                        (reference, token, slot_id, name, contact, party_size, idempotency_key, ts(now)),
                    ).lastrowid
                    break
                except sqlite3.IntegrityError:  # a reference collision: draw again
                    continue
            else:
                raise RuntimeError("could not draw a unique reference")
            booking = Booking(booking_id, reference, slot_id, name, contact, party_size, "confirmed",
                              now.replace(microsecond=0), cancel_token=token)
            return booking, self._slot(slot_id)

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
