"""The servers under test, started and stopped by the tests' harness: Slotcast (one process on SQLite, or scaled
out on a throwaway PostgreSQL), the Node, uvicorn and minimal Quart baselines, and the seeded databases."""

from __future__ import annotations

import asyncio
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

from bench.client import book, day_stream, http, terrace_slots
from bench.workspace import ALIASES, APP_PYTHON, RESULTS, ROOT, WORK, log, note
from tests.support.live_server import LiveServer, cpu_seconds
from tests.support.postgres_server import PostgresServer

DAY = {"path": "", "resource": ""}  # Slotcast's day stream, found on its day page at start (payload())


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


def slotcast_config(url: str, **config) -> dict:
    # every client of the bench shares one address: no stream cap per client, no booking rate per address
    return dict(
        DATABASE_URL=url,
        SECRET_KEY="bench",
        SSE_MAX_PER_CLIENT=20000,
        SSE_MAX_STREAMS=20000,
        BOOKINGS_PER_MINUTE=0,
        **config,
    )


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
        note(
            "psql -h 127.0.0.1 -p PGPORT -U postgres -c 'CREATE DATABASE run TEMPLATE seed'  # after DROP DATABASE run"
        )
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
        return (
            sum(w.cpu() for w in self.workers)
            + cpu_seconds(postmaster, reaped=True)
            + sum(cpu_seconds(int(b)) for b in backends)
        )

    async def trigger(self, version: int) -> tuple[float, float]:
        return await book(self.port, self.slots[version % len(self.slots)])


def baselines(fragment: str) -> list[Server]:
    return [
        Server("node", ["node", "bench/baselines/node_sse.js", "{port}", fragment]),
        Server("uvicorn", [sys.executable, "bench/baselines/starlette_sse.py", "{port}", fragment]),
        minimal_quart(fragment),
    ]


def minimal_quart(fragment: str) -> Server:
    """The smallest plausible Quart SSE app, on the app's venv: the same Quart and Hypercorn as Slotcast."""
    return Server("quart", [APP_PYTHON, "bench/baselines/quart_sse.py", "{port}", fragment])


def seed_database(target: str) -> None:
    """The demo venues and bench/seed.py's hall in `target` (a SQLite file or a postgresql:// URL), by the app's
    Python."""
    subprocess.run([APP_PYTHON, "-m", "bench.seed", target], check=True, cwd=ROOT)
    note(f".venv/bin/python -m bench.seed {target}")


def seeded_postgres() -> PostgresServer:
    """A throwaway PostgreSQL (fsync on, as in production) holding the seeded database as a template."""
    pg = PostgresServer(durable=True).start()
    ALIASES[f"127.0.0.1:{pg.port}/"] = "127.0.0.1:PGPORT/"
    note("python -m tests.support.postgres_server  # initdb + pg_ctl start on 127.0.0.1:PGPORT (here with fsync on)")
    try:
        seed_database(pg.create_database("seed"))
    except BaseException:
        pg.stop()
        raise
    return pg


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
