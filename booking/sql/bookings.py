"""Bookings: booking, cancelling and moving within capacity and the per-person limit, an offer accepted, and
the day's line (attendance, calls)."""

from __future__ import annotations

from dataclasses import replace
from datetime import date, datetime, timedelta

from .. import topics
from ..errors import Forbidden, IdempotencyMismatch, NotFound, NotMovable, OfferGone, OtherResource, SlotFull
from ..model import Booking, Slot, movable, new_cancel_token, new_reference, waiting_line
from ..outbox import CANCELLED, CREATED, RESCHEDULED, Notices
from .engine import Tx
from .outbox import _announce
from .people import _count, _over, _rule, _uncount
from .rows import build
from .slots import _open_slot, _slot
from .waitlist import _holder_entry, _offer_freed, _release_hold

CALL = "called_at = :now, called_to = :counter"
REQUEUE = "called_at = NULL, called_to = NULL, requeued_at = :now"


class KeyTaken(Exception):
    """A concurrent request with the same idempotency key committed first: roll back and return its booking."""


async def _replay(tx: Tx, key: str | None, fingerprint: str) -> tuple[Booking, Slot] | None:
    """The booking made earlier with this idempotency key, if the request is the same (else a mismatch)."""
    if not key:
        return None
    row = await tx.fetch_one("SELECT id, request_fingerprint FROM bookings WHERE idempotency_key = :key", key=key)
    if row is None:
        return None
    if row["request_fingerprint"] != fingerprint:
        raise IdempotencyMismatch(key)
    return await _booking_where(tx, "id", row["id"])


async def _book(
    tx: Tx,
    slot_id: int,
    name: str,
    contact: str,
    party_size: int,
    now: datetime,
    idempotency: tuple[str | None, str],
    staff: tuple[bool, bool],
    locale: str,
    notices: Notices,
    resource_id: int | None = None,
) -> tuple[Booking, Slot]:
    (key, fingerprint), (for_staff, over_limit) = idempotency, staff
    if done := await _replay(tx, key, fingerprint):
        return done
    slot, rule = await _open_slot(tx, slot_id, now, for_staff)
    if resource_id is not None and slot.resource_id != resource_id:  # not the slot the caller validated against
        raise NotFound(slot_id)
    if slot.remaining < party_size:  # full as read: refused before any write (most attempts at a release)
        raise SlotFull(slot_id, slot)
    await tx.changed(*topics.of_slot(slot))  # before the row locks, to hold them briefly
    # The per-person limit, like the capacity, is one conditional statement: exact under any concurrency.
    await _count(tx, rule.key(contact), slot, 0 if over_limit else rule.limit)
    # The capacity check lives in this statement, never in Python. Exact under READ COMMITTED too:
    # a concurrent booker waits for the row, then re-checks the condition on the new count.
    after = await tx.fetch_one(
        "UPDATE slots SET booked = booked + :n WHERE id = :id AND booked + held + :n <= capacity RETURNING *",
        n=party_size,
        id=slot_id,
    )
    if after is None:
        raise SlotFull(slot_id)
    booking, slot = await _insert_booking(
        tx, build(Slot, after), name, contact, party_size, now, locale, key, fingerprint
    )
    await _announce(tx, CREATED, booking, slot, now, notices, hooked=rule.hooked)
    return booking, slot


async def _insert_booking(
    tx: Tx,
    slot: Slot,
    name: str,
    contact: str,
    party_size: int,
    now: datetime,
    locale: str,
    key: str | None = None,
    fingerprint: str = "",
) -> tuple[Booking, Slot]:
    """The booking row for places already taken in `slot`, with the day's next ticket."""
    ticket = await _next_ticket(tx, slot)
    token, slot_id = new_cancel_token(), slot.id
    for _ in range(5):
        row = await tx.fetch_one(
            "INSERT INTO bookings (reference, cancel_token, slot_id, name, contact, party_size, status,"
            " idempotency_key, request_fingerprint, created_at, ticket, locale) VALUES (:reference, :token, :slot_id,"
            " :name, :contact, :n, 'confirmed', :key, :fingerprint, :now, :ticket, :locale)"
            " ON CONFLICT DO NOTHING RETURNING *",
            reference=new_reference(),
            token=token,
            slot_id=slot_id,
            name=name,
            contact=contact,
            n=party_size,
            key=key,
            fingerprint=fingerprint,
            now=now,
            ticket=ticket,
            locale=locale,
        )
        if row:
            return build(Booking, row), slot
        # A unique column was taken: the same idempotency key, committed by a concurrent request meanwhile
        # (PostgreSQL made this insert wait for it), or else the reference: draw again.
        if key and await tx.fetch_value("SELECT 1 FROM bookings WHERE idempotency_key = :key", key=key):
            raise KeyTaken
    raise RuntimeError("could not draw a unique reference")


