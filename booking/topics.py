"""Topic names: what a subscriber watches and a change notifies. Each kind of topic is declared once, here."""

from __future__ import annotations

from datetime import date
from functools import lru_cache
from typing import NamedTuple

from .model import Slot

VENUES = "venues"  # a venue, a resource or a schedule changed: what a store keeps of them is out of date
OUTBOX = "outbox"  # a message to deliver was queued (webhook or e-mail): a sender wakes


class Kind(NamedTuple):
    """A kind of topic: its name's first part, what its arguments are, and how its streams are counted.

    `kind(*args)` names one topic (missing trailing arguments take `defaults`); `kind.family(*leading)` names every
    topic of the kind that starts with those arguments, which the hub expands to the topics it serves.
    """

    name: str
    params: tuple[str, ...]
    label: str  # the open streams' label in /metrics
    doc: str
    defaults: tuple = ()

    def __call__(self, *args: int | date) -> str:
        missing = len(self.params) - len(args)
        if missing:
            args = (*args, *self.defaults[len(self.defaults) - missing :])
        return ":".join([self.name, *map(_part, args)])

    def family(self, *leading: int | date) -> str:
        """Every topic of this kind whose arguments start with `leading`."""
        return ":".join([self.name, *map(_part, leading), ""])


def _part(value: int | date) -> str:
    return value.isoformat() if isinstance(value, date) else str(value)


day = Kind(
    "day",
    ("resource_id", "on", "party"),
    "day",
    "A resource's slots on one venue-local date, as a party may book them (public).",
    (1,),
)
days = Kind(
    "days",
    ("resource_id", "on", "party"),
    "day",
    "The date strip seen from one date: each coming day's outlook for a party, the next day with room.",
    (1,),
)
slot = Kind("slot", ("resource_id", "slot_id"), "slot", "One slot's remaining places (public).")
slots_json = Kind("json", ("resource_id", "on"), "api", "A resource's slots on one date as the JSON API gives them.")
board = Kind("board", ("resource_id", "on"), "board", "A resource's slots with their bookings' names (staff only).")
panel = Kind("panel", ("resource_id",), "kiosk", "A resource's kiosk panel: today's current and next slots, calls.")
clock = Kind("clock", ("venue_id",), "kiosk", "A kiosk's date and time, in the venue's zone (public).")
ticket = Kind(
    "ticket",
    ("resource_id", "on", "booking_id"),
    "ticket",
    "One booking's place in its day's line: 'N ahead of you' (its holder only).",
)
waiting = Kind(
    "wait", ("resource_id", "on", "entry_id"), "waitlist", "One waitlist entry's place and offer (its holder)."
)
draw = Kind(
    "draw",
    ("resource_id", "on"),
    "draw",
    "A resource-day's draw (抽签): when entries close, entries and places, then its outcome (public).",
)
entry = Kind(
    "entry",
    ("resource_id", "on", "entry_id"),
    "draw",
    "One draw entry's number, then its result: booked, or its place on the waitlist (its holder).",
)
entries = Kind(
    "entries", ("resource_id", "on"), "board", "A draw's entries, then its results, with names (staff only)."
)
KINDS = {k.name: k for k in (day, days, slot, board, panel, ticket, waiting, slots_json, clock, draw, entry, entries)}


def of_slot(s: Slot) -> tuple[str, ...]:
    """Every topic a change in this slot's places, its line or its waitlist touches."""
    return _of_slot(s.resource_id, s.local_date, s.id)


@lru_cache(maxsize=4096)
def _of_slot(r: int, on: date, slot_id: int) -> tuple[str, ...]:
    """of_slot's names, made once per slot while it stays among the recent ones (every booking names them)."""
    return (
        day.family(r, on),
        slot(r, slot_id),
        board(r, on),
        panel(r),
        ticket.family(r, on),
        waiting.family(r, on),
        days.family(r),
        slots_json(r, on),
        draw(r, on),
        entry.family(r, on),
    )


def of_days(resource_id: int, dates: list[date]) -> tuple[str, ...]:
    """Every topic that new slots on these days touch."""
    r = resource_id
    return (panel(r), days.family(r), *(t for d in dates for t in (day.family(r, d), board(r, d), slots_json(r, d))))


def of_resource(resource_id: int) -> tuple[str, ...]:
    """Every topic of a resource (families: its details or schedule changed)."""
    return tuple(panel(resource_id) if k is panel else k.family(resource_id) for k in KINDS.values() if k is not clock)


def parse(topic: str) -> tuple[Kind, list[int | date]]:
    """(day, [3, date(2026, 11, 24), 2]) from 'day:3:2026-11-24:2': numbers as ints, dates as dates."""
    name, *args = topic.split(":")
    return KINDS[name], [int(a) if a.isdigit() else date.fromisoformat(a) for a in args]
