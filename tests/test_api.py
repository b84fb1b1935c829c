"""The JSON API v1 through Quart's test client: every answer is JSON, every error has error + code."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

CONTACT = "ana@example.com"


def slots_url(resource="tables", venue="test-bistro") -> str:
    return f"/api/v1/venues/{venue}/resources/{resource}/slots"


async def error_of(response, status: int, code: str) -> dict:
    """Assert a JSON error (never HTML, never 500) and return its body."""
    assert response.status_code == status
    assert response.mimetype == "application/json"
    body = await response.get_json()
    assert isinstance(body, dict) and body["code"] == code
    assert isinstance(body["error"], str) and body["error"] and "<" not in body["error"]
    return body


async def book(client, slot_id, *, headers=None, **fields):
    body = {"slot_id": slot_id, "name": "Ana Silva", "contact": CONTACT, "party_size": 2, **fields}
    return await client.post("/api/v1/bookings", json=body, headers=headers or {})


async def booked(store, slot_id) -> int:
    return (await store.slot(slot_id)).booked


# -- reading


async def test_venues_lists_venues_with_their_resources(client):
    response = await client.get("/api/v1/venues")
    assert response.status_code == 200 and response.mimetype == "application/json"
    assert await response.get_json() == [
        {
            "slug": "test-bistro",
            "name": "Test Bistro",
            "name_zh": "",
            "kind": "restaurant",
            "timezone": "UTC",
            "address": "",
            "phone": "",
            "resources": [
                {"slug": "tables", "name": "Tables", "name_zh": ""},
                {"slug": "bar", "name": "Bar seats", "name_zh": ""},
            ],
        }
    ]


async def test_slots_of_a_day_have_times_with_offsets_and_counts(client, store, venue, tomorrow):
    expected = await store.slots_for_day(venue.resource("tables").id, tomorrow)
    response = await client.get(f"{slots_url()}?date={tomorrow.isoformat()}")
    body = await response.get_json()
    assert response.status_code == 200
    assert body["date"] == tomorrow.isoformat()
    assert [s["id"] for s in body["slots"]] == [s.id for s in expected] and len(expected) == 12
    first = body["slots"][0]
    assert set(first) == {"id", "start", "end", "capacity", "booked", "remaining", "opens_at"}
    assert first["opens_at"] is None  # open now
    start, end = datetime.fromisoformat(first["start"]), datetime.fromisoformat(first["end"])
    assert first["start"].endswith("+00:00") and start.utcoffset() == timedelta(0)
    assert start == datetime.combine(tomorrow, datetime.min.time(), UTC).replace(hour=8)
    assert end - start == timedelta(hours=1)
    assert (first["capacity"], first["booked"], first["remaining"]) == (10, 0, 10)


async def test_slot_remaining_is_capacity_minus_booked(client, slot, tomorrow):
    assert (await book(client, slot.id, party_size=3)).status_code == 201
    body = await (await client.get(f"{slots_url()}?date={tomorrow.isoformat()}")).get_json()
    first = next(s for s in body["slots"] if s["id"] == slot.id)
    assert (first["capacity"], first["booked"], first["remaining"]) == (10, 3, 7)


async def test_slots_in_another_time_zone_carry_its_offset(client, store, tomorrow):
    from datetime import time

    from booking.model import OpeningRule

    venue_id = await store.add_venue("east", "East Clinic", "clinic", "Asia/Shanghai")
    await store.add_resource(venue_id, "desk", "Desk", [OpeningRule(d, time(9), time(10), 60, 3) for d in range(7)])
    await store.extend_slots(datetime.now(UTC))
    day = tomorrow + timedelta(days=1)
    body = await (await client.get(f"{slots_url('desk', 'east')}?date={day.isoformat()}")).get_json()
    [only] = body["slots"]
    start = datetime.fromisoformat(only["start"])
    assert start.utcoffset() is not None
    assert start.astimezone(UTC) == datetime.combine(day, time(1), UTC)  # 09:00 in Shanghai


async def test_slots_without_a_date_is_400(client):
    body = await error_of(await client.get(slots_url()), 400, "bad_request")
    assert "date=YYYY-MM-DD" in body["error"]


@pytest.mark.parametrize("bad", ["2026-13-45", "yesterday", "", "9" * 5000])
async def test_slots_with_a_bad_date_is_400(client, bad):
    await error_of(await client.get(f"{slots_url()}?date={bad}"), 400, "bad_request")


@pytest.mark.parametrize("venue, resource", [("nowhere", "tables"), ("test-bistro", "sofa")])
async def test_slots_of_an_unknown_venue_or_resource_is_404(client, venue, resource):
    await error_of(await client.get(f"{slots_url(resource, venue)}?date=2026-11-24"), 404, "not_found")


# -- booking


async def test_booking_returns_201_with_its_reference(client, store, slot):
    response = await book(client, slot.id, party_size=3)
    body = await response.get_json()
    assert response.status_code == 201
    assert set(body) == {"reference", "cancel_token", "slot_id", "party_size", "status", "start", "end", "time_zone"}
    assert (body["slot_id"], body["party_size"], body["status"]) == (slot.id, 3, "confirmed")
    assert (body["start"], body["end"]) == (slot.starts_at.isoformat(), slot.ends_at.isoformat())
    assert body["time_zone"] == "UTC"
    stored, after = await store.booking(body["reference"])
    assert stored.cancel_token == body["cancel_token"] and stored.name == "Ana Silva"
    assert after.booked == 3


@pytest.fixture
def trips(app, monkeypatch):
    """The store's reads and writes from here on, by name."""
    made = []
    db = app.extensions["slotcast"].store.db
    for name in ("read", "write"):
        original = getattr(db, name)

        async def counted(body, *args, name=name, original=original):
            made.append(name)
            return await original(body, *args)

        monkeypatch.setattr(db, name, counted)
    return made


