"""The kiosk wall display through Quart's test client: the page, its one stream, no personal data."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from helpers import (
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


def panel(html: str, resource_id: int) -> str:
    """One panel's HTML, from a page or the last such event of a stream chunk."""
    start = html.rindex(f'id="panel-{resource_id}"')
    return html[start:html.index("</section>", start)]


# -- the page


async def test_kiosk_page_is_a_full_screen_wall_with_a_large_clock(client, clinic):
    response = await client.get("/kiosk/town-clinic")
    html = await text(response)
    assert response.status_code == 200
    assert '<body hx-boost="true" class="kiosk">' in html
    assert '<header class="top">' not in html  # no site chrome on the wall
    assert "<h1>Town Clinic</h1>" in html
    clock = re.search(r'<div class="clock-live" sse-swap="clock">\s*<div id="kiosk-clock" class="clock">.*?</div>', html, re.S).group(0)
    local = datetime.now(UTC).astimezone(ZoneInfo(clinic.timezone))
    shown = re.search(r'<time class="time" datetime="([^"]+)">(\d\d:\d\d)</time>', clock)
    assert shown.group(1).startswith(local.date().isoformat())  # the venue's date, not the server's
    assert shown.group(2)[:2] in {local.strftime("%H"), f"{(local.hour + 1) % 24:02d}"}
    assert str(local.year) in clock
    css = await (await client.get("/static/app.css")).get_data(as_text=True)
    assert re.search(r"\.clock \.time \{[^}]*font-size: clamp\([^)]*\dv(w|h|max|min)\b", css)  # scales with the screen


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
        assert first.startswith(b"retry: 2000\n\n")  # the wall reconnects by itself after a restart
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
        assert re.search(r'Now calling</span>\s*<strong class="ticket">A001</strong>\s*'
                         r'<span class="counter">→ Room 2</span>', called)
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
        response = await act(admin, f"/admin/resources/{dr_li.id}/edit", name="Dr Li", max_party="1",
                             horizon_days="3", min_notice_minutes="0", schedule="daily 08:00-20:00 60 7")
        assert response.status_code == 303
        update = data_of(await read_until(connection, b"</section>"))
        assert f"event: panel-{dr_li.id}" in update
        assert left_today(update, dr_li.id) == 5 + 7 * 7  # the session under way keeps its 5; 13:00-19:00 get 7
        await connection.disconnect()
    await streams_closed(hub)
