"""The release (放号): day pages waiting for their day to open, and a crowd of bookers at its instant."""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
import shutil
import sqlite3
import time
from collections import Counter
from datetime import UTC, datetime, timedelta

from bench.client import Subscribers, answer_of, booking_body, http, request_bytes
from bench.servers import Cluster, Slotcast, slotcast
from bench.workspace import WORK, note, pct
from tests.support.postgres_server import PostgresServer

RELEASE_MARK = ">Book</a>"  # a Book link in the day's table: it is bookable (the load client asks for no language)
FULL_MARK = "!" + RELEASE_MARK  # then the first table with none: every slot shows Full (a party of 1 fits any other)
RELEASE_RESOURCE = (
    "SELECT r.id FROM resources r JOIN venues v ON v.id = r.venue_id WHERE v.slug = 'bench-hall' AND r.slug = 'release'"
)
RELEASE_PROCESSES = 2  # the PostgreSQL set-up: two processes behind a (client-side) load balancer


def error_code(status: int, body: bytes) -> str:
    """A refusal's `code` from the JSON API ("" for a 201; the status when the body says none)."""
    if status == 201:
        return ""
    try:
        return json.loads(body)["code"]
    except (ValueError, KeyError, TypeError):
        return str(status)


async def release_server(
    seed: str, rule: str, lead: float, pg: PostgresServer | None
) -> tuple[Slotcast | Cluster, int]:
    """Slotcast on a fresh copy of the seeded database with `rule` (SQL) written in before it starts, and the release
    resource's id: one process on SQLite, or (with `pg`) RELEASE_PROCESSES processes on PostgreSQL."""
    shown = re.sub(r"'\d\d:\d\d'", "'HH:MM'", rule)
    why = f"# HH:MM UTC: the first whole minute >= {lead:.0f} s ahead; then"
    if pg is None:
        db = WORK / "release.db"
        shutil.copy(seed, db)
        with contextlib.closing(sqlite3.connect(db)) as conn, conn:
            conn.execute(rule)
            (resource_id,) = conn.execute(RELEASE_RESOURCE).fetchone()
        note(f'sqlite3 WORK/release.db "{shown}"  {why} Slotcast on it')
        return await slotcast(str(db)).astart(), resource_id
    resource_id = int(pg.sql(RELEASE_RESOURCE, "seed"))  # "run" is its copy
    note(
        f'psql -h 127.0.0.1 -p PGPORT -U postgres -d run -c "{shown}"  {why} {RELEASE_PROCESSES} Slotcast '
        "processes on it (after CREATE DATABASE run TEMPLATE seed)"
    )
    return await Cluster(pg, RELEASE_PROCESSES, setup=(rule,)).astart(), resource_id


async def release(seed: str, pages: int, bookers: int, early: int = 5, pg: PostgresServer | None = None) -> dict:
    """放号: `pages` day pages wait for their day's release; at the instant `bookers` fire at its slots at once."""
    return await Release(seed, pages, bookers, early, pg).run()


