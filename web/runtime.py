"""What the running app holds — store, service, hub, clock — as the views reach it."""

from __future__ import annotations

from contextvars import ContextVar
from dataclasses import dataclass
from datetime import datetime

from quart import current_app

from booking.hub import Hub
from booking.service import Service
from booking.store import Store
from booking.tasks import Readiness, Supervisor


@dataclass
class Runtime:
    """What the app starts and stops: the store, the service over it, the hub, the clock, the background tasks and
    the readiness they keep."""

    store: Store
    service: Service
    hub: Hub
    clock: object
    tasks: Supervisor
    readiness: Readiness
    draining: bool = False  # shutting down: /readyz says so before the streams are told to close


def runtime() -> Runtime:
    return current_app.extensions["slotcast"]


def store() -> Store:
    """The open store (reads; writes go through the service)."""
    return runtime().store


def service() -> Service:
    """Every write: bookings, the line, venues and schedules."""
    return runtime().service


def hub() -> Hub:
    """The change hub."""
    return runtime().hub


RENDER_AT: ContextVar[datetime | None] = ContextVar("render_at", default=None)  # set by a render made ahead


def now() -> datetime:
    """The app clock's time (UTC); in a render the hub makes ahead of a moment, that moment."""
    return RENDER_AT.get() or runtime().clock.now()
