"""The outbox: what is to be told to people (e-mail, text messages) and systems (webhooks) about a change, written in the
change's own transaction and delivered after commit, at least once."""

from __future__ import annotations

import json
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import datetime, timedelta

# Events: what a message is about. Webhooks receive EVENTS; people are mailed MAILED.
CREATED, CANCELLED, RESCHEDULED = "booking.created", "booking.cancelled", "booking.rescheduled"
REMINDER = "booking.reminder"  # mailed the day before (MAIL_REMIND_HOURS)
OFFERED = "waitlist.offered"
DRAWN = "draw.completed"  # a resource-day's draw (抽签) was made: one per day, besides a booking.created per winner
CHECKED_IN, NO_SHOW, CALLED = "booking.checked_in", "booking.no_show", "booking.called"  # at the desk, the counter
SLOT_CLOSED, SLOT_REOPENED, SLOT_CAPACITY = "slot.closed", "slot.reopened", "slot.capacity_changed"
JOINED, LEFT, EXPIRED = "waitlist.joined", "waitlist.left", "waitlist.expired"  # expired: an offer not taken in time
TEST = "webhook.test"  # sent to one endpoint when staff ask (even a disabled one), never queued by a change
EVENTS = (CREATED, CANCELLED, RESCHEDULED, CHECKED_IN, NO_SHOW, CALLED, SLOT_CLOSED, SLOT_REOPENED, SLOT_CAPACITY)
EVENTS += (JOINED, OFFERED, LEFT, EXPIRED, DRAWN)
MAILED = (CREATED, CANCELLED, RESCHEDULED, REMINDER, OFFERED)
NOT_DRAWN = "draw.not_drawn"  # told to each entry a draw did not book (by text message), never to webhooks
TEXTED = (*MAILED, NOT_DRAWN)  # what people are told by text message (SMS); a draw's winner: CREATED
API_VERSION = "1"  # the payloads' shape: a field may be added within a version, never changed or removed
# A message's states: waiting for its (next) attempt, delivered, given up, or nothing left to say.
PENDING, SENT, FAILED, SKIPPED = "pending", "sent", "failed", "skipped"


@dataclass(frozen=True)
class Actor:
    """Who made a change, as its events tell: a guest, staff (`name`: the account), the API (`name`: the key's
    name) or the system (a background task); `reason`: why, when they said (a cancellation's)."""

    kind: str  # guest, staff, api, system
    name: str | None = None
    reason: str | None = None

    def as_json(self) -> dict:
        return {"type": self.kind, "name": self.name}


SYSTEM, GUEST = Actor("system"), Actor("guest")
ACTOR: ContextVar[Actor | None] = ContextVar("slotcast_actor", default=None)


def current_actor() -> Actor:
    """Who is acting here (the system when nobody said)."""
    return ACTOR.get() or SYSTEM


@contextmanager
def acting(actor: Actor) -> Iterator[Actor]:
    """The changes made inside are told as this actor's."""
    token = ACTOR.set(actor)
    try:
        yield actor
    finally:
        ACTOR.reset(token)


@dataclass(frozen=True)
class Notices:
    """What a store writes to its outbox: e-mail and text messages (each when its sender is configured) with a
    reminder this long before the booked time (None: no reminder); webhooks always, for the venues that have some."""

    mail: bool = False
    sms: bool = False
    remind_before: timedelta | None = timedelta(hours=24)


@dataclass(frozen=True)
class Webhook:
    """An endpoint a venue's staff registered: every event of the venue is POSTed to it, signed with `secret`."""

    id: int
    venue_id: int
    url: str
    secret: str
    created_at: datetime
    active: bool = True
    events: str | None = None  # the events it takes, space-separated (None: all)
    paused: str | None = None  # not sending: "staff" (disabled by hand) or "failing" (a day of failures)
    paused_at: datetime | None = None
    failing_since: datetime | None = None  # the first failure since the last delivery
    previous_secret: str | None = None  # the secret before a rotation, signed with too until previous_until
    previous_until: datetime | None = None

    def secrets(self, now: datetime) -> list[str]:
        """The secrets a delivery at `now` is signed with: the current one, and the previous while it overlaps."""
        overlap = self.previous_secret and self.previous_until and now < self.previous_until
        return [self.secret, self.previous_secret] if overlap else [self.secret]


@dataclass(frozen=True)
class Message:
    """One delivery to make: a webhook POST of `body`, or an e-mail or text message to the person it is about
    (`booking_id`, `waitlist_id`, or a draw entry in `body`)."""

    id: int
    kind: str  # webhook, email, sms
    event: str
    delivery: str  # the id a receiver sees; the same on every attempt
    venue_id: int
    body: str
    created_at: datetime
    due_at: datetime  # the next attempt (while one is under way: when its claim lapses)
    attempts: int
    state: str  # pending, sent, failed (gave up), skipped (nothing left to say)
    webhook_id: int | None = None
    booking_id: int | None = None
    waitlist_id: int | None = None
    done_at: datetime | None = None
    last_error: str | None = None


@dataclass(frozen=True)
class Settled:
    """One attempt's outcome, as its sender settles it: `retry_at` when it is pending again, `error` when it failed."""

    message_id: int
    webhook_id: int | None
    state: str
    error: str | None = None
    retry_at: datetime | None = None


def event_body(event: str, now: datetime, data: dict, sequence: int | None = None) -> tuple[str, str]:
    """A new event's id, and the JSON every webhook of it is sent: {id, type, api_version, created_at, sequence,
    actor, data} (sequence:
    the booking's events numbered from 1, None when it is about no booking)."""
    event_id = "evt_" + secrets.token_urlsafe(12)
    body = {"id": event_id, "type": event, "api_version": API_VERSION, "created_at": now.isoformat()}
    body |= {"sequence": sequence, "actor": current_actor().as_json(), "data": data}
    return event_id, json.dumps(body, ensure_ascii=False, separators=(",", ":"))


def takes(events: str | None, event: str) -> bool:
    """Whether an endpoint that chose `events` (space-separated; None or empty: all) is sent this event."""
    return not events or event in events.split()


def retry_after(attempts: int, base: float) -> timedelta:
    """How long to wait after the `attempts`-th failure: doubling from `base` seconds, at most an hour."""
    return timedelta(seconds=min(base * 2 ** (attempts - 1), 3600))
