"""The storage contract, and the factory that opens a store from a database URL."""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path
from typing import Protocol
from urllib.parse import urlsplit

from .model import Booking, OpeningRule, Slot, Venue


class Store(Protocol):
    """Async storage; every capacity check happens inside the database."""

    async def open(self) -> None: ...
    async def close(self) -> None: ...
    async def venues(self) -> list[Venue]: ...
    async def venue(self, slug: str) -> Venue | None: ...
    async def venue_of_resource(self, resource_id: int) -> Venue | None: ...
    async def slots_for_day(self, resource_id: int, day: date) -> list[Slot]: ...
    async def slot(self, slot_id: int) -> Slot | None: ...
    async def book(
        self, slot_id: int, name: str, contact: str, party_size: int, now: datetime,
        idempotency_key: str | None = None,
    ) -> tuple[Booking, Slot]: ...
    async def booking(self, reference: str) -> tuple[Booking, Slot] | None: ...
    async def cancel(self, reference: str, token: str, now: datetime) -> tuple[Booking, Slot, bool]: ...
    async def free_slots_near(self, slot: Slot, party_size: int, now: datetime, limit: int = 3) -> list[Slot]: ...
    async def extend_slots(self, now: datetime) -> int: ...
    async def add_venue(self, slug: str, name: str, kind: str, timezone: str) -> int: ...
    async def add_resource(
        self, venue_id: int, slug: str, name: str, rules: list[OpeningRule], *,
        max_party: int = 1, horizon_days: int = 14, min_notice_minutes: int = 0,
    ) -> int: ...


def sqlite_path(url: str, root: Path) -> Path:
    """The file of a `sqlite:///relative` or `sqlite:////absolute` URL."""
    path = url.removeprefix("sqlite:///")
    return Path(path) if path.startswith("/") else root / path


def open_store(url: str, root: Path) -> Store:
    """A store for the URL's engine (not yet opened)."""
    scheme = urlsplit(url).scheme
    if scheme == "sqlite":
        from .sqlite import SqliteStore

        return SqliteStore(sqlite_path(url, root))
    raise ValueError(f"unsupported database URL: {url!r} (use sqlite:///…)")
