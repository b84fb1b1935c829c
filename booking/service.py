"""Booking actions: validate, write through the store, then tell the hub what changed."""

from __future__ import annotations

from datetime import UTC, date, datetime

from . import topics
from .hub import Hub
from .model import Booking, BookingError, DayException, NotFound, OpeningRule, Resource, Slot, booking_problems
from .store import Store


class Invalid(BookingError):
    """The request itself is wrong; `problems` maps each field to a problem code."""

    code = "invalid"

    def __init__(self, problems: dict[str, str]):
        super().__init__(problems)
        self.problems = problems


def now() -> datetime:
    return datetime.now(UTC)


def changed(hub: Hub, slot: Slot) -> Slot:
    """Tell the hub about a committed change in a slot (its places, bookings or line)."""
    hub.notify(*topics.of_slot(slot))
    return slot


async def book(
    store: Store, hub: Hub, resource: Resource, slot_id: int, name: str, contact: str, party_size: object,
    idempotency_key: str | None = None, for_staff: bool = False,
) -> tuple[Booking, Slot]:
    """Book places in a slot of `resource`; raises Invalid, NotFound, SlotUnavailable or SlotFull."""
    problems = booking_problems(name, contact, party_size, resource.max_party)
    if problems:
        raise Invalid(problems)
    booking, slot = await store.book(slot_id, name.strip(), contact.strip(), party_size, now(), idempotency_key,
                                     for_staff=for_staff)
    return booking, changed(hub, slot)


async def cancel(store: Store, hub: Hub, reference: str, token: str) -> tuple[Booking, Slot]:
    """Cancel a booking with its secret token; raises NotFound or Forbidden."""
    booking, slot, was_changed = await store.cancel(reference, token, now())
    if was_changed:
        changed(hub, slot)
    return booking, slot


async def cancel_for_staff(store: Store, hub: Hub, booking_id: int) -> tuple[Booking, Slot]:
    """Staff cancel a booking (they need no token)."""
    found = await store.booking_by_id(booking_id)
    if found is None:
        raise NotFound(booking_id)
    return await cancel(store, hub, found[0].reference, found[0].cancel_token)


async def close_slot(store: Store, hub: Hub, slot_id: int, closed: bool) -> Slot:
    """Close a slot to new bookings, or reopen it."""
    return changed(hub, await store.set_slot_closed(slot_id, closed))


async def mark(store: Store, hub: Hub, booking_id: int, attendance: str | None) -> tuple[Booking, Slot]:
    """Mark a booking checked in or no-show (None clears the mark)."""
    booking, slot = await store.set_attendance(booking_id, attendance)
    return booking, changed(hub, slot)


async def call(store: Store, hub: Hub, booking_id: int, counter: str) -> tuple[Booking, Slot]:
    """Call one ticket to a counter or room."""
    booking, slot = await store.call(booking_id, counter, now())
    return booking, changed(hub, slot)


async def call_next(store: Store, hub: Hub, resource_id: int, day: date, counter: str) -> tuple[Booking, Slot] | None:
    """Call the next ticket waiting in a resource's line; None when nobody waits."""
    called = await store.call_next(resource_id, day, counter, now())
    if called:
        changed(hub, called[1])
    return called


async def requeue(store: Store, hub: Hub, booking_id: int) -> tuple[Booking, Slot]:
    """A called ticket missed its turn (过号): back into the line."""
    booking, slot = await store.requeue(booking_id, now())
    return booking, changed(hub, slot)


async def set_schedule(store: Store, hub: Hub, resource_id: int, rules: list[OpeningRule],
                       exceptions: list[DayException]) -> list[date]:
    """New weekly rules and exceptions; future slots follow (raises CapacityConflict)."""
    days = await store.set_schedule(resource_id, rules, exceptions, now())
    hub.notify(*topics.of_schedule(resource_id, days))
    return days