async def _next_ticket(tx: Tx, slot: Slot) -> int:
    """The next ticket number of the slot's resource and day."""
    return await tx.fetch_value(
        "INSERT INTO ticket_counters (resource_id, local_date, last) VALUES (:resource_id, :day, 1)"
        " ON CONFLICT (resource_id, local_date) DO UPDATE SET last = ticket_counters.last + 1 RETURNING last",
        resource_id=slot.resource_id,
        day=slot.local_date,
    )


async def _booking_where(tx: Tx, column: str, value, lock: str = "") -> tuple[Booking, Slot] | None:
    """The booking whose unique `column` is `value`, with its slot."""
    row = await tx.fetch_one(f"SELECT * FROM bookings WHERE {column} = :value {lock}", value=value)
    return (build(Booking, row), await _slot(tx, row["slot_id"])) if row else None


async def _cancel(
    tx: Tx, reference: str, token: str, now: datetime, offer_for: timedelta, notices: Notices
) -> tuple[Booking, Slot, bool]:
    found = await _booking_where(tx, "reference", reference, "FOR UPDATE")  # a concurrent cancel waits here
    if found is None:
        raise NotFound(reference)
    booking, slot = found
    if not booking.token_matches(token):
        raise Forbidden(reference)
    if booking.status == "cancelled":
        return booking, slot, False
    await tx.execute(
        "UPDATE bookings SET status = 'cancelled', cancelled_at = :now WHERE id = :id", now=now, id=booking.id
    )
    await _uncount(tx, (await _rule(tx, slot.resource_id)).key(booking.contact), slot)
    await tx.changed(*topics.of_slot(slot))
    await tx.execute("UPDATE slots SET booked = booked - :n WHERE id = :id", n=booking.party_size, id=slot.id)
    booking = replace(booking, status="cancelled")
    await _announce(tx, CANCELLED, booking, slot, now, notices)
    return booking, await _offer_freed(tx, slot.id, now, offer_for, notices), True


async def _reschedule(
    tx: Tx, reference: str, token: str, slot_id: int, now: datetime, offer_for: timedelta, notices: Notices
) -> tuple[Booking, Slot]:
    found = await _booking_where(tx, "reference", reference, "FOR UPDATE")  # one move or cancel at a time
    if found is None:
        raise NotFound(reference)
    booking, old = found
    if not booking.token_matches(token):
        raise Forbidden(reference)
    if not movable(booking, old, now):
        raise NotMovable(reference)
    if slot_id == old.id:
        return booking, old
    # Both slots' rows in id order, so two moves in opposite directions cannot deadlock.
    await tx.fetch("SELECT id FROM slots WHERE id IN (:a, :b) ORDER BY id FOR UPDATE", a=old.id, b=slot_id)
    new, rule = await _open_slot(tx, slot_id, now)
    if new.resource_id != old.resource_id:
        raise OtherResource(slot_id)
    await tx.changed(*topics.of_slot(old), *topics.of_slot(new))
    if new.local_date != old.local_date:  # the new day counts it (or refuses), the old one no more
        await _count(tx, rule.key(booking.contact), new, rule.limit)
        await _uncount(tx, rule.key(booking.contact), old)
    after = await tx.fetch_one(
        "UPDATE slots SET booked = booked + :n WHERE id = :id AND booked + held + :n <= capacity RETURNING *",
        n=booking.party_size,
        id=new.id,
    )
    if after is None:
        raise SlotFull(new.id)
    ticket = booking.ticket if new.local_date == old.local_date else await _next_ticket(tx, new)
    await tx.execute(
        "UPDATE bookings SET slot_id = :slot_id, ticket = :ticket, attendance = NULL, requeued_at = NULL,"
        " moves = moves + 1, moved_from = :was WHERE id = :id",
        slot_id=new.id,
        ticket=ticket,
        was=old.starts_at,
        id=booking.id,
    )
    await tx.execute("UPDATE slots SET booked = booked - :n WHERE id = :id", n=booking.party_size, id=old.id)
    booking, new = await _booking_where(tx, "id", booking.id)
    await _announce(
        tx, RESCHEDULED, booking, new, now, notices, previous_slot_id=old.id, previous_start=old.starts_at.isoformat()
    )
    await _offer_freed(tx, old.id, now, offer_for, notices)
    return booking, new


