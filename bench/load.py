"""Load client worker: many SSE subscribers or polling pages on raw asyncio protocols, driven over stdin.

    python bench/load.py sse  PORT PATH COUNT EVENT SOURCES [MARK ...]  # stdin: "report A B" | "bytes" | "marked [K]"
                                                                         #        | "quit"
    python bench/load.py sse  PORT @FILE COUNT ...  # stream i on the i-th path of FILE (one a line: entrant pages)
    python bench/load.py sse-gzip ...  # the same, asking for gzip as browsers do (each message inflated as it comes)
    python bench/load.py poll PORT PATH COUNT INTERVAL SECONDS SOURCES

Every line on stdout is one JSON object. Times are time.monotonic() (CLOCK_MONOTONIC: one clock for all
processes on this machine), so the driver can subtract its own booking times from them. With MARK, each stream
also keeps when the first event of the wanted name whose text holds MARK arrived ("marked": those times, null
for a stream that has had none). Several MARKs are met in turn, each in an event later than the one that met the
one before ("marked K": the times of the K-th, from 0); a MARK starting with "!" is met by an event whose text does
not hold the rest (">Book</a>" then "!>Book</a>": the first event with a Book link, then the first one after it
with none).
"""

from __future__ import annotations

import asyncio
import json
import random
import re
import resource
import sys
import time
import zlib

OPENING_AT_ONCE = 256  # connections being opened concurrently per worker (well under the servers' backlogs)


def say(**fields) -> None:
    sys.stdout.write(json.dumps(fields) + "\n")
    sys.stdout.flush()


class Inflater:
    """A gzip response's body as it comes: HTTP/1.1 chunks (one per message sent), each inflated at once."""

    def __init__(self):
        self.raw, self.head = b"", True
        self.zlib = zlib.decompressobj(wbits=31)

    def inflate(self, data: bytes) -> bytes:
        """The headers as they are, then the text of every complete chunk so far."""
        raw, out = self.raw + data, []
        if self.head:
            end = raw.find(b"\r\n\r\n")
            if end < 0:
                self.raw = raw
                return b""
            out.append(raw[: end + 4])
            raw, self.head = raw[end + 4 :], False
        while (line := raw.find(b"\r\n")) >= 0:
            size = int(raw[:line], 16)
            if len(raw) < line + 2 + size + 2:
                break
            out.append(self.zlib.decompress(raw[line + 2 : line + 2 + size]))
            raw = raw[line + 2 + size + 2 :]
        self.raw = raw
        return b"".join(out)


class Subscriber(asyncio.Protocol):
    """One EventSource: records when each event of the wanted name arrived complete, by its place on the stream
    (Slotcast's messages carry no id; the changes of a run are spaced, so none is coalesced)."""

    def __init__(self, request: bytes, event: bytes, opened: asyncio.Future, marks: tuple[bytes, ...] = ()):
        self.request, self.event, self.opened, self.marks = request, event, opened, marks
        self.buffer = b""
        self.seen: dict[int, float] = {}  # when the n-th event of the wanted name arrived complete
        self.count = 0
        self.marked: list[float] = []  # when the wanted events meeting marks[0], marks[1], ... (in turn) arrived
        self.bytes = 0
        self.transport = None
        self.gzip: Inflater | None = None

    def connection_made(self, transport) -> None:
        self.transport = transport
        transport.write(self.request)

    def data_received(self, data: bytes) -> None:
        now = time.monotonic()
        self.bytes += len(data)
        if self.gzip:
            data = self.gzip.inflate(data)
        buffer = self.buffer + data if self.buffer else data
        end = buffer.rfind(b"\n\n")
        if end < 0:
            self.buffer = buffer
            return
        at = buffer.find(b"event: ")
        while 0 <= at < end:  # complete events only; bytes.find keeps this cheap (a message never spans chunks)
            stop = buffer.find(b"\n", at)
            if buffer[at + 7 : stop] == self.event:  # the n-th of its name on this stream: 0 the state, then changes
                self.seen.setdefault(self.count, now)
                self.count += 1
                if len(self.marked) < len(self.marks) and self.meets(self.marks[len(self.marked)], buffer, stop):
                    self.marked.append(now)
            at = buffer.find(b"event: ", stop)
        self.buffer = buffer[end + 2 :]
        if self.seen and not self.opened.done():
            self.opened.set_result(now)

    @staticmethod
    def meets(mark: bytes, buffer: bytes, start: int) -> bool:
        """Whether the event from `start` to its blank line holds `mark` (a mark "!TEXT": does not hold TEXT)."""
        end = buffer.find(b"\n\n", start)
        if mark[:1] == b"!":
            return buffer.find(mark[1:], start, end) < 0
        return buffer.find(mark, start, end) >= 0

    def connection_lost(self, exc) -> None:
        if not self.opened.done():
            self.opened.set_exception(ConnectionError(f"closed before the first event: {self.buffer[:200]!r}"))


