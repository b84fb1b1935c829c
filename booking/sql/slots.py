"""Slots read by condition or by id, and whether one can be booked (or waited for) now."""

from __future__ import annotations

from dataclasses import fields
from datetime import datetime

from ..errors import NotFound, NotOpenYet, SlotUnavailable
from ..model import GONE, NOT_YET, Resource, Slot, opens_at, slot_state
from .engine import Tx
from .people import Rule
from .rows import build

SLOTS_PER_STATEMENT = 512  # slot ids read by one statement at most
# A slot with its resource's settings, its venue's rule and whether the venue has a webhook sending, in one
# statement (the slot's `id` is the row's).
RESOURCE_COLUMNS = ", ".join(f"r.{f.name}" for f in fields(Resource) if f.name not in ("id", "rules", "exceptions"))
SLOT_AND_RULE = (
    f"SELECT s.*, {RESOURCE_COLUMNS}, v.timezone, v.per_person_limit, v.country,"
    " EXISTS (SELECT 1 FROM webhooks w WHERE w.venue_id = v.id AND w.active AND w.paused IS NULL) AS hooked"
    " FROM slots s JOIN resources r ON r.id = s.resource_id JOIN venues v ON v.id = r.venue_id WHERE s.id = :id"
)


async def _slots(tx: Tx, where: str, params: dict, then: str = "") -> list[Slot]:
    """Slots by a condition, in time order; `then` follows the ORDER BY (LIMIT, FOR UPDATE)."""
    rows = await tx.fetch(f"SELECT * FROM slots WHERE {where} ORDER BY starts_at {then}", **params)
    return [build(Slot, r) for r in rows]


async def _slot(tx: Tx, slot_id: int) -> Slot | None:
    row = await tx.fetch_one("SELECT * FROM slots WHERE id = :id", id=slot_id)
    return build(Slot, row) if row else None


async def _slots_by_id(tx: Tx, ids: list[int]) -> dict[int, Slot]:
    found = {}
    for start in range(0, len(ids), SLOTS_PER_STATEMENT):
        chunk = ids[start : start + SLOTS_PER_STATEMENT]
        chunk += chunk[-1:] * ((1 << (len(chunk) - 1).bit_length()) - len(chunk))  # padded: few distinct statements
        params = {f"id{i}": slot_id for i, slot_id in enumerate(chunk)}
        found.update((s.id, s) for s in await _slots(tx, f"id IN ({', '.join(':' + name for name in params)})", params))
    return found


async def _open_slot(tx: Tx, slot_id: int, now: datetime, for_staff: bool = False) -> tuple[Slot, Rule]:
    """A slot that can be booked (or waited for) now, and its venue's per-person rule; else NotFound, NotOpenYet
    or SlotUnavailable."""
    row = await tx.fetch_one(SLOT_AND_RULE, id=slot_id)
    if row is None:
        raise NotFound(slot_id)
    slot, resource = build(Slot, row), build(Resource, row, id=row["resource_id"])
    state = slot_state(slot, resource, row["timezone"], now, for_staff)
    if state == NOT_YET:
        raise NotOpenYet(opens_at(slot, resource, row["timezone"]))
    if state in GONE:
        raise SlotUnavailable(slot_id)
    if (
        not for_staff
        and resource.release_mode == "draw"
        and await tx.fetch_value(
            "SELECT 1 FROM draws WHERE resource_id = :r AND local_date = :day AND status = 'open'",
            r=slot.resource_id,
            day=slot.local_date,
        )
    ):
        raise NotOpenYet(opens_at(slot, resource, row["timezone"]))  # its draw comes first: places open after it
    return slot, Rule(row["per_person_limit"], row["country"], bool(row["hooked"]))