async def test_a_json_booking_of_a_slot_read_before_is_one_write_and_no_read(client, slot, trips):
    response = await client.post("/api/v1/bookings", json={"slot_id": slot.id, "name": "Ana", "contact": "a@x.org"})
    assert response.status_code == 201
    assert "read" not in trips and trips.count("write") == 2  # the booking rate's count, then the booking


async def test_a_slot_not_read_before_is_read_then_booked(client, app, slot, trips):
    app.extensions["slotcast"].store._forget_venues()
    response = await client.post("/api/v1/bookings", json={"slot_id": slot.id, "name": "Ana", "contact": "a@x.org"})
    assert response.status_code == 201
    assert trips.count("read") == 2 and trips.count("write") == 2  # the venues (forgotten too) and the slot


async def test_a_slot_of_an_archived_resource_is_404_though_its_resource_is_known(client, service, store, venue, slot):
    assert store.resource_of_slot(slot.id) == venue.resource("tables").id
    await service.edit_resource(venue.resource("tables"), archived=True)
    await store.slot(slot.id)  # read again after the change: known again
    response = await client.post("/api/v1/bookings", json={"slot_id": slot.id, "name": "Ana", "contact": "a@x.org"})
    assert response.status_code == 404
    assert (await store.slot(slot.id)).booked == 0


async def test_a_slot_refused_full_in_the_transaction_is_kept_full(client, store, slot, trips):
    for n, party in enumerate((4, 4, 2)):
        await store.book(slot.id, "Bo", f"bo{n}@example.com", party, datetime.now(UTC))
    trips.clear()
    sent = {"slot_id": slot.id, "name": "Ana", "contact": "a@x.org"}
    assert (await client.post("/api/v1/bookings", json=sent)).status_code == 409
    assert trips == ["write", "write"]  # the booking rate's count; the booking, refused as read (kept full)
    trips.clear()
    assert (await client.post("/api/v1/bookings", json=sent)).status_code == 409
    assert trips == ["write"]  # the booking rate's count alone: refused as kept


async def test_party_size_defaults_to_one(client, store, slot):
    response = await client.post("/api/v1/bookings", json={"slot_id": slot.id, "name": "Li", "contact": CONTACT})
    assert response.status_code == 201 and (await response.get_json())["party_size"] == 1
    assert await booked(store, slot.id) == 1


