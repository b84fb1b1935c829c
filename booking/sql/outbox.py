"""The outbox: a change queues its webhooks, e-mails and text messages in its own transaction; senders claim and
settle them after commit."""

from __future__ import annotations

from datetime import datetime, timedelta

from .. import topics
from ..model import Booking, NotFound, Slot
from ..outbox import PENDING, Message, Notices, Webhook, event_body
from .engine import Tx
from .notify import _notify
from .rows import as_moment, build


def booking_data(booking: Booking, slot: Slot) -> dict:
    """A booking as webhooks tell it (to the venue's own systems: with the name and contact, never the token)."""
    return {
        "reference": booking.reference,
        "slot_id": slot.id,
        "start": slot.starts_at.isoformat(),
        "end": slot.ends_at.isoformat(),
        "party_size": booking.party_size,
        "status": booking.status,
        "ticket": booking.ticket,
        "name": booking.name,
        "contact": booking.contact,
    }


async def _announce(tx: Tx, event: str, booking: Booking, slot: Slot, now: datetime, notices: Notices, **extra) -> None:
    """Queue a booking's event for its venue's webhooks, and for its holder (e-mail, text message)."""
    await _tell(tx, event, slot, now, booking_data(booking, slot) | extra, booking.id)
    drawn = {"draw_entry": extra["draw_entry"]} if "draw_entry" in extra else {}  # a draw's winner is told so
    await _notify(tx, event, slot, booking.contact, now, notices, booking_id=booking.id, **drawn)


async def _tell(
    tx: Tx,
    event: str,
    slot: Slot,
    now: datetime,
    data: dict,
    booking_id: int | None = None,
    waitlist_id: int | None = None,
) -> None:
    """Queue an event for every active webhook of the slot's venue (one SELECT when it has none), tied to the
    booking or waitlist entry it is about (an erasure removes it with theirs)."""
    hooks = await tx.fetch(
        "SELECT w.id, w.venue_id, v.slug AS venue, r.slug AS resource FROM resources r"
        " JOIN venues v ON v.id = r.venue_id JOIN webhooks w ON w.venue_id = v.id"
        " WHERE r.id = :id AND w.active",
        id=slot.resource_id,
    )
    if not hooks:
        return
    event_id, body = event_body(event, now, {"venue": hooks[0]["venue"], "resource": hooks[0]["resource"]} | data)
    await tx.execute_many(
        "INSERT INTO outbox (kind, event, delivery, venue_id, webhook_id, booking_id, waitlist_id, body, created_at,"
        " due_at) VALUES ('webhook', :event, :delivery, :venue_id, :webhook_id, :booking_id, :waitlist_id, :body,"
        " :now, :now)",
        [
            dict(
                event=event,
                delivery=f"{event_id}.{h['id']}",
                venue_id=h["venue_id"],
                webhook_id=h["id"],
                booking_id=booking_id,
                waitlist_id=waitlist_id,
                body=body,
                now=now,
            )
            for h in hooks
        ],
    )
    await tx.changed(topics.OUTBOX)


async def _add_webhook(tx: Tx, venue_id: int, url: str, secret: str, now: datetime) -> int:
    return await tx.fetch_value(
        "INSERT INTO webhooks (venue_id, url, secret, created_at) VALUES (:venue_id, :url, :secret, :now) RETURNING id",
        venue_id=venue_id,
        url=url,
        secret=secret,
        now=now,
    )


async def _remove_webhook(tx: Tx, webhook_id: int) -> None:
    if not await tx.execute("UPDATE webhooks SET active = FALSE WHERE id = :id AND active", id=webhook_id):
        raise NotFound(webhook_id)


async def _webhooks(tx: Tx, venue_id: int | None) -> list[Webhook]:
    where = "" if venue_id is None else "AND venue_id = :venue_id"
    rows = await tx.fetch(f"SELECT * FROM webhooks WHERE active {where} ORDER BY id", venue_id=venue_id)
    return [build(Webhook, r) for r in rows]


async def _outbox(tx: Tx, venue_id: int | None, limit: int) -> list[Message]:
    where = "" if venue_id is None else "WHERE venue_id = :venue_id"
    rows = await tx.fetch(f"SELECT * FROM outbox {where} ORDER BY id DESC LIMIT :limit", venue_id=venue_id, limit=limit)
    return [build(Message, r) for r in rows]


async def _claim(tx: Tx, now: datetime, lease: timedelta, limit: int) -> list[Message]:
    rows = await tx.fetch(
        "UPDATE outbox SET due_at = :lapses, attempts = attempts + 1 WHERE id IN (SELECT id FROM outbox"
        " WHERE state = 'pending' AND due_at <= :now ORDER BY due_at, id LIMIT :limit FOR UPDATE SKIP LOCKED)"
        " RETURNING *",
        now=now,
        lapses=now + lease,
        limit=limit,
    )
    return sorted((build(Message, r) for r in rows), key=lambda m: m.id)


async def _settle(
    tx: Tx, message_id: int, state: str, now: datetime, error: str | None, retry_at: datetime | None
) -> None:
    await tx.execute(
        "UPDATE outbox SET state = :state, last_error = :error, due_at = :due, done_at = :done WHERE id = :id",
        state=state,
        error=error and error[:500],
        due=retry_at or now,
        done=None if state == PENDING else now,
        id=message_id,
    )


async def _next_due(tx: Tx) -> datetime | None:
    return as_moment(await tx.fetch_value("SELECT MIN(due_at) FROM outbox WHERE state = 'pending'"))


async def _prune_outbox(tx: Tx, before: datetime) -> int:
    return await tx.execute("DELETE FROM outbox WHERE state != 'pending' AND done_at < :before", before=before)
