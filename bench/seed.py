"""Seed a benchmark database (run with the app's Python): the demo venues, plus a hall of 5-minute slots of 100
places, 08:00-20:00 every day (144 a day: over 1,000 bookable slots from tomorrow on), and beside it "release":
ten 10-minute slots of 10 places a day (100 in all), whose release rule (放号) the release scenario sets before its
run.

    .venv/bin/python -m bench.seed FILE_OR_URL   # a SQLite file, or a postgresql:// URL of an empty database
"""

import asyncio
import sys
from datetime import UTC, datetime, time
from pathlib import Path

from booking import demo
from booking.model import OpeningRule
from booking.store import open_store

ROOT = Path(__file__).resolve().parent.parent


async def main(target: str) -> None:
    store = open_store(target if "://" in target else f"sqlite:///{Path(target).resolve()}", ROOT)
    await store.open()
    await demo.seed(store)
    hall = await store.add_venue("bench-hall", "Bench Hall", "restaurant", "UTC")
    await store.add_resource(
        hall, "hall", "Hall", [OpeningRule(d, time(8), time(20), 5, 100) for d in range(7)], max_party=8, horizon_days=8
    )
    ten = [OpeningRule(d, time(9), time(10, 40), 10, 10) for d in range(7)]
    await store.add_resource(hall, "release", "Release", ten, max_party=1, horizon_days=8)
    await store.extend_slots(datetime.now(UTC))
    await store.close()


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1]))