async def test_unicode_name_is_kept(client, store, slot):
    body = await (await book(client, slot.id, name="王小明 🎉")).get_json()
    assert (await store.booking(body["reference"]))[0].name == "王小明 🎉"


async def test_booking_more_than_remains_is_409_slot_full(client, store, slot):
    for _ in range(2):
        assert (await book(client, slot.id, party_size=4)).status_code == 201
    await error_of(await book(client, slot.id, party_size=3), 409, "slot_full")
    assert await booked(store, slot.id) == 8
    assert (await book(client, slot.id, party_size=2)).status_code == 201  # exactly what remains still fits


@pytest.mark.parametrize(
    "fields, field",
    [
        ({"name": None}, "name"),
        ({"name": ""}, "name"),
        ({"name": "x" * 101}, "name"),
        ({"name": 42}, "name"),
        ({"contact": "not a contact"}, "contact"),
        ({"contact": ""}, "contact"),
        ({"party_size": 0}, "party_size"),
        ({"party_size": -2}, "party_size"),
        ({"party_size": "2"}, "party_size"),
        ({"party_size": True}, "party_size"),
        ({"party_size": 2.0}, "party_size"),
        ({"party_size": 5}, "party_size"),
        ({"party_size": 10**30}, "party_size"),
        ({"party_size": None}, "party_size"),
    ],
)
async def test_invalid_fields_are_422_and_nothing_stored(client, store, slot, fields, field):
    body = await error_of(await book(client, slot.id, **fields), 422, "invalid")
    assert field in body["fields"] and body["fields"][field]
    assert await booked(store, slot.id) == 0


async def test_missing_name_is_reported_by_field(client, store, slot):
    response = await client.post("/api/v1/bookings", json={"slot_id": slot.id, "contact": CONTACT})
    body = await error_of(response, 422, "invalid")
    assert body["fields"] == {"name": "Please enter your name."}


@pytest.mark.parametrize("slot_id", ["1", None, 1.0, True, [1]])
async def test_slot_id_that_is_not_an_integer_is_422(client, store, slot, slot_id):
    body = await error_of(await book(client, slot_id), 422, "invalid")
    assert body["fields"] == {"slot_id": "slot_id must be a whole number."}
    assert await booked(store, slot.id) == 0


@pytest.mark.parametrize("slot_id", [999999, 0, -1, 10**30])
async def test_unknown_slot_is_404(client, slot_id):
    body = await error_of(await book(client, slot_id), 404, "not_found")
    assert body["error"] == "That slot does not exist."


@pytest.mark.parametrize(
    "data, content_type",
    [
        ("{not json", "application/json"),
        (b'{"name": "\xff\xfe"}', "application/json"),  # not UTF-8
        ("[1, 2]", "application/json"),
        ("", "application/json"),
        ('"text"', "application/json"),
    ],
)
async def test_a_body_that_is_not_a_json_object_is_400(client, data, content_type):
    response = await client.post("/api/v1/bookings", data=data, headers={"Content-Type": content_type})
    body = await error_of(response, 400, "bad_request")
    assert body["error"] == "Send a JSON object."


async def test_a_huge_body_is_413_json(client, slot):
    await error_of(await book(client, slot.id, name="x" * 100_000), 413, "too_large")


async def test_idempotency_key_header_books_once(client, store, slot):
    headers = {"Idempotency-Key": "order-4711-retry"}
    first = await book(client, slot.id, headers=headers)
    second = await book(client, slot.id, headers=headers)
    assert first.status_code == second.status_code == 201
    assert (await first.get_json())["reference"] == (await second.get_json())["reference"]
    assert await booked(store, slot.id) == 2


async def test_different_idempotency_keys_book_twice(client, store, slot):
    await book(client, slot.id, headers={"Idempotency-Key": "first-key-1"})
    await book(client, slot.id, headers={"Idempotency-Key": "second-key-2"})
    assert await booked(store, slot.id) == 4


@pytest.mark.parametrize("key", ["short", "has spaces in it", "x" * 65, "<script>alert(1)</script>"])
async def test_a_malformed_idempotency_key_is_422(client, store, slot, key):
    await error_of(await book(client, slot.id, headers={"Idempotency-Key": key}), 422, "invalid")
    assert await booked(store, slot.id) == 0


