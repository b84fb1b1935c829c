"""The load client: single HTTP requests, SSE subscribers in load.py worker processes, and a series of changes timed
from their request to each stream's receipt."""

from __future__ import annotations

import asyncio
import itertools
import json
import re
import shlex
import subprocess
import sys
import time
from datetime import datetime, timedelta
from typing import Protocol
from zoneinfo import ZoneInfo

from bench.workspace import BENCH, WORK, note, pct
from tests.support.live_server import cpu_seconds


class Server(Protocol):
    """What the load client needs of a server under test (bench.servers.Server is one)."""

    @property
    def ports(self) -> list[int]: ...

    def cpu(self) -> float: ...

    async def trigger(self, version: int) -> tuple[float, float]: ...


SOURCES = ",".join(f"127.0.0.{i}" for i in range(1, 9))  # spreads the client ports over 8 source addresses
LONDON_TOMORROW = (datetime.now(ZoneInfo("Europe/London")) + timedelta(days=1)).date().isoformat()
PEOPLE = itertools.count(1)  # a new contact per booking: the demo venues limit bookings per person


def booking_body(slot_id: int) -> dict:
    """A booking's JSON for POST /api/v1/bookings, each with a contact of its own."""
    return {"slot_id": slot_id, "name": "Bench", "contact": f"bench{next(PEOPLE)}@example.com"}


def request_bytes(method: str, path: str, body: dict | None = None) -> bytes:
    """One HTTP/1.1 request (JSON body, Connection: close), as it goes on the wire."""
    data = json.dumps(body).encode() if body is not None else b""
    return (
        f"{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n"
        f"Content-Type: application/json\r\nContent-Length: {len(data)}\r\n\r\n".encode()
        + data
    )


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
    status, body = await http(port, "POST", "/api/v1/bookings", booking_body(slot_id))
    assert status == 201, (status, body)
    return sent, time.monotonic()


class Subscribers:
    """`count` SSE streams over several load.py processes, spread over the server's ports. With `marks`, each stream
    also keeps when the first event meeting each arrived, in turn (`marked(k)`; load.py's MARK)."""

    def __init__(
        self,
        server: Server,
        count: int,
        path: str | list[str],
        event: str = "slots",
        processes: int = 2,
        marks: tuple[str, ...] = (),
        gzip: bool = False,
    ):
        # path: one for every stream, or a list (stream i on path i: the entrants' own pages)
        self.server, self.count, self.path, self.event, self.marks = server, count, path, event, marks
        # gzip: as a browser asks (Slotcast only: the baselines send identity)
        self.mode = "sse-gzip" if gzip else "sse"
        self.ports = server.ports
        self.processes = max(len(self.ports), processes if count >= 1000 else 1)
        self.workers: list[asyncio.subprocess.Process] = []

    async def __aenter__(self) -> Subscribers:
        share = [self.count // self.processes + (i < self.count % self.processes) for i in range(self.processes)]
        argv, marks = [sys.executable, str(BENCH / "load.py"), self.mode], list(self.marks)
        paths = self.paths(share)
        shown = "@FILE" if isinstance(self.path, list) else self.path
        note(" ".join(argv + ["PORT", shown, "COUNT", self.event, SOURCES, *map(shlex.quote, marks)]))
        self.workers = [
            await asyncio.create_subprocess_exec(
                *argv,
                str(self.ports[i % len(self.ports)]),
                paths[i],
                str(n),
                self.event,
                SOURCES,
                *marks,
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                limit=2**28,
            )
            for i, n in enumerate(share)
        ]
        try:
            opened = [await self._read(w) for w in self.workers]
            failed = sum(o["failed"] for o in opened)
            if failed:
                raise RuntimeError(
                    f"{failed} of {self.count} streams failed to open: {next(o['error'] for o in opened if o['error'])}"
                )
        except BaseException:
            await self.__aexit__()
            raise
        self.open_seconds = max(o["done"] for o in opened) - min(o["began"] for o in opened)
        return self

    def paths(self, share: list[int]) -> list[str]:
        """Each worker's PATH argument: the one path, or @FILE holding its share of the list, one a line."""
        if not isinstance(self.path, list):
            return [self.path] * len(share)
        files, first = [], 0
        for i, n in enumerate(share):
            file = WORK / f"paths-{id(self)}-{i}.txt"
            file.write_text("\n".join(self.path[first : first + n]))
            files.append(f"@{file}")
            first += n
        return files

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
    return dict(
        delays=delays,
        per_change=per_change,
        p99_per_change=p99_per_change,
        lost=lost,
        cpu=cpu,
        count=count,
        client_cpu=client_cpu,
        answer=[answered[k] - sent[k] for k in sent],
        p99_by_port=p99_by_port,
    )
