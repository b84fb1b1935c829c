"""Webhooks an integrator can run, over real HTTP: a booking's events in order, the events an endpoint chooses, a
test event, a delivery sent again, disabled and enabled (by hand, or after a day of failures), a rotated secret."""

from __future__ import annotations

import asyncio
import json
import re
from datetime import UTC, datetime, time, timedelta
from time import monotonic
from zoneinfo import ZoneInfo

import pytest
from werkzeug.datastructures import MultiDict

from booking.model import OpeningRule, local_today
from booking.outbox import FAILED, SENT, Actor, Settled, acting
from tests.support.helpers import csrf_token
from tests.support.receiver import Receiver, documented_receiver, settled

SECRET = "whsec_test-secret-of-the-venue"


@pytest.fixture
def app_config():
    return {"WEBHOOKS_ALLOW_PRIVATE": True, "OUTBOX_RETRY_SECONDS": 0.2}


@pytest.fixture
def receiver():
    found = Receiver()
    yield found
    found.close()


async def book(client, slot_id, contact="ana@example.com"):
    response = await client.post(
        "/api/v1/bookings", json={"slot_id": slot_id, "name": "Ana Silva", "contact": contact, "party_size": 1}
    )
    assert response.status_code == 201, await response.get_data()
    return await response.get_json()


async def cancel(client, made):
    response = await client.post(
        f"/api/v1/bookings/{made['reference']}/cancel", json={"cancel_token": made["cancel_token"]}
    )
    assert response.status_code == 200, await response.get_data()


async def test_a_bookings_events_reach_an_endpoint_in_order_under_concurrent_sending(client, store, venue, slot):
    flaky = Receiver(*[500] * 6)  # the first six requests fail: each is tried again 0.2 s later
    try:
        await store.add_webhook(venue.id, flaky.url, SECRET, datetime.now(UTC))
        made = await asyncio.gather(*(book(client, slot.id, f"guest{n}@example.com") for n in range(6)))
        await asyncio.gather(*(cancel(client, m) for m in made))
        await flaky.wait_for(18)
        await settled(store)
        arrivals = [json.loads(body) for _headers, body in flaky.received]
        for m in made:
            mine = [(e["type"], e["sequence"]) for e in arrivals if e["data"]["reference"] == m["reference"]]
            created = [i for i, (kind, _) in enumerate(mine) if kind == "booking.created"]
            assert created and max(created) < mine.index(("booking.cancelled", 2)), mine
            assert set(mine) == {("booking.created", 1), ("booking.cancelled", 2)}
    finally:
        flaky.close()


async def post_form(admin, path: str, **fields):
    """A staff form on the webhooks page, posted with the page's CSRF token."""
    token = await csrf_token(admin, "/admin/webhooks/")
    return await admin.post(path, form=MultiDict([("csrf_token", token), *fields.items()]))


async def test_an_endpoint_gets_only_the_events_it_chose(admin, client, store, venue, slot, receiver):
    everything = Receiver()
    try:
        await store.add_webhook(venue.id, everything.url, SECRET, datetime.now(UTC))
        form = {"venue": str(venue.id), "url": receiver.url, "events_listed": "1", "events": "booking.cancelled"}
        added = await post_form(admin, "/admin/webhooks/", **form)
        assert added.status_code == 201
        unticked = await post_form(admin, "/admin/webhooks/", venue=str(venue.id), url=receiver.url, events_listed="1")
        assert unticked.status_code == 422
        [hook] = [h for h in await store.webhooks() if h.url == receiver.url]
        assert hook.events == "booking.cancelled"
        await cancel(client, await book(client, slot.id))
        await everything.wait_for(2)
        await settled(store)
        assert [e["type"] for e in receiver.events()] == ["booking.cancelled"]
        chose = await post_form(admin, f"/admin/webhooks/{hook.id}/events", events="booking.created")
        assert chose.status_code == 303
        none = await post_form(admin, f"/admin/webhooks/{hook.id}/events")
        assert none.status_code == 422 and "Tick at least one event" in (await none.get_data()).decode()
        await book(client, slot.id, "bo@example.com")
        await receiver.wait_for(2)
        assert [e["type"] for e in receiver.events()] == ["booking.cancelled", "booking.created"]
    finally:
        everything.close()


