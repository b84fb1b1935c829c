"""Answers on their way out: the API's JSON reads carry an ETag (If-None-Match: a bare 304) that changes with the
answer, and HTML and JSON over 1 KB go gzipped to a client that takes it; small answers, streams and static files
go as they did."""

from __future__ import annotations

import gzip

from tests.support.helpers import read_until
from tests.test_wire import gunzip

GZIP = {"Accept-Encoding": "gzip, deflate, br"}


def slots_url(day) -> str:
    return f"/api/v1/venues/test-bistro/resources/tables/slots?date={day.isoformat()}"


async def test_json_reads_carry_an_etag_and_a_matching_one_is_a_bare_304(client, venue, tomorrow):
    for url in ("/api/v1/venues", f"/api/v1/venues/test-bistro/availability?from={tomorrow}", slots_url(tomorrow)):
        first = await client.get(url)
        tag = first.headers["ETag"]
        assert first.status_code == 200 and tag.startswith('"') and "Content-Encoding" not in first.headers
        again = await client.get(url, headers={"If-None-Match": tag})
        assert again.status_code == 304 and await again.get_data() == b"" and again.headers["ETag"] == tag
        other = await client.get(url, headers={"If-None-Match": '"something-else"'})
        assert other.status_code == 200 and await other.get_data() == await first.get_data()


async def test_the_slots_tag_changes_with_the_slots(client, service, venue, slot, tomorrow):
    before = (await client.get(slots_url(tomorrow))).headers["ETag"]
    await service.book(venue.resource("tables"), slot.id, "Ana", "ana@example.com", 2)
    after = await client.get(slots_url(tomorrow), headers={"If-None-Match": before})
    assert after.status_code == 200 and after.headers["ETag"] != before
    assert (await after.get_json())["slots"][0]["booked"] == 2


async def test_only_json_reads_are_tagged(client, slot):
    page = await client.get(f"/slots/{slot.id}/book")
    booking = await client.post("/api/v1/bookings", json={"slot_id": slot.id, "name": "Ana", "contact": "a@b.org"})
    missing = await client.get("/api/v1/venues/nowhere/availability?from=2030-06-03")
    assert [r.status_code for r in (page, booking, missing)] == [200, 201, 404]
    assert not any("ETag" in r.headers for r in (page, booking, missing))


async def test_a_large_json_answer_is_gzipped_for_a_client_that_takes_it(client):
    plain = await client.get("/api/v1/openapi.json")
    packed = await client.get("/api/v1/openapi.json", headers=GZIP)
    body = await plain.get_data()
    assert len(body) > 30_000 and "Content-Encoding" not in plain.headers
    assert packed.headers["Content-Encoding"] == "gzip" and "Accept-Encoding" in packed.headers["Vary"]
    assert gzip.decompress(await packed.get_data()) == body and int(packed.headers["Content-Length"]) < len(body) / 4
    # one tag per encoding: a cache holding the plain answer never gets the gzipped one's 304, nor the other way
    assert packed.headers["ETag"] != plain.headers["ETag"]
    again = await client.get("/api/v1/openapi.json", headers={**GZIP, "If-None-Match": packed.headers["ETag"]})
    assert again.status_code == 304 and await again.get_data() == b""
    refused = await client.get("/api/v1/openapi.json", headers={"Accept-Encoding": "gzip;q=0"})
    assert "Content-Encoding" not in refused.headers and await refused.get_data() == body


async def test_pages_are_gzipped_and_small_answers_are_not(client, tomorrow):
    day = f"/book/test-bistro/tables/{tomorrow.isoformat()}"
    plain, packed = await client.get(day), await client.get(day, headers=GZIP)
    assert packed.headers["Content-Encoding"] == "gzip" and "Accept-Encoding" in packed.headers["Vary"]
    assert len(await plain.get_data()) > 4000 and b'<table class="slots">' in gzip.decompress(await packed.get_data())
    assert "Content-Encoding" not in plain.headers
    for small in ("/api/v1/venues/test-bistro/availability", "/healthz", "/api/v1/nothing"):
        answer = await client.get(small, headers=GZIP)
        assert len(await answer.get_data()) < 1024 and "Content-Encoding" not in answer.headers, small
        assert "Accept-Encoding" not in answer.headers.get("Vary", "")


async def test_streams_and_static_files_are_encoded_once(client, tomorrow):
    asset = await client.get("/static/vendor/htmx-2.0.11.min.js", headers=GZIP)
    assert asset.headers["Content-Encoding"] == "gzip"
    assert gzip.decompress(await asset.get_data()).startswith(b"var htmx")  # one layer of gzip, not two
    path = f"/api/v1/venues/test-bistro/resources/tables/slots/stream?date={tomorrow}"
    async with client.request(path, headers=GZIP) as stream:
        state = gunzip().decompress(await read_until(stream, b"\x00\x00\xff\xff"))  # the stream's own segments
        assert stream.headers["Content-Encoding"] == "gzip" and "ETag" not in stream.headers
        assert state.startswith(b"retry: ")  # one layer: SSE text once decoded
        await stream.disconnect()
