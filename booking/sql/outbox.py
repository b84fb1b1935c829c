"""The outbox: a change queues its webhooks, e-mails and text messages in its own transaction; senders claim and
settle them after commit."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from .. import topics
from ..errors import NotFound
from ..model import Booking, Slot, gives_tickets, ticket_label
from ..outbox import CANCELLED, Message, Notices, Webhook, current_actor, event_body, takes
from .engine import Tx
from .notify import _notify
from .rows import as_moment, build

# A pending message whose turn it is: no earlier one to its endpoint about its booking or waitlist entry pending.
IN_TURN = (
    "state = 'pending' AND NOT EXISTS (SELECT 1 FROM outbox e WHERE e.state = 'pending'"
    " AND e.webhook_id = o.webhook_id AND e.booking_id = o.booking_id AND e.id < o.id)"
    " AND NOT EXISTS (SELECT 1 FROM outbox e WHERE e.state = 'pending'"
    " AND e.webhook_id = o.webhook_id AND e.waitlist_id = o.waitlist_id AND e.id < o.id)"
)


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


async def _announce(
    tx: Tx, event: str, booking: Booking, slot: Slot, now: datetime, notices: Notices, hooked: bool = True, **extra
) -> None:
    """Queue a booking's event for its venue's webhooks, and for its holder (e-mail, text message). `hooked`: False
    when the transaction has read already that the venue has no webhook sending."""
    if event == CANCELLED:
        extra["reason"] = current_actor().reason
    if hooked:
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
    """Queue an event for every webhook of the slot's venue that is sending and takes it (one SELECT when it has
    none), tied to the booking or waitlist entry it is about (an erasure removes it with theirs). A booking's events
    are numbered (the payload's `sequence`): its endpoints get them in that order."""
    hooks = await tx.fetch(
        "SELECT w.id, w.venue_id, w.events, v.slug AS venue, v.timezone, v.kind, r.slug AS resource,"
        " (SELECT COUNT(*) FROM resources o WHERE o.venue_id = r.venue_id AND o.id < r.id) AS position"
        " FROM resources r JOIN venues v ON v.id = r.venue_id JOIN webhooks w ON w.venue_id = v.id"
        " WHERE r.id = :id AND w.active AND w.paused IS NULL",
        id=slot.resource_id,
    )
    hooks = [h for h in hooks if takes(h["events"], event)]
    if not hooks:
        return
    sequence = booking_id and await tx.fetch_value(
        "UPDATE bookings SET told = told + 1 WHERE id = :id RETURNING told", id=booking_id
    )
    event_id, body = event_body(event, now, in_venue_terms(hooks[0], data), sequence or None)
    await _queue(tx, event, event_id, body, now, [(h["id"], h["venue_id"]) for h in hooks], booking_id, waitlist_id)


async def _tell_slot(tx: Tx, event: str, slot: Slot, now: datetime, **extra) -> None:
    """Tell the venue's webhooks about a slot: closed, reopened, its capacity changed."""
    data = {"slot_id": slot.id, "start": slot.starts_at.isoformat(), "end": slot.ends_at.isoformat()}
    await _tell(tx, event, slot, now, data | {"capacity": slot.capacity, "booked": slot.booked} | extra)


def in_venue_terms(venue, data: dict) -> dict:
    """An event's data with its venue and resource, the venue's time zone, each time also in local time, and the
    ticket as people are shown it ("A012")."""
    zone = ZoneInfo(venue["timezone"])
    told = {"venue": venue["venue"], "resource": venue["resource"], "time_zone": venue["timezone"]} | data
    for name in ("start", "end", "previous_start", "offered_until"):
        if data.get(name):
            told[f"{name}_local"] = datetime.fromisoformat(data[name]).astimezone(zone).isoformat()
    if "ticket" in data:
        letter = chr(ord("A") + venue["position"] % 26)
        told["ticket_label"] = ticket_label(letter, data["ticket"]) if gives_tickets(venue["kind"]) else ""
    return told


async def _queue(
    tx: Tx,
    event: str,
    event_id: str,
    body: str,
    now: datetime,
    hooks: list[tuple[int, int]],
    booking_id: int | None = None,
    waitlist_id: int | None = None,
) -> None:
    """Queue one event's body for each of these (webhook id, venue id)."""
    await tx.execute_many(
        "INSERT INTO outbox (kind, event, delivery, venue_id, webhook_id, booking_id, waitlist_id, body, created_at,"
        " due_at) VALUES ('webhook', :event, :delivery, :venue_id, :webhook_id, :booking_id, :waitlist_id, :body,"
        " :now, :now)",
        [
            dict(
                event=event,
                delivery=f"{event_id}.{hook_id}",
                venue_id=venue_id,
                webhook_id=hook_id,
                booking_id=booking_id,
                waitlist_id=waitlist_id,
                body=body,
                now=now,
            )
            for hook_id, venue_id in hooks
        ],
    )
    await tx.changed(topics.OUTBOX)


async def _add_webhook(tx: Tx, venue_id: int, url: str, secret: str, now: datetime, events: str | None) -> int:
    return await tx.fetch_value(
        "INSERT INTO webhooks (venue_id, url, secret, created_at, events)"
        " VALUES (:venue_id, :url, :secret, :now, :events) RETURNING id",
        venue_id=venue_id,
        url=url,
        secret=secret,
        now=now,
        events=events,
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
        "UPDATE outbox SET due_at = :lapses, attempts = attempts + 1 WHERE id IN (SELECT id FROM outbox o"
        f" WHERE {IN_TURN} AND due_at <= :now ORDER BY due_at, id LIMIT :limit FOR UPDATE SKIP LOCKED) RETURNING *",
        now=now,
        lapses=now + lease,
        limit=limit,
    )
    return sorted((build(Message, r) for r in rows), key=lambda m: m.id)


async def _next_due(tx: Tx) -> datetime | None:
    return as_moment(await tx.fetch_value(f"SELECT MIN(due_at) FROM outbox o WHERE {IN_TURN}"))


async def _prune_outbox(tx: Tx, before: datetime) -> int:
    return await tx.execute("DELETE FROM outbox WHERE state != 'pending' AND done_at < :before", before=before)
