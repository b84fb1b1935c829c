"""Finding times, read in one transaction: a venue's days for a party (one statement for every resource and day),
and a resource's next time (one statement, a second only when nothing is bookable now)."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from ..availability import (
    RELEASE_DAYS,
    DayOutlook,
    NextTime,
    bookable,
    days_between,
    first_unopened,
    next_release,
    outlooks,
)
from ..model import Resource, Slot, Venue, bookable_from
from .engine import Tx
from .slots import _slots


async def _between(tx: Tx, resources: tuple[Resource, ...], first: date, last: date) -> list[Slot]:
    """The resources' slots from one venue-local date to another, in time order."""
    ids = {f"r{n}": r.id for n, r in enumerate(resources)}
    where = f"resource_id IN ({', '.join(':' + k for k in ids)}) AND local_date BETWEEN :first AND :last"
    return await _slots(tx, where, {**ids, "first": first, "last": last})


async def _days(
    tx: Tx, venue: Venue, resources: tuple[Resource, ...], first: date, last: date, party: int, now: datetime
) -> list[tuple[Resource, list[DayOutlook]]]:
    slots = await _between(tx, resources, first, last) if resources else []
    dates = days_between(first, last)
    return [
        (r, outlooks([s for s in slots if s.resource_id == r.id], dates, r, venue.timezone, now, party))
        for r in resources
    ]


async def _next(tx: Tx, venue: Venue, resource: Resource, party: int, after: datetime, now: datetime) -> NextTime:
    # Days open in date order (model.day_opens_at): the first slot with room decides whether any is bookable now.
    earliest = max(after, bookable_from(resource, now))
    first = await _slots(
        tx,
        "resource_id = :resource_id AND NOT closed AND capacity - booked - held >= :size AND starts_at >= :earliest",
        {"resource_id": resource.id, "size": party, "earliest": earliest},
        "LIMIT 1",
    )
    if first and bookable(first[0], resource, venue.timezone, now, party):
        return NextTime(slot=first[0], day=first[0].local_date)
    since = first_unopened(resource, venue.timezone, now, earliest.astimezone(ZoneInfo(venue.timezone)).date())
    dates = days_between(since, since + timedelta(days=RELEASE_DAYS - 1))
    slots = await _between(tx, (resource,), dates[0], dates[-1])
    return next_release(slots, dates, resource, venue.timezone, now, party)


class AvailabilityStore:
    """SqlStore's reads for finding times (`db` is SqlStore's)."""

    async def availability(
        self, venue: Venue, resources: tuple[Resource, ...], first: date, last: date, party: int, now: datetime
    ) -> list[tuple[Resource, list[DayOutlook]]]:
        """Each resource's days from `first` to `last` (venue-local, both included) for a party, at `now`."""
        return await self.db.read(_days, venue, resources, first, last, party, now)

    async def next_available(
        self, venue: Venue, resource: Resource, party: int, after: datetime, now: datetime
    ) -> NextTime:
        """The first time from `after` on that the party may book now; else the next day released with room."""
        return await self.db.read(_next, venue, resource, party, after, now)
