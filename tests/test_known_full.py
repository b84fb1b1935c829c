"""Known full (middleware/known_full.py): an API booking at a slot the store knows to be full is refused 409
slot_full before it enters the app, with the app's own answer; anything else goes through the app as before."""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime, time, timedelta
from pathlib import Path

import pytest

from booking.model import OpeningRule, local_today

PATH = "/api/v1/bookings"
SAME_ID = {"X-Request-ID": "known-full-test"}  # both paths echo it: their headers compare whole


@pytest.fixture
def app_config():
    return {"BOOKINGS_PER_MINUTE": 0}  # the crowds below come from one address; the rate has its own test


@pytest.fixture
def entered(app) -> list[str]:
    """The paths of the requests that entered the app (its first before_request hook ran)."""
    paths = []

    async def note() -> None:
        from quart import request

        paths.append(request.path)

    app.before_request_funcs.setdefault(None, []).insert(0, note)
    return paths


def tomorrow():
    return local_today("UTC") + timedelta(days=1)


def body(slot_id: int, party_size: int = 1, **fields) -> dict:
    return {"slot_id": slot_id, "name": "Ana Silva", "contact": "ana@example.com", "party_size": party_size, **fields}


async def book(client, slot_id: int, party_size: int = 1, headers=None, **fields):
    return await client.post(PATH, json=body(slot_id, party_size, **fields), headers={**SAME_ID, **(headers or {})})


async def fill(client, slot) -> None:
    """Book every place of the slot (parties of up to 4)."""
    left = slot.capacity
    while left:
        assert (await book(client, slot.id, min(left, 4))).status_code == 201
        left -= min(left, 4)


async def known_full(client, store, slot) -> None:
    """Fill the slot, then one refusal through the app: it read the slot full, and the store keeps it so."""
    await fill(client, slot)
    assert (await book(client, slot.id)).status_code == 409
    assert store.kept_slot(slot.id) is not None


async def test_a_refusal_at_a_slot_known_full_never_enters_the_app(client, store, slot, entered):
    await known_full(client, store, slot)
    before = len(entered)
    for _ in range(3):
        response = await book(client, slot.id)
        assert response.status_code == 409 and (await response.get_json())["code"] == "slot_full"
    assert len(entered) == before


@pytest.mark.parametrize("language", ["en", "zh-CN"])
async def test_the_fast_refusal_is_the_apps_own_byte_for_byte(client, store, slot, entered, language):
    await fill(client, slot)
    speaks = {"Accept-Language": language}
    slow = await book(client, slot.id, headers=speaks)
    entered_then = len(entered)
    fast = await book(client, slot.id, headers=speaks)
    assert len(entered) == entered_then  # the second never entered the app
    assert (slow.status_code, fast.status_code) == (409, 409)
    assert await fast.get_data() == await slow.get_data()
    assert sorted(fast.headers.items()) == sorted(slow.headers.items())  # every one, byte for byte (in any order)
    message = (await fast.get_json())["error"]
    assert message == (
        "该时段剩余名额不足。" if language == "zh-CN" else "This slot has no room left for that many places."
    )


async def test_a_cancellation_lets_the_next_booking_in_at_once(client, store, slot, entered):
    await known_full(client, store, slot)
    made = await book(client, slot.id, 1, contact="bo@example.com")  # refused: full
    assert made.status_code == 409
    first = (await client.get(f"/api/v1/venues/test-bistro/resources/tables/slots?date={slot.local_date}")).status_code
    assert first == 200
    held = await store.booking_by_id(1)
    booking = held[0]
    cancelled = await client.post(f"{PATH}/{booking.reference}/cancel", json={"cancel_token": booking.cancel_token})
    assert cancelled.status_code == 200
    assert (await book(client, slot.id, 1)).status_code == 201


async def test_a_capacity_raise_lets_the_next_booking_in_at_once(client, store, service, venue, slot):
    await known_full(client, store, slot)
    raised = [OpeningRule(d, time(8), time(20), 60, 12) for d in range(7)]
    await service.edit_resource(venue.resource("tables"), rules=raised)
    assert (await book(client, slot.id, 2)).status_code == 201
    assert (await book(client, slot.id, 1)).status_code == 409


