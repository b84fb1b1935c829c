"""Slots read by condition or by id, and whether one can be booked (or waited for) now."""

from __future__ import annotations

from datetime import datetime

from ..errors import NotFound, NotOpenYet, SlotUnavailable
from ..model import GONE, NOT_YET, Resource, Slot, opens_at, slot_state
from .engine import Tx
from .people import Rule
from .rows import build

SLOTS_PER_STATEMENT = 512  # slot ids read by one statement at most


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
    slot = await _slot(tx, slot_id)
    if slot is None:
        raise NotFound(slot_id)
    row = await tx.fetch_one(
        "SELECT r.*, v.timezone, v.per_person_limit, v.country FROM resources r"
        " JOIN venues v ON v.id = r.venue_id WHERE r.id = :id",
        id=slot.resource_id,
    )
    resource = build(Resource, row)
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
    return slot, Rule(row["per_person_limit"], row["country"])
