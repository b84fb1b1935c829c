"""Frozen records of the booking domain and the pure rules that judge them."""

from __future__ import annotations

import hmac
import secrets
from dataclasses import dataclass, field
from datetime import date, datetime, time

KINDS = ("restaurant", "clinic", "barber")
NAME_MAX = 100
CONTACT_MAX = 200
REFERENCE_ALPHABET = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"  # no 0/O, 1/I/L: read aloud on the phone
REFERENCE_LENGTH = 8
MAX_ID = 2**63 - 1  # database ids are 64-bit


class BookingError(Exception):
    """A booking that cannot be made or changed; `code` names why."""

    code = "booking_error"


class NotFound(BookingError):
    code = "not_found"


class SlotFull(BookingError):
    code = "slot_full"


class SlotUnavailable(BookingError):
    """The slot is closed, past, or inside the resource's minimum notice."""

    code = "slot_unavailable"


class Forbidden(BookingError):
    code = "forbidden"


class Duplicate(BookingError):
    """Something with that slug exists already."""

    code = "duplicate"


class CapacityConflict(BookingError):
    """A schedule change would leave booked slots with less room than they hold."""

    code = "capacity_conflict"

    def __init__(self, slots: list[Slot]):
        super().__init__(slots)
        self.slots = slots


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

    def resource(self, key: str | int) -> Resource | None:
        """The venue's resource with this slug (str) or id (int), if any."""
        return next((r for r in self.resources if key in (r.slug, r.id)), None)

    @property
    def open_resources(self) -> tuple[Resource, ...]:
        """The resources the public can book (not archived)."""
        return tuple(r for r in self.resources if not r.archived)

    def ticket_letter(self, resource_id: int) -> str:
        """A resource's ticket prefix: A for the venue's first resource, B for the next..."""
        ids = [r.id for r in self.resources]
        return chr(ord("A") + ids.index(resource_id) % 26) if resource_id in ids else "T"


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

    @property
    def remaining(self) -> int:
        """Places still free (0 when closed)."""
        return 0 if self.closed else self.capacity - self.booked


@dataclass(frozen=True)
class Booking:
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

    def token_matches(self, token: str | None) -> bool:
        """True when `token` is this booking's cancel secret (compared in constant time)."""
        return bool(token) and hmac.compare_digest(token.encode(), self.cancel_token.encode())


def ticket_label(letter: str, number: int | None) -> str:
    """'A007': a resource's letter and the booking's number in its day."""
    return f"{letter}{number:03d}" if number else ""


def waiting_line(entries: list[tuple[Booking, Slot]]) -> list[tuple[Booking, Slot]]:
    """Confirmed, not yet called, not a no-show (checked in means arrived: still waiting for the call),
    in slot order; a re-queued ticket stands where the time it went back puts it."""
    waiting = [(b, s) for b, s in entries
               if b.status == "confirmed" and not b.called_at and b.attendance != "no_show"]
    return sorted(waiting, key=lambda e: (e[0].requeued_at or e[1].starts_at, e[0].ticket or 0))


def called_recently(entries: list[tuple[Booking, Slot]], limit: int = 5) -> list[tuple[Booking, Slot]]:
    """The last `limit` tickets called, newest first."""
    called = [(b, s) for b, s in entries if b.status == "confirmed" and b.called_at]
    return sorted(called, key=lambda e: e[0].called_at, reverse=True)[:limit]


def new_reference() -> str:
    """A short, unguessable booking reference, e.g. 'K7QX2M9P'."""
    return "".join(secrets.choice(REFERENCE_ALPHABET) for _ in range(REFERENCE_LENGTH))


def new_cancel_token() -> str:
    """The secret that lets its holder cancel a booking."""
    return secrets.token_urlsafe(18)


def booking_problems(name: str, contact: str, party_size: object, max_party: int) -> dict[str, str]:
    """Field -> problem code for a booking request; empty when it is acceptable."""
    problems = {}
    name, contact = (name or "").strip(), (contact or "").strip()
    if not name:
        problems["name"] = "required"
    elif len(name) > NAME_MAX:
        problems["name"] = "too_long"
    if not contact:
        problems["contact"] = "required"
    elif len(contact) > CONTACT_MAX:
        problems["contact"] = "too_long"
    elif not looks_like_contact(contact):
        problems["contact"] = "invalid"
    if not isinstance(party_size, int) or isinstance(party_size, bool):
        problems["party_size"] = "not_a_number"
    elif party_size < 1:
        problems["party_size"] = "too_small"
    elif party_size > max_party:
        problems["party_size"] = "too_large"
    return problems


def looks_like_contact(contact: str) -> bool:
    """True for something that could be an e-mail address or a phone number."""
    if "@" in contact:
        local, _, domain = contact.rpartition("@")
        return bool(local) and "." in domain and " " not in contact
    digits = sum(c.isdigit() for c in contact)
    return digits >= 5 and all(c.isdigit() or c in "+-() ." for c in contact)


def parse_party_size(raw: object) -> int | None:
    """An int from a form or JSON value, or None when it is not a whole number."""
    if isinstance(raw, bool):
        return None
    if isinstance(raw, int):
        return raw
    if isinstance(raw, str) and raw.strip().lstrip("-").isdigit() and len(raw.strip()) <= 6:
        return int(raw.strip())
    return None
