"""Why a booking (or a change to a venue's schedule) cannot be made: one class per reason, each with its `code`."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .model import Slot


class BookingError(Exception):
    """A booking that cannot be made or changed; `code` names why."""

    code = "booking_error"


class NotFound(BookingError):
    code = "not_found"


class SlotFull(BookingError):
    """No room for the party; `slot`: the slot as the refusing transaction read it before writing anything (else
    None)."""

    code = "slot_full"

    def __init__(self, slot_id: int, slot=None):
        super().__init__(slot_id)
        self.slot = slot


class SlotUnavailable(BookingError):
    """The slot is closed, past, or inside the resource's minimum notice."""

    code = "slot_unavailable"


class Forbidden(BookingError):
    code = "forbidden"


class IdempotencyMismatch(BookingError):
    """An idempotency key sent again with a different request: never the first booking's secrets."""

    code = "idempotency_mismatch"


class NotOpenYet(BookingError):
    """The slot's day is not released yet: it opens at `opens_at`."""

    code = "not_open_yet"

    def __init__(self, opens_at: datetime):
        super().__init__(opens_at)
        self.opens_at = opens_at


class LimitReached(BookingError):
    """This contact holds as many bookings of this resource on this day as the venue allows (`limit`)."""

    code = "limit_reached"

    def __init__(self, limit: int):
        super().__init__(limit)
        self.limit = limit


class SlotAvailable(BookingError):
    """The slot has room for the party: book it rather than wait."""

    code = "slot_available"


class OfferGone(BookingError):
    """The waitlist entry holds no offer (any more): it expired, was taken up, or never came."""

    code = "offer_expired"


class NotMovable(BookingError):
    """The booking cannot move: it is cancelled, called, or its time has begun."""

    code = "not_movable"


class OtherResource(BookingError):
    """A booking moves only to another slot of its own resource."""

    code = "other_resource"


class Duplicate(BookingError):
    """Something with that slug exists already."""

    code = "duplicate"


class CapacityConflict(BookingError):
    """A schedule change would leave booked slots with less room than they hold."""

    code = "capacity_conflict"

    def __init__(self, slots: list[Slot]):
        super().__init__(slots)
        self.slots = slots
