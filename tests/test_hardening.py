"""The live path under abuse, against a real `python app.py` (Hypercorn): stream caps, stalled readers,
heartbeats and dead peers, SIGTERM with 1,000 open streams, and kill -9 in the middle of a booking burst."""

from __future__ import annotations

import asyncio
import itertools
import json
import re
import signal
import socket
import sqlite3
import time
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from tests.support.live_server import LiveServer, raise_open_files_limit

PEOPLE = itertools.count(1)  # a new contact per booking: the demo venues limit bookings per person

VENUE, RESOURCE = "harbour-kitchen", "terrace"  # demo: open every day 11:00-21:00, 20 places an hour
TOMORROW = (datetime.now(ZoneInfo("Europe/London")) + timedelta(days=1)).date().isoformat()
TCP_REPAIR = 19  # close a socket without a FIN or RST: the peer vanishes as a phone leaving the network does


@pytest.fixture
async def server(tmp_path):
    """A started server; tests that need other settings make their own."""
    servers = []

    async def make(host: str = "127.0.0.1", **config) -> LiveServer:  # the load comes from one address: no booking
        # rate per address
        servers.append(await LiveServer(tmp_path, {"HOST": host}, **{"BOOKINGS_PER_MINUTE": 0, **config}).astart())
        return servers[-1]

    yield make
    for s in servers:
        s.kill()


# -- a small HTTP/1.1 client on raw asyncio streams


async def request(port: int, method: str, path: str, body: dict | None = None) -> tuple[int, dict | str]:
    """One request on its own connection: (status, JSON or text)."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        data = json.dumps(body).encode() if body is not None else b""
        writer.write(
            f"{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n"
            f"Content-Type: application/json\r\nContent-Length: {len(data)}\r\n\r\n".encode()
            + data
        )
        answer = await asyncio.wait_for(reader.read(), 10)
    finally:
        writer.close()
    head, _, text = answer.partition(b"\r\n\r\n")
    status = int(head.split(b" ", 2)[1])
    return status, json.loads(text) if b"application/json" in head else text.decode()


SLOTS = b"event: slots\n"  # the day table's event: its first is the state, each next one a change


class Stream:
    """An SSE connection as a browser's EventSource holds it."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, status: int, head: bytes):
        self.reader, self.writer, self.status, self.head, self.seen = reader, writer, status, head, b""
        # A stream past a cap is a 200 that ends at once and says when to come back (a retry: field, Retry-After).
        self.admitted = status == 200 and b"retry-after:" not in head.lower()

    @classmethod
    async def open(cls, port: int, path: str, source: str = "127.0.0.1") -> Stream:
        reader, writer = await asyncio.open_connection("127.0.0.1", port, local_addr=(source, 0))
        writer.write(f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept: text/event-stream\r\n\r\n".encode())
        head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 10)
        return cls(reader, writer, int(head.split(b" ", 2)[1]), head)

    async def until(self, needle: bytes, timeout: float = 5.0, times: int = 1) -> bytes:
        """Read until `needle` has arrived `times` times in all; everything read so far."""
        async with asyncio.timeout(timeout):
            while self.seen.count(needle) < times:
                chunk = await self.reader.read(65536)
                if not chunk:
                    raise EOFError(self.seen[-300:])
                self.seen += chunk
        return self.seen

    def close(self) -> None:
        self.writer.close()


async def day_stream_path(port: int) -> str:
    """The day page's `sse-connect` URL, as a browser finds it."""
    status, html = await request(port, "GET", f"/book/{VENUE}/{RESOURCE}/{TOMORROW}")
    assert status == 200
    return re.search(r'sse-connect="([^"]+)"', html).group(1)


async def slot_ids(port: int, day: str = TOMORROW) -> list[int]:
    status, body = await request(port, "GET", f"/api/v1/venues/{VENUE}/resources/{RESOURCE}/slots?date={day}")
    assert status == 200
    return [s["id"] for s in body["slots"]]


async def book(port: int, slot_id: int, party_size: int = 1) -> tuple[int, dict]:
    return await request(
        port,
        "POST",
        "/api/v1/bookings",
        {
            "slot_id": slot_id,
            "name": "Load Test",
            "contact": f"load{next(PEOPLE)}@example.com",
            "party_size": party_size,
        },
    )


