"""The release by draw (抽签): entrant pages waiting for their own result, and the draw at the instant."""

from __future__ import annotations

import asyncio
import json
import shutil
import subprocess
import time
from collections import Counter
from datetime import UTC, datetime, timedelta

from bench.client import Subscribers, http
from bench.scenarios.release import RELEASE_PROCESSES
from bench.servers import Cluster, Slotcast, slotcast
from bench.workspace import APP_PYTHON, ROOT, WORK, note, pct
from tests.support.postgres_server import PostgresServer

RESULT_MARK = '!data-status="entered"'  # the first entry event whose entry no longer stands: its result
DRAWN_MARK = 'class="drawn"'  # the draw's status once drawn ("Drawn at 08:00: …")
WATCHERS = 10  # public pages of the day's draw: when the drawn status first reaches one, the draw has committed


async def draw(seed: str, entries: int, pages: int, pg: PostgresServer | None = None) -> dict:
    """抽签: `entries` entries, `pages` of them with their page open; the draw at the instant."""
    return await Drawing(seed, entries, pages, pg).run()


class Drawing:
    """One draw, its measurements kept as it goes.

    bench-hall gets a "draw" resource (bench/draw_entries.py: ten 10-minute slots of 10 places a day, parties up
    to 2) released by draw one day before, at the first whole minute (UTC) that leaves `lead` seconds to write the
    entries, start the server and open the pages; its `entries` are written straight into a fresh copy of the seeded
    database, as the 24-hour entry window would have made them, before the server starts. `pages` entries, every
    k-th, have their page's stream open (GET /draws/REF/events?token=…), and WATCHERS public pages the day's draw
    stream. The server's own draw task draws at the instant. Delays run from the instant to a page's receipt of its
    first `draw-entry` event whose entry no longer stands (booked, waitlisted or none), and to a watcher's receipt
    of the drawn status (the draw committed, then rendered once); and to the draw's commit, as a reader polling its
    row every 5 ms from outside the server sees it (bench/draw_watch.py). With `pg`: RELEASE_PROCESSES processes on
    PostgreSQL, the pages spread evenly over them (each process may draw: one does).
    """

    def __init__(self, seed: str, entries: int, pages: int, pg: PostgresServer | None):
        self.seed, self.count, self.pages, self.pg = seed, entries, pages, pg
        # seconds: the entries (20,000: ~5 s), the server's start (~2 s; the cluster's one after another) and
        # opening the pages (5,000: ~3 s)
        self.lead = (15 if pg is None else 25) + pages * 0.004 + entries * 0.0004
        self.instant = (datetime.now(UTC) + timedelta(seconds=self.lead)).replace(second=0, microsecond=0) + timedelta(
            minutes=1
        )

    async def run(self) -> dict:
        """The draw from its entries' writing to the server's stop: its row in the report."""
        began = time.monotonic()
        server = await self.start()
        try:
            step = max(1, len(self.entries) // self.pages)
            paths = [f"/draws/{ref}/events?token={token}" for _id, ref, token in self.entries[::step][: self.pages]]
            public = f"/events/draw/{self.resource_id}/{self.day}"
            async with (
                Subscribers(server, WATCHERS, public, event="draw", marks=(DRAWN_MARK,)) as watchers,
                Subscribers(server, len(paths), paths, event="draw-entry", marks=(RESULT_MARK,)) as subs,
            ):
                cpu = await self.at_the_instant(server, subs, watchers)
            final = json.loads((await http(server.port, "GET", f"/api/v1/draws/bench-hall/draw/{self.day}"))[1])
        finally:
            await server.astop()
        return self.row(final, cpu, time.monotonic() - began)

    async def start(self) -> Slotcast | Cluster:
        """The entries written, then the server started on them: one process on SQLite, or RELEASE_PROCESSES on
        PostgreSQL (the entries go into its seeded template, which the cluster copies)."""
        target = self.pg.url("seed") if self.pg else str(WORK / "draw.db")
        if self.pg is None:
            shutil.copy(self.seed, target)
        out = WORK / "draw-entries.json"
        command = [APP_PYTHON, "-m", "bench.draw_entries", target, f"{self.instant:%H:%M}", str(self.count), str(out)]
        subprocess.run(command, check=True, cwd=ROOT)
        note(" ".join([*command[:3], "WORK/draw.db" if self.pg is None else "PG_SEED_URL", "HH:MM", *command[5:]]))
        written = json.loads(out.read_text())
        self.resource_id, self.day, self.entries = written["resource_id"], written["day"], written["entries"]
        self.database = self.pg.url("run") if self.pg else target + ".run"  # what the server runs on
        if self.pg is None:
            return await slotcast(target).astart()
        return await Cluster(self.pg, RELEASE_PROCESSES).astart()

    async def at_the_instant(self, server, subs: Subscribers, watchers: Subscribers) -> float:
        """With the pages open: the wait for the draw and every page's result; the server's CPU seconds from 2.5 s
        before the instant."""
        self.open_seconds, self.ready = subs.open_seconds, time.monotonic()
        self.at = self.ready + (self.instant - datetime.now(UTC)).total_seconds()  # on CLOCK_MONOTONIC (the pages')
        if self.at - self.ready < 3:
            raise RuntimeError(f"the pages were open only {self.at - self.ready:.1f} s before the draw: raise `lead`")
        await asyncio.sleep(max(0.0, self.at - 2.5 - time.monotonic()))
        cpu0 = server.cpu()
        watch = [APP_PYTHON, "-m", "bench.draw_watch", self.database, str(self.resource_id), self.day, "25"]
        note(" ".join([*watch[:3], "DATABASE", *watch[4:]]))
        row = await asyncio.create_subprocess_exec(*watch, cwd=ROOT, stdout=subprocess.PIPE)
        await asyncio.sleep(max(0.0, self.at - time.monotonic()))
        deadline = time.monotonic() + 20  # every page should have its result by now; a little for stragglers
        while True:
            await asyncio.sleep(0.5)
            self.results, self.drawn = await subs.marked(0), await watchers.marked(0)
            if (None not in self.results and None not in self.drawn) or time.monotonic() > deadline:
                break
        cpu = server.cpu() - cpu0
        self.committed = json.loads((await asyncio.wait_for(row.communicate(), 30))[0])["drawn"]
        return cpu

    def row(self, final: dict, cpu: float, seconds: float) -> dict:
        """The draw's row in the report's table."""
        delays = [t - self.at for t in self.results if t is not None]
        drawn = [t - self.at for t in self.drawn if t is not None]
        outcomes = Counter(r["outcome"] for r in final.get("results", []))
        return dict(
            setup=f"{RELEASE_PROCESSES} processes, PostgreSQL" if self.pg else "one process, SQLite",
            entries=final.get("entries", 0),
            pages=self.pages,
            places=final.get("places"),
            status=final.get("status"),
            booked=outcomes["booked"],
            waitlisted=outcomes["waitlisted"],
            none=outcomes["none"],
            release=self.instant.isoformat(),
            day=self.day,
            open_s=self.open_seconds,
            waited_s=self.at - self.ready,
            committed_ms=(self.committed - self.at) * 1e3 if self.committed else float("nan"),
            drawn_ms=min(drawn, default=float("nan")) * 1e3,
            drawn_last_ms=max(drawn, default=float("nan")) * 1e3,
            got=len(delays),
            lost=self.pages - len(delays),
            before=sum(d < 0 for d in delays),
            first_ms=min(delays, default=float("nan")) * 1e3,
            p50_ms=pct(delays, 50) * 1e3,
            p99_ms=pct(delays, 99) * 1e3,
            max_ms=max(delays, default=float("nan")) * 1e3,
            within_1s=sum(d <= 1.0 for d in delays),
            cpu_s=cpu,
            seconds=seconds,
        )
