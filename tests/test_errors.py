"""Errors' answers: a wrong secret or an unknown reference in the words of whoever reads them, in both languages."""

from __future__ import annotations

import pytest

from tests.support.helpers import CONTACT, NAME, csrf_token

ZH = {"Accept-Language": "zh-CN"}


async def api_booking(client, slot) -> dict:
    response = await client.post("/api/v1/bookings", json={"slot_id": slot.id, "name": NAME, "contact": CONTACT})
    assert response.status_code == 201
    return await response.get_json()


@pytest.mark.parametrize(
    ("headers", "words"), [({}, "That cancel token is not valid for this booking."), (ZH, "该取消凭证对此预约无效。")]
)
async def test_the_api_says_the_cancel_token_is_wrong(client, slot, headers, words):
    created = await api_booking(client, slot)
    response = await client.post(
        f"/api/v1/bookings/{created['reference']}/cancel", json={"cancel_token": "x"}, headers=headers
    )
    assert response.status_code == 403
    assert await response.get_json() == {"error": words, "code": "forbidden"}


@pytest.mark.parametrize(("headers", "words"), [({}, "This link is not valid for booking"), (ZH, "此链接对预约")])
async def test_a_page_says_the_link_is_wrong(client, slot, headers, words):
    created = await api_booking(client, slot)
    page = f"/bookings/{created['reference']}/cancel?token={created['cancel_token']}"
    response = await client.post(
        f"/bookings/{created['reference']}/cancel",
        headers=headers,
        form={"token": "x", "csrf_token": await csrf_token(client, page)},
    )
    assert response.status_code == 403
    assert words in await response.get_data(as_text=True)


@pytest.mark.parametrize(
    ("headers", "words"), [({}, "There is no waitlist entry W-NOPE."), (ZH, "候补记录 W-NOPE 不存在。")]
)
async def test_an_unknown_waitlist_entry_is_404_in_the_readers_words(client, headers, words):
    response = await client.post("/api/v1/waitlist/W-NOPE/leave", json={"cancel_token": "x"}, headers=headers)
    assert response.status_code == 404
    assert (await response.get_json())["error"] == words
