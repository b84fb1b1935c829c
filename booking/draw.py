"""Release by draw (抽签): the draw's records, its window, and the published ranking and assignment (pure).

Rank = ascending sha256(seed + str(number).encode("ascii")).hexdigest(), ties by number: the 32 raw bytes of the
seed followed by the entry's public number in decimal. In rank order each entry gets its first preferred time that
still has room for its party; the rest wait on their first preference, in rank order. docs/draw.md says the same.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import NamedTuple

from .errors import BookingError, LimitReached
from .model import Booking, HeldBySecret, Resource, Slot, WaitlistEntry, day_opens_at

RACE, DRAW = "race", "draw"  # a resource's release modes
MODES = (RACE, DRAW)
# An entry's status: entered (standing), withdrawn, then what the draw made of it.
ENTERED, WITHDRAWN, BOOKED, WAITLISTED, NONE = "entered", "withdrawn", "booked", "waitlisted", "none"
# Where a resource-day's draw stands: entries not open yet, open, closed (the draw is due), drawn.
UPCOMING, OPEN, CLOSED, DRAWN = "upcoming", "open", "closed", "drawn"
PREFERENCES = 3  # preferred times an entry may name, in order
SEED_BYTES = 32


class DrawClosed(BookingError):
    """Entries are not open: they open at `opens`, or closed at `closes`."""

    code = "draw_closed"

    def __init__(self, opens: datetime, closes: datetime):
        super().__init__(opens, closes)
        self.opens, self.closes = opens, closes


class NotADraw(BookingError):
    """The resource releases its days first come, first served: there is no draw to enter."""

    code = "not_a_draw"


class AlreadyEntered(LimitReached):
    """This person has a standing entry in this draw already (one per person per resource-day)."""

    def __init__(self):
        super().__init__(1)


@dataclass(frozen=True)
class Draw:
    """A resource-day's draw: its seed (secret until drawn; `seed_sha256` published from the start) and counts."""

    id: int
    resource_id: int
    local_date: date
    seed: str = field(repr=False)  # 64 hex digits
    seed_sha256: str
    status: str  # open, drawn
    numbered: int  # entry numbers given so far
    entered: int  # entries standing (not withdrawn)
    created_at: datetime
    places: int | None = None  # free places when it was drawn, and the entries it booked and waitlisted
    booked: int | None = None
    waitlisted: int | None = None
    drawn_at: datetime | None = None

    @property
    def revealed_seed(self) -> str | None:
        """The seed, once drawn (None before: it must stay secret while entries are open)."""
        return self.seed if self.status == DRAWN else None


@dataclass(frozen=True)
class DrawEntry(HeldBySecret):
    """One person's entry: its public number, party, preferred slots in order, and what the draw made of it."""

    id: int
    draw_id: int
    number: int
    reference: str
    name: str
    contact: str
    party_size: int
    first_choice: int
    status: str
    created_at: datetime
    second_choice: int | None = None
    third_choice: int | None = None
    rank: int | None = None
    drawn_slot: int | None = None  # the slot the draw booked or waitlisted it for
    booking_id: int | None = None
    locale: str = "en"
    cancel_token: str = field(default="", repr=False)

    @property
    def preferences(self) -> tuple[int, ...]:
        """The preferred slot ids, first first."""
        return tuple(p for p in (self.first_choice, self.second_choice, self.third_choice) if p is not None)


@dataclass(frozen=True)
class Outcome:
    """What a drawn entry came to, as its holder follows it: the booking, or the waitlist entry and its place."""

    slot: Slot | None = None
    booking: Booking | None = None
    waiting: WaitlistEntry | None = None
    position: int | None = None


def new_seed() -> tuple[str, str]:
    """A fresh secret seed (hex) and its published sha256 (hex, of the raw bytes)."""
    seed = secrets.token_bytes(SEED_BYTES)
    return seed.hex(), hashlib.sha256(seed).hexdigest()


def rank_key(seed: bytes, number: int) -> str:
    """The published key an entry is ranked by: sha256 of the seed's raw bytes then the number in ASCII decimal."""
    return hashlib.sha256(seed + str(number).encode("ascii")).hexdigest()


