"""The kiosk wall display through Quart's test client: the page, its one stream, no personal data."""

from __future__ import annotations

import asyncio
import re
from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

import pytest

from booking.clock import ManualClock
from booking.model import CALL_NEWS
from tests.support.helpers import (
    CONTACT,
    NAME,
    act,
    booked_earlier,
    clinic_slot,
    clinic_today,
    data_of,
    events_in,
    public_booking,
    read_until,
    streams_closed,
    text,
)


def left_today(html: str, resource_id: int) -> int:
    return int(re.search(rf'id="panel-{resource_id}".*?data-left-today="(\d+)"', html, re.S).group(1))


def rule(css: str, selector: str) -> str:
    """The declarations of the stylesheet's rule for exactly this selector."""
    return re.search(rf"^{re.escape(selector)} {{([^}}]*)}}", css, re.M).group(1)


def panel(html: str, resource_id: int) -> str:
    """One panel's HTML, from a page or the last such event of a stream chunk."""
    start = html.rindex(f'id="panel-{resource_id}"')
    return html[start : html.index("</section>", start)]


# -- the page


async def test_kiosk_page_is_a_full_screen_wall_with_a_large_clock(client, clinic):
    response = await client.get("/kiosk/town-clinic")
    html = await text(response)
    assert response.status_code == 200
    assert '<body hx-boost="true" class="kiosk">' in html
    assert '<header class="top">' not in html  # no site chrome on the wall
    assert "<h1>Town Clinic</h1>" in html
    clock = re.search(
        r'<div class="clock-live" sse-swap="clock">\s*<div id="kiosk-clock" class="clock">.*?</div>', html, re.S
    ).group(0)
    local = datetime.now(UTC).astimezone(ZoneInfo(clinic.timezone))
    shown = re.search(r'<time class="time" datetime="([^"]+)">(\d\d:\d\d)</time>', clock)
    assert shown.group(1).startswith(local.date().isoformat())  # the venue's date, not the server's
    assert shown.group(2)[:2] in {local.strftime("%H"), f"{(local.hour + 1) % 24:02d}"}
    assert str(local.year) in clock
    css = await (await client.get("/static/app.css")).get_data(as_text=True)
    assert "--u: 1vmin" in rule(css, "body.kiosk")  # every size on the wall is a multiple of it: it scales
    for counts in (".clock .time", ".slots-now dd", ".panel .today"):  # the counts as large as the clock's digits
        assert "font-size: var(--digits)" in rule(css, counts)
    assert "@media (orientation: portrait)" in css
    # a new call pulses, unless the screen asks for less motion
    assert re.search(
        r"@media \(prefers-reduced-motion: no-preference\) \{\s*\.calling\.news \{ animation: kiosk-call", css
    )


async def test_kiosk_page_has_one_panel_per_open_resource_on_one_stream(client, clinic):
    html = await text(await client.get("/kiosk/town-clinic"))
    ids = [r.id for r in clinic.resources]
    assert re.findall(r'<section id="panel-(\d+)"', html) == [str(i) for i in ids]
    for resource_id in ids:
        assert f'sse-swap="panel-{resource_id}"' in html
    assert html.count("sse-connect=") == 1 and 'sse-connect="/kiosk/town-clinic/events"' in html
    assert "Dr Li" in html and "Dr Wang" in html


async def test_kiosk_shows_the_current_and_next_session_and_what_is_left_today(client, clinic):
    html = await text(await client.get("/kiosk/town-clinic"))
    li = panel(html, clinic.resource("dr-li").id)
    assert "Now 12:00–13:00" in li and "Next 13:00–14:00" in li  # it is midday at the clinic
    assert "5 left" in li
    # 12:00 to 19:00: eight sessions of five
    assert left_today(html, clinic.resource("dr-li").id) == 40 and "Left today: 40" in li


async def test_kiosk_says_full_plainly(client, store, hub, clinic, service):
    dr_li = clinic.resource("dr-li")
    now = await clinic_slot(store, clinic, 12)
    for n in range(5):
        await service.book(dr_li, now.id, f"Patient {n}", "12345", 1, for_staff=True)
    li = panel(await text(await client.get("/kiosk/town-clinic")), dr_li.id)
    assert re.search(r'<div class="full">\s*<dt>Now 12:00–13:00</dt>\s*<dd data-remaining="0">Full</dd>', li)
    assert "Left today: 35" in li


