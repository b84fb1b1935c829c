"""The waitlist (候补): joining a full slot, freed places offered and held in turn, leaving, expiry."""

from __future__ import annotations

from dataclasses import replace
from datetime import date, datetime, timedelta

from .. import topics
from ..errors import Forbidden, NotFound, SlotAvailable
from ..model import Slot, WaitlistEntry, new_cancel_token, new_reference
from ..outbox import EXPIRED, JOINED, LEFT, OFFERED, Notices
from .engine import Tx
from .notify import _notify
from .outbox import _tell
from .people import _count, _over, _rule, _uncount
from .rows import build
from .slots import _open_slot, _slot


async def _offer_freed(tx: Tx, slot_id: int, now: datetime, offer_for: timedelta, notices: Notices) -> Slot:
    """Offer a slot's free places to its waitlist, first come first served among those whose party fits and who
    hold no more than their limit; each offer holds its places (taken to everyone else) until it is accepted, left
    or expires, and is told to webhooks and to its holder. An entry passed over keeps waiting."""
    slot = await _slot(tx, slot_id)
    free, offered = slot.remaining if slot.starts_at > now else 0, []
    if free:
        rule = await _rule(tx, slot.resource_id)
        for entry in await tx.fetch(
            "SELECT id, party_size, contact FROM waitlist WHERE slot_id = :id AND status = 'waiting' ORDER BY id"
            " FOR UPDATE",
            id=slot_id,
        ):
            if entry["party_size"] <= free and not await _over(tx, rule.key(entry["contact"]), slot, rule.limit):
                await tx.execute(
                    "UPDATE waitlist SET status = 'offered', offered_until = :until WHERE id = :id",
                    until=now + offer_for,
                    id=entry["id"],
                )
                await tx.execute("UPDATE slots SET held = held + :n WHERE id = :id", n=entry["party_size"], id=slot_id)
                free -= entry["party_size"]
                offered.append(entry["id"])
        slot = await _slot(tx, slot_id)
    for entry_id in offered:
        entry = build(WaitlistEntry, await tx.fetch_one("SELECT * FROM waitlist WHERE id = :id", id=entry_id))
        await _tell_entry(tx, OFFERED, entry, slot, now)
        await _notify(tx, OFFERED, slot, entry.contact, now, notices, waitlist_id=entry.id)
    return slot


async def _tell_entry(tx: Tx, event: str, entry: WaitlistEntry, slot: Slot, now: datetime) -> None:
    """Tell the venue's webhooks about a waitlist entry (joined, offered a place, left, its offer expired)."""
    data = {"reference": entry.reference, "slot_id": slot.id, "start": slot.starts_at.isoformat()}
    data |= {"end": slot.ends_at.isoformat(), "party_size": entry.party_size}
    if event == OFFERED:
        data["offered_until"] = entry.offered_until.isoformat()
    await _tell(tx, event, slot, now, data | {"name": entry.name, "contact": entry.contact}, waitlist_id=entry.id)


async def _release_hold(tx: Tx, entry: WaitlistEntry, slot: Slot, status: str) -> None:
    """An entry stops waiting or holding: it counts no more for its person, and its held places go free (the
    caller offers them on)."""
    await tx.execute("UPDATE waitlist SET status = :status WHERE id = :id", status=status, id=entry.id)
    await _uncount(tx, (await _rule(tx, slot.resource_id)).key(entry.contact), slot)
    if entry.status == "offered":
        await tx.execute("UPDATE slots SET held = held - :n WHERE id = :id", n=entry.party_size, id=entry.slot_id)


async def _join(
    tx: Tx, slot_id: int, name: str, contact: str, party_size: int, now: datetime, locale: str = "en"
) -> tuple[WaitlistEntry, int]:
    slot, rule = await _open_slot(tx, slot_id, now)
    if slot.remaining >= party_size:
        raise SlotAvailable(slot_id)
    await _count(tx, rule.key(contact), slot, rule.limit)  # an entry counts like a booking, in one statement
    for _ in range(5):
        entry = await tx.fetch_one(
            "INSERT INTO waitlist (reference, cancel_token, slot_id, name, contact, party_size, status, created_at,"
            " locale) VALUES (:reference, :token, :slot_id, :name, :contact, :n, 'waiting', :now, :locale)"
            " ON CONFLICT DO NOTHING RETURNING *",
            reference=new_reference(),
            token=new_cancel_token(),
            slot_id=slot_id,
            name=name,
            contact=contact,
            n=party_size,
            now=now,
            locale=locale,
        )
        if entry:
            await tx.changed(*topics.of_slot(slot))
            await _tell_entry(tx, JOINED, build(WaitlistEntry, entry), slot, now)
            return build(WaitlistEntry, entry), await _position(tx, build(WaitlistEntry, entry))
    raise RuntimeError("could not draw a unique reference")


async def _position(tx: Tx, entry: WaitlistEntry) -> int | None:
    if entry.status != "waiting":
        return None
    return await tx.fetch_value(
        "SELECT COUNT(*) FROM waitlist WHERE slot_id = :slot_id AND status = 'waiting' AND id <= :id",
        slot_id=entry.slot_id,
        id=entry.id,
    )


async def _entry(tx: Tx, column: str, value, lock: str = "") -> tuple[WaitlistEntry, Slot, int | None] | None:
    row = await tx.fetch_one(f"SELECT * FROM waitlist WHERE {column} = :value {lock}", value=value)
    if row is None:
        return None
    entry = build(WaitlistEntry, row)
    return entry, await _slot(tx, entry.slot_id), await _position(tx, entry)


async def _holder_entry(tx: Tx, reference: str, token: str) -> tuple[WaitlistEntry, Slot]:
    found = await _entry(tx, "reference", reference, "FOR UPDATE")  # a concurrent accept, leave or expiry waits
    if found is None:
        raise NotFound(reference)
    if not found[0].token_matches(token):
        raise Forbidden(reference)
    return found[0], found[1]


async def _leave(
    tx: Tx, reference: str, token: str, now: datetime, offer_for: timedelta, notices: Notices
) -> WaitlistEntry:
    entry, slot = await _holder_entry(tx, reference, token)
    if entry.status in ("waiting", "offered"):
        await _release_hold(tx, entry, slot, "left")
        await _tell_entry(tx, LEFT, entry, slot, now)
        await _offer_freed(tx, slot.id, now, offer_for, notices)
        await tx.changed(*topics.of_slot(slot))
        entry = replace(entry, status="left")
    return entry


async def _expire_offers(tx: Tx, now: datetime, offer_for: timedelta, notices: Notices) -> int:
    rows = await tx.fetch(
        "SELECT * FROM waitlist WHERE status = 'offered' AND offered_until <= :now FOR UPDATE", now=now
    )
    for entry in (build(WaitlistEntry, r) for r in rows):
        slot = await _slot(tx, entry.slot_id)
        await _release_hold(tx, entry, slot, "expired")
        await _tell_entry(tx, EXPIRED, entry, slot, now)
        slot = await _offer_freed(tx, entry.slot_id, now, offer_for, notices)
        await tx.changed(*topics.of_slot(slot))
    return len(rows)


async def _waitlist_counts(tx: Tx, resource_id: int, day: date) -> dict[int, int]:
    rows = await tx.fetch(
        "SELECT w.slot_id, COUNT(*) AS n FROM waitlist w JOIN slots s ON s.id = w.slot_id"
        " WHERE s.resource_id = :r AND s.local_date = :day AND w.status IN ('waiting', 'offered')"
        " GROUP BY w.slot_id",
        r=resource_id,
        day=day,
    )
    return {r["slot_id"]: r["n"] for r in rows}