async def subscribe(
    port: int, path: str, count: int, event: str, sources: list[str], *marks: str, gzip: bool = False
) -> None:
    """Open `count` streams, then answer the driver's commands until "quit"."""
    loop = asyncio.get_running_loop()
    encoding = "Accept-Encoding: gzip\r\n" if gzip else ""
    paths = open(path[1:]).read().split() if path.startswith("@") else [path]
    requests = [
        f"GET {p} HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept: text/event-stream\r\n{encoding}\r\n".encode() for p in paths
    ]
    gate = asyncio.Semaphore(OPENING_AT_ONCE)
    subs: list[Subscriber] = []

    async def one(i: int) -> None:
        async with gate:
            opened = loop.create_future()
            request = requests[i % len(requests)]
            sub = Subscriber(request, event.encode(), opened, tuple(m.encode() for m in marks))
            sub.gzip = Inflater() if gzip else None
            await loop.create_connection(lambda: sub, "127.0.0.1", port, local_addr=(sources[i % len(sources)], 0))
            subs.append(sub)
            await asyncio.wait_for(opened, 60)

    began = time.monotonic()
    results = await asyncio.gather(*(one(i) for i in range(count)), return_exceptions=True)
    failed = [r for r in results if isinstance(r, BaseException)]
    say(
        opened=count - len(failed),
        failed=len(failed),
        began=began,
        done=time.monotonic(),
        error=repr(failed[0]) if failed else None,
    )

    while True:
        line = (await loop.run_in_executor(None, sys.stdin.readline)).split()
        if not line or line[0] == "quit":
            break
        if line[0] == "report":  # for each id in [A, B]: arrival times, and streams that never got it nor a later one
            first, last = int(line[1]), int(line[2])
            times = {k: [s.seen[k] for s in subs if k in s.seen] for k in range(first, last + 1)}
            lost = {
                k: sum(1 for s in subs if k not in s.seen and not any(j > k for j in s.seen))
                for k in range(first, last + 1)
            }
            say(times=times, lost=lost)
        elif line[0] == "bytes":
            say(bytes=sum(s.bytes for s in subs))
        elif line[0] == "marked":  # "marked K": the K-th mark's (default 0)
            k = int(line[1]) if len(line) > 1 else 0
            say(times=[s.marked[k] if k < len(s.marked) else None for s in subs])
    for sub in subs:
        sub.transport.close()


class Page:
    """A page that polls a JSON URL on one keep-alive connection; records (arrival, total booked) per answer."""

    def __init__(self, request: bytes):
        self.request, self.buffer, self.answers, self.bytes = request, b"", [], 0
        self.waiting: asyncio.Future | None = None
        self.transport = None

    def connection_made(self, transport) -> None:
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        self.bytes += len(data)
        self.buffer += data
        head, sep, body = self.buffer.partition(b"\r\n\r\n")
        if not sep:
            return
        length = int(re.search(rb"(?i)content-length: (\d+)", head).group(1))
        if len(body) >= length:
            slots = json.loads(body[:length])["slots"]
            self.answers.append((time.monotonic(), sum(s["booked"] for s in slots)))
            self.buffer = body[length:]
            self.waiting.set_result(None)

    def connection_lost(self, exc) -> None:
        if self.waiting and not self.waiting.done():
            self.waiting.set_exception(ConnectionError("closed"))

    def eof_received(self) -> None:
        pass


async def poll(port: int, path: str, count: int, interval: float, seconds: float, sources: list[str]) -> None:
    """`count` pages, each GETting `path` every `interval` s (random phase) for `seconds`."""
    loop = asyncio.get_running_loop()
    request = f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n".encode()
    pages = [Page(request) for _ in range(count)]
    errors = 0

    async def run(i: int, page: Page) -> None:
        nonlocal errors
        start = time.monotonic() + random.uniform(0, interval)
        stop = started + seconds
        n = 0
        while (at := start + n * interval) < stop:
            await asyncio.sleep(max(0.0, at - time.monotonic()))
            for _attempt in range(2):  # as a browser: a keep-alive connection the server closed is opened again
                if page.transport is None or page.transport.is_closing():
                    page.buffer = b""
                    await loop.create_connection(
                        lambda: page, "127.0.0.1", port, local_addr=(sources[i % len(sources)], 0)
                    )
                page.waiting = loop.create_future()
                page.transport.write(page.request)
                try:
                    await asyncio.wait_for(page.waiting, 10)
                    break
                except (TimeoutError, ConnectionError):
                    page.transport.close()
                    errors += 1
            n += 1
        page.transport.close()

    started = time.monotonic()
    await asyncio.gather(*(run(i, p) for i, p in enumerate(pages)), return_exceptions=True)
    say(answers=[p.answers for p in pages], bytes=sum(p.bytes for p in pages), errors=errors)


def main() -> None:
    hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    mode, port, path, count, *rest = sys.argv[1:]
    try:
        import uvloop  # the client must not be the bottleneck: libuv's loop costs less per read than asyncio's

        uvloop.install()
    except ImportError:
        pass
    if mode in ("sse", "sse-gzip"):
        event, sources, *marks = rest
        asyncio.run(subscribe(int(port), path, int(count), event, sources.split(","), *marks, gzip=mode == "sse-gzip"))
    else:
        interval, seconds, sources = rest
        asyncio.run(poll(int(port), path, int(count), float(interval), float(seconds), sources.split(",")))


if __name__ == "__main__":
    main()
