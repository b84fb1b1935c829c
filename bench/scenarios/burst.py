"""Bursts of bookings through the JSON API: many bookers on one slot at once, then a steady crowd over many slots."""

from __future__ import annotations

import asyncio
import json
import shutil
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from bench.client import booking_body, http
from bench.servers import slotcast
from bench.workspace import pct

UTC_DAYS = [(datetime.now(UTC) + timedelta(days=d)).date().isoformat() for d in range(1, 8)]


async def burst(seed: str, bookers: int, seconds: float) -> dict:
    """1,000 bookers at once on one 100-place slot; then 50 bookers for `seconds` over 1,000 slots."""
    server = await slotcast(seed).astart()
    try:
        hall = []
        for day in UTC_DAYS:
            _, body = await http(server.port, "GET", f"/api/v1/venues/bench-hall/resources/hall/slots?date={day}")
            hall += [s["id"] for s in json.loads(body)["slots"]]
        target, many = hall[0], hall[1:1001]

        async def book(slot_id: int) -> tuple[int, float]:
            began = time.monotonic()
            status, _ = await http(server.port, "POST", "/api/v1/bookings", booking_body(slot_id))
            return status, time.monotonic() - began

        answers = await asyncio.gather(*(book(target) for _ in range(bookers)))
        _, body = await http(server.port, "GET", f"/api/v1/venues/bench-hall/resources/hall/slots?date={UTC_DAYS[0]}")
        booked = next(s["booked"] for s in json.loads(body)["slots"] if s["id"] == target)
        times = [t for _, t in answers]
        result = dict(
            bookers=bookers,
            confirmed=sum(s == 201 for s, _ in answers),
            full=sum(s == 409 for s, _ in answers),
            booked=booked,
            p50_ms=pct(times, 50) * 1e3,
            p99_ms=pct(times, 99) * 1e3,
        )

        done, latencies, stop = 0, [], time.monotonic() + seconds

        async def booker(i: int) -> None:
            nonlocal done
            n = i
            while time.monotonic() < stop:
                status, took = await book(many[n % len(many)])
                assert status == 201, status
                done, n = done + 1, n + 50
                latencies.append(took)

        began = time.monotonic()
        await asyncio.gather(*(booker(i) for i in range(50)))
        result.update(
            per_second=done / (time.monotonic() - began),
            slots=len(many),
            many_p50_ms=pct(latencies, 50) * 1e3,
            many_p99_ms=pct(latencies, 99) * 1e3,
        )
    finally:
        await server.astop()
    return result


async def burst_on_tmpfs(seed: str, bookers: int, seconds: float) -> dict:
    """The same on tmpfs: SQLite's synchronous=FULL fsyncs each commit; this shows what the disk costs."""
    shm = Path(tempfile.mkdtemp(dir="/dev/shm", prefix="slotcast-bench-"))
    try:
        return await burst(str(shutil.copy(seed, shm / "seed.db")), bookers, seconds)
    finally:
        shutil.rmtree(shm, ignore_errors=True)
