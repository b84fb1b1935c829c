"""A draw's results rendered in process: 20,000 entries, 5,000 entrant subscribers on the hub (no sockets), the
draw, then the time until every subscriber holds its own result. Run with the app's Python.

    .venv/bin/python -m bench.draw_renders [ENTRIES] [SUBSCRIBERS] [--profile]   # prints the figures
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import pstats
import tempfile
import time
from datetime import UTC, datetime, timedelta

from app import create_app
from bench.draw_entries import add_entries
from bench.draw_timing import draw_day
from booking import topics
from booking.draw import window


async def timed(entries: int, subscribers: int, profile: bool) -> str:
    with tempfile.TemporaryDirectory() as folder:
        app = create_app({"DATABASE_URL": f"sqlite:///{folder}/draw.db", "SECRET_KEY": "bench"})
        async with app.test_app():
            running = app.extensions["slotcast"]
            store, hub, now = running.store, running.hub, datetime.now(UTC)
            _venue, resource_id, day = await draw_day(store, now)
            draw_id, added = await add_entries(store, resource_id, day, entries, now)
            watching = []
            for entry_id, _reference, _token in added[:: max(1, len(added) // subscribers)][:subscribers]:
                sub = hub.subscribe(
                    (topics.entry(resource_id, day, entry_id), topics.draw(resource_id, day)), "en", True
                )
                for name in sub.topics:
                    await hub.first(name, "en")
                watching.append(sub)
            instant = window((await store.venue("bench-clinic")).resource(resource_id), day, "UTC")[1]
            renders, profiler = hub.renders, cProfile.Profile() if profile else None
            began, cpu = time.perf_counter(), time.process_time()
            if profiler:
                profiler.enable()
            await store.run_draw(draw_id, instant + timedelta(milliseconds=1))
            drawn = time.perf_counter()
            await asyncio.sleep(0)
            await hub.settle()
            done, cpu = time.perf_counter(), time.process_time() - cpu
            if profiler:
                profiler.disable()
                pstats.Stats(profiler).sort_stats("cumulative").print_stats(30)
            told = sum(1 for sub in watching if sub.pending)
    return (
        f"the draw of {entries:,} entries: {(drawn - began) * 1000:,.0f} ms; then {hub.renders - renders:,} renders, "
        f"{told:,} of {len(watching):,} subscribers told, in {(done - drawn) * 1000:,.0f} ms (CPU in all: "
        f"{cpu * 1000:,.0f} ms)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.draw_renders", description=__doc__.split("\n\n")[0])
    parser.add_argument("entries", nargs="?", type=int, default=20_000)
    parser.add_argument("subscribers", nargs="?", type=int, default=5_000)
    parser.add_argument("--profile", action="store_true", help="the draw and the renders under cProfile")
    args = parser.parse_args()
    print(asyncio.run(timed(args.entries, args.subscribers, args.profile)))


if __name__ == "__main__":
    main()