@pytest.mark.parametrize("body_key", [None, 12345678, ["a-good-key-1"], "short"])
async def test_a_body_idempotency_key_that_is_not_a_good_string_is_422_even_beside_a_good_header(
    client, store, slot, body_key
):
    response = await book(client, slot.id, headers={"Idempotency-Key": "a-good-key-1"}, idempotency_key=body_key)
    await error_of(response, 422, "invalid")
    assert await booked(store, slot.id) == 0


async def test_api_posts_need_no_csrf_token(client, store, slot):
    """The API is JSON only; the page CSRF check must not turn its requests into 400 pages."""
    response = await book(client, slot.id)
    assert response.status_code == 201


# -- cancelling


async def test_cancel_returns_200_and_frees_the_places(client, store, slot):
    created = await (await book(client, slot.id, party_size=3)).get_json()
    response = await client.post(
        f"/api/v1/bookings/{created['reference']}/cancel", json={"cancel_token": created["cancel_token"]}
    )
    assert response.status_code == 200
    assert await response.get_json() == {
        "reference": created["reference"],
        "slot_id": slot.id,
        "party_size": 3,
        "status": "cancelled",
    }
    assert await booked(store, slot.id) == 0


async def test_cancelling_twice_frees_the_places_once(client, store, slot):
    await book(client, slot.id, party_size=4)
    created = await (await book(client, slot.id, party_size=3)).get_json()
    for _ in range(2):
        response = await client.post(
            f"/api/v1/bookings/{created['reference']}/cancel", json={"cancel_token": created["cancel_token"]}
        )
        assert response.status_code == 200
    assert await booked(store, slot.id) == 4


@pytest.mark.parametrize("body", [{"cancel_token": "wrong"}, {}, {"cancel_token": None}, {"cancel_token": 12}])
async def test_cancel_with_a_wrong_token_is_403(client, store, slot, body):
    created = await (await book(client, slot.id)).get_json()
    await error_of(await client.post(f"/api/v1/bookings/{created['reference']}/cancel", json=body), 403, "forbidden")
    assert (await store.booking(created["reference"]))[0].status == "confirmed"
    assert await booked(store, slot.id) == 2


async def test_cancel_of_an_unknown_reference_is_404(client):
    response = await client.post("/api/v1/bookings/NOSUCHREF/cancel", json={"cancel_token": "x"})
    await error_of(response, 404, "not_found")


# -- rescheduling


async def reschedule(client, created, slot_id, token=None):
    return await client.post(
        f"/api/v1/bookings/{created['reference']}/reschedule",
        json={"cancel_token": created["cancel_token"] if token is None else token, "slot_id": slot_id},
    )


async def test_reschedule_moves_the_booking_and_its_places(client, store, venue, slot, tomorrow):
    later = (await store.slots_for_day(venue.resource("tables").id, tomorrow))[3]
    created = await (await book(client, slot.id, party_size=3)).get_json()
    response = await reschedule(client, created, later.id)
    assert response.status_code == 200
    assert await response.get_json() == {
        "reference": created["reference"],
        "slot_id": later.id,
        "party_size": 3,
        "start": later.starts_at.isoformat(),
        "end": later.ends_at.isoformat(),
        "status": "confirmed",
    }
    assert (await booked(store, slot.id), await booked(store, later.id)) == (0, 3)


async def test_reschedule_to_a_full_slot_is_409_and_moves_nothing(client, store, venue, slot, tomorrow):
    later = (await store.slots_for_day(venue.resource("tables").id, tomorrow))[3]
    for _ in range(3):
        assert (await book(client, later.id, party_size=3, contact=f"{_}{CONTACT}")).status_code == 201
    created = await (await book(client, slot.id, party_size=2)).get_json()
    await error_of(await reschedule(client, created, later.id), 409, "slot_full")
    assert (await store.booking(created["reference"]))[0].slot_id == slot.id
    assert (await booked(store, slot.id), await booked(store, later.id)) == (2, 9)


