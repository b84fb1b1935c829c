"""`make bench`: Slotcast under Hypercorn, side by side with a Node `http`, a uvicorn + sse-starlette and a minimal
Quart + Hypercorn baseline.

    bench/.venv/bin/python bench/run.py [--quick] [--sizes 1000,5000] [--only fanout,quart,soak,...] [--name NAME]
                                        [--release PAGES,BOOKERS]

Slotcast runs as one process on SQLite, and scaled out as the README says: one process per core on one
PostgreSQL database (a throwaway server, as the tests start). Everything runs on 127.0.0.1; every loop is bounded
in count and time. Writes bench/results/results.{md,png,json} (results-quick.* with --quick).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import itertools
import json
import os
import platform
import re
import shlex
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
sys.path.insert(0, str(ROOT))  # the tests' harness and throwaway PostgreSQL (tests.support): stdlib only
from tests.support.live_server import LiveServer, cpu_seconds, raise_open_files_limit  # noqa: E402
from tests.support.postgres_server import PostgresServer  # noqa: E402

PEOPLE = itertools.count(1)  # a new contact per booking: the demo venues limit bookings per person

RESULTS = BENCH / "results"
APP_PYTHON = str(ROOT / ".venv" / "bin" / "python")
SOURCES = ",".join(f"127.0.0.{i}" for i in range(1, 9))  # spreads the client ports over 8 source addresses
LONDON_TOMORROW = (datetime.now(ZoneInfo("Europe/London")) + timedelta(days=1)).date().isoformat()
UTC_DAYS = [(datetime.now(UTC) + timedelta(days=d)).date().isoformat() for d in range(1, 8)]
COMMANDS: list[str] = []
ALIASES: dict[str, str] = {}  # text -> what the report shows instead (e.g. PostgreSQL's port)
WORK = Path(tempfile.mkdtemp(prefix="slotcast-bench-"))


def note(command: str, port: int = 0) -> None:
    """Keep a command for the report, in a form that can be run again."""
    command = command.replace(str(WORK), "WORK").replace(str(ROOT) + "/", "").replace(sys.executable, "bench/.venv/bin/python")
    command = command.replace(f"={port}", "=PORT").replace(f" {port} ", " PORT ") if port else command
    for text, alias in ALIASES.items():
        command = command.replace(text, alias)
    if command not in COMMANDS:
        COMMANDS.append(command)


def log(*args) -> None:
    print(f"[{time.strftime('%H:%M:%S')}]", *args, flush=True)


def pct(values: list[float], p: float) -> float:
    """The p-th percentile (nearest rank) of `values`, in the same unit."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(p / 100 * len(ordered)) - 1))] if ordered else float("nan")


def request_bytes(method: str, path: str, body: dict | None = None) -> bytes:
    """One HTTP/1.1 request (JSON body, Connection: close), as it goes on the wire."""
    data = json.dumps(body).encode() if body is not None else b""
    return (f"{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n"
            f"Content-Type: application/json\r\nContent-Length: {len(data)}\r\n\r\n".encode() + data)


