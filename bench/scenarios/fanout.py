"""Fan-out: one change to N open day pages, on Slotcast and the baselines; Slotcast against the smallest Quart SSE
app; and the soak, a change a second to many pages for a minute."""

from __future__ import annotations

import asyncio
import contextlib
import statistics

from bench.client import Subscribers, broadcasts
from bench.servers import Cluster, Server, minimal_quart, slotcast
from bench.workspace import WORK, log, pct

QUART_N = 3000  # the comparison: Slotcast's p99 against the smallest Quart SSE app's at 3,000 pages


async def fanout(server: Server | Cluster, n: int, changes: int, every: float, gzip: bool = False) -> dict:
    """N idle streams: time to open, RSS per connection, then `changes` broadcasts."""
    await server.astart()
    try:
        rss0 = server.rss()
        kiosk = server.name.startswith("slotcast")  # plus a kiosk topic: ten wall screens of the same venue
        async with (
            Subscribers(server, n, server.stream_path, gzip=gzip) as subs,
            Subscribers(server, 10, "/kiosk/harbour-kitchen/events", f"panel-{server.resource}")
            if kiosk
            else contextlib.nullcontext(),
        ):
            await asyncio.sleep(2)
            rss = server.rss()
            # (The kiosks' panel shows today, the bookings are tomorrow's: it renders as it was, and sends nothing.)
            result = await broadcasts(server, subs, changes, every)
            result.update(open_seconds=subs.open_seconds, rss_per_conn=(rss - rss0) / n, rss=rss)
    finally:
        await server.astop()
    return result


def summary(result: dict, n: int) -> dict:
    """A fan-out's row in the report's tables."""
    d = result["delays"]
    return dict(
        n=n,
        open_s=result["open_seconds"],
        p50_ms=pct(d, 50) * 1e3,
        p99_ms=pct(d, 99) * 1e3,
        max_ms=max(d) * 1e3,
        lost=result["lost"],
        kb_per_conn=result["rss_per_conn"] / 1024,
        answer_ms=statistics.median(result["answer"]) * 1e3,
        cpu_ms=result["cpu"] / result["count"] * 1e3,
        us_per_sub=result["cpu"] / result["count"] / n * 1e6,
        client_cpu_ms=result["client_cpu"] / result["count"] * 1e3,
        p99_by_port_ms=[p * 1e3 for p in result["p99_by_port"]],
    )


async def minimal_quart_ratio(seed: str, fragment: str, n: int, changes: int) -> list[dict]:
    """Slotcast (one process, SQLite) then the smallest Quart SSE app, back to back: the same fan-out at N. The
    Quart app sends a 100-byte message, as the issue's own trial did (Slotcast sends its whole day table)."""
    rows, small = [], WORK / "small.html"
    small.write_text('<span id="left">3 places left</span> <a href="/book/x/y/2026-11-25">Book</a>')
    for server, gzip in ((slotcast(seed), True), (slotcast(seed), False), (minimal_quart(str(small)), False)):
        result = await fanout(server, n, changes, 1.0, gzip)
        rows.append(dict(server=server.name + (" (gzip)" if gzip else ""), **summary(result, n)))
        log(rows[-1])
    return rows


async def soak(seed: str, n: int, seconds: int) -> dict:
    """`n` streams on one Slotcast process, one booking a second for `seconds`."""
    server = await slotcast(seed).astart()
    try:
        async with Subscribers(server, n, server.stream_path) as subs:
            await asyncio.sleep(2)
            return dict(n=n, seconds=seconds, **await broadcasts(server, subs, seconds, 1.0))
    finally:
        await server.astop()
