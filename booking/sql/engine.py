"""What an engine offers the store: a Database that runs transaction bodies on a Tx, and UniqueViolation."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any, Protocol, TypeVar

T = TypeVar("T")
Row = Mapping[str, Any]


class UniqueViolation(Exception):
    """A row would repeat a unique value (each engine turns its driver's error into this)."""


class Tx(Protocol):
    """One connection, inside a transaction for writes."""

    types: Mapping[str, str]  # the engine's column types for {id}, {ts} and {date} in MIGRATIONS

    async def fetch(self, sql: str, **params) -> list[Row]: ...
    async def fetch_one(self, sql: str, **params) -> Row | None: ...
    async def fetch_value(self, sql: str, **params) -> Any: ...
    async def execute(self, sql: str, **params) -> int: ...  # rows affected
    async def execute_many(self, sql: str, rows: Sequence[Mapping[str, Any]]) -> None: ...
    async def changed(self, *names: str) -> None: ...  # topics this transaction touches
    async def lock_schema(self) -> None: ...  # concurrent starts migrate one at a time


class Database(Protocol):
    """What an engine offers the store."""

    listening: bool  # whether other processes' changes reach this one now (always, for a one-process engine)

    def full(self) -> str | None: ...  # why the database has no room to grow, as far as this process sees

    async def open(self) -> None: ...
    async def close(self) -> None: ...
    async def read(self, body: Callable[..., Awaitable[T]], *args) -> T: ...
    async def write(self, body: Callable[..., Awaitable[T]], *args) -> tuple[T, list[str]]: ...  # and its topics
    async def listen(self, on_change: Callable[..., object], on_resync: Callable[[], object]) -> None: ...
