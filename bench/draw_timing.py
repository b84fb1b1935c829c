"""Time one draw (抽签) of 20,000 entries on SQLite, at the store: no server, no pages (the bench's scenario with 5,000
open entrant pages is another matter). Ten 10-minute sessions of 10 places (100 in all); parties of 1 or 2, up to three
preferred times each; the entries made through the store, a crowd at a time (group commit), then the draw timed alone.

    .venv/bin/python -m bench.draw_timing [ENTRIES]   # prints the figures
"""

import asyncio
import random
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from datetime import time as clock_time
from pathlib import Path

from booking.draw import window
from booking.model import OpeningRule, local_today
from booking.store import open_store

ROOT = Path(__file__).resolve().parent.parent
CROWD = 500  # entries made at once: one group commit each


async def main(entries: int) -> None:
    now = datetime.now(UTC)
    with tempfile.TemporaryDirectory() as folder:
        store = open_store(f"sqlite:///{folder}/draw.db", ROOT)
        await store.open()
        venue = await store.add_venue("bench-clinic", "Bench Clinic", "clinic", "UTC")
        sessions = [OpeningRule(d, clock_time(9), clock_time(10, 40), 10, 10) for d in range(7)]
        resource_id = await store.add_resource(
            venue,
            "expert",
            "Expert",
            sessions,
            max_party=2,
            horizon_days=8,
            release_days_before=2,
            release_time=clock_time(8),
            release_mode="draw",
            draw_entry_hours=72,
            now=now,
        )
        day = local_today("UTC", now) + timedelta(days=3)  # its instant is tomorrow at 08:00: entries open now
        slots = [s.id for s in await store.slots_for_day(resource_id, day)]
        shuffle = random.Random(1)

        async def enter(n: int) -> None:
            wishes = tuple(shuffle.sample(slots, shuffle.randint(1, 3)))
            await store.enter_draw(resource_id, day, f"Entrant {n}", f"entrant{n}@example.org", 1 + n % 2, wishes, now)

        began = time.perf_counter()
        for first in range(0, entries, CROWD):
            await asyncio.gather(*(enter(n) for n in range(first, min(first + CROWD, entries))))
        entered = time.perf_counter() - began
        draw = await store.draw(resource_id, day)
        instant = window((await store.venue("bench-clinic")).resource(resource_id), day, "UTC")[1]
        began = time.perf_counter()
        drawn = await store.run_draw(draw.id, instant + timedelta(milliseconds=1))
        took = time.perf_counter() - began
        await store.close()
    print(f"{drawn.entered:,} entries made in {entered:.1f} s ({drawn.entered / entered:,.0f}/s)")
    print(
        f"the draw: {took * 1000:,.0f} ms for {drawn.entered:,} entries and {drawn.places} places "
        f"({drawn.booked} booked, {drawn.waitlisted:,} waitlisted) in one transaction, on SQLite"
    )


if __name__ == "__main__":
    asyncio.run(main(int(sys.argv[1]) if len(sys.argv) > 1 else 20_000))
