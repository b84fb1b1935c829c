"""SqlStore: each method hands a transaction body to the engine; between them it keeps the venues and the
slots read full."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import UTC, date, datetime, timedelta

from .. import topics
from ..batches import Batches
from ..errors import OfferGone, SlotFull
from ..migrations import MIGRATIONS
from ..model import Booking, DayException, OpeningRule, Slot, Venue, WaitlistEntry
from ..outages import Unavailable
from ..outbox import Message, Notices, Webhook, current_actor
from .audit import AuditStore
from .availability import AvailabilityStore
from .bookings import (
    REQUEUE,
    KeyTaken,
    _accept,
    _book,
    _booking_where,
    _cancel,
    _entries,
    _entries_in,
    _replay,
    _reschedule,
    _update_booking,
)
from .draws import DrawStore
from .engine import Database, T, Tx
from .kept import KeptSlots
from .keys import KeyStore
from .limits import _count_attempts, _forget_attempts
from .outbox import (
    _add_webhook,
    _claim,
    _next_due,
    _outbox,
    _prune_outbox,
    _remove_webhook,
    _webhooks,
)
from .slots import _slots, _slots_by_id
from .staff import StaffStore, _erase_ended, _erase_person
from .told import _attend, _call, _call_next_told, _close
from .venues import (
    _add_resource,
    _add_venue,
    _edit_resource,
    _extend,
    _free_near,
    _update_venue,
    _venues,
    columns,
    venue_details,
)
from .waitlist import _entry, _expire_offers, _join, _leave, _waitlist_counts
from .webhooks import WebhookStore, as_actor, chosen_events


class SqlStore(DrawStore, AuditStore, StaffStore, AvailabilityStore, KeyStore, WebhookStore, KeptSlots):
    """The Store, over any Database: async, every capacity check inside the database. Each committed write calls
    `notify(*topics)` once with the topics it touched (the list PostgreSQL announces to the other processes)."""

    def __init__(
        self,
        db: Database,
        notify: Callable[..., object] = lambda *names: None,
        offer_for: timedelta = timedelta(minutes=10),
        notices: Notices = Notices(),
    ):
        self.db = db
        self.notify = notify
        self.offer_for = offer_for  # how long a freed place is held for the waitlist entry it is offered to
        self.notices = notices  # what the outbox gets besides webhooks: e-mails, text messages, reminders
        # Every venue with its resources, read once and read again after a change to any of them (this process's
        # writes, or another's, heard through listen): a booking and a render need them, and they seldom change.
        self._venues: list[Venue] | None = None
        self._venues_era = 0  # counts those changes: a read that a change overtook is not kept
        self._homes: dict[int, int] = {}  # slot id -> its resource's id, as read (KeptSlots); forgotten with them
        # Slots read with no place left, kept until any change is heard (or FULL_KEPT_SECONDS pass): at a release
        # most attempts are at full slots, and refusing them then reads nothing.
        self._full: dict[int, tuple[Slot, float]] = {}
        self._full_era = 0
        self._attempts = Batches(self._count_attempts)  # a crowd's attempts: one transaction for many
        # A crowd's slot reads: one statement for many. At a release 2,000 requests each read their slot at once,
        # and queued one by one for the database's thread, they kept a render's read waiting for a second.
        self._slot_reads = Batches(self._read_slots)

    async def _write(self, body: Callable[..., Awaitable[T]], *args) -> T:
        result, changed = await self.db.write(as_actor(current_actor(), body), *args)
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
        self._venues, self._homes = None, {}
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

    async def trouble(self, budget: float = 1.0) -> str | None:
        """Why a booking cannot be made now (None: it can): a write like a booking's, rolled back, must be done
        within `budget` seconds, the database have room to grow, and the listener be connected."""
        try:
            async with asyncio.timeout(budget):
                await self.db.write(_probe)
        except Probed:
            pass
        except TimeoutError:
            return f"database: no answer within {budget:g} s"
        except Unavailable as down:
            return f"database {down}"
        except Exception as error:  # whatever else the driver says, the answer is "not ready"
            return f"database: {type(error).__name__}"
        if full := self.db.full():
            return f"database full: {full}"
        return None if self.db.listening else "listener: not connected"

    async def listen(self, on_change: Callable[..., object], on_resync: Callable[[], object]) -> None:
        """Until cancelled: on_change(*topics) for other processes' changes, on_resync() when some may be lost
        (after each (re)connection). SQLite returns at once: its one process hears every change directly."""

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

    async def add_venue(
        self, slug: str, name: str, kind: str, timezone: str, per_person_limit: int = 0, **details: str
    ) -> int:
        """Create a venue; returns its id (Duplicate if the slug is taken). `details`: any of VENUE_DETAILS."""
        return await self._write(_add_venue, slug, name, kind, timezone, per_person_limit, venue_details(details))

    async def update_venue(
        self,
        venue_id: int,
        name: str,
        kind: str,
        timezone: str,
        archived: bool,
        per_person_limit: int = 0,
        **details: str | None,
    ) -> None:
        """Change a venue's details (of VENUE_DETAILS, those not given or None stay as they are)."""
        await self._write(
            _update_venue, venue_id, name, kind, timezone, archived, per_person_limit, venue_details(details)
        )

    async def add_resource(
        self,
        venue_id: int,
        slug: str,
        name: str,
        rules: list[OpeningRule],
        *,
        exceptions: list[DayException] = (),
        now: datetime | None = None,
        **settings,
    ) -> int:
        """Create a resource with its schedule (and its slots when given `now`); returns its id (or Duplicate).

        `settings`: any of RESOURCE_SETTINGS but the name (max_party=1, horizon_days=14, … by default).
        """
        return await self._write(
            _add_resource,
            venue_id,
            slug,
            rules,
            exceptions,
            columns({"max_party": 1, "horizon_days": 14, **settings, "name": name}),
            now,
        )

    async def edit_resource(
        self, resource_id: int, settings: dict, rules: list[OpeningRule], exceptions: list[DayException], now: datetime
    ) -> list[date]:
        """Save a resource's settings and schedule and regenerate its slots with them, in one transaction.

        Returns the days whose slots changed; raises CapacityConflict (changing nothing) when a booked slot
        would be left with less room than it holds.
        """
        return await self._write(
            _edit_resource, resource_id, columns(settings), rules, exceptions, now, self.offer_for, self.notices
        )

    async def extend_slots(self, now: datetime) -> int:
        """Create the missing slots of every resource up to its booking horizon; how many were new."""
        created = 0
        for venue in await self.venues(include_archived=True):
            for resource in venue.resources:
                created += await self._write(_extend, venue, resource, now)
        return created

    # -- slots

    async def slots_between(self, resource_id: int, first: date, last: date) -> list[Slot]:
        """A resource's slots from one venue-local date to another (both included), in time order."""
        return await self.db.read(
            _slots,
            "resource_id = :resource_id AND local_date BETWEEN :first AND :last",
            {"resource_id": resource_id, "first": first, "last": last},
        )

    async def free_slots_after(self, resource_id: int, day: date, party_size: int, limit: int = 50) -> list[Slot]:
        """The first open slots with room for the party after a venue-local date (the caller judges release
        and notice: this is the candidates' query)."""
        return await self.db.read(
            _slots,
            "resource_id = :resource_id AND local_date > :day AND NOT closed AND capacity - booked - held >= :size",
            {"resource_id": resource_id, "day": day, "size": party_size},
            f"LIMIT {int(limit)}",
        )

    async def slot(self, slot_id: int) -> Slot | None:
        """One slot by id (a full one as kept: see _full). Reads asked for while one runs go together next."""
        return self.kept_slot(slot_id) or await self._slot_reads.add(slot_id)

    async def _read_slots(self, ids: list[int]) -> list[Slot | None]:
        """Several slot() reads as one statement, each slot once; the full ones are kept."""
        era, venues_era = self._full_era, self._venues_era
        found = await self.db.read(_slots_by_id, list(dict.fromkeys(ids)))
        self._note_homes(found.values(), venues_era)
        self._keep_full(found.values(), era)
        return [found.get(slot_id) for slot_id in ids]

    async def free_slots_near(self, slot: Slot, party_size: int, now: datetime, limit: int = 3) -> list[Slot]:
        """Slots of the same resource the public can book now with room for the party, nearest in time first."""
        return await self.db.read(_free_near, slot, party_size, now, limit)

    async def set_slot_closed(self, slot_id: int, closed: bool, now: datetime | None = None) -> Slot:
        """Close a slot to new bookings, or open it again (its free places go to its waitlist first)."""
        return await self._write(_close, slot_id, closed, now, self.offer_for, self.notices)

    # -- bookings

    async def book(
        self,
        slot_id: int,
        name: str,
        contact: str,
        party_size: int,
        now: datetime,
        idempotency_key: str | None = None,
        for_staff: bool = False,
        fingerprint: str = "",
        over_limit: bool = False,
        locale: str = "en",
        resource_id: int | None = None,
    ) -> tuple[Booking, Slot]:
        """Book `party_size` places, or raise NotFound / NotOpenYet / SlotUnavailable / LimitReached / SlotFull.

        One transaction. A key seen before answers with its booking when `fingerprint` (of the request) is the
        same, and raises IdempotencyMismatch when it is not. Staff may book `over_limit` (the per-person limit).
        `resource_id`: the resource the caller took the slot for (NotFound when it is another's).
        """
        key, staff, era = (idempotency_key, fingerprint), (for_staff, over_limit), self._full_era
        try:
            return await self._write(
                _book, slot_id, name, contact, party_size, now, key, staff, locale, self.notices, resource_id
            )
        except KeyTaken:
            return await self.db.read(_replay, *key)
        except SlotFull as full:  # read full in the transaction: kept, as a read's would be
            self._keep_full([full.slot] if full.slot else [], era)
            raise

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

    async def join_waitlist(
        self, slot_id: int, name: str, contact: str, party_size: int, now: datetime, locale: str = "en"
    ) -> tuple[WaitlistEntry, int]:
        """Wait for places in a full slot: the entry and its place in line (1 = next). Raises NotFound,
        SlotAvailable (book it instead), NotOpenYet, SlotUnavailable or LimitReached."""
        return await self._write(_join, slot_id, name, contact, party_size, now, locale)

    async def waitlist_entry(self, reference: str) -> tuple[WaitlistEntry, Slot, int | None] | None:
        """An entry by reference, its slot, and its place in line (None once it waits no more)."""
        return await self.db.read(_entry, "reference", reference)

    async def waitlist_entry_by_id(self, entry_id: int) -> tuple[WaitlistEntry, Slot, int | None] | None:
        """An entry by id, like waitlist_entry."""
        return await self.db.read(_entry, "id", entry_id)

    async def accept_offer(self, reference: str, token: str, now: datetime, locale: str = "en") -> tuple[Booking, Slot]:
        """Turn an offer's held places into a booking. Raises NotFound, Forbidden or OfferGone (also when its
        person holds more than the venue's limit now: then the offer has passed on)."""
        accepted = await self._write(_accept, reference, token, now, locale, self.notices, self.offer_for)
        if accepted is None:
            raise OfferGone(reference)
        return accepted

    async def leave_waitlist(self, reference: str, token: str, now: datetime) -> WaitlistEntry:
        """Stop waiting (an offer held passes on). Raises NotFound or Forbidden."""
        return await self._write(_leave, reference, token, now, self.offer_for, self.notices)

    async def expire_offers(self, now: datetime) -> int:
        """Offers past their time pass on to the next in line, or back to the public; how many expired."""
        return await self._write(_expire_offers, now, self.offer_for, self.notices)

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
        return await self.db.read(
            _entries_in,
            "r.venue_id = :venue_id AND s.local_date BETWEEN :first AND :last",
            {"venue_id": venue_id, "first": first, "last": last},
        )

    # -- the line: attendance and calls

    async def set_attendance(
        self, booking_id: int, attendance: str | None, now: datetime | None = None
    ) -> tuple[Booking, Slot]:
        """Mark a confirmed booking checked in, no-show, or neither (told to webhooks as of `now`)."""
        return await self._write(_attend, booking_id, attendance, now or datetime.now(UTC))

    async def call(self, booking_id: int, counter: str, now: datetime) -> tuple[Booking, Slot]:
        """Call a ticket to a counter or room."""
        return await self._write(_call, booking_id, counter, now)

    async def call_next(self, resource_id: int, day: date, counter: str, now: datetime) -> tuple[Booking, Slot] | None:
        """Call the first ticket waiting in a resource-day's line (None when nobody waits)."""
        return await self._write(_call_next_told, resource_id, day, counter, now)

    async def requeue(self, booking_id: int, now: datetime) -> tuple[Booking, Slot]:
        """A called ticket that did not come (过号) goes back into the line, behind those due now."""
        return await self._write(_update_booking, booking_id, REQUEUE, {"now": now})

    # -- retention and erasure (the audit trail: AuditStore)

    async def erase_ended(self, before: datetime) -> int:
        """Erase names and contacts of bookings and waitlist entries whose slot ended before `before`, what the
        outbox holds of them, and the per-person counts of days that ended; how many. Counts, times and
        references stay."""
        return await self._write(_erase_ended, before)

    async def erase_person(self, contact: str) -> int:
        """Erase one person's names and contacts everywhere (matched by contact_key at each venue), what the outbox
        holds of them and their per-person counts; how many. Their bookings and entries stand, nameless."""
        return await self._write(_erase_person, contact)

    # -- the outbox: webhooks and e-mail, delivered after commit

    async def add_webhook(
        self, venue_id: int, url: str, secret: str, now: datetime, events: list[str] | None = None
    ) -> int:
        """Register a webhook endpoint of a venue, taking these events (None: all); returns its id."""
        return await self._write(_add_webhook, venue_id, url, secret, now, chosen_events(events))

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


# The store's own bodies: the readiness check and the schema.


class Probed(Exception):
    """The readiness probe's write, undone on purpose."""


async def _probe(tx: Tx) -> None:
    """A write as a booking makes one (the write lock, a row, a transaction id), then undone."""
    await tx.execute("INSERT INTO schema_version (version) VALUES (0)")
    raise Probed


async def _migrate(tx: Tx) -> None:
    await tx.lock_schema()
    await tx.execute("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)")
    done = await tx.fetch_value("SELECT COALESCE(MAX(version), 0) FROM schema_version")
    for version, step in enumerate(MIGRATIONS[done:], start=done + 1):
        await _step(tx, step)
        await tx.execute("INSERT INTO schema_version (version) VALUES (:version)", version=version)


async def _step(tx: Tx, step) -> None:
    """One migration: its SQL statements, or a body that moves data (an async function of the transaction)."""
    if callable(step):
        await step(tx)
        return
    for statement in step.format(**tx.types).split(";"):
        if statement.strip():
            await tx.execute(statement)
