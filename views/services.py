"""The app's store and hub, as the views reach them."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from datetime import date

from quart import abort, current_app

from booking.hub import Hub
from booking.store import Store

from .i18n import gettext as _


@dataclass
class Services:
    """What the app starts and stops: the store, the hub and the background loops."""

    store: Store
    hub: Hub
    loops: list[asyncio.Task] = field(default_factory=list)


def store() -> Store:
    """The open store."""
    return current_app.extensions["slotcast"].store


def hub() -> Hub:
    """The change hub."""
    return current_app.extensions["slotcast"].hub


def parse_day(text: str) -> date:
    """An ISO date from a URL, or a 400 that says what was wrong."""
    try:
        return date.fromisoformat(text)
    except ValueError:
        abort(400, _("“%(text)s” is not a date. Use the form YYYY-MM-DD.", text=text[:40]))
