"""Frozen records of the booking domain and the pure rules that judge them."""

from __future__ import annotations

import hmac
import secrets
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from .contacts import clean_text

KINDS = ("restaurant", "clinic", "barber")
NAME_MAX = 100
CONTACT_MAX = 200
ADDRESS_MAX = 200
REFERENCE_ALPHABET = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"  # no 0/O, 1/I/L: read aloud on the phone
REFERENCE_LENGTH = 8
MAX_ID = 2**63 - 1  # database ids are 64-bit


@dataclass(frozen=True)
class OpeningRule:
    """One weekly opening: on `weekday` (0 = Monday) from `opens` to `closes`."""

    weekday: int
    opens: time
    closes: time
    slot_minutes: int
    capacity: int


@dataclass(frozen=True)
class DayException:
    """One date that differs from the weekly rules: closed (no hours) or open other hours."""

    local_date: date
    opens: time | None = None
    closes: time | None = None
    slot_minutes: int = 30
    capacity: int = 1

    @property
    def closed(self) -> bool:
        return self.opens is None


@dataclass(frozen=True)
class Resource:
    """Something bookable at a venue: a table group, a doctor's session, a chair."""

    id: int
    venue_id: int
    slug: str
    name: str
    max_party: int = 1
    horizon_days: int = 14
    min_notice_minutes: int = 0
    rules: tuple[OpeningRule, ...] = ()
    exceptions: tuple[DayException, ...] = ()
    archived: bool = False
    release_days_before: int | None = None  # with release_time: day D opens N days before, at T (放号)
    release_time: time | None = None
    name_zh: str = ""  # the name Chinese visitors see (empty: the name)
    release_mode: str = "race"  # race: first come first served at the release; draw: a draw (抽签) at it
    draw_entry_hours: int = 24  # a draw's entries open this long before its release instant

    def opens_on(self, day: date) -> bool:
        """Whether its schedule opens on `day`: that date's exception if it has one, else a weekly rule."""
        exception = next((e for e in self.exceptions if e.local_date == day), None)
        if exception is not None:
            return not exception.closed
        return any(rule.weekday == day.weekday() for rule in self.rules)


RESOURCE_SETTINGS = (
    "name",
    "max_party",
    "horizon_days",
    "min_notice_minutes",
    "release_days_before",
    "release_time",
    "archived",
    "name_zh",
    "release_mode",
    "draw_entry_hours",
)


@dataclass(frozen=True)
class Venue:
    """A place that takes bookings, with its own time zone."""

    id: int
    slug: str
    name: str
    kind: str
    timezone: str
    resources: tuple[Resource, ...] = ()
    archived: bool = False
    per_person_limit: int = 0  # active bookings one contact may hold per resource and day (0: no limit)
    address: str = ""
    phone: str = ""
    name_zh: str = ""  # the name Chinese visitors see (empty: the name)
    country: str = ""  # ISO 3166 alpha-2: where its phone numbers are, when written without a country code

    def resource(self, key: str | int) -> Resource | None:
        """The venue's resource with this slug (str) or id (int), if any."""
        return next((r for r in self.resources if key in (r.slug, r.id)), None)

    @property
    def open_resources(self) -> tuple[Resource, ...]:
        """The resources the public can book (not archived)."""
        return tuple(r for r in self.resources if not r.archived)

    @property
    def gives_tickets(self) -> bool:
        """Whether its bookers are shown a queue ticket (a clinic's, a barber's; a restaurant's table has none)."""
        return gives_tickets(self.kind)

    def ticket_letter(self, resource_id: int) -> str:
        """A resource's ticket prefix: A for the venue's first resource, B for the next..."""
        ids = [r.id for r in self.resources]
        return chr(ord("A") + ids.index(resource_id) % 26) if resource_id in ids else "T"


VENUE_DETAILS = ("address", "phone", "name_zh", "country")  # a venue's details besides its name, kind and rules


@dataclass(frozen=True)
class Slot:
    """A concrete bookable interval; `booked` never exceeds `capacity`."""

    id: int
    resource_id: int
    starts_at: datetime
    ends_at: datetime
    local_date: date
    capacity: int
    booked: int
    closed: bool = False
    held: int = 0  # places held for a waitlist offer: taken to everyone else

    @property
    def remaining(self) -> int:
        """Places still free (0 when closed)."""
        return 0 if self.closed else self.capacity - self.booked - self.held


