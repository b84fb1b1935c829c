"""PostgreSQL store benchmark on a throwaway server: bookings/s on one hot slot and over many slots,
exactness under a rush, and how fast a booking's NOTIFY reaches listening stores.

    .venv/bin/python -m bench.pg_bookings [--seconds 5] [--concurrency 40] [--processes 1] [--no-fsync]

Each process is one worker's PostgreSQL store (asyncpg pool of 10) with `--concurrency` booking loops.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import statistics
import time as clock
from concurrent.futures import ProcessPoolExecutor
from datetime import UTC, datetime, time, timedelta
from pathlib import Path

from booking.errors import SlotFull
from booking.model import OpeningRule, local_today
from booking.store import open_store
from tests.support.postgres_server import PostgresServer

ROOT = Path(__file__).resolve().parent.parent
RESOURCES = 100  # "many slots" spreads over resources: each resource-day also has one ticket counter row


async def seed(url: str) -> tuple[int, list[int], int]:
    """A venue with RESOURCES resources (24 slots a day, huge capacity): the hot slot, all slots, a 500-place slot."""
    store = open_store(url, ROOT)
    await store.open()
    venue = await store.add_venue("bench", "Bench", "restaurant", "UTC")
    rules = [OpeningRule(d, time(0), time(23, 59), 60, 1_000_000) for d in range(7)]
    ids = [
        await store.add_resource(venue, f"r{i}", f"R{i}", rules, max_party=1, horizon_days=3) for i in range(RESOURCES)
    ]
    small = await store.add_resource(
        venue, "small", "Small", [OpeningRule(d, time(9), time(10), 60, 500) for d in range(7)], horizon_days=3
    )
    await store.extend_slots(datetime.now(UTC))
    tomorrow = local_today("UTC") + timedelta(days=1)
    slots = [s.id for rid in ids for s in await store.slots_for_day(rid, tomorrow)]
    rush = (await store.slots_for_day(small, tomorrow))[0].id
    await store.close()
    return slots[0], slots, rush


async def book_for(url: str, slot_ids: list[int], seconds: float, concurrency: int, start_at: float) -> int:
    """Book random slots of `slot_ids` from `concurrency` loops for `seconds`; how many were confirmed."""
    store = open_store(url, ROOT)
    await store.open()
    await asyncio.sleep(max(0.0, start_at - clock.time()))
    done, stop = 0, clock.monotonic() + seconds

    async def loop() -> None:
        nonlocal done
        while clock.monotonic() < stop:
            await store.book(random.choice(slot_ids), "Bench", "12345", 1, datetime.now(UTC))
            done += 1

    await asyncio.gather(*(loop() for _ in range(concurrency)))
    await store.close()
    return done


def book_in_process(*args) -> int:
    return asyncio.run(book_for(*args))


def throughput(url: str, slot_ids: list[int], args) -> float:
    """Bookings per second over all processes."""
    start_at = clock.time() + 1.5  # every process has its pool open by then
    with ProcessPoolExecutor(args.processes) as pool:
        runs = [
            pool.submit(book_in_process, url, slot_ids, args.seconds, args.concurrency, start_at)
            for _ in range(args.processes)
        ]
        return sum(run.result() for run in runs) / args.seconds


async def rush(url: str, slot_id: int, attempts: int) -> tuple[int, int]:
    """`attempts` bookers at once on a 500-place slot: (confirmed, booked as stored)."""
    store = open_store(url, ROOT)
    await store.open()
    results = await asyncio.gather(
        *(store.book(slot_id, "Rush", "12345", 1, datetime.now(UTC)) for _ in range(attempts)), return_exceptions=True
    )
    assert all(isinstance(r, SlotFull) for r in results if isinstance(r, BaseException)), results
    booked = (await store.slot(slot_id)).booked
    await store.close()
    return sum(not isinstance(r, BaseException) for r in results), booked


async def delivery(url: str, slot_ids: list[int], listeners: int, count: int) -> tuple[list[float], list[float]]:
    """Seconds from the start of a booking until each listening store heard of it; the bookings' own seconds."""
    booker = open_store(url, ROOT)
    stores = [open_store(url, ROOT) for _ in range(listeners)]
    heard: list[float] = []
    started: list[float] = [0.0]
    ready = asyncio.Queue()
    for store in [booker, *stores]:
        await store.open()
    tasks = [
        asyncio.create_task(
            s.listen(lambda *_: heard.append(clock.perf_counter() - started[0]), lambda: ready.put_nowait(1))
        )
        for s in stores
    ]
    for _ in stores:
        await ready.get()
    delays, bookings = [], []
    for _ in range(count):
        heard.clear()
        started[0] = clock.perf_counter()
        await booker.book(random.choice(slot_ids), "Bench", "12345", 1, datetime.now(UTC))
        bookings.append(clock.perf_counter() - started[0])
        while len(heard) < listeners:
            await asyncio.sleep(0.0005)
        delays += heard
        await asyncio.sleep(0.005)
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    for store in [booker, *stores]:
        await store.close()
    return delays, bookings


def ms(values: list[float], q: float) -> float:
    return statistics.quantiles(values, n=100)[q - 1] * 1000 if q < 100 else max(values) * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--concurrency", type=int, default=40, help="booking loops per process")
    parser.add_argument("--processes", type=int, default=1, help="worker processes, each with its own pool")
    parser.add_argument("--no-fsync", action="store_true", help="fsync=off, as in the tests (not durable)")
    args = parser.parse_args()

    server = PostgresServer(durable=not args.no_fsync).start()
    try:
        url = server.create_database("bench")
        hot, slots, small = asyncio.run(seed(url))
        print(
            f"PostgreSQL {server.sql('SHOW server_version').strip()}, fsync {'off' if args.no_fsync else 'on'};"
            f" {args.processes} process(es) x pool 10 x {args.concurrency} loops, {args.seconds:.0f} s each"
        )
        print(f"one hot slot:         {throughput(url, [hot], args):7.0f} bookings/s")
        print(f"{len(slots)} slots (random): {throughput(url, slots, args):7.0f} bookings/s")
        confirmed, booked = asyncio.run(rush(url, small, 3000))
        print(f"rush: 3000 at once on 500 places -> {confirmed} confirmed, {booked} booked")
        delays, bookings = asyncio.run(delivery(url, slots, listeners=4, count=300))
        print(
            f"booking start -> NOTIFY heard by 4 listening stores (ms): p50 {ms(delays, 50):.2f},"
            f" p99 {ms(delays, 99):.2f}, max {ms(delays, 100):.2f} over {len(delays)}"
            f" (the booking itself: p50 {ms(bookings, 50):.2f})"
        )
    finally:
        server.stop()


if __name__ == "__main__":
    main()