async def test_staff_send_a_test_event_and_resend_a_delivery(admin, client, store, venue, slot, receiver):
    hook = await store.add_webhook(venue.id, receiver.url, SECRET, datetime.now(UTC))
    assert (await post_form(admin, f"/admin/webhooks/{hook}/test")).status_code == 303
    [(headers, body)] = await receiver.wait_for(1)
    assert json.loads(body)["type"] == "webhook.test" and headers["X-Slotcast-Event"] == "webhook.test"
    assert documented_receiver()(body, headers["X-Slotcast-Signature"], SECRET)
    await book(client, slot.id)
    await receiver.wait_for(2)
    [created, _test] = await settled(store)
    page = (await (await admin.get("/admin/webhooks/")).get_data()).decode()
    assert f"/admin/webhooks/deliveries/{created.id}/resend" in page
    assert (await post_form(admin, f"/admin/webhooks/deliveries/{created.id}/resend")).status_code == 303
    received = await receiver.wait_for(3)
    assert received[2][1] == received[1][1] and received[2][0]["X-Slotcast-Delivery"] == created.delivery
    again = next(m for m in await settled(store) if m.id == created.id)
    assert (again.state, again.attempts) == ("sent", 2)
    missing = await post_form(admin, "/admin/webhooks/deliveries/999999/resend")
    assert missing.status_code == 404


async def test_a_disabled_endpoint_is_sent_nothing_until_enabled(admin, client, store, venue, slot, receiver):
    hook = await store.add_webhook(venue.id, receiver.url, SECRET, datetime.now(UTC))
    assert (await post_form(admin, f"/admin/webhooks/{hook}/disable")).status_code == 303
    await book(client, slot.id)
    assert [m.event for m in await store.outbox()] == []  # nothing queued for it
    assert "disabled" in (await (await admin.get("/admin/webhooks/")).get_data()).decode()
    assert (await post_form(admin, f"/admin/webhooks/{hook}/enable")).status_code == 303
    await book(client, slot.id, "bo@example.com")
    [(_headers, body)] = await receiver.wait_for(1)
    assert json.loads(body)["data"]["contact"] == "bo@example.com"
    trail = (await (await admin.get("/admin/audit")).get_data()).decode()
    assert "Disabled the webhook to 127.0.0.1" in trail and "Enabled the webhook to 127.0.0.1" in trail


@pytest.mark.parametrize(
    "app_config", [{"WEBHOOKS_ALLOW_PRIVATE": True, "OUTBOX_RETRY_SECONDS": 0.1, "OUTBOX_GIVE_UP_HOURS": 0.0002}]
)  # a "day" of 0.72 s
async def test_an_endpoint_failing_for_a_day_is_disabled_with_a_notice(admin, client, store, venue, slot):
    down = Receiver(*[500] * 50)
    try:
        hook = await store.add_webhook(venue.id, down.url, SECRET, datetime.now(UTC))
        await book(client, slot.id)
        [given_up] = await settled(store)
        assert given_up.state == "failed"
        [found] = await store.webhooks()
        assert found.paused == "failing" and found.paused_at
        page = (await (await admin.get("/admin/webhooks/")).get_data()).decode()
        assert f"{down.url} was disabled on" in page and "after a day of failed deliveries" in page
        tried = len(down.received)
        await book(client, slot.id, "bo@example.com")
        await asyncio.sleep(0.3)
        assert len(down.received) == tried and len(await store.outbox()) == 1  # nothing queued, nothing sent
        assert (await post_form(admin, f"/admin/webhooks/{hook}/enable")).status_code == 303
        assert (await store.webhooks())[0].paused is None
    finally:
        down.close()


async def test_a_rotated_secret_is_shown_once_and_both_sign_for_a_day(admin, client, store, venue, slot, receiver):
    hook = await store.add_webhook(venue.id, receiver.url, SECRET, datetime.now(UTC))
    rotated = await post_form(admin, f"/admin/webhooks/{hook}/rotate")
    page = (await rotated.get_data()).decode()
    assert rotated.status_code == 200 and "shown this once" in page
    new = re.search(r"<code>(whsec_[A-Za-z0-9_-]+)</code>", page).group(1)
    assert new not in (await (await admin.get("/admin/webhooks/")).get_data()).decode()  # shown once
    await book(client, slot.id)
    [(headers, body)] = await receiver.wait_for(1)
    header, verified = headers["X-Slotcast-Signature"], documented_receiver()
    assert header.count("v1=") == 2
    assert verified(body, header, new) and verified(body, header, SECRET)
    [found] = await store.webhooks()
    assert found.secrets(found.previous_until) == [new]  # the overlap over: the new secret alone
    assert found.previous_until - datetime.now(UTC) > timedelta(hours=23, minutes=59)


