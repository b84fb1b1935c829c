"""The per-person limit said in words: with the resource's name, in both languages, on the page, board and API."""

from __future__ import annotations

import html
from datetime import timedelta

import pytest

from tests.support.helpers import CONTACT, NAME, act, csrf_token, text

WORDS = {
    "en": "Tables takes 1 booking per person a day (waitlist places included), and this phone or e-mail already has"
    " it on this day.",
    "zh_CN": "餐桌每人每天限约 1 个（候补也算在内），这个电话或邮箱当天已有 1 个。",
}
LANGUAGE = {"en": "en", "zh_CN": "zh-CN"}


@pytest.fixture
async def held(service, store, venue, slot):
    """The bistro allows one booking of its tables a person a day, and CONTACT holds it; the next slot for another."""
    await service.edit_venue(venue, venue.name, venue.kind, venue.timezone, False, per_person_limit=1)
    await service.edit_resource(venue.resource("tables"), name_zh="餐桌")
    tables = (await store.venue("test-bistro")).resource("tables")
    await service.book(tables, slot.id, NAME, CONTACT, 1)
    return tables, (await store.slots_for_day(tables.id, slot.local_date))[1]


@pytest.mark.parametrize("lang", ["en", "zh_CN"])
async def test_the_booking_page_says_the_limit_of_the_resource(client, held, lang):
    _tables, other = held
    headers = {"Accept-Language": LANGUAGE[lang]}
    form = {
        "csrf_token": await csrf_token(client, f"/slots/{other.id}/book"),
        "name": NAME,
        "contact": CONTACT,
        "party_size": "1",
    }
    response = await client.post(f"/slots/{other.id}/book", form=form, headers=headers)
    assert response.status_code == 409
    assert WORDS[lang] in html.unescape(await text(response))


@pytest.mark.parametrize("lang", ["en", "zh_CN"])
async def test_the_api_says_the_limit_of_the_resource(client, held, lang):
    _tables, other = held
    response = await client.post(
        "/api/v1/bookings",
        json={"slot_id": other.id, "name": NAME, "contact": CONTACT},
        headers={"Accept-Language": LANGUAGE[lang]},
    )
    body = await response.get_json()
    assert response.status_code == 409 and body["code"] == "limit_reached" and body["limit"] == 1
    assert body["error"] == WORDS[lang]


@pytest.mark.parametrize("lang", ["en", "zh_CN"])
async def test_the_board_says_the_limit_of_the_resource(admin, held, lang):
    tables, other = held
    response = await act(
        admin, f"/admin/resources/{tables.id}/bookings?lang={lang}", slot_id=str(other.id), name=NAME, contact=CONTACT
    )
    assert response.status_code == 409
    assert WORDS[lang] in html.unescape(await text(response))


async def test_a_move_onto_a_day_already_held_says_the_limit_of_the_resource(client, service, store, held):
    tables, other = held  # CONTACT holds one on this day...
    later = (await store.slots_for_day(tables.id, other.local_date + timedelta(days=1)))[0]
    mine, _slot = await service.book(tables, later.id, NAME, CONTACT, 1)  # ... and one the next day
    path = f"/bookings/{mine.reference}/reschedule"
    form = {
        "csrf_token": await csrf_token(client, f"/slots/{other.id}/book"),
        "token": mine.cancel_token,
        "slot_id": str(other.id),
    }
    response = await client.post(path, form=form)
    assert response.status_code == 409
    assert WORDS["en"] in html.unescape(await text(response))