async def test_a_fully_booked_day_says_full_today(client, store, hub, clinic, service):
    dr_wang = clinic.resource("dr-wang")
    for slot in await store.slots_for_day(dr_wang.id, clinic_today(clinic)):
        if slot.ends_at > datetime.now(UTC):
            for _ in range(slot.capacity):
                await service.book(dr_wang, slot.id, "Busy Day", "12345", 1, for_staff=True)
    wang = panel(await text(await client.get("/kiosk/town-clinic")), dr_wang.id)
    assert "Full today" in wang and 'class="today full"' in wang


async def test_kiosk_carries_no_personal_data(client, store, hub, clinic, service):
    dr_li = clinic.resource("dr-li")
    await service.book(dr_li, (await clinic_slot(store, clinic, 15)).id, NAME, CONTACT, 1)
    earlier = await booked_earlier(store, hub, await clinic_slot(store, clinic, 9), name="Early Name")
    await service.call(earlier.id, "Room 1")
    html = await text(await client.get("/kiosk/town-clinic"))
    for private in (NAME, CONTACT, "Early Name", "12345"):
        assert private not in html
    assert "A002" in html  # the called ticket: a number, not a name


async def test_unknown_or_archived_venue_kiosk_is_404(client, store, clinic):
    assert (await client.get("/kiosk/nowhere")).status_code == 404
    assert (await client.get("/kiosk/nowhere/events")).status_code == 404
    await store.update_venue(clinic.id, clinic.name, clinic.kind, clinic.timezone, True)
    assert (await client.get("/kiosk/town-clinic")).status_code == 404
    assert (await client.get("/kiosk/town-clinic/events")).status_code == 404


async def test_archived_resource_has_no_panel(client, service, clinic):
    dr_wang = clinic.resource("dr-wang")
    await service.edit_resource(dr_wang, archived=True)
    html = await text(await client.get("/kiosk/town-clinic"))
    assert re.findall(r'<section id="panel-(\d+)"', html) == [str(clinic.resource("dr-li").id)]
    assert "Dr Wang" not in html


# -- the stream


async def test_kiosk_stream_sends_the_clock_and_every_panel_on_connect(client, hub, clinic):
    li, wang = (clinic.resource(s).id for s in ("dr-li", "dr-wang"))
    async with client.request("/kiosk/town-clinic/events") as connection:
        first = await read_until(connection, f"event: panel-{wang}".encode())
        while first.count(b"</section>") < 2:
            first += await read_until(connection, b"</section>")
        assert connection.headers["Content-Type"] == "text/event-stream"
        assert first.startswith(b"retry: 2000\nevent: ")  # the wall reconnects by itself after a restart
        assert events_in(first) == ["clock", f"panel-{li}", f"panel-{wang}"]
        assert b'id="kiosk-clock"' in first and f'id="panel-{li}"'.encode() in first
        await connection.disconnect()
    await streams_closed(hub)


async def test_kiosk_stream_sends_a_new_panel_after_a_public_booking(app, client, store, hub, clinic):
    dr_li = clinic.resource("dr-li")
    afternoon = await clinic_slot(store, clinic, 15)
    async with client.request("/kiosk/town-clinic/events") as connection:
        first = data_of(await read_until(connection, f"event: panel-{clinic.resource('dr-wang').id}".encode()))
        assert left_today(first, dr_li.id) == 40
        assert (await public_booking(app, afternoon.id, name=NAME, contact=CONTACT, party_size="1")).status_code == 303
        update = data_of(await read_until(connection, b"</section>"))
        assert events_in(update) == [f"panel-{dr_li.id}"]  # only the resource that changed
        assert left_today(update, dr_li.id) == 39
        assert NAME not in update and CONTACT not in update
        await connection.disconnect()
    await streams_closed(hub)


async def test_kiosk_shows_the_called_number_and_room_after_call_next(admin, stranger, store, hub, clinic):
    dr_li, today = clinic.resource("dr-li"), clinic_today(clinic)
    first = await booked_earlier(store, hub, await clinic_slot(store, clinic, 9))
    second = await booked_earlier(store, hub, await clinic_slot(store, clinic, 10))
    async with stranger.request("/kiosk/town-clinic/events") as connection:
        opening = await read_until(connection, f"event: panel-{clinic.resource('dr-wang').id}".encode())
        assert b"Now calling" not in opening
        response = await act(admin, f"/admin/resources/{dr_li.id}/call-next", day=today.isoformat(), counter="Room 2")
        assert response.status_code == 303
        called = panel(data_of(await read_until(connection, b"</section>")), dr_li.id)
        assert re.search(
            r'Now calling</span>\s*<strong class="ticket">A001</strong>\s*'
            r'<span class="counter">→ Room 2</span>',
            called,
        )
        await act(admin, f"/admin/resources/{dr_li.id}/call-next", day=today.isoformat(), counter="Room 3")
        again = panel(data_of(await read_until(connection, b"</section>")), dr_li.id)
        assert '<strong class="ticket">A002</strong>' in again and "→ Room 3" in again
        assert re.search(r"Called before:\s*<span>A001</span>", again)  # the last few beneath
        await connection.disconnect()
    await streams_closed(hub)
    assert {(await store.booking_by_id(b.id))[0].called_to for b in (first, second)} == {"Room 2", "Room 3"}


