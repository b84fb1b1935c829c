"""SSE endpoints through the Quart test client: current state first, then every change."""

import asyncio
import gc

from quart import Request

from booking import topics
from live.streams import stream


async def read_until(connection, needle: bytes, timeout=2.0) -> bytes:
    """Everything received until `needle` shows up."""
    seen = b""
    while needle not in seen:
        seen += await asyncio.wait_for(connection.receive(), timeout)
    return seen


def remaining_in(chunk: bytes, slot_id: int) -> int:
    text = chunk.decode()
    row = text[text.rindex(f'data-slot-id="{slot_id}"') :]
    return int(row.split('data-remaining="')[1].split('"')[0])


async def test_day_stream_sends_state_then_each_change(app, client, store, hub, venue, slot, tomorrow, service):
    tables = venue.resource("tables")
    async with client.request(f"/events/day/{tables.id}/{tomorrow}") as connection:
        first = await read_until(connection, b"</div>")
        assert first.startswith(b"retry: 2000\nevent: ")
        assert b"event: slots\n" in first and remaining_in(first, slot.id) == 10
        assert hub.count() == 2  # the day's table and its date strip

        booking, _ = await service.book(tables, slot.id, "Ann", "12345", 3)
        after_booking = await read_until(connection, b"</div>")
        assert remaining_in(after_booking, slot.id) == 7
        assert b"Ann" not in after_booking  # public streams never carry personal data

        await service.cancel(booking.reference, booking.cancel_token)
        after_cancel = await read_until(connection, b"</div>")
        assert remaining_in(after_cancel, slot.id) == 10
        await connection.disconnect()
    for _ in range(50):
        if hub.count() == 0:
            break
        await asyncio.sleep(0.01)
    assert hub.count() == 0


async def test_slot_stream_follows_one_slot(client, store, hub, venue, slot, service):
    async with client.request(f"/events/slot/{slot.id}") as connection:
        first = await read_until(connection, b"</p>")
        assert b"event: slot-status" in first and b'data-remaining="10"' in first
        await service.book(venue.resource("tables"), slot.id, "Ann", "12345", 4)
        assert b'data-remaining="6"' in await read_until(connection, b"</p>")
        await connection.disconnect()


async def test_stream_headers(client, slot):
    async with client.request(f"/events/slot/{slot.id}") as connection:
        await read_until(connection, b"</p>")
        headers = connection.headers
        await connection.disconnect()
    assert headers["Content-Type"] == "text/event-stream"
    assert headers["Cache-Control"] == "no-cache"
    assert headers["X-Accel-Buffering"] == "no"


async def test_chinese_viewers_get_their_own_render(client, store, hub, venue, slot, tomorrow, service):
    tables = venue.resource("tables")
    url = f"/events/day/{tables.id}/{tomorrow}"
    async with client.request(url, headers={"Accept-Language": "zh-CN"}) as zh:
        async with client.request(url) as en:
            await read_until(zh, b"</div>")
            await read_until(en, b"</div>")
            before = hub.renders
            await service.book(tables, slot.id, "Ann", "12345", 1)
            await read_until(zh, b"</div>")
            await read_until(en, b"</div>")
            assert hub.renders - before == 4  # the table and the strip once per locale, not per subscriber
            await en.disconnect()
        await zh.disconnect()


async def test_unknown_topics_are_404(client):
    assert (await client.get("/events/slot/999999")).status_code == 404
    assert (await client.get("/events/day/999999/2026-01-01")).status_code == 404
    assert (await client.get("/events/day/1/not-a-date")).status_code == 400


async def test_shutdown_ends_open_streams_with_a_close_event(client, hub, slot):
    async with client.request(f"/events/slot/{slot.id}") as connection:
        await read_until(connection, b"</p>")
        hub.close()
        assert b"event: close" in await read_until(connection, b"event: close")
        await connection.disconnect()


async def test_an_open_stream_keeps_no_quart_request(client, hub, slot):
    """Once its headers are out a stream runs outside Quart (middleware.handover.Handover): ~11 KB less per open stream.
    (On PostgreSQL the pool's bounded acquire and its release arm timers apart from the request: booking.postgres.)"""
    async with client.request(f"/events/slot/{slot.id}") as connection:
        await read_until(connection, b"</p>")
        gc.collect()
        assert [r for r in gc.get_objects() if isinstance(r, Request) and r.path.startswith("/events/")] == []
        assert hub.count() == 1
        await connection.disconnect()


async def test_a_stream_admitted_but_not_sent_is_not_counted(app, client, slot):
    @app.get("/admitted-then-not")
    async def admitted_then_not():
        await stream(topics.slot(slot.resource_id, slot.id))  # admitted, so counted against the caps...
        return "something else"  # ...but the answer is another: no stream will run

    assert (await client.get("/admitted-then-not")).status_code == 200
    streams = app.extensions["slotcast.streams"]
    assert streams.total == 0 and not streams.per_client


async def test_a_burst_of_renders_is_made_in_one_pass(app, hub, venue, slot, tomorrow, service):
    """Each ticket holder's "N ahead of you" is its own render; renders asked for together share one app context."""
    from quart.signals import appcontext_pushed

    tables = venue.resource("tables")
    booked = [(await service.book(tables, slot.id, f"Guest {n}", f"guest{n}@example.org", 1))[0] for n in range(8)]
    subs = [hub.subscribe([topics.ticket(tables.id, tomorrow, b.id)], "en") for b in booked]
    for sub in subs:
        await hub.first(sub.topics[0], "en")
    pushes = []

    async def pushed(sender, **extra):
        pushes.append(sender)

    appcontext_pushed.connect(pushed)
    try:
        await service.cancel(booked[0].reference, booked[0].cancel_token)
        await hub.settle()
    finally:
        appcontext_pushed.disconnect(pushed)
        for sub in subs:
            hub.unsubscribe(sub)
    news = [next(iter(sub.pending.values()), b"").decode() for sub in subs[1:]]
    assert [text.split('data-ahead="')[1].split('"')[0] for text in news] == [str(n) for n in range(7)]
    assert "You are first in line." in news[0] and "6 ahead of you" in news[6]
    assert len(pushes) == 2  # the first at once, alone; the six asked for meanwhile in one pass (seven passes before)


async def test_a_render_that_fails_in_a_pass_leaves_the_others_theirs(app, hub, venue, slot, tomorrow, service):
    tables = venue.resource("tables")
    booked = [(await service.book(tables, slot.id, f"Guest {n}", f"guest{n}@example.org", 1))[0] for n in range(3)]
    names = [topics.ticket(tables.id, tomorrow, b.id) for b in booked] + [topics.ticket(tables.id, tomorrow, 999999)]
    subs = [hub.subscribe([name], "en") for name in names]
    try:
        hub.notify(topics.ticket.family(tables.id, tomorrow))  # one pass: the lone first, then the other three
        await hub.settle()
        news = [b"".join(sub.pending.values()).decode() for sub in subs]
    finally:
        for sub in subs:
            hub.unsubscribe(sub)
    assert [text.split('data-ahead="')[1].split('"')[0] for text in news[:3]] == ["0", "1", "2"]
    assert news[3] == ""  # no such booking: its render failed, and only its own