class HeldBySecret:
    """A record its holder proves theirs with the secret from their link (`cancel_token`)."""

    cancel_token: str

    def token_matches(self, token: str | None) -> bool:
        """True when `token` is this record's secret (compared in constant time)."""
        return bool(token) and hmac.compare_digest(token.encode(), self.cancel_token.encode())


@dataclass(frozen=True)
class Booking(HeldBySecret):
    """A confirmed or cancelled booking of `party_size` places in one slot."""

    id: int
    reference: str
    slot_id: int
    name: str
    contact: str
    party_size: int
    status: str
    created_at: datetime
    cancel_token: str = field(default="", repr=False)
    ticket: int | None = None
    attendance: str | None = None  # None, 'checked_in' or 'no_show'
    called_at: datetime | None = None
    called_to: str | None = None
    requeued_at: datetime | None = None
    locale: str = "en"  # the language it was booked in: its e-mails speak it
    moves: int = 0  # times it moved to another slot: its calendar event's SEQUENCE
    moved_from: datetime | None = None  # the start of the slot it last moved from


# What a slot is to someone who wants to book it now (one rule for stores, views and templates).
OPEN, FULL, CLOSED, PAST, TOO_LATE, NOT_YET = "open", "full", "closed", "past", "too_late", "not_yet"
GONE = (CLOSED, PAST, TOO_LATE)  # states nobody can book or wait for


def local_today(timezone: str, now: datetime | None = None) -> date:
    """Today's date where the venue is (at `now`, else at the system's time)."""
    return (now or datetime.now(UTC)).astimezone(ZoneInfo(timezone)).date()


def next_midnight(timezone: str, now: datetime) -> datetime:
    """The next start of a day where the venue is, as an aware datetime."""
    tz = ZoneInfo(timezone)
    return datetime.combine(now.astimezone(tz).date() + timedelta(days=1), time(), tz)


def bookable_from(resource: Resource, now: datetime) -> datetime:
    """The earliest start the public may book at `now` (the minimum notice)."""
    return now + timedelta(minutes=resource.min_notice_minutes)


def horizon(resource: Resource, timezone: str, now: datetime) -> date:
    """The last venue-local date the public may book at `now`."""
    return local_today(timezone, now) + timedelta(days=resource.horizon_days)


def day_opens_at(day: date, resource: Resource, timezone: str) -> datetime:
    """When the public may book `day`: it enters the horizon at midnight, or is released (放号) later."""
    tz = ZoneInfo(timezone)
    moment = datetime.combine(day - timedelta(days=resource.horizon_days), time(), tz)
    if resource.release_days_before is not None and resource.release_time is not None:
        release = datetime.combine(day - timedelta(days=resource.release_days_before), resource.release_time, tz)
        moment = max(moment, release)
    return moment


def opens_at(slot: Slot, resource: Resource, timezone: str) -> datetime:
    """When the public may book this slot: when its day opens."""
    return day_opens_at(slot.local_date, resource, timezone)


def slot_state(slot: Slot, resource: Resource, timezone: str, now: datetime, for_staff: bool = False) -> str:
    """OPEN, FULL, CLOSED, PAST (begun), TOO_LATE (inside the minimum notice: call or walk in) or NOT_YET
    (beyond the horizon, or not released yet).

    Staff may book a slot until it ends (a walk-in) and whatever its date; the public up to the notice.
    """
    if slot.closed:
        return CLOSED
    if for_staff:
        if slot.ends_at <= now:
            return PAST
    elif slot.starts_at < now:
        return PAST
    elif slot.starts_at < bookable_from(resource, now):
        return TOO_LATE
    if not for_staff and now < opens_at(slot, resource, timezone):
        return NOT_YET
    return OPEN if slot.remaining else FULL


def state_changes_at(
    slot: Slot, resource: Resource, timezone: str, now: datetime, for_staff: bool = False
) -> datetime | None:
    """The next moment the clock alone changes `slot_state` (None: not before the data changes)."""
    state = slot_state(slot, resource, timezone, now, for_staff)
    if state == NOT_YET:
        return opens_at(slot, resource, timezone)
    if state in (OPEN, FULL):
        return slot.ends_at if for_staff else slot.starts_at - timedelta(minutes=resource.min_notice_minutes)
    if state == TOO_LATE:
        return slot.starts_at
    return None