async def test_kiosk_stream_after_a_schedule_change(admin, stranger, store, hub, clinic):
    dr_li = clinic.resource("dr-li")
    async with stranger.request("/kiosk/town-clinic/events") as connection:
        await read_until(connection, f"event: panel-{clinic.resource('dr-wang').id}".encode())
        response = await act(
            admin,
            f"/admin/resources/{dr_li.id}/edit",
            name="Dr Li",
            max_party="1",
            horizon_days="3",
            min_notice_minutes="0",
            schedule="daily 08:00-20:00 60 7",
        )
        assert response.status_code == 303
        update = data_of(await read_until(connection, b"</section>"))
        assert f"event: panel-{dr_li.id}" in update
        assert left_today(update, dr_li.id) == 5 + 7 * 7  # the session under way keeps its 5; 13:00-19:00 get 7
        await connection.disconnect()
    await streams_closed(hub)


# -- who waits, what is called, what comes next


async def test_kiosk_shows_the_next_tickets_waiting_by_number_only(client, store, hub, clinic, service):
    dr_li = clinic.resource("dr-li")
    booked = [
        await booked_earlier(store, hub, await clinic_slot(store, clinic, hour), name=f"Waiting Patient {hour}")
        for hour in (9, 10, 11, 12, 13, 14, 15)
    ]  # A001 to A007, one a session
    await service.call(booked[0].id, "Room 1")  # A001 is in
    await service.mark(booked[2].id, "no_show")  # A003 did not come
    html = await text(await client.get("/kiosk/town-clinic"))
    li = panel(html, dr_li.id)
    # the next four of the line, in the order "Call next" takes them: numbers, never names
    assert re.search(
        r'<p class="waiting">Waiting:\s*<span>A002</span><span>A004</span><span>A005</span>'
        r"<span>A006</span></p>",
        li,
    )
    assert "A003" not in li and "A007" not in li
    assert "Waiting Patient" not in html and "12345" not in html
    quiet = panel(html, clinic.resource("dr-wang").id)
    assert 'class="waiting"' not in quiet  # nobody waits for Dr Wang: no empty line


def contrast(one: str, other: str) -> float:
    """The WCAG contrast ratio of two #rrggbb colours."""

    def luminance(colour: str) -> float:
        channels = [int(colour[i : i + 2], 16) / 255 for i in (1, 3, 5)]
        r, g, b = [c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4 for c in channels]
        return 0.2126 * r + 0.7152 * g + 0.0722 * b

    light, dark = sorted((luminance(one), luminance(other)), reverse=True)
    return (light + 0.05) / (dark + 0.05)


async def test_kiosk_text_has_aaa_contrast(client):
    css = await (await client.get("/static/app.css")).get_data(as_text=True)
    kiosk = css[css.index("/* The kiosk:") : css.index(".ticket-box {")]
    texts = set(re.findall(r"(?<![-\w])color: (#[0-9a-f]{6})\b", kiosk))
    grounds = set(re.findall(r"background(?:-color)?: (#[0-9a-f]{6})\b", kiosk))
    assert {"#f5f7fa", "#ffd166"} <= texts and {"#0f1419", "#1c252e"} <= grounds
    for colour in texts:
        for ground in grounds:
            assert contrast(colour, ground) >= 7, (colour, ground)  # WCAG AAA, whatever the size


TUESDAY_EVENING = datetime(2026, 12, 1, 19, 30, tzinfo=UTC)  # the test bistro is in UTC: its last sessions 19:00-20:00