async def staff_post(admin, path: str, **fields):
    token = await csrf_token(admin, "/admin/")
    response = await admin.post(path, form={"csrf_token": token, **fields})
    assert response.status_code < 400, (path, response.status_code)


async def test_desk_and_board_actions_are_told_as_the_staff_account_in_venue_terms(admin, client, store, clinic):
    receiver = Receiver()
    try:
        await store.add_webhook(clinic.id, receiver.url, SECRET, datetime.now(UTC))
        slot = next(
            s
            for s in await store.slots_for_day(clinic.resources[0].id, local_today(clinic.timezone))
            if s.starts_at > datetime.now(UTC)
        )
        made, other = await book(client, slot.id), await book(client, slot.id, "bo@example.com")
        booking_id = (await store.booking(made["reference"]))[0].id
        await staff_post(admin, f"/admin/bookings/{booking_id}/attendance", attendance="checked_in")
        await staff_post(admin, f"/admin/bookings/{booking_id}/call", counter="Room 3")
        await staff_post(
            admin, f"/admin/bookings/{(await store.booking(other['reference']))[0].id}/attendance", attendance="no_show"
        )
        response = await client.post(
            f"/api/v1/bookings/{made['reference']}/cancel",
            json={"cancel_token": made["cancel_token"], "reason": "  Flight delayed  "},
        )
        assert response.status_code == 200
        await staff_post(admin, f"/admin/slots/{slot.id}/closed", closed="1")
        await staff_post(admin, f"/admin/slots/{slot.id}/closed", closed="0")
        await receiver.wait_for(8)
        await settled(store)
        events = receiver.events()
        mine = [e for e in events if e["data"].get("reference") == made["reference"]]
        assert [(e["type"], e["sequence"]) for e in mine] == [
            ("booking.created", 1),
            ("booking.checked_in", 2),
            ("booking.called", 3),
            ("booking.cancelled", 4),
        ]
        assert [e["actor"] for e in mine] == [
            {"type": "guest", "name": None},
            *[{"type": "staff", "name": "admin"}] * 2,
            {"type": "guest", "name": None},
        ]
        created, _in, called, cancelled = (e["data"] for e in mine)
        assert (
            called["counter"] == "Room 3" and cancelled["reason"] == "Flight delayed" and created.get("reason") is None
        )
        assert created["ticket_label"] == "A001" and created["time_zone"] == clinic.timezone
        local = datetime.fromisoformat(created["start_local"])
        assert (
            local == slot.starts_at
            and local.utcoffset() == slot.starts_at.astimezone(ZoneInfo(clinic.timezone)).utcoffset()
        )
        by_type = {e["type"]: e for e in events}
        assert by_type["booking.no_show"]["data"]["reference"] == other["reference"]
        for kind in ("slot.closed", "slot.reopened"):
            assert by_type[kind]["data"]["slot_id"] == slot.id and by_type[kind]["sequence"] is None
            assert by_type[kind]["actor"] == {"type": "staff", "name": "admin"}
    finally:
        receiver.close()


@pytest.mark.parametrize("app_config", [{"WEBHOOKS_ALLOW_PRIVATE": True, "OFFER_MINUTES": 0.002}])  # 0.12 s
async def test_waitlist_entries_are_told_joined_left_and_expired(client, service, store, venue, tomorrow, receiver):
    await store.add_webhook(venue.id, receiver.url, SECRET, datetime.now(UTC))
    bar = (await store.slots_for_day(venue.resource("bar").id, tomorrow))[0]
    held = [await book(client, bar.id, f"g{n}@example.com") for n in range(2)]  # the bar's 2 seats
    entries = []
    for contact in ("wen@example.com", "li@example.com"):
        joined = await client.post("/api/v1/waitlist", json={"slot_id": bar.id, "name": "Wen", "contact": contact})
        assert joined.status_code == 201
        entries.append(await joined.get_json())
    left = await client.post(
        f"/api/v1/waitlist/{entries[1]['reference']}/leave", json={"cancel_token": entries[1]["cancel_token"]}
    )
    assert left.status_code == 200
    await cancel(client, held[0])  # a seat offered to Wen, who lets it lapse
    await asyncio.sleep(0.15)
    assert await service.expire_offers() == 1
    await receiver.wait_for(8)
    told = [e for e in receiver.events() if e["type"].startswith("waitlist.")]  # each entry's in order

    def of(entry):
        return [(e["type"], e["actor"]["type"]) for e in told if e["data"]["reference"] == entry["reference"]]

    assert of(entries[0]) == [
        ("waitlist.joined", "guest"),
        ("waitlist.offered", "guest"),
        ("waitlist.expired", "system"),
    ]
    assert of(entries[1]) == [("waitlist.joined", "guest"), ("waitlist.left", "guest")]


