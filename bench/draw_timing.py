"""Time one draw (抽签) of 20,000 entries at the store, on SQLite or PostgreSQL: no server, no pages (the bench's draw
scenario has 5,000 open entrant pages). Ten 10-minute sessions of 10 places (100 in all); parties of 1 or 2, up to
three preferred times each; the entries written straight into the database (bench.draw_entries), then the draw timed
alone, `--profile` under cProfile (the 25 costliest calls by cumulative time).

    .venv/bin/python -m bench.draw_timing [ENTRIES] [--postgres] [--profile]   # prints the figures
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import pstats
import tempfile
import time
from datetime import UTC, datetime, timedelta
from datetime import time as clock_time
from functools import partial
from pathlib import Path

from bench.draw_entries import add_entries
from booking.draw import window
from booking.model import OpeningRule, local_today
from booking.store import open_store

ROOT = Path(__file__).resolve().parent.parent


async def draw_day(store, now: datetime) -> tuple[str, int, object]:
    """A clinic with a draw resource whose day three days on has its instant tomorrow (entries open now)."""
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
    return venue, resource_id, local_today("UTC", now) + timedelta(days=3)


async def timed(url: str, entries: int, profile: bool, server_cpu=lambda: 0.0) -> str:
    now = datetime.now(UTC)
    store = open_store(url, ROOT)
    await store.open()
    try:
        _venue, resource_id, day = await draw_day(store, now)
        began = time.perf_counter()
        draw_id, _entries = await add_entries(store, resource_id, day, entries, now)
        entered = time.perf_counter() - began
        instant = window((await store.venue("bench-clinic")).resource(resource_id), day, "UTC")[1]
        profiler = cProfile.Profile() if profile else None
        began, cpu, served = time.perf_counter(), time.process_time(), server_cpu()
        if profiler:
            profiler.enable()
        drawn = await store.run_draw(draw_id, instant + timedelta(milliseconds=1))
        took, cpu, served = time.perf_counter() - began, time.process_time() - cpu, server_cpu() - served
        if profiler:
            profiler.disable()
            pstats.Stats(profiler).sort_stats("cumulative").print_stats(25)
    finally:
        await store.close()
    return (
        f"{drawn.entered:,} entries written in {entered:.1f} s; the draw: {took * 1000:,.0f} ms (CPU: {cpu * 1000:,.0f} ms this process, "
        f"{served * 1000:,.0f} ms the database server) for "
        f"{drawn.entered:,} entries and {drawn.places} places ({drawn.booked} booked, {drawn.waitlisted:,} "
        f"waitlisted) in one transaction"
    )


def server_cpu(pg) -> float:
    """CPU seconds PostgreSQL's processes used so far (the postmaster, its backends, and those that ended)."""
    from tests.support.live_server import cpu_seconds

    postmaster = int((pg.data / "postmaster.pid").read_text().split()[0])
    backends = Path(f"/proc/{postmaster}/task/{postmaster}/children").read_text().split()
    return cpu_seconds(postmaster, reaped=True) + sum(cpu_seconds(int(b)) for b in backends)


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.draw_timing", description=__doc__.split("\n\n")[0])
    parser.add_argument("entries", nargs="?", type=int, default=20_000)
    parser.add_argument("--postgres", action="store_true", help="on a throwaway PostgreSQL (fsync on)")
    parser.add_argument("--profile", action="store_true", help="the draw under cProfile")
    args = parser.parse_args()
    if args.postgres:
        from tests.support.postgres_server import PostgresServer

        pg = PostgresServer(durable=True).start()
        try:
            cpu = partial(server_cpu, pg)
            print(asyncio.run(timed(pg.create_database("draw"), args.entries, args.profile, cpu)), "on PostgreSQL")
        finally:
            pg.stop()
        return
    with tempfile.TemporaryDirectory() as folder:
        print(asyncio.run(timed(f"sqlite:///{folder}/draw.db", args.entries, args.profile)), "on SQLite")


if __name__ == "__main__":
    main()
