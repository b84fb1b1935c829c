"""Venues, their resources and schedules, the slots the schedules make, and closing or finding slots."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta

from .. import schedule, topics
from ..errors import CapacityConflict, Duplicate, NotFound
from ..model import (
    GONE,
    NOT_YET,
    RESOURCE_SETTINGS,
    VENUE_DETAILS,
    DayException,
    OpeningRule,
    Resource,
    Slot,
    Venue,
    local_today,
    slot_state,
)
from ..outbox import SLOT_CAPACITY, Notices
from .engine import Tx, UniqueViolation
from .outbox import _tell_slot
from .people import _recount
from .rows import as_date, build, hhmm
from .slots import _slot, _slots
from .waitlist import _offer_freed

OF_RESOURCE = "WHERE id = (SELECT venue_id FROM resources WHERE id = :resource_id)"


async def _venues(tx: Tx, where: str, params: dict) -> list[Venue]:
    venues = await tx.fetch(f"SELECT * FROM venues {where} ORDER BY id", **params)
    if not venues:
        return []
    of_these = f"SELECT id FROM resources WHERE venue_id IN (SELECT id FROM venues {where})"
    rules: dict[int, list[OpeningRule]] = {}
    for row in await tx.fetch(f"SELECT * FROM opening_rules WHERE resource_id IN ({of_these}) ORDER BY id", **params):
        rules.setdefault(row["resource_id"], []).append(build(OpeningRule, row))
    exceptions: dict[int, list[DayException]] = {}
    for row in await tx.fetch(
        "SELECT resource_id, local_date, opens, closes, COALESCE(slot_minutes, 30) AS slot_minutes,"
        f" COALESCE(capacity, 0) AS capacity FROM day_exceptions WHERE resource_id IN ({of_these})"
        " ORDER BY local_date",
        **params,
    ):
        exceptions.setdefault(row["resource_id"], []).append(build(DayException, row))
    resources: dict[int, list[Resource]] = {}
    for row in await tx.fetch(
        f"SELECT * FROM resources WHERE venue_id IN (SELECT id FROM venues {where}) ORDER BY id",
        **params,
    ):
        resources.setdefault(row["venue_id"], []).append(
            build(Resource, row, rules=tuple(rules.get(row["id"], ())), exceptions=tuple(exceptions.get(row["id"], ())))
        )
    return [build(Venue, v, resources=tuple(resources.get(v["id"], ()))) for v in venues]


async def _venue(tx: Tx, where: str, params: dict) -> Venue | None:
    found = await _venues(tx, where, params)
    return found[0] if found else None


def venue_details(details: dict) -> dict:
    """A venue's details that are given (only known names: they go into the SQL text)."""
    unknown = set(details) - set(VENUE_DETAILS)
    if unknown:
        raise ValueError(f"not a venue detail: {sorted(unknown)}")
    return {k: v for k, v in details.items() if v is not None}


async def _add_venue(tx: Tx, slug: str, name: str, kind: str, timezone: str, limit: int, details: dict) -> int:
    await tx.changed(topics.VENUES)
    try:
        return await tx.fetch_value(
            f"INSERT INTO venues (slug, name, kind, timezone, per_person_limit{''.join(f', {k}' for k in details)})"
            f" VALUES (:slug, :name, :kind, :timezone, :limit{''.join(f', :{k}' for k in details)}) RETURNING id",
            slug=slug,
            name=name,
            kind=kind,
            timezone=timezone,
            limit=limit,
            **details,
        )
    except UniqueViolation:
        raise Duplicate(slug) from None


async def _update_venue(
    tx: Tx, venue_id: int, name: str, kind: str, timezone: str, archived: bool, limit: int, details: dict
) -> None:
    country = await tx.fetch_value("SELECT country FROM venues WHERE id = :id FOR UPDATE", id=venue_id)
    await tx.execute(
        "UPDATE venues SET name = :name, kind = :kind, timezone = :timezone, archived = :archived,"
        f" per_person_limit = :limit{''.join(f', {k} = :{k}' for k in details)} WHERE id = :id",
        id=venue_id,
        name=name,
        kind=kind,
        timezone=timezone,
        archived=archived,
        limit=limit,
        **details,
    )
    if details.get("country", country) != country:  # its people's phone numbers read anew: their counts too
        await _recount(tx, "v.id = :venue_id", {"venue_id": venue_id})
    resource_ids = [r["id"] for r in await tx.fetch("SELECT id FROM resources WHERE venue_id = :id", id=venue_id)]
    await tx.changed(topics.VENUES, topics.clock(venue_id), *(t for r in resource_ids for t in topics.of_resource(r)))


def columns(settings: dict) -> dict:
    """A resource's settings as its columns hold them (only known names: they go into the SQL text)."""
    unknown = set(settings) - set(RESOURCE_SETTINGS)
    if unknown:
        raise ValueError(f"not a resource setting: {sorted(unknown)}")
    return {k: hhmm(v) if isinstance(v, time) else v for k, v in settings.items()}


