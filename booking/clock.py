"""The time the domain and the hub read: the system's, or one that tests move by hand."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

MAX_NAP = 60.0  # a real wait re-reads the clock at least this often (the wall clock may be set meanwhile)


class SystemClock:
    """The real time, in UTC."""

    def now(self) -> datetime:
        return datetime.now(UTC)

    async def wait(self, wake: asyncio.Event, until: datetime | None) -> None:
        """Return when `wake` is set or `until` (if any) has come, whichever is first."""
        timeout = MAX_NAP if until is None else min(MAX_NAP, max(0.0, (until - self.now()).total_seconds()))
        try:
            await asyncio.wait_for(wake.wait(), timeout)
        except TimeoutError:
            pass


class ManualClock:
    """A clock that stands still until told to move (tests steer time with it)."""

    def __init__(self, start: datetime):
        self._now = start
        self._waiting: set[asyncio.Event] = set()

    def now(self) -> datetime:
        return self._now

    def set(self, moment: datetime) -> None:
        """Jump to `moment`; whoever waits re-reads the time."""
        self._now = moment
        for wake in self._waiting:
            wake.set()

    def advance(self, **delta: float) -> None:
        """Move on by timedelta(**delta)."""
        self.set(self._now + timedelta(**delta))

    async def wait(self, wake: asyncio.Event, until: datetime | None) -> None:
        """Return when `wake` is set, or the clock is moved (the caller re-reads it)."""
        if until is not None and until <= self._now:
            return
        self._waiting.add(wake)
        try:
            await wake.wait()
        finally:
            self._waiting.discard(wake)
