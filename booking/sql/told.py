"""What staff do at the desk and on the board, told to the venue's webhooks in the same transaction: a check-in, a
no-show, a call to a counter, a slot closed or reopened."""

from __future__ import annotations

from datetime import date, datetime, timedelta

from ..model import Booking, Slot
from ..outbox import CALLED, CHECKED_IN, NO_SHOW, SLOT_CLOSED, SLOT_REOPENED, Notices
from .bookings import CALL, _call_next, _update_booking
from .engine import Tx
from .outbox import _tell, _tell_slot, booking_data
from .venues import _set_closed

ATTENDED = {"checked_in": CHECKED_IN, "no_show": NO_SHOW}


async def _attend(tx: Tx, booking_id: int, attendance: str | None, now: datetime) -> tuple[Booking, Slot]:
    booking, slot = await _update_booking(tx, booking_id, "attendance = :attendance", {"attendance": attendance})
    if attendance in ATTENDED:
        await _tell(tx, ATTENDED[attendance], slot, now, booking_data(booking, slot), booking.id)
    return booking, slot


async def _call(tx: Tx, booking_id: int, counter: str, now: datetime) -> tuple[Booking, Slot]:
    called = await _update_booking(tx, booking_id, CALL, {"now": now, "counter": counter})
    await _tell_called(tx, called, now)
    return called


async def _call_next_told(
    tx: Tx, resource_id: int, day: date, counter: str, now: datetime
) -> tuple[Booking, Slot] | None:
    called = await _call_next(tx, resource_id, day, counter, now)
    if called:
        await _tell_called(tx, called, now)
    return called


async def _tell_called(tx: Tx, called: tuple[Booking, Slot], now: datetime) -> None:
    booking, slot = called
    await _tell(tx, CALLED, slot, now, booking_data(booking, slot) | {"counter": booking.called_to}, booking.id)


async def _close(
    tx: Tx, slot_id: int, closed: bool, now: datetime | None, offer_for: timedelta, notices: Notices
) -> Slot:
    was = await tx.fetch_value("SELECT closed FROM slots WHERE id = :id", id=slot_id)
    slot = await _set_closed(tx, slot_id, closed, now, offer_for, notices)
    if now is not None and bool(was) != closed:
        await _tell_slot(tx, SLOT_CLOSED if closed else SLOT_REOPENED, slot, now)
    return slot