async def _accept(
    tx: Tx, reference: str, token: str, now: datetime, locale: str, notices: Notices, offer_for: timedelta
) -> tuple[Booking, Slot] | None:
    """The offer's booking; None when its person holds more than the limit now (staff booked over it, or the limit
    fell since the offer): then the offer passes on, like an expired one."""
    entry, slot = await _holder_entry(tx, reference, token)
    if entry.status != "offered" or entry.offered_until <= now:
        raise OfferGone(reference)
    rule = await _rule(tx, slot.resource_id)
    if await _over(tx, rule.key(entry.contact), slot, rule.limit):
        await _release_hold(tx, entry, slot, "expired")
        await tx.changed(*topics.of_slot(await _offer_freed(tx, slot.id, now, offer_for, notices)))
        return None
    # The held places become booked ones: the capacity never moves, so no other booking can be squeezed out.
    # The entry counted for its person from the start: as a booking it counts once still.
    await tx.execute(
        "UPDATE slots SET held = held - :n, booked = booked + :n WHERE id = :id", n=entry.party_size, id=slot.id
    )
    booking, slot = await _insert_booking(
        tx, await _slot(tx, slot.id), entry.name, entry.contact, entry.party_size, now, locale
    )
    await tx.execute(
        "UPDATE waitlist SET status = 'booked', booking_id = :booking WHERE id = :id", booking=booking.id, id=entry.id
    )
    await tx.changed(*topics.of_slot(slot))
    await _announce(tx, CREATED, booking, slot, now, notices, waitlist_reference=entry.reference)
    return booking, slot


async def _entries(tx: Tx, where: str, params: dict, lock: str = "") -> list[tuple[Booking, Slot]]:
    """Bookings with their slots on a day (`params` has `day`), by time and ticket."""
    return await _entries_in(tx, f"{where} AND s.local_date = :day", params, lock)


async def _entries_in(tx: Tx, where: str, params: dict, lock: str = "") -> list[tuple[Booking, Slot]]:
    """Bookings with their slots in the slots `where` picks (`s` slots, `r` resources), by time and ticket."""
    scope = f"FROM slots s JOIN resources r ON r.id = s.resource_id WHERE {where}"
    slots = {r["id"]: build(Slot, r) for r in await tx.fetch(f"SELECT s.* {scope}", **params)}
    rows = await tx.fetch(
        f"SELECT b.* FROM bookings b WHERE b.slot_id IN (SELECT s.id {scope}) ORDER BY b.ticket {lock}", **params
    )
    entries = [(build(Booking, r), slots[r["slot_id"]]) for r in rows]
    return sorted(entries, key=lambda e: e[1].starts_at)  # stable: tickets stay in order within a slot


async def _update_booking(tx: Tx, booking_id: int, assignments: str, params: dict) -> tuple[Booking, Slot]:
    if not await tx.fetch_value(
        f"UPDATE bookings SET {assignments} WHERE id = :id AND status = 'confirmed' RETURNING id",
        id=booking_id,
        **params,
    ):
        raise NotFound(booking_id)
    booking, slot = await _booking_where(tx, "id", booking_id)
    await tx.changed(*topics.of_slot(slot))
    return booking, slot


async def _call_next(tx: Tx, resource_id: int, day: date, counter: str, now: datetime) -> tuple[Booking, Slot] | None:
    # Locked, so two counters calling at once never call the same ticket.
    entries = await _entries(tx, "s.resource_id = :resource_id", {"resource_id": resource_id, "day": day}, "FOR UPDATE")
    line = waiting_line(entries)
    if not line:
        return None
    return await _update_booking(tx, line[0][0].id, CALL, {"now": now, "counter": counter})