async def test_a_schedule_change_that_gives_a_slot_more_room_is_told(service, store, venue, tomorrow, receiver):
    await store.add_webhook(venue.id, receiver.url, SECRET, datetime.now(UTC))
    bar = venue.resource("bar")
    wider = [OpeningRule(d, time(18), time(20), 60, 3) for d in range(7)]  # 2 seats an hour -> 3
    with acting(Actor("staff", "admin")):
        await service.edit_resource(bar, rules=wider)
    first = (await store.slots_for_day(bar.id, tomorrow))[0]
    deadline = monotonic() + 10  # every bar slot from today on is told: wait for this one's
    while not (changed := [e for e in receiver.events() if e["data"]["slot_id"] == first.id]):
        assert monotonic() < deadline, "nothing told of the first slot"
        await asyncio.sleep(0.02)
    assert [e["type"] for e in changed] == ["slot.capacity_changed"]
    assert (changed[0]["data"]["previous_capacity"], changed[0]["data"]["capacity"]) == (2, 3)
    assert changed[0]["actor"] == {"type": "staff", "name": "admin"}


async def test_an_endpoint_that_hangs_holds_up_no_other(client, store, venue, slot, receiver):
    hanging = Receiver("hang", "hang")
    try:
        for url in (hanging.url, receiver.url):
            await store.add_webhook(venue.id, url, SECRET, datetime.now(UTC))
        await book(client, slot.id)
        await asyncio.gather(hanging.wait_for(1), receiver.wait_for(1))
        await book(client, slot.id, "bo@example.com")  # while the first still hangs (10 s before it times out)
        await receiver.wait_for(2, timeout=3)
        await hanging.wait_for(2, timeout=3)  # not the same booking: not held back by the first
    finally:
        hanging.close()


@pytest.mark.parametrize("app_config", [{"WEBHOOKS_ALLOW_PRIVATE": True, "OUTBOX_RETRY_SECONDS": 600}])
async def test_a_delivery_given_up_disables_its_endpoint_unless_another_reached_it_meanwhile(
    client, store, venue, slot
):
    """Given up after a day of attempts, a delivery disables its endpoint, however late its first attempt came (the
    endpoint's failures are counted from then); one that got through since that delivery was made keeps it on."""
    down = Receiver(*[500] * 5)
    day, later = timedelta(hours=1), datetime.now(UTC) + timedelta(minutes=30)  # failing for half a "day" only

    async def tried(contact: str, count: int):
        """A booking whose delivery was tried once (and is pending again, ten minutes on)."""
        await book(client, slot.id, contact)
        await down.wait_for(count)
        for _ in range(200):
            newest = max(await store.outbox(), key=lambda m: m.id)
            if newest.attempts == 1 and newest.last_error:
                return newest
            await asyncio.sleep(0.02)
        raise AssertionError("the attempt was not settled")

    try:
        hook = await store.add_webhook(venue.id, down.url, SECRET, datetime.now(UTC))
        first = await tried("ana@example.com", 1)
        await store.settle_messages([Settled(first.id, hook, FAILED, "HTTP 500")], later, day)
        assert (await store.webhooks())[0].paused == "failing"
        await store.resume_webhook(hook)
        given_up, through = await tried("bo@example.com", 2), await tried("cy@example.com", 3)
        await store.settle_messages([Settled(through.id, hook, SENT)], later, day)
        await store.settle_messages([Settled(given_up.id, hook, FAILED, "HTTP 500")], later, day)
        assert (await store.webhooks())[0].paused is None
    finally:
        down.close()