def draw_order(seed: bytes, numbers: Iterable[int]) -> list[int]:
    """The numbers in rank order: ascending rank_key, ties by number. (Sorted by the raw digest: hex digits keep
    the bytes' order, and 20,000 entries hash in half the time.)"""
    sha256 = hashlib.sha256
    return sorted(numbers, key=lambda n: (sha256(seed + b"%d" % n).digest(), n))


class Ballot(NamedTuple):
    """What the draw needs of an entry: its id, public number, party and preferred slot ids (first first)."""

    id: int
    number: int
    party_size: int
    preferences: tuple[int, ...]

    @property
    def first_choice(self) -> int:
        return self.preferences[0]


def assign(
    order: list[Ballot], room: dict[int, int], refused: frozenset[int] = frozenset()
) -> list[tuple[Ballot, str, int | None]]:
    """(entry, BOOKED / WAITLISTED / NONE, slot id) for each entry of `order` (rank order), given each open slot's
    free places (`room`, slot id -> places; it is used up). The first preference with room for the party is booked;
    else the entry waits on its first preference, if that slot is open; entries `refused` (their person's limit
    reached) get nothing."""
    outcome, largest = [], max(room.values(), default=0)  # once no slot has room for anyone, nobody searches
    for entry in order:
        if entry.id in refused:
            outcome.append((entry, NONE, None))
            continue
        chosen = None
        if largest >= entry.party_size:
            chosen = next((p for p in entry.preferences if room.get(p, 0) >= entry.party_size), None)
        if chosen is not None:
            room[chosen] -= entry.party_size
            largest = max(room.values())
            outcome.append((entry, BOOKED, chosen))
        elif entry.first_choice in room:
            outcome.append((entry, WAITLISTED, entry.first_choice))
        else:
            outcome.append((entry, NONE, None))
    return outcome


def window(resource: Resource, day: date, timezone: str) -> tuple[datetime, datetime]:
    """When a resource-day's entries open and close: `draw_entry_hours` before its release instant, and at it."""
    closes = day_opens_at(day, resource, timezone)
    return closes - timedelta(hours=resource.draw_entry_hours), closes


def phase(resource: Resource, day: date, timezone: str, now: datetime, draw: Draw | None = None) -> str:
    """UPCOMING, OPEN, CLOSED (the draw is due) or DRAWN, at `now`."""
    if draw is not None and draw.status == DRAWN:
        return DRAWN
    opens, closes = window(resource, day, timezone)
    return UPCOMING if now < opens else OPEN if now < closes else CLOSED


def time_left(until: datetime, now: datetime) -> tuple[timedelta, datetime] | None:
    """How long until a draw's `until` as its countdown shows it from an hour away — whole days from two days, then
    hours and ten minutes ("in 3 h 20 min") — rounded up, and when the shown value next changes; None within the
    hour, where the booking countdown (model.countdown) takes over."""
    left = max(until - now, timedelta())
    band = next(((above, step) for above, step in COUNTDOWN_BANDS if left > above), None)
    if band is None:
        return None
    above, step = band
    shown = -(-left // step) * step
    return shown, until - max(shown - step, above)  # the next value in this band, or the next band


COUNTDOWN_BANDS = ((timedelta(days=2), timedelta(days=1)), (timedelta(hours=1), timedelta(minutes=10)))


def open_places(slots: list[Slot], closes: datetime) -> dict[int, int]:
    """The day's slots a draw may give, and their free places: open, and not begun by the draw's instant."""
    return {s.id: max(s.remaining, 0) for s in slots if not s.closed and s.starts_at > closes}


def preference_problem(preferences: object, offered: dict[int, int]) -> str | None:
    """What is wrong with an entry's preferred slot ids (None: nothing), given the slots a draw may give:
    'required' (none), 'too_many' (over PREFERENCES), 'not_a_slot' (not one of them) or 'repeated'."""
    if not isinstance(preferences, list | tuple) or not preferences:
        return "required"
    if len(preferences) > PREFERENCES:
        return "too_many"
    if not all(isinstance(p, int) and not isinstance(p, bool) and p in offered for p in preferences):
        return "not_a_slot"
    return "repeated" if len(set(preferences)) < len(preferences) else None