async def answer_of(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> tuple[int, bytes]:
    """The answer to a request sent on this connection, read to its end: (status, body)."""
    try:
        answer = await asyncio.wait_for(reader.read(), 30)
    finally:
        writer.close()
    head, _, text = answer.partition(b"\r\n\r\n")
    return int(head.split(b" ", 2)[1]), text


async def http(port: int, method: str, path: str, body: dict | None = None) -> tuple[int, bytes]:
    """One request on its own connection: (status, body)."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(request_bytes(method, path, body))
    return await answer_of(reader, writer)


# -- servers


class Server(LiveServer):
    """One server under test, by the tests' harness: Slotcast (`config`: its settings) or a baseline's `command`."""

    stream_path = "/events"

    def __init__(self, name: str, command: list[str] | None = None, **config):
        super().__init__(WORK, python=APP_PYTHON, command=command, **config)
        self.name, self.log_path = name, RESULTS / f"{name}.log.tmp"

    async def astart(self) -> Server:
        added = {k: v for k, v in self.env.items() if os.environ.get(k) != v}
        note(" ".join([*(f"{k}={v}" for k, v in added.items()), *self.command]), self.port)
        return await super().astart(timeout=30)

    async def astop(self) -> None:
        """SIGTERM (kill -9 after 10 s); an unclean exit is logged, and the run goes on."""
        if self.process is not None:
            try:
                await super().astop(timeout=10)
            except AssertionError as error:
                log(f"{self.name}: {str(error).splitlines()[0]}")

    @property
    def ports(self) -> list[int]:
        """Where its streams connect (a cluster has several)."""
        return [self.port]

    async def trigger(self, version: int) -> tuple[float, float]:
        """Cause one change: the monotonic times its request was sent and its 201 arrived."""
        sent = time.monotonic()
        status, _ = await http(self.port, "POST", "/publish", {})
        assert status == 201, status
        return sent, time.monotonic()


async def day_stream(port: int) -> str:
    """The path of the terrace's day stream for tomorrow, as Slotcast's own day page connects to it."""
    _, page = await http(port, "GET", f"/book/harbour-kitchen/terrace/{LONDON_TOMORROW}")
    return re.search(rb'sse-connect="([^"]+)"', page).group(1).decode()


async def terrace_slots(port: int) -> list[int]:
    """Tomorrow's terrace slots: the changes of the fan-out are bookings there, in turn."""
    _, body = await http(port, "GET", f"/api/v1/venues/harbour-kitchen/resources/terrace/slots?date={LONDON_TOMORROW}")
    return [s["id"] for s in json.loads(body)["slots"]]


async def book(port: int, slot_id: int) -> tuple[float, float]:
    """One booking through the JSON API: the monotonic times its request was sent and its 201 arrived."""
    sent = time.monotonic()
    status, body = await http(port, "POST", "/api/v1/bookings",
                              {"slot_id": slot_id, "name": "Bench", "contact": f"bench{next(PEOPLE)}@example.com"})
    assert status == 201, (status, body)
    return sent, time.monotonic()


class Slotcast(Server):
    """Slotcast (python app.py: Hypercorn, one process) on a fresh copy of the seeded database."""

    slots: list[int]

    async def astart(self) -> Slotcast:
        shutil.copy(self.seed, self.seed + ".run")
        for suffix in ("-wal", "-shm"):
            Path(self.seed + ".run" + suffix).unlink(missing_ok=True)
        await super().astart()
        self.slots = await terrace_slots(self.port)
        return self

    async def trigger(self, version: int) -> tuple[float, float]:
        return await book(self.port, self.slots[version % len(self.slots)])


DAY = {"path": "", "resource": ""}  # Slotcast's day stream, found on its day page at start


def slotcast_config(url: str, **config) -> dict:
    # every client of the bench shares one address: no stream cap per client, no booking rate per address
    return dict(DATABASE_URL=url, SECRET_KEY="bench", SSE_MAX_PER_CLIENT=20000, SSE_MAX_STREAMS=20000,
                BOOKINGS_PER_MINUTE=0, **config)


def slotcast(seed: str, **config) -> Slotcast:
    s = Slotcast("slotcast", **slotcast_config(f"sqlite:///{seed}.run", **config))
    s.stream_path, s.resource, s.seed = DAY["path"], DAY["resource"], seed
    return s


class Cluster:
    """Slotcast scaled out as the README says: `size` processes (python app.py, same secret key) on one PostgreSQL
    database, changes crossing between them by LISTEN/NOTIFY. The streams are spread over all the processes;
    the bookings go through the first, so the others learn of each change from PostgreSQL."""

    def __init__(self, pg: PostgresServer, size: int, setup: tuple[str, ...] = ()):
        self.pg, self.name, self.setup = pg, f"slotcast ×{size} (PostgreSQL)", setup  # setup: SQL run on the copy
        self.workers = [Server(f"slotcast-pg{i}", **slotcast_config(pg.url("run"))) for i in range(size)]

    async def astart(self) -> Cluster:
        self.pg.drop_database("run")
        self.pg.sql("CREATE DATABASE run TEMPLATE seed")  # a fresh copy of the seeded database
        note("psql -h 127.0.0.1 -p PGPORT -U postgres -c 'CREATE DATABASE run TEMPLATE seed'  # after DROP DATABASE run")
        for statement in self.setup:  # before the processes start: they read it as a fresh deployment would
            self.pg.sql(statement, "run")
        try:
            for worker in self.workers:
                await worker.astart()
        except BaseException:
            await self.astop()
            raise
        self.port = self.workers[0].port
        self.stream_path = await day_stream(self.port)
        self.resource, self.slots = self.stream_path.split("/")[3], await terrace_slots(self.port)
        return self

    async def astop(self) -> None:
        await asyncio.gather(*(w.astop() for w in self.workers))

    @property
    def ports(self) -> list[int]:
        return [w.port for w in self.workers]

    def rss(self) -> int:
        return sum(w.rss() for w in self.workers)

    def cpu(self) -> float:
        """The processes' CPU seconds plus PostgreSQL's (the postmaster, its backends, and those that ended)."""
        postmaster = int((self.pg.data / "postmaster.pid").read_text().split()[0])
        backends = Path(f"/proc/{postmaster}/task/{postmaster}/children").read_text().split()
        return (sum(w.cpu() for w in self.workers) + cpu_seconds(postmaster, reaped=True)
                + sum(cpu_seconds(int(b)) for b in backends))

    async def trigger(self, version: int) -> tuple[float, float]:
        return await book(self.port, self.slots[version % len(self.slots)])


def baselines(fragment: str) -> list[Server]:
    return [Server("node", ["node", "bench/baselines/node_sse.js", "{port}", fragment]),
            Server("uvicorn", [sys.executable, "bench/baselines/starlette_sse.py", "{port}", fragment]),
            minimal_quart(fragment)]


def minimal_quart(fragment: str) -> Server:
    """The smallest plausible Quart SSE app, on the app's venv: the same Quart and Hypercorn as Slotcast."""
    return Server("quart", [APP_PYTHON, "bench/baselines/quart_sse.py", "{port}", fragment])


# -- load client workers


class Subscribers:
    """`count` SSE streams over several load.py processes, spread over the server's ports. With `marks`, each stream
    also keeps when the first event meeting each arrived, in turn (`marked(k)`; load.py's MARK)."""

    def __init__(self, server: Server, count: int, path: str, event: str = "slots", processes: int = 2,
                 marks: tuple[str, ...] = (), gzip: bool = False):
        self.server, self.count, self.path, self.event, self.marks = server, count, path, event, marks
        self.mode = "sse-gzip" if gzip else "sse"  # gzip: as a browser asks (Slotcast only: the baselines send identity)
        self.ports = server.ports
        self.processes = max(len(self.ports), processes if count >= 1000 else 1)
        self.workers: list[asyncio.subprocess.Process] = []

    async def __aenter__(self) -> Subscribers:
        share = [self.count // self.processes + (i < self.count % self.processes) for i in range(self.processes)]
        argv, marks = [sys.executable, str(BENCH / "load.py"), self.mode], list(self.marks)
        note(" ".join(argv + ["PORT", self.path, "COUNT", self.event, SOURCES, *map(shlex.quote, marks)]))
        self.workers = [await asyncio.create_subprocess_exec(
            *argv, str(self.ports[i % len(self.ports)]), self.path, str(n), self.event, SOURCES, *marks,
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, limit=2**28) for i, n in enumerate(share)]
        try:
            opened = [await self._read(w) for w in self.workers]
            failed = sum(o["failed"] for o in opened)
            if failed:
                raise RuntimeError(f"{failed} of {self.count} streams failed to open: "
                                   f"{next(o['error'] for o in opened if o['error'])}")
        except BaseException:
            await self.__aexit__()
            raise
        self.open_seconds = max(o["done"] for o in opened) - min(o["began"] for o in opened)
        return self

    async def _read(self, worker) -> dict:
        line = await asyncio.wait_for(worker.stdout.readline(), 120)
        if not line:
            raise RuntimeError("a load worker died")
        return json.loads(line)

    async def ask(self, command: str) -> list[dict]:
        for w in self.workers:
            w.stdin.write(command.encode() + b"\n")
        await asyncio.gather(*(w.stdin.drain() for w in self.workers))
        return [await self._read(w) for w in self.workers]

    async def report(self, first: int, last: int) -> tuple[dict[int, list[float]], int, dict[int, dict]]:
        """Arrival times per event id, how many streams missed an id for good, and the arrival times by port."""
        times: dict[int, list[float]] = {k: [] for k in range(first, last + 1)}
        by_port = {port: {k: [] for k in times} for port in self.ports}
        lost = 0
        for i, answer in enumerate(await self.ask(f"report {first} {last}")):
            for k, ts in answer["times"].items():
                times[int(k)] += ts
                by_port[self.ports[i % len(self.ports)]][int(k)] += ts
            lost += sum(answer["lost"].values())
        return times, lost, by_port

    async def bytes(self) -> int:
        return sum(a["bytes"] for a in await self.ask("bytes"))

    async def marked(self, k: int = 0) -> list[float | None]:
        """Per stream, when the event meeting the k-th mark arrived (None: none yet)."""
        return [t for a in await self.ask(f"marked {k}") for t in a["times"]]

    def cpu(self) -> float:
        """CPU seconds the load workers used so far (they share the cores with the servers)."""
        return sum(cpu_seconds(w.pid) for w in self.workers)

    async def __aexit__(self, *exc) -> None:
        for w in self.workers:
            if w.returncode is None:
                w.stdin.write(b"quit\n")
        try:
            await asyncio.wait_for(asyncio.gather(*(w.wait() for w in self.workers)), 30)
        except TimeoutError:
            for w in self.workers:
                if w.returncode is None:
                    w.kill()


async def broadcasts(server: Server, subs: Subscribers, count: int, every: float) -> dict:
    """`count` changes, one every `every` s; per change the delay from its request to each stream's receipt.

    Measured from the change's request being sent, not from its 201: the baselines answer 201 after queueing
    every write (Node after writing them all), Slotcast answers first and then fans out, so "from the 201"
    would flatter the baselines by their whole fan-out time.
    """
    cpu0, client0, sent, answered = server.cpu(), subs.cpu(), {}, {}
    began = time.monotonic()
    for k in range(1, count + 1):
        await asyncio.sleep(max(0.0, began + (k - 1) * every - time.monotonic()))
        sent[k], answered[k] = await server.trigger(k)
    await asyncio.sleep(max(2.0, every))  # a late delivery would count as lost
    cpu, client_cpu = server.cpu() - cpu0, subs.cpu() - client0
    times, lost, by_port = await subs.report(1, count)
    delays = [t - sent[k] for k, ts in times.items() for t in ts]
    per_change = [max(ts) - sent[k] if ts else float("inf") for k, ts in times.items()]
    p99_per_change = [pct([t - sent[k] for t in ts], 99) for k, ts in times.items()]
    p99_by_port = [pct([t - sent[k] for k, ts in port.items() for t in ts], 99) for port in by_port.values()]
    return dict(delays=delays, per_change=per_change, p99_per_change=p99_per_change, lost=lost, cpu=cpu, count=count,
                client_cpu=client_cpu, answer=[answered[k] - sent[k] for k in sent], p99_by_port=p99_by_port)


# -- scenarios


async def fanout(server: Server | Cluster, n: int, changes: int, every: float, gzip: bool = False) -> dict:
    """N idle streams: time to open, RSS per connection, then `changes` broadcasts."""
    await server.astart()
    try:
        rss0 = server.rss()
        kiosk = server.name.startswith("slotcast")  # plus a kiosk topic: ten wall screens of the same venue
        async with (Subscribers(server, n, server.stream_path, gzip=gzip) as subs,
                    Subscribers(server, 10, "/kiosk/harbour-kitchen/events", f"panel-{server.resource}")
                    if kiosk else contextlib.nullcontext() as kiosks):
            await asyncio.sleep(2)
            rss = server.rss()
            # (The kiosks' panel shows today, the bookings are tomorrow's: it renders as it was, and sends nothing.)
            result = await broadcasts(server, subs, changes, every)
            result.update(open_seconds=subs.open_seconds, rss_per_conn=(rss - rss0) / n, rss=rss)
    finally:
        await server.astop()
    return result


def summary(result: dict, n: int) -> dict:
    d = result["delays"]
    return dict(n=n, open_s=result["open_seconds"], p50_ms=pct(d, 50) * 1e3, p99_ms=pct(d, 99) * 1e3,
                max_ms=max(d) * 1e3, lost=result["lost"], kb_per_conn=result["rss_per_conn"] / 1024,
                answer_ms=statistics.median(result["answer"]) * 1e3, cpu_ms=result["cpu"] / result["count"] * 1e3,
                us_per_sub=result["cpu"] / result["count"] / n * 1e6,
                client_cpu_ms=result["client_cpu"] / result["count"] * 1e3,
                p99_by_port_ms=[p * 1e3 for p in result["p99_by_port"]])


async def polling_vs_push(seed: str, pages: int, seconds: float, quick: bool) -> list[dict]:
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
                poller = await asyncio.create_subprocess_exec(
                    sys.executable, str(BENCH / "load.py"), "poll", str(server.port), poll_path(), str(pages), "5",
                    str(seconds), SOURCES, stdout=subprocess.PIPE, limit=2**28)
                note(f"bench/.venv/bin/python bench/load.py poll PORT '{poll_path()}' {pages} 5 {seconds:g} {SOURCES}")
                sent = {}
                for k in range(1, int(seconds / every) + 1):
                    await asyncio.sleep(max(0.0, began + k * every - 5 - time.monotonic()))
                    sent[k] = (await server.trigger(k))[0]
                answer = json.loads(await poller.stdout.readline())
                await poller.wait()
                sent_bytes = answer["bytes"]
                seen = [next((t for t, total in page if t >= at and total - total0 >= k), None)
                        for page in answer["answers"] for k, at in sent.items()]
                staleness = [t - at for t, at in zip(seen, [at for _ in answer["answers"] for at in sent.values()]) if t]
                unseen, errors = seen.count(None), answer["errors"]  # a booking just before the end: no poll left
            cpu = server.cpu() - cpu0
            elapsed = time.monotonic() - began
        finally:
            await server.astop()
        label = f"{mode}, 1 booking / {every:g} s"
        rows.append(dict(mode=label, cpu_s_per_min=cpu / elapsed * 60, mb_per_min=sent_bytes / elapsed * 60 / 1e6,
                         stale_p50_ms=pct(staleness, 50) * 1e3, stale_p99_ms=pct(staleness, 99) * 1e3,
                         unseen=unseen, errors=errors))
        log(rows[-1])
    return rows


def poll_path() -> str:
    return f"/api/v1/venues/harbour-kitchen/resources/terrace/slots?date={LONDON_TOMORROW}"


def booked_total(body: dict) -> int:
    return sum(s["booked"] for s in body["slots"])


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
            status, _ = await http(server.port, "POST", "/api/v1/bookings",
                                   {"slot_id": slot_id, "name": "Bench", "contact": f"bench{next(PEOPLE)}@example.com"})
            return status, time.monotonic() - began

        answers = await asyncio.gather(*(book(target) for _ in range(bookers)))
        _, body = await http(server.port, "GET", f"/api/v1/venues/bench-hall/resources/hall/slots?date={UTC_DAYS[0]}")
        booked = next(s["booked"] for s in json.loads(body)["slots"] if s["id"] == target)
        times = [t for _, t in answers]
        result = dict(bookers=bookers, confirmed=sum(s == 201 for s, _ in answers),
                      full=sum(s == 409 for s, _ in answers), booked=booked,
                      p50_ms=pct(times, 50) * 1e3, p99_ms=pct(times, 99) * 1e3)

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
        result.update(per_second=done / (time.monotonic() - began), slots=len(many),
                      many_p50_ms=pct(latencies, 50) * 1e3, many_p99_ms=pct(latencies, 99) * 1e3)
    finally:
        await server.astop()
    return result


RELEASE_MARK = ">Book</a>"  # a Book link in the day's table: it is bookable (the load client asks for no language)
FULL_MARK = "!" + RELEASE_MARK  # then the first table with none: every slot shows Full (a party of 1 fits any other)
RELEASE_RESOURCE = ("SELECT r.id FROM resources r JOIN venues v ON v.id = r.venue_id "
                    "WHERE v.slug = 'bench-hall' AND r.slug = 'release'")
RELEASE_PROCESSES = 2  # the PostgreSQL set-up: two processes behind a (client-side) load balancer
QUART_N = 3000  # the comparison: Slotcast's p99 against the smallest Quart SSE app's at 3,000 pages


def error_code(status: int, body: bytes) -> str:
    """A refusal's `code` from the JSON API ("" for a 201; the status when the body says none)."""
    if status == 201:
        return ""
    try:
        return json.loads(body)["code"]
    except (ValueError, KeyError, TypeError):
        return str(status)


async def release_server(seed: str, rule: str, lead: float,
                         pg: PostgresServer | None) -> tuple[Slotcast | Cluster, int]:
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
        note(f"sqlite3 WORK/release.db \"{shown}\"  {why} Slotcast on it")
        return await slotcast(str(db)).astart(), resource_id
    resource_id = int(pg.sql(RELEASE_RESOURCE, "seed"))  # "run" is its copy
    note(f"psql -h 127.0.0.1 -p PGPORT -U postgres -d run -c \"{shown}\"  {why} {RELEASE_PROCESSES} Slotcast "
         "processes on it (after CREATE DATABASE run TEMPLATE seed)")
    return await Cluster(pg, RELEASE_PROCESSES, setup=(rule,)).astart(), resource_id


async def release(seed: str, pages: int, bookers: int, early: int = 5, pg: PostgresServer | None = None) -> dict:
    """放号: `pages` day pages wait for their day's release; at the instant `bookers` fire at its slots at once.

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
    began = time.monotonic()
    # seconds: the server's start (~2 s; the cluster's processes one after another) and opening the pages (5,000: ~3 s)
    lead = (15 if pg is None else 25) + pages * 0.004
    instant = (datetime.now(UTC) + timedelta(seconds=lead)).replace(second=0, microsecond=0) + timedelta(minutes=1)
    day = instant.date() + timedelta(days=1)
    rule = (f"UPDATE resources SET release_days_before = 1, release_time = '{instant:%H:%M}' "
            f"WHERE id = ({RELEASE_RESOURCE})")
    server, resource_id = await release_server(seed, rule, lead, pg)
    ports = server.ports
    try:
        slots_path = f"/api/v1/venues/bench-hall/resources/release/slots?date={day}"
        slots = json.loads((await http(server.port, "GET", slots_path))[1])["slots"]
        if not slots or any(s["opens_at"] is None or datetime.fromisoformat(s["opens_at"]) != instant for s in slots):
            raise RuntimeError(f"day {day} does not open at {instant:%H:%M} UTC: {slots}")
        ids, places = [s["id"] for s in slots], sum(s["capacity"] for s in slots)
        async with Subscribers(server, pages, f"/events/day/{resource_id}/{day}",
                               marks=(RELEASE_MARK, FULL_MARK)) as subs:
            ready = time.monotonic()
            at = ready + (instant - datetime.now(UTC)).total_seconds()  # the instant on CLOCK_MONOTONIC (the pages')
            if at - ready < 3:
                raise RuntimeError(f"the pages were open only {at - ready:.1f} s before the release: raise `lead`")
            await asyncio.sleep(max(0.0, at - 2.5 - time.monotonic()))
            cpu0 = server.cpu()
            # booker i: process i mod P, slot (i div P) mod S — one process for all as before, and with P processes
            # each slot's bookers arrive at every one of them (a load balancer knows nothing of slots)
            connections = await asyncio.gather(*(asyncio.open_connection("127.0.0.1", ports[i % len(ports)])
                                                 for i in range(bookers)))
            requests = [request_bytes("POST", "/api/v1/bookings", {
                "slot_id": ids[i // len(ports) % len(ids)], "name": "Bench",
                "contact": f"bench{next(PEOPLE)}@example.com"}) for i in range(bookers)]

            async def too_early(i: int) -> tuple[str, float]:
                status, body = await http(ports[i % len(ports)], "POST", "/api/v1/bookings", {
                    "slot_id": ids[i % len(ids)], "name": "Bench", "contact": f"bench{next(PEOPLE)}@example.com"})
                return error_code(status, body), time.monotonic()

            async def booked(reader, writer) -> tuple[str, float]:
                status, body = await answer_of(reader, writer)
                return error_code(status, body), time.monotonic()

            await asyncio.sleep(max(0.0, at - 1 - time.monotonic()))
            probes = asyncio.gather(*(too_early(i) for i in range(early)))
            await asyncio.sleep(max(0.0, at - time.monotonic()))
            sent = []
            for (_, writer), request in zip(connections, requests):
                writer.write(request)
                sent.append(time.monotonic())
            answers = await asyncio.gather(*(booked(reader, writer) for reader, writer in connections))
            early_answers = await probes
            sold_out = sum(not c for c, _ in answers) >= places  # else no page can show the day full
            deadline = time.monotonic() + 15  # every page should have both by now; wait a little for stragglers
            while True:
                marked, full = await subs.marked(0), await subs.marked(1)
                if (None not in marked and (None not in full or not sold_out)) or time.monotonic() > deadline:
                    break
                await asyncio.sleep(0.5)
            cpu = server.cpu() - cpu0
        final = json.loads((await http(server.port, "GET", slots_path))[1])["slots"]
    finally:
        await server.astop()
    delays = [t - at for t in marked if t is not None]
    codes = Counter(code for code, _ in answers)
    latencies = [done - s for (_, done), s in zip(answers, sent)]
    gone = max((t for c, t in answers if not c), default=at)  # the last place went: its 201 arrived
    shown_full = [t - gone for t in full if t is not None]
    return dict(setup=f"{len(ports)} processes, PostgreSQL" if pg else "one process, SQLite",
                pages=pages, bookers=bookers, slots=len(ids), places=places, release=instant.isoformat(),
                day=day.isoformat(), open_s=subs.open_seconds, waited_s=at - ready,
                got=len(delays), lost=pages - len(delays), before=sum(d < 0 for d in delays),
                first_ms=min(delays, default=float("nan")) * 1e3, p50_ms=pct(delays, 50) * 1e3,
                p99_ms=pct(delays, 99) * 1e3, max_ms=max(delays, default=float("nan")) * 1e3,
                confirmed=codes.pop("", 0), booked=sum(s["booked"] for s in final),
                full=codes.pop("slot_full", 0), not_open_yet=codes.pop("not_open_yet", 0), other=dict(codes),
                sent_s=sent[-1] - sent[0] if sent else 0.0,
                book_p50_ms=pct(latencies, 50) * 1e3, book_p99_ms=pct(latencies, 99) * 1e3,
                sold_out_ms=(gone - at) * 1e3, sold_out=sold_out,
                last_answer_ms=(max((t for _, t in answers), default=at) - at) * 1e3,
                full_p50_ms=pct(shown_full, 50) * 1e3, full_p99_ms=pct(shown_full, 99) * 1e3,
                full_max_ms=max(shown_full, default=float("nan")) * 1e3,
                full_in_300=sum(d <= 0.3 for d in shown_full), full_never=pages - len(shown_full),
                early=early, early_refused=sum(c == "not_open_yet" and t < at for c, t in early_answers),
                early_codes=[c or "201" for c, _ in early_answers], cpu_s=cpu, seconds=time.monotonic() - began)


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


async def profile(seed: str, n: int, seconds: int) -> list[tuple[float, float, str]]:
    """py-spy on Slotcast during broadcasts to `n` streams: the functions with the most time, self and total."""
    server = await slotcast(seed).astart()
    raw = RESULTS / "profile.tmp"
    try:
        async with Subscribers(server, n, server.stream_path) as subs:
            spy = await asyncio.create_subprocess_exec(
                str(Path(sys.executable).parent / "py-spy"), "record", "--pid", str(server.process.pid),
                "--duration", str(seconds), "--rate", "250", "--format", "raw", "--output", str(raw), "--nonblocking",
                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            note(f"bench/.venv/bin/py-spy record --pid SLOTCAST_PID --duration {seconds} --rate 250 --format raw "
                 "--nonblocking")
            await broadcasts(server, subs, seconds - 2, 1.0)
            await spy.wait()
    finally:
        await server.astop()
    if not raw.exists():
        return []
    self_time, total, samples = {}, {}, 0
    for line in raw.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        frames = [re.sub(r" \((.*/)?([^/]+)\)$", r" (\2)", f) for f in stack.split(";") if f]
        samples += int(count)
        for f in set(frames):
            total[f] = total.get(f, 0) + int(count)
        if frames:
            self_time[frames[-1]] = self_time.get(frames[-1], 0) + int(count)
    top = sorted(self_time, key=self_time.get, reverse=True)[:20]
    return [(self_time[f] / samples * 100, total[f] / samples * 100, f) for f in top]


# -- the report


def fsync_ms(folder: str = "/tmp", rounds: int = 100) -> float:
    """How long one 4 KB write + fsync takes where the benchmark database lives."""
    fd, name = tempfile.mkstemp(dir=folder)
    try:
        began = time.perf_counter()
        for _ in range(rounds):
            os.write(fd, b"x" * 4096)
            os.fsync(fd)
        return (time.perf_counter() - began) / rounds * 1e3
    finally:
        os.close(fd)
        os.unlink(name)


def machine() -> list[str]:
    cpu = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                if line.startswith("model name")), platform.processor())
    versions = subprocess.run([APP_PYTHON, "-c", "import importlib.metadata as m, sys; print(sys.version.split()[0],"
                               " *(m.version(p) for p in ('quart', 'hypercorn')))"], capture_output=True, text=True)
    py, quart, hypercorn = versions.stdout.split()
    from importlib.metadata import version
    return [f"{datetime.now(UTC):%Y-%m-%d %H:%M} UTC, {platform.node()}: {os.cpu_count()} cores ({cpu}), "
            f"{os.sysconf('SC_PHYS_PAGES') * os.sysconf('SC_PAGE_SIZE') / 2**30:.0f} GiB, Linux {platform.release()}; "
            f"load average at start {os.getloadavg()[0]:.2f} (other sessions' tests may share the 2 cores)",
            f"Slotcast: Python {py}, Quart {quart}, Hypercorn {hypercorn} (one process, SQLite); "
            f"Node {subprocess.run(['node', '--version'], capture_output=True, text=True).stdout.strip()}; "
            f"uvicorn {version('uvicorn')} + Starlette {version('starlette')} + sse-starlette "
            f"{version('sse-starlette')} (Python {platform.python_version()}, asyncio loop, h11); the minimal Quart "
            f"baseline on Slotcast's own Python, Quart and Hypercorn"]


def table(rows: list[dict], columns: list[tuple[str, str, str]]) -> list[str]:
    lines = ["| " + " | ".join(title for title, _, _ in columns) + " |", "|" + "---|" * len(columns)]
    for row in rows:
        lines.append("| " + " | ".join(format(row[key], fmt) if isinstance(row[key], float) else str(row[key])
                                        for _, key, fmt in columns) + " |")
    return lines


def plot(fan: list[dict], soak: dict | None, out: Path) -> None:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2 if soak else 1, figsize=(12 if soak else 6, 4.5), squeeze=False)
    ax = axes[0][0]
    for name, color in zip(dict.fromkeys(r["server"] for r in fan), ("C0", "C1", "C2", "C3", "C4", "C5")):
        rows = [r for r in fan if r["server"] == name]
        ns = [r["n"] for r in rows]
        ax.plot(ns, [r["p99_ms"] for r in rows], "o-", color=color, label=f"{name} p99")
        ax.plot(ns, [r["p50_ms"] for r in rows], "o--", color=color, alpha=0.5, label=f"{name} p50")
    ax.set(xlabel="open streams", ylabel="delay from the change request to receipt (ms)",
           title="Fan-out of one change", yscale="log")
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3)
    if soak:
        ax = axes[0][1]
        ax.plot(range(1, len(soak["per_change"]) + 1), [d * 1e3 for d in soak["per_change"]], ".-", label="last stream")
        ax.plot(range(1, len(soak["per_change"]) + 1), [d * 1e3 for d in soak["p99_per_change"]], ".-", label="p99",
                alpha=0.6)
        ax.axhline(750, color="red", linestyle=":", label="750 ms target")
        ax.set(xlabel="booking (one a second)", ylabel="delay (ms)", title=f"Slotcast soak, {soak['n']:,} streams")
        ax.legend(fontsize=8)
        ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(out, dpi=110)


async def payload(seed: str, work: Path) -> tuple[Path, int]:
    """Slotcast's own day table (so every server pushes the same bytes a change sends), and the size of one event."""
    probe = await slotcast(seed).astart()
    try:
        path = await day_stream(probe.port)
        DAY.update(path=path, resource=path.split("/")[3])
        reader, writer = await asyncio.open_connection("127.0.0.1", probe.port)
        writer.write(f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n".encode())
        first = b""
        while b"</nav>" not in first:  # the table, then the date strip (which a change seldom sends)
            first += await asyncio.wait_for(reader.read(65536), 10)
        writer.close()
    finally:
        await probe.astop()
    table = first.decode().split("event: slots\n", 1)[1].split("\n\n", 1)[0]
    lines = [line[6:] for line in table.splitlines() if line.startswith("data: ")]
    fragment = work / "fragment.html"
    fragment.write_text("\n".join(lines))
    size = len("event: slots\n\n") + sum(len(f"data: {line}\n".encode()) for line in lines)
    log(f"payload: {size} bytes per event; day stream {DAY['path']}")
    return fragment, size


async def wire(seed: str, changes: int) -> dict:
    """Bytes on the wire (chunked framing included) per change and per page, with and without gzip, from one
    server in one run; and the static files as a first visit fetches them."""
    server = await slotcast(seed).astart()
    try:
        streams = {}
        for name, accept in (("identity", ""), ("gzip", "Accept-Encoding: gzip, deflate, br\r\n")):
            reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
            writer.write(f"GET {server.stream_path} HTTP/1.1\r\nHost: 127.0.0.1\r\n{accept}\r\n".encode())
            first = await asyncio.wait_for(reader.read(65536), 10)
            await asyncio.sleep(0.3)  # the state may come in more than one read
            while True:
                try:
                    first += await asyncio.wait_for(reader.read(65536), 0.2)
                except TimeoutError:
                    break
            streams[name] = (reader, writer, len(first.split(b"\r\n\r\n", 1)[1]), [])
        for slot_id in (await terrace_slots(server.port) * changes)[:changes]:
            await book(server.port, slot_id)
            for reader, _writer, _first, sizes in streams.values():
                sizes.append(len(await asyncio.wait_for(reader.read(65536), 5)))
        for _reader, writer, _first, _sizes in streams.values():
            writer.close()
        _, page = await http(server.port, "GET", f"/book/harbour-kitchen/terrace/{LONDON_TOMORROW}")
        files = {}
        for address in re.findall(rb'(?:src|href)="(/static/[^"]+)"', page):
            sizes = []
            for accept in ("", "gzip"):
                reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
                writer.write(f"GET {address.decode()} HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept-Encoding: {accept}\r\n"
                             "Connection: close\r\n\r\n".encode())
                sizes.append(len((await reader.read()).split(b"\r\n\r\n", 1)[1]))
                writer.close()
            files[address.decode().split("?")[0]] = sizes
    finally:
        await server.astop()
    return dict(changes=changes, files=files, **{name: dict(first=first, per_change=statistics.mean(sizes),
                                                            largest=max(sizes))
                                                 for name, (_r, _w, first, sizes) in streams.items()})


def postgres(header: list[str]) -> PostgresServer:
    """A throwaway PostgreSQL (fsync on, as in production) holding the seeded database as a template."""
    pg = PostgresServer(durable=True).start()
    ALIASES[f"127.0.0.1:{pg.port}/"] = "127.0.0.1:PGPORT/"
    note("python tests/postgres_server.py  # initdb + pg_ctl start on 127.0.0.1:PGPORT (here with fsync on)")
    try:
        seed = pg.create_database("seed")
        subprocess.run([APP_PYTHON, str(BENCH / "seed.py"), seed], check=True, cwd=ROOT)
        note(f".venv/bin/python bench/seed.py {seed}")
    except BaseException:
        pg.stop()
        raise
    if not any(h.startswith("PostgreSQL") for h in header):  # started again for the release: said once
        header.append(f"PostgreSQL {pg.sql('SHOW server_version').split()[0]} (Debian's, initdb into a temp folder, "
                      f"fsync on, started in {pg.started_in:.1f} s) for the scale-out rows: {os.cpu_count()} Slotcast "
                      f"processes in the fan-out, {RELEASE_PROCESSES} in the release")
    return pg


async def main(quick: bool, sizes: list[int], only: set[str], name: str, release_size: tuple[int, int],
               invocation: str) -> None:
    RESULTS.mkdir(exist_ok=True)
    for old in RESULTS.glob("*.log.tmp"):  # the servers' logs, kept from the last run only
        old.unlink()
    raise_open_files_limit()
    header, began = machine(), time.monotonic()
    seed = str(WORK / "seed.db")
    subprocess.run([APP_PYTHON, str(BENCH / "seed.py"), seed], check=True, cwd=ROOT)
    note(f".venv/bin/python bench/seed.py {seed}")
    fragment, message_bytes = await payload(seed, WORK)
    results: dict = dict(sizes=sizes)

    if "fanout" in only:
        results["fanout"] = []
        pg = postgres(header)
        try:
            for n in sizes:
                for server in [slotcast(seed), Cluster(pg, os.cpu_count())] + baselines(str(fragment)):
                    result = await fanout(server, n, 5 if quick else 10, 1.0 if n < 10000 else 1.5)
                    results["fanout"].append(dict(server=server.name, **summary(result, n)))
                    log(results["fanout"][-1])
        finally:
            pg.stop()
    if "quart" in only:
        results["quart"] = await minimal_quart_ratio(seed, str(fragment), QUART_N, 10 if quick else 20)
    if "soak" in only:
        soak_n, soak_seconds = (1000, 15) if quick else (max(sizes), 60)
        server = await slotcast(seed).astart()
        try:
            async with Subscribers(server, soak_n, server.stream_path) as subs:
                await asyncio.sleep(2)
                results["soak"] = dict(n=soak_n, seconds=soak_seconds, **await broadcasts(server, subs, soak_seconds, 1.0))
        finally:
            await server.astop()
        log(f"soak: slowest change {max(results['soak']['per_change']) * 1e3:.0f} ms, lost {results['soak']['lost']}")
    if "polling" in only:
        results["polling"] = await polling_vs_push(seed, 1000, 20 if quick else 60, quick)
    if "burst" in only:
        results["burst"] = await burst(seed, 1000, 5 if quick else 10)
        log(results["burst"])
        # The same on tmpfs: SQLite's synchronous=FULL fsyncs each commit; this shows what the disk costs.
        shm = Path(tempfile.mkdtemp(dir="/dev/shm", prefix="slotcast-bench-"))
        try:
            results["burst_tmpfs"] = await burst(str(shutil.copy(seed, shm / "seed.db")), 1000, 5 if quick else 10)
            log(results["burst_tmpfs"])
        finally:
            shutil.rmtree(shm, ignore_errors=True)
    if "wire" in only:
        results["wire"] = await wire(seed, 20)
        log(results["wire"])
    if "release" in only:
        results["release"] = [await release(seed, *release_size)]
        log(results["release"][-1])
        pg = postgres(header)
        try:
            results["release"].append(await release(seed, *release_size, pg=pg))
            log(results["release"][-1])
        finally:
            pg.stop()
    if "profile" in only:
        try:
            results["profile"] = await profile(seed, max(sizes), 12)
        except Exception as error:  # the profile is a bonus: never lose the run for it
            log(f"profile failed: {error!r}")

    if "soak" in results:
        results["soak"]["p99_ms"] = pct(results["soak"].pop("delays"), 99) * 1e3  # not every delivery: the file stays small
    (RESULTS / f"{name}.json").write_text(json.dumps(results, indent=1))
    if "fanout" in results:
        plot(results["fanout"], results.get("soak"), RESULTS / f"{name}.png")
    header.append(f"load average at the end {os.getloadavg()[0]:.2f}; the whole run took "
                  f"{(time.monotonic() - began) / 60:.1f} min")
    report = write_report(results, header, message_bytes, quick, invocation)
    (RESULTS / f"{name}.md").write_text(report)
    print(report)


FANOUT_COLUMNS = [("server", "server", ""), ("N", "n", ""), ("open all (s)", "open_s", ".1f"),
                  ("201 (ms)", "answer_ms", ".1f"), ("p50 (ms)", "p50_ms", ".1f"), ("p99 (ms)", "p99_ms", ".1f"),
                  ("max (ms)", "max_ms", ".1f"), ("lost", "lost", ""), ("RSS/conn (KB)", "kb_per_conn", ".1f"),
                  ("CPU/change (ms)", "cpu_ms", ".1f"), ("µs/subscriber", "us_per_sub", ".1f"),
                  ("client CPU/change (ms)", "client_cpu_ms", ".1f")]


def write_report(results: dict, header: list[str], message_bytes: int, quick: bool, invocation: str) -> str:
    """The Markdown report: machine, tables, ratios, profile and the exact commands."""
    lines = [f"# Slotcast benchmark{' (quick)' if quick else ''}", "", *[f"- {h}" for h in header],
             f"- payload: Slotcast's day fragment for harbour-kitchen/terrace, {message_bytes} bytes per SSE event; "
             "the baselines push the same bytes", ""]
    if fan := results.get("fanout"):
        lines += ["## Fan-out: one change to N open day pages", "",
                  "Delays run from the change's request being sent to each stream's receipt of the complete event "
                  "(Slotcast: a booking through the JSON API; baselines: POST /publish). \"201\" is the median time "
                  "until the booker had its answer. Slotcast runs ten kiosk streams beside the N pages (today's panel: "
                  "the bookings are tomorrow's, so they get no bytes). RSS/conn is the server's resident memory growth per open idle stream; CPU is the "
                  "server's user+system time per change; client CPU the load workers' (on the same cores).", "",
                  *table(fan, FANOUT_COLUMNS),
                  "", "Ratios, baseline ÷ Slotcast (above 1: Slotcast is better):", ""]
        for n in results["sizes"]:
            rows = {r["server"]: r for r in fan if r["n"] == n}
            for ours in (r for name, r in rows.items() if name.startswith("slotcast")):
                for other in (o for o in ("node", "uvicorn", "quart") if o in rows):
                    theirs = rows[other]
                    lines.append(f"- N={n:,}, {ours['server']} vs {other}: p99 {theirs['p99_ms'] / ours['p99_ms']:.2f}×, "
                                 f"CPU/change {theirs['cpu_ms'] / ours['cpu_ms']:.2f}×, "
                                 f"RSS/conn {theirs['kb_per_conn'] / ours['kb_per_conn']:.2f}×")
        lines += ["", "The scale-out rows: the streams are split evenly over the processes and every booking goes "
                  "through the first, so the others learn of it from PostgreSQL (NOTIFY in the booking's transaction, "
                  "one LISTEN connection per process) and render it themselves. RSS is the processes' sum; CPU "
                  "includes PostgreSQL's. p99 per process (the booking's own, then the other):", ""]
        lines += [f"- N={r['n']:,}: " + ", ".join(f"{p:.1f} ms" for p in r["p99_by_port_ms"])
                  for r in fan if "PostgreSQL" in r["server"]]
        lines.append("")
    if mq := results.get("quart"):
        theirs = mq[-1]
        lines += [f"## Slotcast against the smallest Quart SSE app, {theirs['n']:,} pages", "",
                  "The fan-out scenario at this N, back to back: Slotcast (one process, SQLite; with its ten kiosk "
                  "streams) with the clients asking for gzip as browsers do (about 480 bytes a change), the same with "
                  "identity (its whole day table), then bench/baselines/quart_sse.py: Quart + Hypercorn from "
                  "Slotcast's own venv, one process, an asyncio.Queue and an async generator per stream, POST "
                  "/publish putting one 100-byte message in every queue. The issue's target: the same-run ratio of "
                  "the p99s at 3,000 pages ≤ 1.0.", "",
                  *table(mq, FANOUT_COLUMNS), ""]
        lines += [f"- {ours['server']} p99 ÷ minimal Quart p99: {ours['p99_ms'] / theirs['p99_ms']:.2f} "
                  f"({'meets' if ours['p99_ms'] <= theirs['p99_ms'] else 'misses'} ≤ 1.0); p50 "
                  f"{ours['p50_ms'] / theirs['p50_ms']:.2f}; CPU/change {ours['cpu_ms'] / theirs['cpu_ms']:.2f}; "
                  f"RSS/conn {ours['kb_per_conn'] / theirs['kb_per_conn']:.2f} (below 1: Slotcast is better)"
                  for ours in mq[:-1]]
        lines.append("")
    if soak := results.get("soak"):
        lines += [f"## Soak: {soak['n']:,} streams, one booking a second for {soak['seconds']} s", "",
                  f"- slowest change (request to the last stream): {max(soak['per_change']) * 1e3:.0f} ms; "
                  f"p99 over all deliveries {soak['p99_ms']:.0f} ms; "
                  f"changes slower than 750 ms: {sum(d > 0.75 for d in soak['per_change'])}; lost {soak['lost']}", ""]
    if pvp := results.get("polling"):
        lines += ["## Polling versus push, 1,000 pages", "",
                  "Polling pages GET the day's JSON slots (`/api/v1/.../slots?date=`, the cheapest server path to the "
                  "day's state) every 5 s on keep-alive connections; push pages hold the day stream open. Staleness: "
                  "from a booking's request to the page holding it. Bytes: as received by the clients.", "",
                  *table(pvp, [("mode", "mode", ""), ("server CPU (s/min)", "cpu_s_per_min", ".2f"),
                               ("sent (MB/min)", "mb_per_min", ".2f"), ("staleness p50 (ms)", "stale_p50_ms", ".0f"),
                               ("staleness p99 (ms)", "stale_p99_ms", ".0f"),
                               ("not shown by the end", "unseen", ""), ("keep-alive reopened", "errors", "")]), "",
                  f"- server CPU, polling ÷ push at one booking per 10 s: "
                  f"{pvp[0]['cpu_s_per_min'] / pvp[2]['cpu_s_per_min']:.1f}×", ""]
    if "burst" in results:
        lines += ["## Burst (bookings through the JSON API, one connection each, the client in the same 2 cores)", ""]
        for key, where in (("burst", f"SQLite file on disk (fsync {fsync_ms():.1f} ms)"), ("burst_tmpfs", "on tmpfs")):
            if b := results.get(key):
                lines += [
                    f"- {where}: {b['bookers']:,} concurrent bookers on one slot of 100 places: {b['confirmed']} "
                    f"confirmed (201), {b['full']} slot_full (409), slot.booked = {b['booked']}; "
                    f"response p50 {b['p50_ms']:.0f} ms, p99 {b['p99_ms']:.0f} ms. 50 concurrent bookers over "
                    f"{b['slots']:,} slots: {b['per_second']:.0f} bookings/s "
                    f"(p50 {b['many_p50_ms']:.1f} ms, p99 {b['many_p99_ms']:.1f} ms)"]
        lines.append("")
    if w := results.get("wire"):
        plain, packed = w["identity"], w["gzip"]
        lines += [f"## Bytes on the wire: the terrace's day page, {w['changes']} bookings one after another", "",
                  "One server, two streams on the same day page, one asking for gzip; sizes as read from the socket "
                  "(chunked framing included). A gzip stream is a gzip header, then each message as a deflate "
                  "segment compressed once for every such stream.", "",
                  "| | identity | gzip | ratio |", "|---|---|---|---|",
                  f"| first message (the state: table + date strip) | {plain['first']:,} B | {packed['first']:,} B | "
                  f"{plain['first'] / packed['first']:.1f}× |",
                  f"| per change, mean | {plain['per_change']:,.0f} B | {packed['per_change']:,.0f} B | "
                  f"{plain['per_change'] / packed['per_change']:.1f}× |",
                  f"| per change, largest | {plain['largest']:,} B | {packed['largest']:,} B | |",
                  *(f"| {path} | {a:,} B | {b:,} B | {a / b:.1f}× |" for path, (a, b) in w["files"].items()), ""]
    if rows := results.get("release"):
        r = rows[0]
        lines += [f"## Release (放号): {r['pages']:,} pages waiting, {r['bookers']:,} bookers at the instant", "",
                  f"bench-hall's `release` resource: {r['slots']} slots, {r['places']} places in all on day D, no "
                  "limit per person, each booker its own contact. Its rule (1 day before, at a whole minute UTC) was "
                  "written into a fresh copy of the seeded database before the server started; the pages "
                  "(GET /events/day/…/D) were open some seconds before the instant. At the instant the bookers, "
                  "their connections opened 2.5 s before, each sent POST /api/v1/bookings, spread over the slots. Two "
                  "set-ups: one Slotcast process on SQLite; and two processes (python app.py) on one PostgreSQL "
                  "database, the pages split evenly over them and the bookers alternating between them (each slot's "
                  "bookers too), as behind a load balancer. Page delay: from the instant to the page's receipt of the "
                  "first `slots` event holding a Book link (`>Book</a>`); \"got\": pages that had it, \"lost\": "
                  "pages that never did. Booking latency: from the request's send to its answer. CPU: the server's "
                  "user+system seconds (PostgreSQL: the processes' and PostgreSQL's) from 2.5 s before the instant "
                  "until every page had the bookable table, then the full one.", "",
                  *table(rows, [("set-up", "setup", ""), ("pages", "pages", ""), ("got", "got", ""),
                                ("lost", "lost", ""), ("first (ms)", "first_ms", ".0f"), ("p50 (ms)", "p50_ms", ".0f"),
                                ("p99 (ms)", "p99_ms", ".0f"), ("max (ms)", "max_ms", ".0f"),
                                ("bookers", "bookers", ""), ("places", "places", ""), ("confirmed", "confirmed", ""),
                                ("booked", "booked", ""), ("409 slot_full", "full", ""),
                                ("409 not_open_yet", "not_open_yet", ""), ("booking p50 (ms)", "book_p50_ms", ".0f"),
                                ("booking p99 (ms)", "book_p99_ms", ".0f"), ("sold out (ms)", "sold_out_ms", ".0f"),
                                ("server CPU (s)", "cpu_s", ".2f")]), "",
                  "Every page shows full within 300 ms of the last place going: from the last 201's arrival at its "
                  "booker (the \"sold out\" moment) to the page's receipt of the first `slots` event after the "
                  "bookable one with no Book link left (every slot of the day shows Full). \"never\": pages without "
                  "it 15 s after the last answer (all of them when the day did not sell out).", "",
                  *table(rows, [("set-up", "setup", ""), ("pages", "pages", ""), ("p50 (ms)", "full_p50_ms", ".0f"),
                                ("p99 (ms)", "full_p99_ms", ".0f"), ("max (ms)", "full_max_ms", ".0f"),
                                ("within 300 ms", "full_in_300", ""), ("never", "full_never", "")]), ""]
        for r in rows:
            others = ", ".join(f"{n} {code}" for code, n in r["other"].items())
            lines += [
                f"- {r['setup']}: day D {r['day']}, released at {r['release'][11:16]} UTC; the pages opened in "
                f"{r['open_s']:.1f} s and waited {r['waited_s']:.0f} s; {r['early']} bookings sent 1 s before the "
                f"instant: {r['early_refused']} refused 409 not_open_yet before it (answers: "
                f"{', '.join(r['early_codes'])}); pages with a Book link before the instant: {r['before']}"
                + (f"; other answers to the bookers: {others}" if others else "")
                + f"; confirmed {'==' if r['confirmed'] == r['places'] == r['booked'] else '!='} places (booked: the "
                f"slots' booked total read back afterwards){'' if r['sold_out'] else ', the day did not sell out'}; "
                f"\"sold out\": from the instant to the last 201 (the last answer of all: "
                f"{r['last_answer_ms']:.0f} ms); the {r['bookers']:,} requests took "
                f"{r['sent_s'] * 1e3:.0f} ms to send; the scenario took {r['seconds']:.0f} s"]
        lines.append("")
    if top := results.get("profile"):
        lines += [f"## Where Slotcast's time goes (py-spy, {max(results['sizes']):,} streams, a booking a second)", "",
                  "| self % | total % | function |", "|---|---|---|",
                  *[f"| {s:.1f} | {t:.1f} | `{f}` |" for s, t, f in top], ""]
    lines += ["## Commands", "", "```", invocation, *COMMANDS, "```", ""]
    return "\n".join(lines)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="N = 1,000 only, short phases (2-4 minutes)")
    parser.add_argument("--sizes", default="", help="comma-separated N for the fan-out (default 1000,5000,10000)")
    parser.add_argument("--only", default="fanout,quart,soak,polling,burst,wire,release,profile",
                        help="scenarios to run")
    parser.add_argument("--release", default="", metavar="PAGES,BOOKERS",
                        help="the release scenario's size (default 5000,1000; with --quick 1000,500)")
    parser.add_argument("--name", help="results file name (default results, or results-quick)")
    args = parser.parse_args()
    sizes = [int(n) for n in args.sizes.split(",") if n] or ([1000] if args.quick else [1000, 5000, 10000])
    only = set(args.only.split(","))
    release_size = tuple(int(n) for n in args.release.split(",")) if args.release else (
        (1000, 500) if args.quick else (5000, 1000))
    if len(release_size) != 2:
        parser.error("--release takes PAGES,BOOKERS")
    invocation = ("make bench" + (" QUICK=1" if args.quick else "") if set(sys.argv[1:]) <= {"--quick"}
                  else shlex.join(["bench/.venv/bin/python", "bench/run.py", *sys.argv[1:]]))
    if args.quick and "--only" not in sys.argv:
        only.discard("profile")
    try:
        asyncio.run(main(args.quick, sizes, only, args.name or ("results-quick" if args.quick else "results"),
                         release_size, invocation))
    finally:
        shutil.rmtree(WORK, ignore_errors=True)
