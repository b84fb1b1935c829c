"""Admission (views/admission.py): a bounded number of requests inside the app at once; the others wait their turn."""

import asyncio

import pytest

from tests.support.helpers import read_until


@pytest.fixture
def app_config():
    return {"REQUESTS_AT_ONCE": 1}


@pytest.fixture
def gate(app):
    """A page that keeps its place until the test opens the gate."""
    opened = asyncio.Event()

    @app.get("/held")
    async def held():
        await opened.wait()
        return "held"

    return opened


async def test_requests_past_the_limit_wait_their_turn_in_order_of_arrival(client, gate):
    answered = []

    async def get(path, **query):
        response = await client.get(path, query_string=query)
        answered.append((path, query.get("n")))
        return response

    first = asyncio.create_task(get("/held"))
    await asyncio.sleep(0.05)
    others = []
    for n in range(3):
        others.append(asyncio.create_task(get("/api/v1/venues", n=str(n))))
        await asyncio.sleep(0.01)
    await asyncio.sleep(0.05)
    assert answered == []  # the venues come at once, once inside: they wait behind /held
    gate.set()
    responses = await asyncio.gather(first, *others)
    assert [r.status_code for r in responses] == [200] * 4
    assert answered == [("/held", None)] + [("/api/v1/venues", str(n)) for n in range(3)]


async def test_health_probes_never_wait(client, gate):
    held = asyncio.create_task(client.get("/held"))
    await asyncio.sleep(0.05)
    for probe in ("/healthz", "/readyz"):
        assert (await asyncio.wait_for(client.get(probe), 2)).status_code == 200
    gate.set()
    assert (await held).status_code == 200


async def test_a_request_whose_body_is_still_coming_holds_no_place(client, slot):
    async with client.request("/api/v1/bookings", method="POST", headers={"Content-Type": "application/json"}) as slow:
        await slow.send(b'{"slot_id": %d, ' % slot.id)
        assert (await asyncio.wait_for(client.get("/api/v1/venues"), 2)).status_code == 200
        await slow.send(b'"name": "Ann", "contact": "ann@example.com"}')
        await slow.send_complete()
    assert slow.status_code == 201  # once all of it came, it had its turn


async def test_an_open_event_stream_holds_no_place(client, slot):
    async with client.request(f"/events/slot/{slot.id}") as stream:
        await read_until(stream, b"</p>")
        assert (await asyncio.wait_for(client.get("/api/v1/venues"), 2)).status_code == 200
        await stream.disconnect()


async def test_a_body_that_does_not_come_in_time_is_refused_408_without_taking_a_place(app, client, slot):
    app.config["BODY_TIMEOUT"] = 0.2
    async with client.request("/api/v1/bookings", method="POST", headers={"Content-Type": "application/json"}) as slow:
        await slow.send(b'{"slot_id": ')
    assert slow.status_code == 408
    assert (await client.get("/api/v1/venues")).status_code == 200
