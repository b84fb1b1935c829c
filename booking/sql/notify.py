"""What people are told through the outbox: e-mails and text messages (SMS) about their booking, their waitlist
offer or their draw entry, queued in the change's own transaction. A row holds ids only: what it says, and whether
there is still anything to say, is read when it is sent."""

from __future__ import annotations

import json
from datetime import datetime

from .. import topics
from ..contacts import email_address, phone_number
from ..model import Slot, new_cancel_token
from ..outbox import CREATED, MAILED, NOT_DRAWN, REMINDER, RESCHEDULED, TEXTED, Notices
from .engine import Tx

PREFIXES = {"email": "mail_", "sms": "sms_"}  # a delivery's id: the prefix, then a fresh token
DRAW_RESULT = "sms_draw_"  # a draw entry's result: the prefix, then the entry's reference (erasure finds it so)


async def _notify(
    tx: Tx,
    event: str,
    slot: Slot,
    contact: str,
    now: datetime,
    notices: Notices,
    booking_id: int | None = None,
    waitlist_id: int | None = None,
    **about: str,
) -> None:
    """Queue the e-mail and the text message `event` tells the contact (each when its sender is configured and the
    contact is an address or a phone number it reaches), with a reminder of a booking made or moved."""
    mails = notices.mail and event in MAILED and email_address(contact)
    if not (mails or (notices.sms and event in TEXTED)):
        return  # nothing to send with: no query (a booking's hot path)
    venue = await tx.fetch_one(
        "SELECT v.id, v.country FROM resources r JOIN venues v ON v.id = r.venue_id WHERE r.id = :id",
        id=slot.resource_id,
    )
    texts = notices.sms and event in TEXTED and phone_number(contact, venue["country"])
    kinds = [kind for kind, reaches in (("email", mails), ("sms", texts)) if reaches]
    if not kinds:
        return
    due = [(event, now)]
    remind = notices.remind_before and slot.starts_at - notices.remind_before
    if event in (CREATED, RESCHEDULED) and remind and remind > now:
        due.append((REMINDER, remind))
    await tx.execute_many(
        "INSERT INTO outbox (kind, event, delivery, venue_id, booking_id, waitlist_id, body, created_at, due_at)"
        " VALUES (:kind, :event, :delivery, :venue_id, :booking_id, :waitlist_id, :body, :now, :due)",
        [
            dict(
                kind=kind,
                event=told,
                delivery=PREFIXES[kind] + new_cancel_token(),
                venue_id=venue["id"],
                booking_id=booking_id,
                waitlist_id=waitlist_id,
                body=json.dumps({"slot_id": slot.id, **about}),
                now=now,
                due=at,
            )
            for kind in kinds
            for told, at in due
        ],
    )
    await tx.changed(topics.OUTBOX)


async def _notify_not_drawn(tx: Tx, draw_id: int, venue_id: int, now: datetime, notices: Notices) -> None:
    """Queue a text message to each entry of a drawn draw that was not booked (left waiting, or not drawn at all)
    and gave a phone number: one statement, however many entries (an entry's contact_key is E.164 for a phone
    number the venue could place)."""
    if not notices.sms:
        return
    queued = await tx.execute(
        "INSERT INTO outbox (kind, event, delivery, venue_id, waitlist_id, body, created_at, due_at)"
        " SELECT 'sms', :event, :prefix || e.reference, :venue_id, w.id,"
        " '{\"draw_entry\": \"' || e.reference || '\"}', :now, :now"
        " FROM draw_entries e LEFT JOIN waitlist w ON w.draw_entry_id = e.id"
        " WHERE e.draw_id = :draw_id AND e.status IN ('none', 'waitlisted') AND e.contact_key LIKE '+%'",
        event=NOT_DRAWN,
        prefix=DRAW_RESULT,
        venue_id=venue_id,
        draw_id=draw_id,
        now=now,
    )
    if queued:
        await tx.changed(topics.OUTBOX)
