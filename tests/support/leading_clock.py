"""`python app.py` on a clock that runs ahead of the real one by a lead the tests set, so that a release or a draw
at a whole minute can be seconds away instead of up to a minute away. LiveServer(..., leading_clock=True) starts it
as `python -m tests.support.leading_clock LEAD_FILE`; on SIGUSR1 it reads its new lead (seconds) from LEAD_FILE and
writes it back to LEAD_FILE.set. Time still passes as it does: a test moves where it stands once, before it sets up
anything that waits for an instant."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from datetime import datetime, timedelta
from pathlib import Path

from booking.clock import SystemClock


class LeadingClock(SystemClock):
    """The real time plus a lead; whoever waits re-reads the time when the lead changes (as with a ManualClock)."""

    def __init__(self):
        self.lead = timedelta(0)
        self._waiting: set[asyncio.Event] = set()

    def now(self) -> datetime:
        return super().now() + self.lead

    def lead_by(self, seconds: float) -> None:
        self.lead = timedelta(seconds=seconds)
        for wake in self._waiting:
            wake.set()

    async def wait(self, wake: asyncio.Event, until: datetime | None) -> None:
        self._waiting.add(wake)
        try:
            await super().wait(wake, until)
        finally:
            self._waiting.discard(wake)


async def main(lead_file: Path, bind: str) -> None:
    """Serve as `python app.py` does, on a LeadingClock that SIGUSR1 moves."""
    from app import create_app, serve

    clock = LeadingClock()

    def moved() -> None:
        lead = lead_file.read_text()
        clock.lead_by(float(lead))
        lead_file.with_name(lead_file.name + ".set").write_text(lead)

    asyncio.get_running_loop().add_signal_handler(signal.SIGUSR1, moved)
    await serve(create_app(clock=clock), bind)


if __name__ == "__main__":
    bind = f"{os.environ.get('HOST', '127.0.0.1')}:{os.environ.get('PORT', '8000')}"
    asyncio.run(main(Path(sys.argv[1]), bind))
