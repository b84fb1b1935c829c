"""The day page: party size first, the date strip with each day's outlook, the next day with room, live."""

from __future__ import annotations

import re
from datetime import timedelta

from booking.model import local_today
from tests.support.helpers import read_until
from tests.test_pages import day_url, text


async def fill(service, resource, slots, size=None):
    for s in slots:
        left = (s.capacity - s.booked) if size is None else size
        while left > 0:
            n = min(left, resource.max_party)
            await service.book(
                resource, s.id, "Filler", f"filler{s.id}.{left}@example.com", n, for_staff=True, over_limit=True
            )
            left -= n


def row_of(html: str, slot_id: int) -> str:
    return re.search(rf'<tr data-slot-id="{slot_id}".*?</tr>', html, re.S).group(0)


def strip_item(html: str, day) -> str:
    return re.search(rf'<li class="(\w+)"><a href="[^"]*/{day.isoformat()}[^"]*"[^>]*>', html).group(0)


async def test_a_party_sees_book_only_where_it_fits(client, service, venue, slot, tomorrow):
    tables = venue.resource("tables")
    await fill(service, tables, [slot], size=7)  # 3 places left
    html = await text(await client.get(day_url(tomorrow) + "?party=4"))
    assert "Too few seats for 4" in row_of(html, slot.id) and "Book" not in row_of(html, slot.id)
    others = re.findall(r'<a class="button" href="(/slots/\d+/book\?party=4)" aria-label="Book (\d\d:\d\d)">', html)
    assert len(others) == 11 and f"/slots/{slot.id}/book?party=4" not in dict(others)
    assert re.search(r'<a class="chosen" aria-current="true" href="[^"]*party=4">4</a>', html)
    alone = await text(await client.get(day_url(tomorrow)))
    assert 'aria-label="Book 08:00"' in row_of(alone, slot.id)  # one person fits the three places left


async def test_the_booking_form_starts_with_the_party_chosen(client, slot):
    html = await text(await client.get(f"/slots/{slot.id}/book?party=3"))
    assert re.search(r'name="party_size"[^>]*value="3"', html)


async def test_a_party_the_resource_cannot_take_is_a_400(client, venue, tomorrow):
    for party in ("5", "0", "abc", "%C2%B2"):
        response = await client.get(day_url(tomorrow) + f"?party={party}")
        assert response.status_code == 400 and "Choose a party of 1 to 4 people." in await text(response)
    tables = venue.resource("tables")
    assert (await client.get(f"/events/day/{tables.id}/{tomorrow}?party=5")).status_code == 400


async def test_the_strip_shows_each_coming_day_and_leads_from_a_full_day_to_the_next_with_room(
    client, service, store, venue, tomorrow
):
    tables = venue.resource("tables")
    today = local_today("UTC")
    await fill(service, tables, await store.slots_for_day(tables.id, tomorrow))
    html = await text(await client.get(day_url(tomorrow)))
    days = re.findall(r'<li class="(\w+)"><a href="/book/test-bistro/tables/([\d-]+)"', html)
    assert [d for _, d in days] == [(today + timedelta(days=n)).isoformat() for n in range(8)]  # the horizon: 7
    assert dict((d, o) for o, d in days)[tomorrow.isoformat()] == "full"
    assert 'aria-current="date"' in strip_item(html, tomorrow)
    day_after = tomorrow + timedelta(days=1)
    assert re.search(rf'<a href="/book/test-bistro/tables/{day_after}">Next available: [^<]* at 08:00 →</a>', html)


async def test_a_past_day_points_forward_to_the_first_day_with_room(client):
    """(A day beyond the horizon is not open yet: it says when it opens, and nothing else: see test_words.py.)"""
    today = local_today("UTC")
    html = await text(await client.get(day_url(today - timedelta(days=3))))
    assert "This day has passed." in html and "Nothing free" not in html
    assert re.search(r'<a href="/book/test-bistro/tables/([\d-]+)">Next available', html).group(1) in (
        today.isoformat(),
        (today + timedelta(days=1)).isoformat(),
    )  # 20:00 today may be over


async def test_the_strip_moves_live_when_a_day_fills_and_only_then(client, service, store, venue, tomorrow):
    tables = venue.resource("tables")
    slots = await store.slots_for_day(tables.id, tomorrow)
    watched = tomorrow + timedelta(days=2)
    async with client.request(f"/events/day/{tables.id}/{watched}") as stream:
        await read_until(stream, b"</nav>")
        await fill(service, tables, slots[:-1])  # the day still has room: its strip is unchanged
        await fill(service, tables, slots[-1:], size=9)
        await fill(service, tables, slots[-1:], size=1)  # now it is full
        update = await read_until(stream, b"</nav>")
        await stream.disconnect()
    assert update.count(b"event: days\n") == 1
    assert re.search(rf'<li class="full"><a href="[^"]*/{tomorrow}"'.encode(), update.replace(b"data: ", b""))


async def test_the_strip_starts_the_day_before_the_one_shown_within_the_horizon(client, service, venue):
    """A phone shows the strip's start: it starts next to the day shown (the horizon allowing)."""
    await service.edit_resource(venue.resource("tables"), horizon_days=30)
    today = local_today("UTC")
    for shown, starts in ((0, 0), (1, 0), (5, 4), (25, 17), (40, 17)):  # the last 14 days of the horizon: 17…30
        html = await text(await client.get(day_url(today + timedelta(days=shown))))
        days = re.findall(r'<li class="\w+"><a href="/book/test-bistro/tables/([\d-]+)"', html)
        assert days[0] == (today + timedelta(days=starts)).isoformat() and len(days) == 14
