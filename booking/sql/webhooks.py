"""Webhook endpoints staff run: the events each takes, disabled by hand or after a day of failures, a secret rotated
with an overlap, a test event, a delivery sent again; and a batch of attempts settled in one write."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta

from .. import topics
from ..errors import NotFound
from ..outbox import EVENTS, FAILED, PENDING, SENT, TEST, Actor, Message, Settled, acting, event_body
from .engine import Tx
from .outbox import _queue
from .rows import build

ROTATION_OVERLAP = timedelta(hours=24)  # a rotated secret still signs this long


def as_actor(actor: Actor, body: Callable[..., Awaitable]) -> Callable[..., Awaitable]:
    """A transaction's body that tells its events as `actor`'s: the caller's, wherever the body runs (SQLite runs
    it on its own thread, where the caller's context is not)."""

    async def told_as(tx: Tx, *args):
        with acting(actor):
            return await body(tx, *args)

    return told_as


def chosen_events(events: list[str] | None) -> str | None:
    """The events column for a choice: None when it is all of EVENTS (so that events added later come too)."""
    if events is None or set(EVENTS) <= set(events):
        return None
    return " ".join(e for e in EVENTS if e in events)


class WebhookStore:
    """SqlStore's webhook methods (`db` and `_write` are SqlStore's): each a body of this module."""

    async def settle_messages(self, outcomes: list[Settled], now: datetime, failing_for: timedelta) -> None:
        """Attempts' outcomes, in one write; an endpoint that failed every attempt for `failing_for` is disabled."""
        await self._write(_settle_all, outcomes, now, failing_for)

    async def set_webhook_events(self, webhook_id: int, events: list[str]) -> None:
        """The events an endpoint takes (every one of EVENTS: all, and so are those added later)."""
        await self._write(_update, webhook_id, "events = :events", {"events": chosen_events(events)})

    async def pause_webhook(self, webhook_id: int, now: datetime) -> None:
        """Disable an endpoint by hand: nothing is queued for it, and what is pending is skipped."""
        await self._write(_update, webhook_id, "paused = 'staff', paused_at = :now", {"now": now})

    async def resume_webhook(self, webhook_id: int) -> None:
        """Enable an endpoint again (after staff or its failures disabled it): it takes new events."""
        await self._write(_update, webhook_id, "paused = NULL, paused_at = NULL, failing_since = NULL", {})

    async def rotate_webhook_secret(self, webhook_id: int, secret: str, now: datetime) -> None:
        """A new secret; the old one still signs (a second v1) for ROTATION_OVERLAP."""
        change = "previous_secret = secret, previous_until = :until, secret = :secret"
        await self._write(_update, webhook_id, change, {"secret": secret, "until": now + ROTATION_OVERLAP})

    async def send_test_event(self, webhook_id: int, now: datetime) -> None:
        """Queue a webhook.test event for this endpoint alone."""
        await self._write(_test_event, webhook_id, now)

    async def resend_message(self, message_id: int, now: datetime) -> None:
        """A webhook delivery, due again now (the same body and delivery id), whatever became of it."""
        await self._write(_resend, message_id, now)

    async def message(self, message_id: int) -> Message | None:
        """One delivery of the outbox."""
        row = await self.db.read(_message, message_id)
        return row and build(Message, row)


async def _settle_all(tx: Tx, outcomes: list[Settled], now: datetime, failing_for: timedelta) -> None:
    await tx.execute_many(
        "UPDATE outbox SET state = :state, last_error = :error, due_at = :due, done_at = :done WHERE id = :id",
        [
            dict(
                state=o.state,
                error=o.error and o.error[:500],
                due=o.retry_at or now,
                done=None if o.state == PENDING else now,
                id=o.message_id,
            )
            for o in outcomes
        ],
    )
    delivered = {o.webhook_id for o in outcomes if o.webhook_id and o.state == SENT}
    failed = {o.webhook_id for o in outcomes if o.webhook_id and o.error} - delivered
    await tx.execute_many("UPDATE webhooks SET failing_since = NULL WHERE id = :id", [{"id": i} for i in delivered])
    # A delivery given up was tried for `failing_for`: its endpoint is disabled unless something reached it since.
    given_up = {o.webhook_id: o.message_id for o in outcomes if o.webhook_id and o.state == FAILED}
    for hook_id in sorted(failed):
        await tx.execute(
            "UPDATE webhooks SET failing_since = COALESCE(failing_since, :now) WHERE id = :id", now=now, id=hook_id
        )
        if await tx.execute(
            "UPDATE webhooks SET paused = 'failing', paused_at = :now WHERE id = :id AND paused IS NULL"
            " AND (failing_since <= :since OR (:message > 0 AND NOT EXISTS (SELECT 1 FROM outbox s"
            " WHERE s.webhook_id = :id AND s.state = 'sent'"
            " AND s.done_at >= (SELECT created_at FROM outbox WHERE id = :message))))",
            now=now,
            since=now - failing_for,
            id=hook_id,
            message=given_up.get(hook_id, 0),
        ):
            await tx.changed(topics.OUTBOX)


async def _update(tx: Tx, webhook_id: int, change: str, values: dict) -> None:
    if not await tx.execute(f"UPDATE webhooks SET {change} WHERE id = :id AND active", id=webhook_id, **values):
        raise NotFound(webhook_id)


async def _test_event(tx: Tx, webhook_id: int, now: datetime) -> None:
    hook = await tx.fetch_one(
        "SELECT w.id, w.venue_id, v.slug FROM webhooks w JOIN venues v ON v.id = w.venue_id"
        " WHERE w.id = :id AND w.active",
        id=webhook_id,
    )
    if hook is None:
        raise NotFound(webhook_id)
    event_id, body = event_body(TEST, now, {"venue": hook["slug"], "webhook_id": hook["id"]})
    await _queue(tx, TEST, event_id, body, now, [(hook["id"], hook["venue_id"])])


async def _resend(tx: Tx, message_id: int, now: datetime) -> None:
    if not await tx.execute(
        "UPDATE outbox SET state = 'pending', due_at = :now, done_at = NULL WHERE id = :id AND kind = 'webhook'",
        now=now,
        id=message_id,
    ):
        raise NotFound(message_id)
    await tx.changed(topics.OUTBOX)


async def _message(tx: Tx, message_id: int):
    return await tx.fetch_one("SELECT * FROM outbox WHERE id = :id", id=message_id)