async def _add_resource(
    tx: Tx, venue_id: int, slug: str, rules, exceptions, settings: dict, now: datetime | None
) -> int:
    try:
        resource_id = await tx.fetch_value(
            f"INSERT INTO resources (venue_id, slug, {', '.join(settings)})"
            f" VALUES (:venue_id, :slug, {', '.join(f':{k}' for k in settings)}) RETURNING id",
            venue_id=venue_id,
            slug=slug,
            **settings,
        )
    except UniqueViolation:
        raise Duplicate(slug) from None
    await _save_schedule(tx, resource_id, rules, exceptions)
    if now is not None:
        await _regenerate(tx, resource_id, now)
    return resource_id


async def _edit_resource(
    tx: Tx, resource_id: int, details: dict, rules, exceptions, now: datetime, offer_for: timedelta, notices: Notices
) -> list[date]:
    # The row lock makes concurrent edits of one resource take turns.
    if await tx.fetch_one("SELECT id FROM resources WHERE id = :id FOR UPDATE", id=resource_id) is None:
        raise NotFound(resource_id)
    if details:
        await tx.execute(
            f"UPDATE resources SET {', '.join(f'{k} = :{k}' for k in details)} WHERE id = :id",
            id=resource_id,
            **details,
        )
    await tx.execute("DELETE FROM opening_rules WHERE resource_id = :id", id=resource_id)
    await tx.execute("DELETE FROM day_exceptions WHERE resource_id = :id", id=resource_id)
    await _save_schedule(tx, resource_id, rules, exceptions)
    return await _regenerate(tx, resource_id, now, offer_for, notices)


async def _save_schedule(tx: Tx, resource_id: int, rules, exceptions) -> None:
    await tx.changed(topics.VENUES)  # a resource's settings or schedule, new or changed
    await tx.execute_many(
        "INSERT INTO opening_rules (resource_id, weekday, opens, closes, slot_minutes, capacity)"
        " VALUES (:resource_id, :weekday, :opens, :closes, :slot_minutes, :capacity)",
        [
            dict(
                resource_id=resource_id,
                weekday=r.weekday,
                opens=hhmm(r.opens),
                closes=hhmm(r.closes),
                slot_minutes=r.slot_minutes,
                capacity=r.capacity,
            )
            for r in rules
        ],
    )
    await tx.execute_many(
        "INSERT INTO day_exceptions (resource_id, local_date, opens, closes, slot_minutes, capacity)"
        " VALUES (:resource_id, :local_date, :opens, :closes, :slot_minutes, :capacity)",
        [
            dict(
                resource_id=resource_id,
                local_date=e.local_date,
                opens=hhmm(e.opens),
                closes=hhmm(e.closes),
                slot_minutes=e.slot_minutes,
                capacity=e.capacity,
            )
            for e in exceptions
        ],
    )


async def _regenerate(
    tx: Tx, resource_id: int, now: datetime, offer_for: timedelta | None = None, notices: Notices = Notices()
) -> list[date]:
    """Bring a resource's future slots in line with its stored schedule and horizon; the days that changed.

    Bookings are never touched. A booked slot may gain room, never lose it below its bookings, move or vanish
    (CapacityConflict, raised before anything is written); beyond a lowered horizon it stays, unbookable.
    """
    venue = await _venue(tx, OF_RESOURCE, {"resource_id": resource_id})
    resource = venue.resource(resource_id)
    today = local_today(venue.timezone, now)
    last = today + timedelta(days=resource.horizon_days)
    existing: dict[date, list[Slot]] = {}
    for slot in await _slots(
        tx,
        "resource_id = :resource_id AND local_date >= :today AND starts_at > :now",
        {"resource_id": resource_id, "today": today, "now": now},
        "FOR UPDATE",
    ):
        existing.setdefault(slot.local_date, []).append(slot)  # locked: no booking squeezes in meanwhile
    changed, gone, reshaped, added, conflicts = [], [], [], [], []
    for day in sorted({*schedule.days(today, resource.horizon_days + 1), *existing}):
        plans = schedule.plan_day(resource.rules, day, venue.timezone, resource.exceptions) if day <= last else []
        change = schedule.reconcile(existing.get(day, []), plans, now)
        if day > last:  # beyond the horizon: unbooked slots go, booked ones stay as they are
            change.conflicts, change.reshape = [], []
        conflicts += change.conflicts
        gone += change.remove
        reshaped += change.reshape
        added += change.add
        if change.changed:
            changed.append(day)
    if conflicts:
        raise CapacityConflict(conflicts)
    for slot_id in gone:  # a slot that leaves the schedule goes away, or closes if past bookings or entries name it
        await tx.execute(
            "DELETE FROM slots WHERE id = :id AND NOT EXISTS (SELECT 1 FROM bookings WHERE slot_id = :id)"
            " AND NOT EXISTS (SELECT 1 FROM waitlist WHERE slot_id = :id)",
            id=slot_id,
        )
        await tx.execute("UPDATE slots SET closed = TRUE, capacity = booked WHERE id = :id", id=slot_id)
    await tx.execute_many(
        "UPDATE slots SET ends_at = :ends_at, capacity = :capacity WHERE id = :id",
        [dict(id=i, ends_at=end, capacity=capacity) for i, end, capacity in reshaped],
    )
    before = {slot.id: slot.capacity for slots in existing.values() for slot in slots}
    for slot_id, _end, capacity in reshaped:
        if capacity != before[slot_id]:
            await _tell_slot(tx, SLOT_CAPACITY, await _slot(tx, slot_id), now, previous_capacity=before[slot_id])
    for slot_id, _end, _capacity in reshaped if offer_for else ():  # more room: the waitlist's first
        await _offer_freed(tx, slot_id, now, offer_for, notices)
    await _insert_slots(tx, resource_id, added)
    await tx.execute("UPDATE resources SET generated_through = :last WHERE id = :id", last=last, id=resource_id)
    await tx.changed(*topics.of_resource(resource_id))
    return changed