async def test_a_crowd_gets_exactly_the_places_and_then_one_more_after_a_cancel(client, store, slot, entered):
    answers = await asyncio.gather(*(book(client, slot.id, contact=f"p{n}@example.com") for n in range(40)))
    statuses = [a.status_code for a in answers]
    assert statuses.count(201) == slot.capacity and statuses.count(409) == 40 - slot.capacity
    await book(client, slot.id)  # read full through the app, if the crowd's last ones were not
    before = len(entered)
    assert (await book(client, slot.id)).status_code == 409 and len(entered) == before  # fast now
    made = await next(a for a in answers if a.status_code == 201).get_json()
    cancel = {"cancel_token": made["cancel_token"]}
    assert (await client.post(f"{PATH}/{made['reference']}/cancel", json=cancel)).status_code == 200
    again = await asyncio.gather(*(book(client, slot.id, contact=f"q{n}@example.com") for n in range(20)))
    assert sorted(a.status_code for a in again) == [201] + [409] * 19
    assert (await store.slot(slot.id)).booked == slot.capacity


async def test_a_key_replay_gets_its_original_booking_not_a_refusal(client, store, slot, entered):
    header = await book(client, slot.id, 2, headers={"Idempotency-Key": "replay-me-01"})
    in_body = await book(client, slot.id, 2, idempotency_key="replay-me-02", contact="bo@example.com")
    assert header.status_code == in_body.status_code == 201
    for party, contact in ((4, "cy@example.com"), (2, "di@example.com")):
        assert (await book(client, slot.id, party, contact=contact)).status_code == 201
    assert (await book(client, slot.id)).status_code == 409 and store.kept_slot(slot.id) is not None
    again = await book(client, slot.id, 2, headers={"Idempotency-Key": "replay-me-01"})
    assert again.status_code == 201 and (await again.get_json())["reference"] == (await header.get_json())["reference"]
    again = await book(client, slot.id, 2, idempotency_key="replay-me-02", contact="bo@example.com")
    assert again.status_code == 201 and (await again.get_json())["reference"] == (await in_body.get_json())["reference"]


async def test_a_call_with_an_api_key_goes_through_the_app(client, store, slot, entered):
    await known_full(client, store, slot)
    before = len(entered)
    response = await book(client, slot.id, headers={"Authorization": "Bearer sk_not_a_key"})
    assert response.status_code == 401 and len(entered) == before + 1


@pytest.mark.parametrize(
    ("fields", "status"),
    [
        ({"party_size": "1"}, 422),
        ({"party_size": True}, 422),
        ({"party_size": 0}, 422),
        ({"party_size": 99}, 422),
        ({"name": ""}, 422),
        ({"contact": "not a contact"}, 422),
        ({"override_limit": True}, 401),
        ({"override_limit": "yes"}, 422),
    ],
)
async def test_bad_input_at_a_full_slot_keeps_the_apps_answer(client, store, slot, entered, fields, status):
    await known_full(client, store, slot)
    before = len(entered)
    response = await client.post(PATH, json={**body(slot.id), **fields})
    assert response.status_code == status and len(entered) == before + 1


@pytest.mark.parametrize(
    ("data", "status"),
    [(b"not json", 400), (b"[1]", 400), (b'{"slot_id": "%d", "name": "A", "contact": "a@b.cd"}', 422)],
)
async def test_a_body_that_is_no_booking_keeps_the_apps_answer(client, store, slot, entered, data, status):
    await known_full(client, store, slot)
    before = len(entered)
    data = data.replace(b"%d", str(slot.id).encode())
    response = await client.post(PATH, data=data, headers={"Content-Type": "application/json"})
    assert response.status_code == status and len(entered) == before + 1