async def open_many(port: int, path: str, count: int, sources: list[str]) -> list[Stream]:
    """`count` streams spread over `sources`, opened together, each once its first event arrived."""

    async def one(i: int) -> Stream:
        stream = await Stream.open(port, path, sources[i % len(sources)])
        if stream.admitted:
            await stream.until(b"\n\n", 10)
        return stream

    return list(await asyncio.gather(*(one(i) for i in range(count))))


# -- caps


async def test_caps_turn_away_past_the_limit_until_later_and_serve_everyone_else(server):
    s = await server(SSE_MAX_PER_CLIENT=200, SSE_MAX_STREAMS=260)
    path = await day_stream_path(s.port)

    crowd = await open_many(s.port, path, 300, ["127.0.0.1"])
    admitted = [c.admitted for c in crowd]
    assert admitted.count(True) == 200 and admitted.count(False) == 100 and {c.status for c in crowd} == {200}
    refused = next(c for c in crowd if not c.admitted)
    assert re.search(rb"(?i)^retry-after: 30\r$", refused.head, re.M)
    # An EventSource gives up on an error status; this one ends, and its client comes back after `retry`.
    await refused.until(b"retry: 30000\n: Too many requests")
    assert re.search(rb"(?i)^content-length: \d+\r$", refused.head, re.M)  # a whole answer, not an open stream

    # Another address is still served, up to the total cap.
    others = await open_many(s.port, path, 60, ["127.0.0.2"])
    assert [o.admitted for o in others] == [True] * 60
    assert not (await Stream.open(s.port, path, "127.0.0.3")).admitted  # 260 open in all

    # Everyone admitted keeps getting updates.
    admitted = [c for c in crowd if c.admitted] + others
    status, _ = await book(s.port, (await slot_ids(s.port))[-1])
    assert status == 201
    await asyncio.gather(*(a.until(SLOTS, 5, times=2) for a in admitted))  # the state, then the change

    # Closed streams free their places.
    for c in admitted[:5]:
        c.close()
    await asyncio.sleep(0.2)
    assert (await Stream.open(s.port, path, "127.0.0.1")).admitted


async def test_a_dual_stack_server_counts_each_ipv4_client_apart(server):
    """Bound to [::], the server is handed every IPv4 client as ::ffff:a.b.c.d: each is still its own client."""
    s = await server(host="[::]", SSE_MAX_PER_CLIENT=1)
    path = await day_stream_path(s.port)
    first, second = await Stream.open(s.port, path, "127.0.0.1"), await Stream.open(s.port, path, "127.0.0.2")
    again = await Stream.open(s.port, path, "127.0.0.1")
    assert (first.admitted, second.admitted, again.admitted) == (True, True, False)
    for stream in (first, second, again):
        stream.close()


# -- slow and stalled readers