async def _insert_slots(tx: Tx, resource_id: int, plans: list[schedule.SlotPlan]) -> None:
    await tx.execute_many(
        "INSERT INTO slots (resource_id, starts_at, ends_at, local_date, capacity)"
        " VALUES (:resource_id, :starts_at, :ends_at, :local_date, :capacity) ON CONFLICT DO NOTHING",
        [
            dict(
                resource_id=resource_id,
                starts_at=p.starts_at,
                ends_at=p.ends_at,
                local_date=p.local_date,
                capacity=p.capacity,
            )
            for p in plans
        ],
    )


async def _extend(tx: Tx, venue: Venue, resource: Resource, now: datetime) -> int:
    # The row lock makes processes extending at once take turns.
    through = await tx.fetch_value("SELECT generated_through FROM resources WHERE id = :id FOR UPDATE", id=resource.id)
    today = local_today(venue.timezone, now)
    first = max(today, as_date(through) + timedelta(days=1)) if through else today
    last = today + timedelta(days=resource.horizon_days)
    if first > last:
        return 0
    days = schedule.days(first, (last - first).days + 1)
    count = "SELECT COUNT(*) FROM slots WHERE resource_id = :id AND local_date BETWEEN :first AND :last"
    before = await tx.fetch_value(count, id=resource.id, first=first, last=last)
    await _insert_slots(
        tx,
        resource.id,
        [p for day in days for p in schedule.plan_day(resource.rules, day, venue.timezone, resource.exceptions)],
    )
    created = await tx.fetch_value(count, id=resource.id, first=first, last=last) - before
    await tx.execute("UPDATE resources SET generated_through = :last WHERE id = :id", last=last, id=resource.id)
    if created:
        await tx.changed(*topics.of_days(resource.id, days))
    return created


async def _free_near(tx: Tx, slot: Slot, party_size: int, now: datetime, limit: int) -> list[Slot]:
    venue = await _venue(tx, OF_RESOURCE, {"resource_id": slot.resource_id})
    resource = venue.resource(slot.resource_id)
    free = (
        "resource_id = :resource_id AND id != :id AND NOT closed AND capacity - booked - held >= :size"
        " AND starts_at >= :earliest AND starts_at {} :at"
    )
    params = dict(
        resource_id=slot.resource_id,
        id=slot.id,
        size=party_size,
        at=slot.starts_at,
        earliest=now + timedelta(minutes=resource.min_notice_minutes),
    )
    later = await _slots(tx, free.format(">="), params, f"LIMIT {int(limit)}")
    earlier = await tx.fetch(
        f"SELECT * FROM slots WHERE {free.format('<')} ORDER BY starts_at DESC LIMIT {int(limit)}", **params
    )
    near = [
        s
        for s in later + [build(Slot, r) for r in earlier]
        if slot_state(s, resource, venue.timezone, now) not in (*GONE, NOT_YET)
    ]
    near.sort(key=lambda s: (abs(s.starts_at - slot.starts_at), s.starts_at))
    return sorted(near[:limit], key=lambda s: s.starts_at)


async def _set_closed(
    tx: Tx, slot_id: int, closed: bool, now: datetime | None, offer_for: timedelta, notices: Notices
) -> Slot:
    row = await tx.fetch_one("UPDATE slots SET closed = :closed WHERE id = :id RETURNING *", closed=closed, id=slot_id)
    if row is None:
        raise NotFound(slot_id)
    slot = build(Slot, row)
    await tx.changed(*topics.of_slot(slot))
    if not closed and now is not None:
        slot = await _offer_freed(tx, slot_id, now, offer_for, notices)
    return slot
