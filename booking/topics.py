"""Topic names: what a subscriber watches and a change notifies."""

from __future__ import annotations

from datetime import date

from .model import Slot

VENUES = "venues"  # a venue, a resource or a schedule changed: what a store keeps of them is out of date
OUTBOX = "outbox"  # a message to deliver was queued (webhook or e-mail): a sender wakes


def day(resource_id: int, on: date, party: int = 1) -> str:
    """A resource's slots on one venue-local date, as a party of `party` may book them (public)."""
    return f"day:{resource_id}:{on.isoformat()}:{party}"


def days(resource_id: int, on: date, party: int = 1) -> str:
    """The date strip seen from one date: each coming day's outlook for a party, the next day with room (public)."""
    return f"days:{resource_id}:{on.isoformat()}:{party}"


def slot(resource_id: int, slot_id: int) -> str:
    """One slot's remaining places (public)."""
    return f"slot:{resource_id}:{slot_id}"


def slots_json(resource_id: int, on: date) -> str:
    """A resource's slots on one date as the JSON API gives them (public)."""
    return f"json:{resource_id}:{on.isoformat()}"


def parties(resource_id: int, on: date) -> str:
    """Every party size's view of a resource-day (a family name)."""
    return f"day:{resource_id}:{on.isoformat()}:"


def strips(resource_id: int) -> str:
    """Every date strip of a resource (a family name: a change on any day may change any strip)."""
    return f"days:{resource_id}:"


def board(resource_id: int, on: date) -> str:
    """A resource's slots with their bookings' names and contacts (staff only)."""
    return f"board:{resource_id}:{on.isoformat()}"


def panel(resource_id: int) -> str:
    """A resource's kiosk panel: today's current and next slots, the tickets called (public)."""
    return f"panel:{resource_id}"


def clock(venue_id: int) -> str:
    """A kiosk's date and time, in the venue's zone (public)."""
    return f"clock:{venue_id}"


def ticket(resource_id: int, on: date, booking_id: int) -> str:
    """One booking's place in its day's line: 'N ahead of you' (its holder only)."""
    return f"ticket:{resource_id}:{on.isoformat()}:{booking_id}"


def tickets(resource_id: int, on: date) -> str:
    """Every ticket topic of a resource-day (a family name: the hub expands it)."""
    return f"ticket:{resource_id}:{on.isoformat()}:"


def waiting(resource_id: int, on: date, entry_id: int) -> str:
    """One waitlist entry's place and offer (its holder only)."""
    return f"wait:{resource_id}:{on.isoformat()}:{entry_id}"


def of_slot(s: Slot) -> tuple[str, ...]:
    """Every topic a change in this slot's places, its line or its waitlist touches."""
    return (parties(s.resource_id, s.local_date), slot(s.resource_id, s.id), board(s.resource_id, s.local_date),
            panel(s.resource_id), tickets(s.resource_id, s.local_date), f"wait:{s.resource_id}:{s.local_date}:",
            strips(s.resource_id), slots_json(s.resource_id, s.local_date))


def of_days(resource_id: int, dates: list[date]) -> tuple[str, ...]:
    """Every topic that new slots on these days touch."""
    return (panel(resource_id), strips(resource_id),
            *(t for d in dates for t in (parties(resource_id, d), board(resource_id, d), slots_json(resource_id, d))))


def of_resource(resource_id: int) -> tuple[str, ...]:
    """Every topic of a resource (families: its details or schedule changed)."""
    return (f"day:{resource_id}:", strips(resource_id), f"slot:{resource_id}:", f"board:{resource_id}:",
            panel(resource_id), f"ticket:{resource_id}:", f"wait:{resource_id}:", f"json:{resource_id}:")


def parse(topic: str) -> tuple[str, list[int | date]]:
    """('day', [3, date(2026, 11, 24), 2]) from 'day:3:2026-11-24:2': numbers as ints, dates as dates."""
    kind, *args = topic.split(":")
    return kind, [int(a) if a.isdigit() else date.fromisoformat(a) for a in args]