async def test_reschedule_refusals_are_json_errors(client, store, venue, slot, tomorrow):
    created = await (await book(client, slot.id)).get_json()
    later = (await store.slots_for_day(venue.resource("tables").id, tomorrow))[1]
    bar = (await store.slots_for_day(venue.resource("bar").id, tomorrow))[0]
    await error_of(await reschedule(client, created, later.id, token="wrong"), 403, "forbidden")
    await error_of(await reschedule(client, {**created, "reference": "NOSUCHREF"}, later.id), 404, "not_found")
    nothing = {**created, "reference": "NOSUCHREF"}  # the booking is looked for first: neither is there, a 404
    await error_of(await reschedule(client, nothing, 999999), 404, "not_found")
    moved_nowhere = await error_of(await reschedule(client, created, 999999), 422, "invalid")  # 404: the booking
    assert moved_nowhere["fields"] == {"slot_id": "That slot does not exist."}
    await error_of(await reschedule(client, created, "1"), 422, "invalid")
    await error_of(await reschedule(client, created, bar.id), 422, "other_resource")
    await client.post(f"/api/v1/bookings/{created['reference']}/cancel", json={"cancel_token": created["cancel_token"]})
    await error_of(await reschedule(client, created, later.id), 409, "not_movable")
    assert await booked(store, later.id) == 0


async def test_cancel_with_a_non_json_body_is_400(client, slot):
    created = await (await book(client, slot.id)).get_json()
    response = await client.post(
        f"/api/v1/bookings/{created['reference']}/cancel",
        data="{cancel_token",
        headers={"Content-Type": "application/json"},
    )
    await error_of(response, 400, "bad_request")


# -- errors are always JSON


@pytest.mark.parametrize("path", ["/api/v1/nothing", "/api/v1/venues/test-bistro", "/api/v2/venues", "/api/"])
async def test_unknown_api_path_is_404_json(client, path):
    await error_of(await client.get(path), 404, "not_found")


@pytest.mark.parametrize(
    "method, path", [("GET", "/api/v1/bookings"), ("DELETE", "/api/v1/venues"), ("GET", "/api/v1/bookings/ABC/cancel")]
)
async def test_wrong_method_is_405_json(client, method, path):
    await error_of(await client.open(path, method=method), 405, "method_not_allowed")


async def test_an_unexpected_failure_is_a_json_500_without_details(app, client, store, monkeypatch):
    async def broken():
        raise RuntimeError("secret internals")

    monkeypatch.setattr(store, "venues", broken)
    body = await error_of(await client.get("/api/v1/venues"), 500, "server_error")
    assert "secret" not in body["error"]


# -- the live truth as JSON


async def test_the_slots_stream_sends_the_day_then_every_change_as_json(client, service, venue, slot, tomorrow):
    import json

    from tests.support.helpers import read_until

    url = f"{slots_url()}/stream?date={tomorrow}"
    expected = await (await client.get(f"{slots_url()}?date={tomorrow}")).get_json()
    async with client.request(url, headers={"Accept-Language": "zh-CN"}) as stream:
        first = (await read_until(stream, b"\n\n")).decode()
        assert stream.headers["Content-Type"] == "text/event-stream"
        event = first.split("event: slots\n", 1)[1]
        assert json.loads(event.removeprefix("data: ").split("\n", 1)[0]) == expected
        await service.book(venue.resource("tables"), slot.id, "Ann", "+1 212 555 0100", 3)
        change = (await read_until(stream, b"\n\n")).decode()
        await stream.disconnect()
    body = json.loads(change.split("event: slots\ndata: ", 1)[1].split("\n", 1)[0])
    assert body["date"] == tomorrow.isoformat() and "Ann" not in change
    assert next(s for s in body["slots"] if s["id"] == slot.id)["remaining"] == 7


async def test_the_slots_stream_refuses_what_the_slots_endpoint_refuses(client, tomorrow):
    await error_of(await client.get(f"{slots_url()}/stream"), 400, "bad_request")
    await error_of(await client.get(f"{slots_url()}/stream?date=soon"), 400, "bad_request")
    await error_of(await client.get(f"{slots_url('nope')}/stream?date={tomorrow}"), 404, "not_found")
