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


@dataclass(frozen=True)
class OpeningRule:
    """One weekly opening: on `weekday` (0 = Monday) from `opens` to `closes`."""

    weekday: int
    opens: time
    closes: time
    slot_minutes: int
    capacity: int


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


@dataclass(frozen=True)
class Venue:
    """A place that takes bookings, with its own time zone."""

    id: int
    slug: str
    name: str
    kind: str
    timezone: str
    resources: tuple[Resource, ...] = ()

    def resource(self, slug: str) -> Resource | None:
        """The venue's resource with this slug, if any."""
        return next((r for r in self.resources if r.slug == slug), None)


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

    def token_matches(self, token: str | None) -> bool:
        """True when `token` is this booking's cancel secret (compared in constant time)."""
        return bool(token) and hmac.compare_digest(token.encode(), self.cancel_token.encode())


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