async def test_a_fast_refusal_is_counted_and_logged_as_a_refusal(app, client, store, slot, caplog):
    await known_full(client, store, slot)
    metrics = app.extensions["slotcast.metrics"]

    def refusals() -> float:
        return metrics.registry.get_sample_value("slotcast_bookings_total", {"outcome": "slot_full"}) or 0

    def timed() -> float:
        return metrics.registry.get_sample_value("slotcast_booking_request_seconds_count") or 0

    counted, times = refusals(), timed()
    with caplog.at_level(logging.INFO, logger="slotcast.access"):
        caplog.clear()
        assert (await book(client, slot.id)).status_code == 409
    assert (refusals(), timed()) == (counted + 1, times + 1)
    assert any(
        f"path={PATH}" in r.getMessage() and "status=409" in r.getMessage() and "id=known-full-test" in r.getMessage()
        for r in caplog.records
    )


async def test_the_booking_rate_counts_fast_refusals_and_its_429_comes_from_the_app(app, client, store, slot, entered):
    await known_full(client, store, slot)
    app.config["BOOKINGS_PER_MINUTE"] = 3
    before = len(entered)
    assert [(await book(client, slot.id)).status_code for _ in range(3)] == [409] * 3
    assert len(entered) == before  # all three were fast, and each was counted
    over = await book(client, slot.id)
    assert over.status_code == 429 and int(over.headers["Retry-After"]) >= 1 and len(entered) == before + 1


@pytest.mark.parametrize(("query", "headers"), [("?lang=zh_CN", {}), ("", {"Cookie": "lang=zh_CN"})])
async def test_a_chosen_language_goes_through_the_app(client, store, slot, entered, query, headers):
    await known_full(client, store, slot)
    before = len(entered)
    response = await client.post(PATH + query, json=body(slot.id), headers=headers)
    assert response.status_code == 409 and len(entered) == before + 1
    assert (await response.get_json())["error"] == "该时段剩余名额不足。"


async def test_bookings_waiting_their_turn_are_refused_when_it_comes_once_the_slot_is_known_full(
    app, client, store, slot, entered
):
    await fill(client, slot)  # full, but not yet read full: the bookings below wait for their turn
    app.asgi_app.app.turns = asyncio.Semaphore(1)  # middleware.admission's: one request inside at a time
    gate = asyncio.Event()

    @app.get("/held")
    async def held():
        await gate.wait()
        return "held"

    holder = asyncio.create_task(client.get("/held"))
    await asyncio.sleep(0.05)
    waiting = [asyncio.create_task(book(client, slot.id, contact=f"w{n}@example.com")) for n in range(5)]
    await asyncio.sleep(0.05)
    assert not any(w.done() for w in waiting)
    assert await store.slot(slot.id) is not None and store.kept_slot(slot.id)  # read full meanwhile
    before = len(entered)
    gate.set()
    assert [r.status_code for r in await asyncio.gather(*waiting)] == [409] * 5
    assert (await holder).status_code == 200 and len(entered) == before  # none of the five entered the app


@pytest.mark.postgres
async def test_another_processs_cancel_is_heard_and_lets_the_next_booking_in(pg_migrated_url):
    """Two processes on one PostgreSQL database: this one knows the slot full; the other's cancel reaches it as a
    notice (LISTEN), and the next booking here is made."""
    from app import create_app
    from booking.store import open_store

    app = create_app({"DATABASE_URL": pg_migrated_url, "SECRET_KEY": "test", "BOOKINGS_PER_MINUTE": 0})
    other = open_store(pg_migrated_url, Path(__file__).parent)
    async with app.test_app():
        await other.open()
        try:
            store, client = app.extensions["slotcast"].store, app.test_client()
            venue_id = await store.add_venue("one-room", "One Room", "restaurant", "UTC")
            await store.add_resource(
                venue_id, "desk", "Desk", [OpeningRule(d, time(8), time(20), 60, 2) for d in range(7)], max_party=2
            )
            await store.extend_slots(app.extensions["slotcast"].clock.now())
            slot = (await store.slots_for_day((await store.venue("one-room")).resource("desk").id, tomorrow()))[0]
            await known_full(client, store, slot)
            era = store._full_era
            held = await other.booking_by_id(1)  # the first booking of this fresh database
            await other.cancel(held[0].reference, held[0].cancel_token, datetime.now(UTC))
            async with asyncio.timeout(5):
                while store._full_era == era:  # its notice heard (1 s passing would not move the era)
                    await asyncio.sleep(0.01)
            assert (await book(client, slot.id)).status_code == 201
        finally:
            await other.close()
