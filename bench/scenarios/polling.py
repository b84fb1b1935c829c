"""Polling versus push: 1,000 pages GETting the day's JSON every 5 s, or holding its stream open."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import time

from bench.client import LONDON_TOMORROW, SOURCES, Subscribers, broadcasts, http
from bench.servers import slotcast
from bench.workspace import BENCH, log, note, pct


def poll_path() -> str:
    return f"/api/v1/venues/harbour-kitchen/resources/terrace/slots?date={LONDON_TOMORROW}"


def booked_total(body: dict) -> int:
    return sum(s["booked"] for s in body["slots"])


async def polling_vs_push(seed: str, pages: int, seconds: float) -> list[dict]:
    """The same 1,000 pages polling every 5 s, or held open by SSE, with bookings at a steady rate."""
    rows = []
    for mode, every in (("poll every 5 s", 10.0), ("push", 1.0), ("push", 10.0)):
        server = await slotcast(seed).astart()
        try:
            total0 = booked_total(json.loads((await http(server.port, "GET", poll_path()))[1]))
            cpu0, began = server.cpu(), time.monotonic()
            if mode == "push":
                async with Subscribers(server, pages, server.stream_path) as subs:
                    cpu0, began = server.cpu(), time.monotonic()
                    bytes0 = await subs.bytes()
                    result = await broadcasts(server, subs, max(1, int(seconds / every)), every)
                    await asyncio.sleep(max(0.0, began + seconds - time.monotonic()))
                    sent_bytes, staleness = await subs.bytes() - bytes0, result["delays"]
                    unseen, errors = result["lost"], 0
            else:
                sent_bytes, staleness, unseen, errors = await polled(server, pages, seconds, every, began, total0)
            cpu = server.cpu() - cpu0
            elapsed = time.monotonic() - began
        finally:
            await server.astop()
        label = f"{mode}, 1 booking / {every:g} s"
        rows.append(
            dict(
                mode=label,
                cpu_s_per_min=cpu / elapsed * 60,
                mb_per_min=sent_bytes / elapsed * 60 / 1e6,
                stale_p50_ms=pct(staleness, 50) * 1e3,
                stale_p99_ms=pct(staleness, 99) * 1e3,
                unseen=unseen,
                errors=errors,
            )
        )
        log(rows[-1])
    return rows


async def polled(
    server, pages: int, seconds: float, every: float, began: float, total0: int
) -> tuple[int, list[float], int, int]:
    """`pages` polling pages (load.py poll) while bookings go one every `every` s: bytes received, staleness of
    each booking on each page, bookings no page showed by the end, keep-alive connections reopened."""
    poller = await asyncio.create_subprocess_exec(
        sys.executable,
        str(BENCH / "load.py"),
        "poll",
        str(server.port),
        poll_path(),
        str(pages),
        "5",
        str(seconds),
        SOURCES,
        stdout=subprocess.PIPE,
        limit=2**28,
    )
    note(f"bench/.venv/bin/python bench/load.py poll PORT '{poll_path()}' {pages} 5 {seconds:g} {SOURCES}")
    sent = {}
    for k in range(1, int(seconds / every) + 1):
        await asyncio.sleep(max(0.0, began + k * every - 5 - time.monotonic()))
        sent[k] = (await server.trigger(k))[0]
    answer = json.loads(await poller.stdout.readline())
    await poller.wait()
    seen = [
        next((t for t, total in page if t >= at and total - total0 >= k), None)
        for page in answer["answers"]
        for k, at in sent.items()
    ]
    staleness = [t - at for t, at in zip(seen, [at for _ in answer["answers"] for at in sent.values()]) if t]
    return answer["bytes"], staleness, seen.count(None), answer["errors"]  # a booking just before the end: no poll left
