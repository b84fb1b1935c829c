"""The outbox's sender: claims each message as it falls due, delivers it (a signed webhook POST, an e-mail or a
text message) and settles it; a failure is retried with backoff for a day (a refusal for good is not), a sender
that dies leaves its claim to lapse."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable
from datetime import datetime, timedelta

import httpcore
from quart import Quart

from booking.outbox import (
    FAILED,
    PENDING,
    SENT,
    SKIPPED,
    TEST,
    Message,
    Settled,
    Webhook,
    retry_after,
)
from web.links import site

from . import mail, sms
from .told import told
from .webhooks import PinnedBackend, Undelivered, public, webhook_headers

log = logging.getLogger("slotcast.outbox")
BATCH = 100  # messages claimed and waiting for a place among those IN_FLIGHT
IN_FLIGHT = 10  # deliveries under way at once (the connection pool's own limit)
SETTLE_EVERY = 0.05  # seconds: the outcomes that came meanwhile are settled in one write


class Sender:
    """Delivers what the store's outbox holds, woken by new messages and by the next one falling due."""

    def __init__(self, app: Quart, store, clock):
        self.app, self.store, self.clock, self.config = app, store, clock, app.config
        self._wake = asyncio.Event()
        # At most this many deliveries at once: more wait here, not in the connection pool (whose queue is slow).
        self._in_flight = asyncio.Semaphore(IN_FLIGHT)
        self.pool: httpcore.AsyncConnectionPool | None = None  # while it runs

    def _new_pool(self) -> httpcore.AsyncConnectionPool:
        # Redirects are not followed; each connection goes to an address the filter has just passed.
        allowed = (lambda ip: True) if self.config["WEBHOOKS_ALLOW_PRIVATE"] else public
        return httpcore.AsyncConnectionPool(network_backend=PinnedBackend(allowed))

    def wake(self) -> None:
        """Messages were queued (here, or in another process)."""
        self._wake.set()

    async def run(self, closed: Awaitable, idle: float = 30.0) -> None:
        """Deliver until `closed` (the hub's): every message due, then sleep until the next falls due or a wake. A
        store that fails raises (the supervisor runs this again after a while)."""
        closing = asyncio.ensure_future(closed)
        self.pool = self._new_pool()
        try:
            while True:
                self._wake.clear()
                cycle = asyncio.ensure_future(self.cycle(idle))
                await asyncio.wait([closing, cycle], return_when=asyncio.FIRST_COMPLETED)
                if closing.done():  # shutting down: a delivery cut short stays claimed, and is sent once that lapses
                    cycle.cancel()
                    await asyncio.gather(cycle, return_exceptions=True)
                    return
                waking = asyncio.ensure_future(self._wake.wait())
                await asyncio.wait([closing, waking], timeout=cycle.result(), return_when=asyncio.FIRST_COMPLETED)
                waking.cancel()
        finally:
            closing.cancel()
            await self.pool.aclose()

    async def cycle(self, idle: float) -> float:
        """Deliver every message due; the seconds until the next falls due (at most `idle`)."""
        await self.send_due()
        due = await self.store.next_due()
        return idle if due is None else min(idle, max(0.0, (due - self.clock.now()).total_seconds()))

    async def send_due(self) -> int:
        """Claim and deliver every message due now: up to BATCH under way, more claimed once half are done (the
        endpoints read once per claim), the outcomes settled together every SETTLE_EVERY seconds; a slow endpoint
        holds up only its own deliveries. How many were tried."""
        tried, running = 0, set()
        lease = timedelta(seconds=float(self.config["OUTBOX_LEASE_SECONDS"]))
        failing_for = timedelta(hours=float(self.config["OUTBOX_GIVE_UP_HOURS"]))
        try:
            while True:
                if len(running) <= BATCH // 2 and (
                    batch := await self.store.claim_messages(self.clock.now(), lease, BATCH - len(running))
                ):
                    hooks = {h.id: h for h in await self.store.webhooks()} if any(m.webhook_id for m in batch) else {}
                    running |= {asyncio.ensure_future(self.deliver(m, hooks.get(m.webhook_id))) for m in batch}
                    tried += len(batch)
                elif not running:
                    return tried
                done, running = await asyncio.wait(running, timeout=SETTLE_EVERY)
                if done:
                    await self.store.settle_messages([t.result() for t in done], self.clock.now(), failing_for)
        finally:  # cut short (shutting down): what is under way stays claimed, and is sent once that lapses
            for task in running:
                task.cancel()

    async def deliver(self, message: Message, hook: Webhook | None = None) -> Settled:
        """One attempt at one message: sent, skipped, pending again after a backoff, or failed."""
        try:
            async with self._in_flight:
                if message.kind == "webhook":
                    state = await self.post(message, hook)
                else:
                    state = await {"email": self.mail, "sms": self.text}[message.kind](message)
        except sms.Refused as error:  # the provider said no for good: kept for staff to see, not tried again
            log.info("outbox: %s %s refused: %s", message.kind, message.delivery, error)
            return Settled(message.id, message.webhook_id, FAILED, str(error))
        except Exception as error:  # whatever went wrong, the message stays to be tried again
            reason = str(error) if isinstance(error, Undelivered) else f"{type(error).__name__}: {error}"
            log.info(
                "outbox: %s %s not delivered (attempt %d): %s", message.kind, message.delivery, message.attempts, reason
            )
            now = self.clock.now()
            if now - message.created_at >= timedelta(hours=float(self.config["OUTBOX_GIVE_UP_HOURS"])):
                return Settled(message.id, message.webhook_id, FAILED, reason)
            later = now + retry_after(message.attempts, float(self.config["OUTBOX_RETRY_SECONDS"]))
            return Settled(message.id, message.webhook_id, PENDING, reason, later)
        return Settled(message.id, message.webhook_id, state)

    async def post(self, message: Message, hook: Webhook | None) -> str:
        """POST a webhook's body, signed; any 2xx is delivered."""
        if hook is None or (hook.paused and message.event != TEST):
            return SKIPPED  # the endpoint was removed or disabled since
        body, wait = message.body.encode(), float(self.config["WEBHOOK_TIMEOUT_SECONDS"])
        headers = {**webhook_headers(hook, message, body, self.clock.now()), "User-Agent": "Slotcast-Webhooks/1"}
        try:  # the answer's status is all it needs: its body is never read
            async with self.pool.stream(
                "POST",
                hook.url,
                headers=headers,
                content=body,
                extensions={"timeout": dict.fromkeys(("connect", "read", "write", "pool"), wait)},
            ) as response:
                status = response.status
        except httpcore.TimeoutException:
            raise Undelivered("timed out") from None
        if not 200 <= status < 300:
            raise Undelivered(f"HTTP {status}")
        return SENT

    async def mail(self, message: Message) -> str:
        """E-mail the booker what happened to their booking or waitlist entry, in the language they used."""
        smtp, sender = self.config["SMTP_URL"], self.config["MAIL_FROM"]
        about = smtp and sender and await told(self.store, message, self.clock.now())
        if not (about and mail.is_email(about.contact)):
            return SKIPPED  # no mail server now, or nothing left to say, or the address is gone (erased)
        async with self.app.app_context():
            email = await mail.compose_told(about, sender=sender)
            # One Message-ID on every attempt: a mail client shows a message sent twice (at least once) once.
            email.replace_header("Message-ID", f"<{message.delivery}@{site()}>")
        await mail.send(email, smtp)
        return SENT

    async def text(self, message: Message) -> str:
        """Text the holder what happened, in the language they used, to their number in E.164."""
        url, sender = self.config["SMS_URL"], self.config["SMS_FROM"]
        about = url and sender and await told(self.store, message, self.clock.now())
        to = about and sms.recipient(about)
        if not to:
            return SKIPPED  # no provider now, or nothing left to say, or the number is gone (erased)
        async with self.app.app_context():
            body = sms.text(about)
        sid = await sms.send(to, body, url, sender)
        log.info("outbox: sms %s taken by the provider as %s", message.delivery, sid)
        return SENT


async def prune(store, now: datetime, days: float) -> int:
    """Forget deliveries settled more than `days` ago."""
    return await store.prune_outbox(now - timedelta(days=days))
