"""The audit trail: staff actions kept (never edited), read back by venue, day, person and action, with the
bookings and slots they were about (who was booked is read from the booking: erasure leaves no copy behind)."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import date

from ..model import AuditEntry, Booking, Slot
from .engine import Tx
from .rows import build
from .slots import _slots_by_id

IDS_PER_STATEMENT = 512  # booking ids read by one statement at most


@dataclass(frozen=True)
class AuditQuery:
    """Which entries: of these venues (None: any, and none), on a day (a range export's days included), by one
    person, of one action; the newest `limit` of them."""

    venues: Collection[int] | None = None
    day: date | None = None
    actor: str | None = None
    action: str | None = None
    limit: int = 200


async def _record(tx: Tx, entry: AuditEntry) -> None:
    await tx.execute(
        "INSERT INTO audit_log (at, actor, address, action, subject, venue_id, local_date, booking_id, slot_id,"
        " last_date) VALUES (:at, :actor, :address, :action, :subject, :venue_id, :local_date, :booking_id,"
        " :slot_id, :last_date)",
        at=entry.at,
        actor=entry.actor,
        address=entry.address,
        action=entry.action,
        subject=entry.subject,
        venue_id=entry.venue_id,
        local_date=entry.local_date,
        booking_id=entry.booking_id,
        slot_id=entry.slot_id,
        last_date=entry.last_date,
    )


def _where(query: AuditQuery) -> tuple[str, dict]:
    """The WHERE clause of a query, and its parameters."""
    terms, params = ["TRUE"], {}
    if query.venues is not None:
        names = {f"v{i}": v for i, v in enumerate(sorted(query.venues))}
        terms.append(f"venue_id IN ({', '.join(':' + n for n in names)})" if names else "FALSE")
        params |= names
    if query.day is not None:
        terms.append("local_date <= :day AND COALESCE(last_date, local_date) >= :day")
        params["day"] = query.day
    if query.actor:
        terms.append("actor = :actor")
        params["actor"] = query.actor
    if query.action:
        terms.append("action = :action")
        params["action"] = query.action
    return " AND ".join(terms), params


async def _audit_trail(tx: Tx, query: AuditQuery) -> list[AuditEntry]:
    where, params = _where(query)
    rows = await tx.fetch(
        f"SELECT * FROM audit_log WHERE {where} ORDER BY at DESC, id DESC LIMIT {int(query.limit)}", **params
    )
    return [build(AuditEntry, r) for r in rows]


async def _actors(tx: Tx, query: AuditQuery) -> list[str]:
    where, params = _where(query)
    return sorted(r["actor"] for r in await tx.fetch(f"SELECT DISTINCT actor FROM audit_log WHERE {where}", **params))


async def _places(
    tx: Tx, booking_ids: list[int], slot_ids: list[int]
) -> tuple[dict[int, tuple[Booking, Slot]], dict[int, Slot]]:
    bookings = []
    for start in range(0, len(booking_ids), IDS_PER_STATEMENT):
        params = {f"b{i}": b for i, b in enumerate(booking_ids[start : start + IDS_PER_STATEMENT])}
        names = ", ".join(":" + n for n in params)
        bookings += [
            build(Booking, r) for r in await tx.fetch(f"SELECT * FROM bookings WHERE id IN ({names})", **params)
        ]
    slots = await _slots_by_id(tx, list(dict.fromkeys([*slot_ids, *(b.slot_id for b in bookings)])))
    return {b.id: (b, slots[b.slot_id]) for b in bookings if b.slot_id in slots}, slots


class AuditStore:
    """SqlStore's audit trail methods (`db` and `_write` are SqlStore's)."""

    async def record(self, entry: AuditEntry) -> None:
        """Keep a staff action in the audit trail (it is never edited)."""
        await self._write(_record, entry)

    async def audit_trail(self, venue_id: int | None = None, day: date | None = None, **query) -> list[AuditEntry]:
        """The newest staff actions first, of one venue and day when given (`query`: AuditQuery's other fields)."""
        venues = query.pop("venues", None)
        return await self.db.read(_audit_trail, AuditQuery(venues=[venue_id] if venue_id else venues, day=day, **query))

    async def audit_actors(self, venues: Collection[int] | None = None) -> list[str]:
        """Everybody in the trail (of these venues), by name."""
        return await self.db.read(_actors, AuditQuery(venues=venues))

    async def audit_places(
        self, booking_ids: Collection[int], slot_ids: Collection[int]
    ) -> tuple[dict[int, tuple[Booking, Slot]], dict[int, Slot]]:
        """The bookings (with their slots) and the slots an audit trail's entries are about, by id."""
        return await self.db.read(_places, sorted(set(booking_ids)), sorted(set(slot_ids)))
