"""The waitlist (候补) as people and integrators use it: join a full slot, an offer live on your page, confirm or not."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest

from tests.support.helpers import (
    CONTACT,
    NAME,
    board_url,
    clock_at,
    csrf_token,
    data_of,
    read_until,
    streams_closed,
    text,
)

START = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
DAY = "2026-12-02"


clock = clock_at(START)


@pytest.fixture
async def bar_slot(store, venue):
    """Tomorrow's 18:00 at the bar (two places), full: two bookings by two people."""
    bar = venue.resource("bar")
    slot = (await store.slots_for_day(bar.id, START.date() + timedelta(days=1)))[0]
    bookings = [(await store.book(slot.id, f"Guest {n}", f"guest{n}@example.com", 1, START))[0] for n in range(2)]
    return slot, bookings


async def join(client, slot_id, name=NAME, contact=CONTACT):
    form = {
        "csrf_token": await csrf_token(client, f"/slots/{slot_id}/book"),
        "name": name,
        "contact": contact,
        "party_size": "1",
    }
    return await client.post(f"/slots/{slot_id}/waitlist", form=form)


def entry_link(response) -> str:
    assert response.status_code == 303, response.status_code
    return response.headers["Location"]


async def test_a_full_slot_offers_its_waitlist(client, venue, bar_slot):
    slot, _ = bar_slot
    day = await text(await client.get(f"/book/test-bistro/bar/{DAY}"))
    assert f'href="/slots/{slot.id}/book#waitlist"' in day
    page = await text(await client.get(f"/slots/{slot.id}/book"))
    assert '<form id="waitlist"' in page and f'action="/slots/{slot.id}/waitlist"' in page


async def test_joining_leads_to_a_live_page_with_the_place_in_line(client, bar_slot):
    slot, _ = bar_slot
    first = entry_link(await join(client, slot.id))
    second = entry_link(await join(client, slot.id, "Bo", "bo@example.com"))
    assert "You are number 1 in line." in await text(await client.get(first))
    html = await text(await client.get(second))
    assert "You are number 2 in line." in html and "sse-connect=" in html and 'sse-swap="waiting"' in html


async def test_a_cancellation_reaches_the_first_waiters_open_page_and_confirming_books(
    app, client, store, hub, service, bar_slot
):
    slot, bookings = bar_slot
    page = entry_link(await join(client, slot.id))
    path, query = page.split("?")
    async with app.test_client().request(f"{path}/events?{query}") as live:
        assert b"number 1 in line" in await read_until(live, b"</div>")
        await service.cancel(bookings[0].reference, bookings[0].cancel_token)
        offer = data_of(await read_until(live, b"A place is yours"))
        assert "A place is yours until 09:10." in offer and "Confirm" in offer
        await live.disconnect()
    await streams_closed(hub)
    assert (await store.slot(slot.id)).remaining == 0  # held for the offer
    token = re.search(r"token=([^&]+)", query).group(1)
    form = {"csrf_token": await csrf_token(client, page), "token": token}
    confirmed = await client.post(f"{path}/accept", form=form)
    assert confirmed.status_code == 303 and confirmed.headers["Location"].startswith("/bookings/")
    after = await store.slot(slot.id)
    assert (after.booked, after.held) == (2, 0)
    assert "You took the place." in await text(await client.get(page))
    assert (await client.post(f"{path}/accept", form=form)).status_code == 409


async def test_an_unconfirmed_offer_passes_on_then_the_place_returns_to_everyone(
    client, clock, store, service, bar_slot
):
    slot, bookings = bar_slot
    first, second = (
        entry_link(await join(client, slot.id)),
        entry_link(await join(client, slot.id, "Bo", "bo@example.com")),
    )
    await service.cancel(bookings[0].reference, bookings[0].cancel_token)
    clock.advance(minutes=10)
    assert await service.expire_offers() == 1
    assert "The offer expired" in await text(await client.get(first))
    assert "A place is yours until 09:20." in await text(await client.get(second))
    clock.advance(minutes=10)
    await service.expire_offers()
    assert (await store.slot(slot.id)).remaining == 1
    assert ">Book</a>" in await text(await client.get(f"/book/test-bistro/bar/{DAY}"))