class Release:
    """One release, its measurements kept as it goes.

    bench-hall's "release" resource (bench/seed.py: ten slots of 10 places a day, no limit per person) gets its
    rule in a copy of the seeded database just before the server starts: day D opens one day before, at the first
    whole minute (UTC, the venue's zone) that leaves `lead` seconds to start the server and open the pages. The
    rule has minute resolution, so the scenario waits up to a minute more for it. The bookers' connections are
    open 2.5 s before; `early` more bookings go 1 s before the instant, each on its own connection, and must be
    refused (409 not_open_yet). Delays run from the instant to a page's receipt of the first `slots` event with
    a Book link, and from the last place going (the last 201's arrival) to its receipt of the first one after it
    with none; the bookers' latency from their request's send to their answer. With `pg`: RELEASE_PROCESSES
    processes on PostgreSQL, the pages and the bookers (each slot's too) spread evenly over them.
    """

    def __init__(self, seed: str, pages: int, bookers: int, early: int, pg: PostgresServer | None):
        self.seed, self.pages, self.bookers, self.early, self.pg = seed, pages, bookers, early, pg
        # seconds: the server's start (~2 s; the cluster's processes one after another) and opening the pages
        # (5,000: ~3 s)
        self.lead = (15 if pg is None else 25) + pages * 0.004
        self.instant = (datetime.now(UTC) + timedelta(seconds=self.lead)).replace(second=0, microsecond=0) + timedelta(
            minutes=1
        )
        self.day = self.instant.date() + timedelta(days=1)

    async def run(self) -> dict:
        """The release from the rule's writing to the server's stop: its row in the report."""
        began = time.monotonic()
        rule = (
            f"UPDATE resources SET release_days_before = 1, release_time = '{self.instant:%H:%M}' "
            f"WHERE id = ({RELEASE_RESOURCE})"
        )
        server, resource_id = await release_server(self.seed, rule, self.lead, self.pg)
        self.ports = server.ports
        try:
            slots_path = f"/api/v1/venues/bench-hall/resources/release/slots?date={self.day}"
            await self.read_slots(server.port, slots_path)
            async with Subscribers(
                server, self.pages, f"/events/day/{resource_id}/{self.day}", marks=(RELEASE_MARK, FULL_MARK)
            ) as subs:
                cpu = await self.at_the_instant(server, subs)
            final = json.loads((await http(server.port, "GET", slots_path))[1])["slots"]
        finally:
            await server.astop()
        return self.row(final, cpu, time.monotonic() - began)

    async def read_slots(self, port: int, path: str) -> None:
        """Day D's slots, which must all open at the instant: their ids and places in all."""
        slots = json.loads((await http(port, "GET", path))[1])["slots"]
        if not slots or any(
            s["opens_at"] is None or datetime.fromisoformat(s["opens_at"]) != self.instant for s in slots
        ):
            raise RuntimeError(f"day {self.day} does not open at {self.instant:%H:%M} UTC: {slots}")
        self.ids, self.places = [s["id"] for s in slots], sum(s["capacity"] for s in slots)

    async def at_the_instant(self, server: Slotcast | Cluster, subs: Subscribers) -> float:
        """With the pages open: the rush, then the pages' wait for the news; the server's CPU seconds from 2.5 s
        before the instant."""
        self.open_seconds, self.ready = subs.open_seconds, time.monotonic()
        self.at = self.ready + (self.instant - datetime.now(UTC)).total_seconds()  # on CLOCK_MONOTONIC (the pages')
        if self.at - self.ready < 3:
            raise RuntimeError(
                f"the pages were open only {self.at - self.ready:.1f} s before the release: raise `lead`"
            )
        await asyncio.sleep(max(0.0, self.at - 2.5 - time.monotonic()))
        cpu0 = server.cpu()
        await self.rush()
        self.sold_out = sum(not c for c, _ in self.answers) >= self.places  # else no page can show the day full
        await self.watch(subs)
        return server.cpu() - cpu0

    async def rush(self) -> None:
        """The bookers' connections opened now, the early bookings 1 s before the instant, every booker's request
        sent at it: their answers (code, arrival) and send times."""
        ports, ids = self.ports, self.ids
        # booker i: process i mod P, slot (i div P) mod S — one process for all as before, and with P processes
        # each slot's bookers arrive at every one of them (a load balancer knows nothing of slots)
        connections = await asyncio.gather(
            *(asyncio.open_connection("127.0.0.1", ports[i % len(ports)]) for i in range(self.bookers))
        )
        requests = [
            request_bytes("POST", "/api/v1/bookings", booking_body(ids[i // len(ports) % len(ids)]))
            for i in range(self.bookers)
        ]

        async def too_early(i: int) -> tuple[str, float]:
            port, slot_id = ports[i % len(ports)], ids[i % len(ids)]
            status, body = await http(port, "POST", "/api/v1/bookings", booking_body(slot_id))
            return error_code(status, body), time.monotonic()

        async def booked(reader, writer) -> tuple[str, float]:
            status, body = await answer_of(reader, writer)
            return error_code(status, body), time.monotonic()

        await asyncio.sleep(max(0.0, self.at - 1 - time.monotonic()))
        probes = asyncio.gather(*(too_early(i) for i in range(self.early)))
        await asyncio.sleep(max(0.0, self.at - time.monotonic()))
        self.sent = []
        for (_, writer), request in zip(connections, requests):
            writer.write(request)
            self.sent.append(time.monotonic())
        self.answers = await asyncio.gather(*(booked(reader, writer) for reader, writer in connections))
        self.early_answers = await probes

    async def watch(self, subs: Subscribers) -> None:
        """When each page had the bookable table (`marked`) and the full one (`full`)."""
        deadline = time.monotonic() + 15  # every page should have both by now; wait a little for stragglers
        while True:
            self.marked, self.full = await subs.marked(0), await subs.marked(1)
            if (
                None not in self.marked and (None not in self.full or not self.sold_out)
            ) or time.monotonic() > deadline:
                break
            await asyncio.sleep(0.5)

    def row(self, final: list[dict], cpu: float, seconds: float) -> dict:
        """The release's row in the report's tables."""
        at, answers, sent, pages = self.at, self.answers, self.sent, self.pages
        delays = [t - at for t in self.marked if t is not None]
        codes = Counter(code for code, _ in answers)
        latencies = [done - s for (_, done), s in zip(answers, sent)]
        gone = max((t for c, t in answers if not c), default=at)  # the last place went: its 201 arrived
        shown_full = [t - gone for t in self.full if t is not None]
        return dict(
            setup=f"{len(self.ports)} processes, PostgreSQL" if self.pg else "one process, SQLite",
            pages=pages,
            bookers=self.bookers,
            slots=len(self.ids),
            places=self.places,
            release=self.instant.isoformat(),
            day=self.day.isoformat(),
            open_s=self.open_seconds,
            waited_s=at - self.ready,
            got=len(delays),
            lost=pages - len(delays),
            before=sum(d < 0 for d in delays),
            first_ms=min(delays, default=float("nan")) * 1e3,
            p50_ms=pct(delays, 50) * 1e3,
            p99_ms=pct(delays, 99) * 1e3,
            max_ms=max(delays, default=float("nan")) * 1e3,
            confirmed=codes.pop("", 0),
            booked=sum(s["booked"] for s in final),
            full=codes.pop("slot_full", 0),
            not_open_yet=codes.pop("not_open_yet", 0),
            other=dict(codes),
            sent_s=sent[-1] - sent[0] if sent else 0.0,
            book_p50_ms=pct(latencies, 50) * 1e3,
            book_p99_ms=pct(latencies, 99) * 1e3,
            sold_out_ms=(gone - at) * 1e3,
            sold_out=self.sold_out,
            last_answer_ms=(max((t for _, t in answers), default=at) - at) * 1e3,
            full_p50_ms=pct(shown_full, 50) * 1e3,
            full_p99_ms=pct(shown_full, 99) * 1e3,
            full_max_ms=max(shown_full, default=float("nan")) * 1e3,
            full_in_300=sum(d <= 0.3 for d in shown_full),
            full_never=pages - len(shown_full),
            early=self.early,
            early_refused=sum(c == "not_open_yet" and t < at for c, t in self.early_answers),
            early_codes=[c or "201" for c, _ in self.early_answers],
            cpu_s=cpu,
            seconds=seconds,
        )
