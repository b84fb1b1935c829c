"""The app's store and hub, as the views reach them."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from datetime import date

from quart import abort, current_app
from werkzeug.routing import IntegerConverter

from booking.hub import Hub
from booking.model import MAX_ID
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


class IdConverter(IntegerConverter):
    """A database id in a URL: 1 to 2**63 - 1, so a huge number is a 404, not an overflow."""

    regex = r"\d{1,19}"

    def __init__(self, map, *args, **kwargs):
        super().__init__(map, min=1, max=MAX_ID)


def parse_day(text: str) -> date:
    """A YYYY-MM-DD date from a URL or form, or a 400 that says what was wrong."""
    try:
        if len(text) == 10 and text[4] == text[7] == "-":
            return date.fromisoformat(text)
    except ValueError:
        pass
    abort(400, _("“%(text)s” is not a date. Use the form YYYY-MM-DD.", text=text[:40]))