async def test_leaving_passes_a_held_place_on(client, store, service, bar_slot):
    slot, bookings = bar_slot
    first = entry_link(await join(client, slot.id))
    path, query = first.split("?")
    await service.cancel(bookings[0].reference, bookings[0].cancel_token)
    form = {"csrf_token": await csrf_token(client, first), "token": re.search(r"token=([^&]+)", query).group(1)}
    assert (await client.post(f"{path}/leave", form=form)).status_code == 303
    assert "You left the waitlist." in await text(await client.get(first))
    assert (await store.slot(slot.id)).remaining == 1


async def test_the_waitlist_page_needs_its_token(client, bar_slot):
    page = entry_link(await join(client, bar_slot[0].id))
    assert (await client.get(page.split("?")[0] + "?token=wrong")).status_code == 403
    assert (await client.get("/waitlist/NOSUCHREF?token=x")).status_code == 404


async def test_joining_a_slot_with_room_says_book_it(client, store, venue):
    slot = (await store.slots_for_day(venue.resource("tables").id, START.date() + timedelta(days=1)))[0]
    response = await join(client, slot.id)
    assert response.status_code == 409 and "This time has room" in await text(response)


async def test_bad_fields_are_422_on_the_page(client, bar_slot):
    response = await join(client, bar_slot[0].id, name="", contact="nope")
    assert response.status_code == 422 and "Please enter your name." in await text(response)


async def test_staff_see_each_slots_waitlist(admin, client, bar_slot):
    await join(client, bar_slot[0].id)
    assert "Waitlist: 1" in await text(await admin.get(board_url(START.date() + timedelta(days=1))))


async def test_the_per_person_limit_counts_waiting_too(client, service, venue, bar_slot):
    await service.edit_venue(venue, venue.name, venue.kind, venue.timezone, False, per_person_limit=1)
    assert (await join(client, bar_slot[0].id, contact="guest0@example.com")).status_code == 409  # holds one
    entry_link(await join(client, bar_slot[0].id))
    again = await join(client, bar_slot[0].id)
    assert again.status_code == 409 and "Bar seats takes 1 booking per person a day" in await text(again)


# -- the JSON API


async def api_join(client, slot_id, contact=CONTACT):
    return await client.post("/api/v1/waitlist", json={"slot_id": slot_id, "name": NAME, "contact": contact})


async def test_the_api_joins_follows_accepts_and_leaves(client, store, service, bar_slot):
    slot, bookings = bar_slot
    joined = await api_join(client, slot.id)
    entry = await joined.get_json()
    assert joined.status_code == 201 and (entry["position"], entry["status"]) == (1, "waiting")
    other = await (await api_join(client, slot.id, "bo@example.com")).get_json()
    status = await client.get(f"/api/v1/waitlist/{entry['reference']}?token={entry['cancel_token']}")
    assert (await status.get_json())["position"] == 1
    assert (await client.get(f"/api/v1/waitlist/{entry['reference']}?token=nope")).status_code == 403
    too_soon = await client.post(
        f"/api/v1/waitlist/{entry['reference']}/accept", json={"cancel_token": entry["cancel_token"]}
    )
    assert too_soon.status_code == 409 and (await too_soon.get_json())["code"] == "offer_expired"
    await service.cancel(bookings[0].reference, bookings[0].cancel_token)
    offered = await (
        await client.get(f"/api/v1/waitlist/{entry['reference']}?token={entry['cancel_token']}")
    ).get_json()
    assert offered["status"] == "offered" and offered["expires_at"] == "2026-12-01T09:10:00+00:00"
    assert offered["booking"] is None
    accepted = await client.post(
        f"/api/v1/waitlist/{entry['reference']}/accept", json={"cancel_token": entry["cancel_token"]}
    )
    booking = await accepted.get_json()
    assert accepted.status_code == 201 and booking["status"] == "confirmed" and booking["cancel_token"]
    assert (booking["start"], booking["time_zone"]) == (slot.starts_at.isoformat(), "UTC")
    became = await client.get(f"/api/v1/waitlist/{entry['reference']}?token={entry['cancel_token']}")
    assert (await became.get_json())["status"] == "booked"
    assert (await became.get_json())["booking"] == booking["reference"]  # the booking it became
    left = await client.post(
        f"/api/v1/waitlist/{other['reference']}/leave", json={"cancel_token": other["cancel_token"]}
    )
    assert left.status_code == 200 and (await left.get_json())["status"] == "left"


async def test_the_api_says_book_it_when_there_is_room(client, store, venue):
    slot = (await store.slots_for_day(venue.resource("tables").id, START.date() + timedelta(days=1)))[0]
    response = await api_join(client, slot.id)
    assert response.status_code == 409 and (await response.get_json())["code"] == "slot_available"
