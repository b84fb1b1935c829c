"""Weekly opening rules -> concrete slots, in the venue's time zone (DST-safe)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from .model import DayException, OpeningRule, Slot


@dataclass(frozen=True)
class SlotPlan:
    """A slot to be stored: UTC start and end, the venue-local date, capacity."""

    starts_at: datetime
    ends_at: datetime
    local_date: date
    capacity: int


def plan_day(
    rules: tuple[OpeningRule, ...],
    day: date,
    timezone: str,
    exceptions: tuple[DayException, ...] = (),
) -> list[SlotPlan]:
    """The slots the rules (or that day's exception) open on `day`, a venue-local date, by start.

    Wall-clock times that do not exist (spring forward) are skipped; times that occur
    twice (fall back) give one slot, at their first occurrence.
    """
    tz = ZoneInfo(timezone)
    exception = next((e for e in exceptions if e.local_date == day), None)
    if exception is not None:
        if exception.closed:
            return []
        rules = (
            OpeningRule(day.weekday(), exception.opens, exception.closes, exception.slot_minutes, exception.capacity),
        )
    plans = {}
    for rule in rules:
        if rule.weekday != day.weekday():
            continue
        step = timedelta(minutes=rule.slot_minutes)
        wall = datetime.combine(day, rule.opens)
        last = datetime.combine(day, rule.closes) - step
        while wall <= last:
            start = wall.replace(tzinfo=tz)
            if start.astimezone(UTC).astimezone(tz).replace(tzinfo=None) == wall:
                utc = start.astimezone(UTC)
                plans[utc] = SlotPlan(utc, utc + step, day, rule.capacity)
            wall += step
    return [plans[k] for k in sorted(plans)]


def days(first: date, count: int) -> list[date]:
    """`count` consecutive dates from `first`."""
    return [first + timedelta(days=i) for i in range(count)]


@dataclass
class Reconciliation:
    """What a schedule change does to a day's future slots (bookings themselves never change)."""

    remove: list[int] = field(default_factory=list)  # slot ids no longer planned (none of them booked)
    reshape: list[tuple[int, datetime, int]] = field(default_factory=list)  # (slot id, new end, new capacity)
    add: list[SlotPlan] = field(default_factory=list)
    conflicts: list[Slot] = field(default_factory=list)  # booked slots the change would shrink or move

    @property
    def changed(self) -> bool:
        return bool(self.remove or self.reshape or self.add)


def reconcile(existing: list[Slot], planned: list[SlotPlan], now: datetime) -> Reconciliation:
    """Match a day's future slots to the new plan by start time.

    A booked slot may keep or gain room, never lose it below its bookings, move its end or vanish.
    """
    result = Reconciliation()
    by_start = {p.starts_at: p for p in planned}
    for slot in existing:
        plan = by_start.get(slot.starts_at)
        taken = slot.booked + slot.held  # held places are promised to a waitlist offer
        if taken and (plan is None or plan.ends_at != slot.ends_at or plan.capacity < taken):
            result.conflicts.append(slot)
        elif plan is None:
            result.remove.append(slot.id)
        elif (plan.ends_at, plan.capacity) != (slot.ends_at, slot.capacity):
            result.reshape.append((slot.id, plan.ends_at, plan.capacity))
    starts = {s.starts_at for s in existing}
    result.add = [p for p in planned if p.starts_at not in starts and p.starts_at > now]
    return result