async def test_a_stalled_reader_is_dropped_and_delays_nobody(server):
    s = await server(WRITE_TIMEOUT_SECONDS=1, SSE_MAX_PER_CLIENT=1)
    path = await day_stream_path(s.port)
    slots = await slot_ids(s.port)
    readers = await open_many(s.port, path, 20, [f"127.0.1.{i}" for i in range(1, 21)])

    # A client that sends its request and never reads a byte (a frozen tab), with a small receive buffer.
    stalled = socket.socket()
    stalled.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    stalled.bind(("127.0.0.9", 0))
    stalled.connect(("127.0.0.1", s.port))
    stalled.sendall(f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n".encode())
    await asyncio.sleep(0.2)
    assert not (await Stream.open(s.port, path, "127.0.0.9")).admitted  # it holds its address's one place
    rss_before = s.rss()

    delays, dropped_after, last = [], None, 59
    began = time.monotonic()
    for n in range(60):  # changes of ~4 KB each, one every 50 ms, up to 60: far more than the stalled buffers hold
        status, _ = await book(s.port, slots[n % len(slots)])
        assert status == 201
        sent = time.monotonic()
        await asyncio.gather(*(r.until(SLOTS, 2, times=n + 2) for r in readers))
        delays.append(time.monotonic() - sent)
        if dropped_after is None and (await Stream.open(s.port, path, "127.0.0.9")).admitted:
            dropped_after = time.monotonic() - began  # its place is free: the server dropped it
            last = n + 5  # a few more changes once it is gone: the others' delays mattered while it stalled
        if n == last:
            break
        await asyncio.sleep(0.05)

    # A stream blocked behind the stalled one would wait for its drop (WRITE_TIMEOUT_SECONDS=1); a busy machine
    # running other test workers alongside takes a few tenths by itself.
    assert max(delays) < 0.8, f"the others waited up to {max(delays):.3f} s"
    assert dropped_after is not None and dropped_after < 4, "the stalled reader was never dropped"
    assert s.rss() - rss_before < 8 * 2**20
    stalled.close()


# -- heartbeats and dead peers


async def test_idle_streams_get_a_heartbeat_and_vanished_peers_are_reaped(server):
    s = await server(HEARTBEAT_SECONDS=2, SSE_MAX_PER_CLIENT=1)  # 2 s: room for a loaded machine below
    path = await day_stream_path(s.port)
    idle = await Stream.open(s.port, path, "127.0.0.4")
    gone = await Stream.open(s.port, path, "127.0.0.5")
    await gone.until(b"\n\n")
    await idle.until(b": ping\n\n", 6)  # with nothing to say, the stream still carries a comment
    await gone.until(b": ping\n\n", 3)
    await asyncio.sleep(0.1)  # its ping acknowledged: nothing in flight to it any more

    try:
        gone.writer.get_extra_info("socket").setsockopt(socket.IPPROTO_TCP, TCP_REPAIR, 1)
    except OSError:
        pytest.skip("TCP_REPAIR needs CAP_NET_ADMIN: cannot make a peer vanish silently here")
    gone.close()  # no FIN, no RST: the server learns of it only when it next writes
    assert not (await Stream.open(s.port, path, "127.0.0.5")).admitted  # a heartbeat just went: ~2 s to the next
    began = time.monotonic()
    while not (await Stream.open(s.port, path, "127.0.0.5")).admitted:
        assert time.monotonic() - began < 4.5, "the vanished peer was never reaped"
        await asyncio.sleep(0.05)


# -- graceful shutdown


async def test_sigterm_with_1000_streams_is_prompt_and_pages_reconnect(server):
    raise_open_files_limit()
    s = await server(SSE_RETRY_MS=100, SSE_MAX_PER_CLIENT=1000)
    path = await day_stream_path(s.port)
    streams = await open_many(s.port, path, 1000, ["127.0.0.1"])
    assert all(st.admitted for st in streams)

    took = await s.astop(signal.SIGTERM)
    assert took < 3, f"SIGTERM took {took:.1f} s with 1,000 open streams"
    await asyncio.gather(*(st.until(b"event: close\n", 2) for st in streams))  # each told to close
    for st in streams:
        st.close()

    # A restart on the same port: each page reconnects after `retry` (as EventSource does) and starts afresh.
    await s.astart()
    back = await asyncio.gather(*(Stream.open(s.port, path) for _ in streams))
    assert all(b.admitted for b in back)
    await asyncio.gather(*(b.until(SLOTS) for b in back))
    assert (await book(s.port, (await slot_ids(s.port))[0]))[0] == 201
    await asyncio.gather(*(b.until(SLOTS, 5, times=2) for b in back))
    for b in back:
        b.close()


# -- durability


async def test_kill_9_mid_burst_keeps_every_confirmed_booking(server, tmp_path):
    s = await server()
    slots = [
        i
        for day in (1, 2, 3)
        for i in await slot_ids(
            s.port, (datetime.now(ZoneInfo("Europe/London")) + timedelta(days=day)).date().isoformat()
        )
    ]
    confirmed: list[dict] = []

    async def booker(n: int) -> None:
        for i in range(1000):
            try:
                status, body = await book(s.port, slots[(n * 7 + i) % len(slots)], 1 + (n + i) % 3)
            except (OSError, asyncio.IncompleteReadError, IndexError, ValueError):
                return  # the server is gone
            if status == 201:
                confirmed.append(body)

    bookers = [asyncio.create_task(booker(n)) for n in range(40)]
    while len(confirmed) < 150:
        await asyncio.sleep(0.005)
    await s.astop(signal.SIGKILL)
    await asyncio.wait_for(asyncio.gather(*bookers), 15)

    await s.astart()  # recovers the same file
    db = sqlite3.connect(tmp_path / "slotcast.db")
    stored = dict(db.execute("SELECT reference, party_size FROM bookings WHERE status = 'confirmed'"))
    assert all(stored.get(b["reference"]) == b["party_size"] for b in confirmed)
    mismatched = db.execute(
        "SELECT s.id FROM slots s LEFT JOIN bookings b ON b.slot_id = s.id AND b.status = 'confirmed'"
        " GROUP BY s.id HAVING s.booked != COALESCE(SUM(b.party_size), 0) OR s.booked > s.capacity"
    ).fetchall()
    assert mismatched == []
    assert len(stored) >= len(confirmed) >= 150