COUNTDOWN_STEPS = (
    (timedelta(days=2), timedelta(days=1)),
    (timedelta(hours=2), timedelta(hours=1)),
    (timedelta(), timedelta(minutes=1)),
)
SECOND = timedelta(seconds=1)
TICKS_SENT = timedelta(seconds=10)  # in the last minute the page counts each second itself; a render every 10 s


def countdown(until: datetime, now: datetime) -> tuple[int, timedelta, datetime]:
    """A countdown to `until` as shown: (whole units left, the unit, when the server renders it again).

    Coarse far away, finer near the moment: days, then hours, then minutes, then the last minute in seconds
    (rounded up: "in 1 min" never stands for the whole last minute). The page counts those seconds by itself:
    the server renders them again only every TICKS_SENT, to set the count right.
    """
    left = max(until - now, timedelta())
    unit = SECOND if left <= timedelta(minutes=1) else next(unit for above, unit in COUNTDOWN_STEPS if left >= above)
    count = -(-left // unit)  # rounded up
    step = max(unit, TICKS_SENT)
    return count, unit, until - max(-(-left // step) - 1, 0) * step


def valid_until(*moments: datetime | None) -> datetime | None:
    """The earliest of these moments (None when there is none): until when a render holds."""
    return min((m for m in moments if m is not None), default=None)


def movable(booking: Booking, slot: Slot, now: datetime) -> bool:
    """Whether a booking may still move to another time: confirmed, not called, its own time not begun."""
    return booking.status == "confirmed" and not booking.called_at and slot.starts_at > now


def running_low(slot: Slot) -> bool:
    """Few places left: two or fewer, or a fifth of the slot or less."""
    return 0 < slot.remaining <= max(2, slot.capacity // 5)


def day_outlook(
    slots: list[Slot], resource: Resource, timezone: str, now: datetime, party: int = 1, day: date | None = None
) -> str:
    """One day at a glance for a party: OPEN (a slot has room for it), FULL (slots can be booked, none with room),
    NOT_YET (to be released, or beyond the horizon on a day the schedule opens), PAST (its times are over) or
    CLOSED (it does not open). `day` judges a day without slots by the schedule (without it: CLOSED)."""
    states = [slot_state(s, resource, timezone, now) for s in slots]
    if any(state == OPEN and s.remaining >= party for s, state in zip(slots, states)):
        return OPEN
    if OPEN in states or FULL in states:
        return FULL
    if NOT_YET in states:
        return NOT_YET
    if slots:
        return CLOSED if all(s.closed for s in slots) else PAST
    if day is None or not resource.opens_on(day):
        return CLOSED
    return PAST if day < local_today(timezone, now) else NOT_YET  # its slots are made as it enters the horizon


def next_bookable(
    candidates: list[Slot], resource: Resource, timezone: str, now: datetime, party: int = 1
) -> Slot | None:
    """The first of `candidates` (in time order) a party may book now: never one that is not open yet."""
    return next(
        (s for s in candidates if slot_state(s, resource, timezone, now) == OPEN and s.remaining >= party), None
    )


def now_and_next(slots: list[Slot], now: datetime) -> tuple[Slot | None, Slot | None, list[Slot]]:
    """The slot under way, the next one, and every open slot not yet over (a kiosk's view of a day)."""
    ahead = [s for s in slots if s.ends_at > now and not s.closed]
    current = ahead[0] if ahead and ahead[0].starts_at <= now else None
    coming = [s for s in ahead if s is not current]
    return current, coming[0] if coming else None, ahead


@dataclass(frozen=True)
class WaitlistEntry(HeldBySecret):
    """Someone waiting for a place in a full slot; `offered` holds places for them until `offered_until`."""

    id: int
    reference: str
    slot_id: int
    name: str
    contact: str
    party_size: int
    status: str  # waiting, offered, booked, expired, left
    created_at: datetime
    cancel_token: str = field(default="", repr=False)
    offered_until: datetime | None = None
    booking_id: int | None = None
    locale: str = "en"  # the language it was made in: its offer speaks it


@dataclass(frozen=True)
class AuditEntry:
    """One staff action, as the audit trail keeps it: who, what, when, from where; the booking or slot it was about
    by id only (who was booked is read from the booking when shown), and a range's last day."""

    id: int
    at: datetime
    actor: str
    address: str
    action: str
    subject: str
    venue_id: int | None = None
    local_date: date | None = None
    booking_id: int | None = None
    slot_id: int | None = None
    last_date: date | None = None


def gives_tickets(kind: str) -> bool:
    """Whether a venue of this kind shows its bookers a queue ticket."""
    return kind != "restaurant"


def ticket_label(letter: str, number: int | None) -> str:
    """'A007': a resource's letter and the booking's number in its day."""
    return f"{letter}{number:03d}" if number else ""


def waiting_line(entries: list[tuple[Booking, Slot]]) -> list[tuple[Booking, Slot]]:
    """Confirmed, not yet called, not a no-show (checked in means arrived: still waiting for the call),
    in slot order; a re-queued ticket stands where the time it went back puts it."""
    waiting = [(b, s) for b, s in entries if b.status == "confirmed" and not b.called_at and b.attendance != "no_show"]
    return sorted(waiting, key=lambda e: (e[0].requeued_at or e[1].starts_at, e[0].ticket or 0))


def called_recently(entries: list[tuple[Booking, Slot]], limit: int = 5) -> list[tuple[Booking, Slot]]:
    """The last `limit` tickets called, newest first."""
    called = [(b, s) for b, s in entries if b.status == "confirmed" and b.called_at]
    return sorted(called, key=lambda e: e[0].called_at, reverse=True)[:limit]


CALL_NEWS = timedelta(seconds=15)  # how long a kiosk announces a new call (its animation, then a highlight)


def next_waiting(entries: list[tuple[Booking, Slot]], limit: int = 4) -> list[tuple[Booking, Slot]]:
    """The first `limit` numbered tickets of the waiting line, in call order (a kiosk's 候诊: numbers only)."""
    return [(b, s) for b, s in waiting_line(entries) if b.ticket][:limit]


def call_news_until(calls: list[tuple[Booking, Slot]], now: datetime) -> datetime | None:
    """Until when the latest of `calls` (newest first) is news to announce; None when it is not, or none was made."""
    until = calls[0][0].called_at + CALL_NEWS if calls else None
    return until if until and until > now else None


def booking_matches(booking: Booking, query: str) -> bool:
    """Staff search: the name contains the query (any case), the reference starts with it (any case), or the
    contact holds it (an e-mail in any case; a phone's digits in any format, 4 at least)."""
    query = clean_text(query)
    if not query:
        return False
    if query.casefold() in clean_text(booking.name).casefold() or booking.reference.startswith(query.upper()):
        return True
    if "@" in query:
        return query.casefold() in clean_text(booking.contact).casefold()
    digits = "".join(c for c in query if c.isdigit())
    held = "".join(c for c in booking.contact if c.isdigit())
    return len(digits) >= 4 and not any(c.isalpha() for c in query) and digits in held


def place_in_line(entries: list[tuple[Booking, Slot]], booking_id: int) -> int | None:
    """How many wait before this booking (None when it does not wait: called, cancelled, no-show)."""
    line = [b.id for b, _s in waiting_line(entries)]
    return line.index(booking_id) if booking_id in line else None


def bookings_by_slot(entries: list[tuple[Booking, Slot]]) -> dict[int, list[Booking]]:
    """Slot id -> its bookings, in the entries' order (a staff board's rows)."""
    grouped: dict[int, list[Booking]] = {}
    for booking, slot in entries:
        grouped.setdefault(slot.id, []).append(booking)
    return grouped


def new_reference() -> str:
    """A short, unguessable booking reference, e.g. 'K7QX2M9P': one uniform draw among every reference (one read of
    the system's randomness, not one a letter), written in REFERENCE_ALPHABET."""
    number, letters = secrets.randbelow(len(REFERENCE_ALPHABET) ** REFERENCE_LENGTH), []
    for _ in range(REFERENCE_LENGTH):
        number, digit = divmod(number, len(REFERENCE_ALPHABET))
        letters.append(REFERENCE_ALPHABET[digit])
    return "".join(letters)


def new_cancel_token() -> str:
    """The secret that lets its holder cancel a booking."""
    return secrets.token_urlsafe(18)
