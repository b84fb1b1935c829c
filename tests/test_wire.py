"""SSE on the wire: a gzip stream is a gzip header, then each message as a deflate segment made once for all."""

from __future__ import annotations

import itertools
import zlib
from datetime import date, timedelta

import httpx
import pytest

from live.wire import FAREWELL, GZIP_HEADER, PING, encode, retry
from tests.support.helpers import read_until
from tests.support.live_server import ROOT, LiveServer

PEOPLE = itertools.count()


def gunzip() -> zlib._Decompress:
    """A gzip decoder as a client runs one: it takes the stream's bytes as they come."""
    return zlib.decompressobj(16 + zlib.MAX_WBITS)


def test_each_segment_decodes_anywhere_in_any_gzip_stream():
    a, b = encode("slots", "<p>one</p>\n<p>two</p>"), encode("days", "<nav>…</nav>")
    for order in ([retry(2000), a, b, PING, a], [b, PING, PING, a, FAREWELL], [retry(100), FAREWELL]):
        decoder, seen = gunzip(), b""
        seen += decoder.decompress(GZIP_HEADER)
        for message in order:
            seen += decoder.decompress(message.packed)
            assert seen.endswith(message)  # whole at once: no byte waits for the next segment
        assert seen == b"".join(order)


def test_a_small_window_packs_each_size_as_the_largest_would():
    rows = "".join(f"<tr><td>{h:02}:00</td><td>{h % 7} left</td></tr>\n" for h in range(2000))
    for size in (40, 700, 3000, 20000, 90000):
        message = encode("slots", rows[:size])
        largest = zlib.compressobj(6, zlib.DEFLATED, -zlib.MAX_WBITS)
        assert len(message.packed) <= len(largest.compress(message) + largest.flush(zlib.Z_SYNC_FLUSH))
        decoder = gunzip()
        assert decoder.decompress(GZIP_HEADER + PING.packed + message.packed + PING.packed) == PING + message + PING


def test_only_sse_line_breaks_split_data_lines():
    text = "a\u2028b\x85c\x0cd\re\r\nf\ng"
    assert encode("x", text) == "event: x\ndata: a\u2028b\x85c\x0cd\ndata: e\ndata: f\ndata: g\n\n".encode()
    assert encode("x", "") == b"event: x\ndata: \n\n"


async def test_a_stream_is_gzip_for_a_client_that_takes_it_and_plain_otherwise(
    app, client, service, venue, slot, tomorrow
):
    tables = venue.resource("tables")
    path = f"/events/day/{tables.id}/{tomorrow}"
    async with (
        client.request(path, headers={"Accept-Encoding": "gzip, deflate, br"}) as packed,
        client.request(path) as plain,
    ):
        decoder, state = gunzip(), b""
        while b"</nav>" not in state:  # the state: the retry, the table and the strip, a segment each
            state += decoder.decompress(await read_until(packed, b"\x00\x00\xff\xff"))
        assert state.startswith(b"retry: 2000\nevent: slots\n") and b'data-remaining="10"' in state
        assert b"event: slots\n" in await read_until(plain, b"</nav>")
        await service.book(tables, slot.id, "Ann", "+1 212 555 0100", 3)
        change = await read_until(packed, b"\x00\x00\xff\xff")
        assert len(change) < 1000 and b'data-remaining="7"' in decoder.decompress(change)
        assert b'data-remaining="7"' in await read_until(plain, b'data-remaining="7"')
        assert packed.headers["Content-Encoding"] == "gzip" and "Content-Encoding" not in plain.headers
        for stream in (packed, plain):
            await stream.disconnect()
    async with client.request(path, headers={"Accept-Encoding": "gzip;q=0"}) as refused:  # gzip refused: plain
        assert b"event: slots\n" in await read_until(refused, b"</nav>")
        assert "Content-Encoding" not in refused.headers
        await refused.disconnect()


async def test_httpx_decodes_a_live_gzip_stream_as_it_comes(tmp_path):
    server = await LiveServer(tmp_path, BOOKINGS_PER_MINUTE=0).astart()
    try:
        venue, resource = "harbour-kitchen", "terrace"
        day = next(
            date.today() + timedelta(days=n)
            for n in range(1, 8)
            if server.get_json(
                f"/api/v1/venues/{venue}/resources/{resource}/slots?date={date.today() + timedelta(days=n)}"
            )["slots"]
        )
        slot = server.get_json(f"/api/v1/venues/{venue}/resources/{resource}/slots?date={day}")["slots"][0]
        page = await httpx.AsyncClient(base_url=server.url).get(f"/book/{venue}/{resource}/{day}")
        stream_path = page.text.split('sse-connect="')[1].split('"')[0]
        async with httpx.AsyncClient(base_url=server.url, timeout=5) as http, http.stream("GET", stream_path) as live:
            assert live.headers["content-encoding"] == "gzip"
            chunks = live.aiter_text()
            seen = ""
            while "</nav>" not in seen:
                seen += await anext(chunks)
            booked = await http.post(
                "/api/v1/bookings",
                json={
                    "slot_id": slot["id"],
                    "name": "Wire Test",
                    "contact": f"wire{next(PEOPLE)}@example.com",
                    "party_size": 2,
                },
            )
            assert booked.status_code == 201
            seen = ""
            while f'data-slot-id="{slot["id"]}" data-remaining="{slot["remaining"] - 2}"' not in seen:
                seen += await anext(chunks)
    finally:
        server.kill()


@pytest.fixture
def tomorrow():
    from booking.model import local_today

    return local_today("UTC") + timedelta(days=1)


async def test_static_files_are_gzipped_once_and_addressed_by_their_content(client):
    page = await (await client.get("/")).get_data(as_text=True)
    address = page.split('<script src="')[1].split('"')[0]
    assert address.startswith("/static/vendor/htmx-") and "?v=" in address
    source = (ROOT / address.split("?")[0].removeprefix("/")).read_bytes()
    packed = await client.get(address, headers={"Accept-Encoding": "gzip, br"})
    assert packed.headers["Content-Encoding"] == "gzip" and packed.headers["Cache-Control"].endswith("immutable")
    body = await packed.get_data()
    assert zlib.decompress(body, 16 + zlib.MAX_WBITS) == source and len(body) < len(source) / 2
    plain = await client.get(address)
    assert "Content-Encoding" not in plain.headers and await plain.get_data() == source
    again = await client.get(address, headers={"Accept-Encoding": "gzip", "If-None-Match": packed.headers["ETag"]})
    assert again.status_code == 304 and not await again.get_data()
    unversioned = await client.get(address.split("?")[0])
    assert unversioned.headers["Cache-Control"] == "public, max-age=300"  # it may change under that address
    assert (await client.get("/static/no-such-file.js")).status_code == 404
    assert (await client.get("/static/../app.py")).status_code == 404
