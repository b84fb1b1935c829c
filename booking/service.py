"""Booking actions: validate, write through the store, then tell the hub what changed."""

from __future__ import annotations

from datetime import UTC, datetime

from . import topics
from .hub import Hub
from .model import Booking, BookingError, Resource, Slot, booking_problems
from .store import Store


class Invalid(BookingError):
    """The request itself is wrong; `problems` maps each field to a problem code."""

    code = "invalid"

    def __init__(self, problems: dict[str, str]):
        super().__init__(problems)
        self.problems = problems


async def book(
    store: Store, hub: Hub, resource: Resource, slot_id: int, name: str, contact: str, party_size: object,
    idempotency_key: str | None = None, now: datetime | None = None,
) -> tuple[Booking, Slot]:
    """Book places in a slot of `resource`; raises Invalid, NotFound, SlotUnavailable or SlotFull."""
    problems = booking_problems(name, contact, party_size, resource.max_party)
    if problems:
        raise Invalid(problems)
    booking, slot = await store.book(slot_id, name.strip(), contact.strip(), party_size,
                                     now or datetime.now(UTC), idempotency_key)
    hub.notify(*topics.of_slot(slot))
    return booking, slot


async def cancel(store: Store, hub: Hub, reference: str, token: str, now: datetime | None = None) -> tuple[Booking, Slot]:
    """Cancel a booking with its secret token; raises NotFound or Forbidden."""
    booking, slot, changed = await store.cancel(reference, token, now or datetime.now(UTC))
    if changed:
        hub.notify(*topics.of_slot(slot))
    return booking, slot
