"""Finding times (pure): each day's outlook for a party over a run of days, as the day page's strip judges it, and
the next time a party may book or the next release."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta

from .model import (
    NOT_YET,
    OPEN,
    Resource,
    Slot,
    day_opens_at,
    day_outlook,
    local_today,
    slot_state,
)

MAX_DAYS = 31  # days one availability question may cover
RELEASE_DAYS = 31  # days after the first one not open yet that a release is looked for


@dataclass(frozen=True)
class DayOutlook:
    """One day for a party: day_outlook's word, when it opens (while it is to), and the times it may book now."""

    day: date
    outlook: str
    opens_at: datetime | None
    times: tuple[Slot, ...]


@dataclass(frozen=True)
class NextTime:
    """The first time a party may book now (`slot`), else the next day released with room (`day` at `opens_at`),
    else neither."""

    slot: Slot | None = None
    day: date | None = None
    opens_at: datetime | None = None


def days_between(first: date, last: date) -> list[date]:
    """Every date from `first` to `last`, both included."""
    return [first + timedelta(days=n) for n in range((last - first).days + 1)]


def by_day(slots: list[Slot]) -> dict[date, list[Slot]]:
    """Slots (in time order) grouped by their venue-local date."""
    grouped: dict[date, list[Slot]] = {}
    for slot in slots:
        grouped.setdefault(slot.local_date, []).append(slot)
    return grouped


def bookable(slot: Slot, resource: Resource, timezone: str, now: datetime, party: int) -> bool:
    """Whether the public may book this slot now for the party."""
    return slot.remaining >= party and slot_state(slot, resource, timezone, now) == OPEN


def outlooks(
    slots: list[Slot], dates: list[date], resource: Resource, timezone: str, now: datetime, party: int = 1
) -> list[DayOutlook]:
    """Each of `dates` for a party, given the resource's slots on them (in time order): the day page's words."""
    grouped = by_day(slots)
    found = []
    for day in dates:
        seen = grouped.get(day, [])
        outlook = day_outlook(seen, resource, timezone, now, party, day)
        found.append(
            DayOutlook(
                day,
                outlook,
                day_opens_at(day, resource, timezone) if outlook == NOT_YET else None,
                tuple(s for s in seen if bookable(s, resource, timezone, now, party)),
            )
        )
    return found


def first_unopened(resource: Resource, timezone: str, now: datetime, since: date) -> date:
    """The first date from `since` on that the public may not book yet (its release is still to come)."""
    day = max(since, local_today(timezone, now))
    while day_opens_at(day, resource, timezone) <= now:  # later days open later: at most the horizon's length
        day += timedelta(days=1)
    return day


def next_release(
    slots: list[Slot], dates: list[date], resource: Resource, timezone: str, now: datetime, party: int = 1
) -> NextTime:
    """The first of `dates` still to open with room for the party (a day without slots yet: when its schedule
    opens), given their slots; NextTime() when none is."""
    grouped = by_day(slots)
    for day in dates:
        seen = grouped.get(day, [])
        if day_outlook(seen, resource, timezone, now, party, day) != NOT_YET:
            continue
        if not seen or any(not s.closed and s.remaining >= party for s in seen):
            return NextTime(day=day, opens_at=day_opens_at(day, resource, timezone))
    return NextTime()