class TestTuesdayEveningAtTheBistro:
    """The app's clock stands at TUESDAY_EVENING until a test moves it."""

    @pytest.fixture
    def clock(self):
        return ManualClock(TUESDAY_EVENING)

    async def test_once_today_is_over_a_panel_shows_the_next_days_first_session(
        self, client, clock, store, hub, service, venue
    ):
        tables, bar = venue.resource("tables"), venue.resource("bar")
        for slot in await store.slots_for_day(bar.id, date(2026, 12, 2)):  # the bar is closed on Wednesday
            await service.close_slot(slot.id, True)
        async with client.request("/kiosk/test-bistro/events") as kiosk:
            before = data_of(await read_until(kiosk, f"event: panel-{bar.id}".encode()))
            while before.count("</section>") < 2:
                before += data_of(await read_until(kiosk, b"</section>"))
            assert "Now 19:00–20:00" in panel(before, tables.id) and "Next session" not in before
            clock.set(datetime(2026, 12, 1, 20, 0, 5, tzinfo=UTC))  # the day's last sessions have ended
            after = ""
            while after.count("</section>") < 2:  # both panels again, by themselves (and the clock)
                after += data_of(await asyncio.wait_for(kiosk.receive(), 2))
            await kiosk.disconnect()
        await streams_closed(hub)
        evening = panel(after, tables.id)
        assert re.search(
            r'<p class="today over">\s*No more sessions today\s*</p>\s*'
            r'<p class="reopens">Next session: Wed 2 Dec 08:00</p>',
            evening,
        )
        assert "Next session: Thu 3 Dec 18:00" in panel(after, bar.id)  # the next day that has a session
        page = await text(await client.get("/kiosk/test-bistro"))
        assert panel(page, tables.id) == evening  # a page and the stream agree
        clock.set(datetime(2026, 12, 2, 0, 0, 5, tzinfo=UTC))  # at midnight "next session" is today's next
        tables_now = panel(await text(await client.get("/kiosk/test-bistro")), tables.id)
        assert "Next 08:00–09:00" in tables_now and "Next session" not in tables_now

    async def test_a_new_call_is_news_for_a_while_and_its_element_says_how_old_it_is(
        self, client, clock, store, hub, service, venue
    ):
        tables = venue.resource("tables")
        evening = (await store.slots_for_day(tables.id, date(2026, 12, 1)))[-1]
        first, _ = await service.book(tables, evening.id, "First Guest", "12345", 2, for_staff=True)
        second, _ = await service.book(tables, evening.id, "Second Guest", "12346", 2, for_staff=True)
        await service.call(first.id, "Table 4")
        call = f'data-call="{first.id}-{int(TUESDAY_EVENING.timestamp() * 1000)}"'
        called = panel(await text(await client.get("/kiosk/test-bistro")), tables.id)
        # animated on insertion (CSS) while it is news; no id, so htmx's settle copies no old attributes onto it
        assert re.search(
            rf'<div class="calling news"\s+{call} data-age-ms="0">\s*'
            r'<span class="label">Now calling</span>\s*<strong class="ticket">A001</strong>\s*'
            r'<span class="counter">→ Table 4</span>\s*</div>',
            called,
        )
        assert "First Guest" not in called and "12345" not in called
        clock.advance(seconds=2.5)
        await service.book(tables, evening.id, "Third Guest", "12347", 1, for_staff=True)
        again = panel(await text(await client.get("/kiosk/test-bistro")), tables.id)
        assert re.search(rf'<div class="calling news"\s+{call} data-age-ms="2500">', again)  # resumes, not restarts
        async with client.request("/kiosk/test-bistro/events") as kiosk:
            opening = data_of(await read_until(kiosk, f"event: panel-{venue.resource('bar').id}".encode()))
            while opening.count("</section>") < 2:
                opening += data_of(await read_until(kiosk, b"</section>"))
            assert 'class="calling news"' in panel(opening, tables.id)
            clock.advance(seconds=CALL_NEWS.total_seconds())  # old news: the hub renders the panel again by itself
            aged = panel(data_of(await read_until(kiosk, b"</section>")), tables.id)
            await kiosk.disconnect()
        await streams_closed(hub)
        assert re.search(rf'<div class="calling"\s+{call}>\s*<span class="label">Now calling</span>', aged)
        await service.book(tables, evening.id, "Fourth Guest", "12348", 1, for_staff=True)
        assert re.search(
            rf'<div class="calling"\s+{call}>',  # another booking: the same call, not announced again
            panel(await text(await client.get("/kiosk/test-bistro")), tables.id),
        )
        await service.call(second.id, "Table 7")
        recalled = panel(await text(await client.get("/kiosk/test-bistro")), tables.id)
        assert re.search(
            rf'<div class="calling news"\s+data-call="{second.id}-{int(clock.now().timestamp() * 1000)}"'
            r' data-age-ms="0">',
            recalled,
        )
        assert re.search(r"Called before:\s*<span>A001</span>", recalled)
