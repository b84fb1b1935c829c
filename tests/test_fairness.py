"""The scarce moment: a release instant (放号), per-person limits, a booking rate per address — on a steered clock."""

from __future__ import annotations

import asyncio
from datetime import UTC, date, datetime, time, timedelta

import pytest

from booking.contacts import contact_key
from booking.errors import LimitReached, NotOpenYet
from booking.model import NOT_YET, OPEN, Resource, Slot, countdown, opens_at, slot_state
from tests.support.helpers import (
    CONTACT,
    NAME,
    act,
    clock_at,
    csrf_token,
    data_of,
    read_until,
    streams_closed,
    text,
)

START = datetime(2026, 12, 1, 6, 0, tzinfo=UTC)  # the test bistro is in UTC
RELEASE = datetime(2026, 12, 1, 8, 0, tzinfo=UTC)  # tables for 3 December open two days ahead at 08:00
DAY = date(2026, 12, 3)


clock = clock_at(START)


@pytest.fixture
async def tables(service, venue):
    tables = venue.resource("tables")
    await service.edit_resource(tables, release_days_before=2, release_time=time(8))
    return (await service.store.venue("test-bistro")).resource("tables")


@pytest.fixture
async def day_slots(store, tables):
    return await store.slots_for_day(tables.id, DAY)


async def api_book(client, slot_id, contact=CONTACT, **extra):
    return await client.post("/api/v1/bookings", json={"slot_id": slot_id, "name": NAME, "contact": contact, **extra})


# -- the rule


def test_a_day_opens_at_its_release_or_when_it_enters_the_horizon_whichever_is_later():
    slot = Slot(
        1,
        1,
        datetime(2026, 12, 10, 1, 0, tzinfo=UTC),
        datetime(2026, 12, 10, 1, 30, tzinfo=UTC),
        date(2026, 12, 10),
        5,
        0,
    )
    clinic = Resource(1, 1, "dr", "Dr", horizon_days=14, release_days_before=7, release_time=time(8))
    opens = opens_at(slot, clinic, "Asia/Shanghai")
    assert opens == datetime(2026, 12, 3, 8, 0, tzinfo=UTC) + timedelta(hours=-8)  # 08:00 in Shanghai
    assert slot_state(slot, clinic, "Asia/Shanghai", opens - timedelta(seconds=1)) == NOT_YET
    assert slot_state(slot, clinic, "Asia/Shanghai", opens) == OPEN
    no_rule = Resource(1, 1, "t", "T", horizon_days=3)
    assert opens_at(slot, no_rule, "UTC") == datetime(2026, 12, 7, tzinfo=UTC)  # midnight, three days before


def test_the_countdown_is_coarse_far_away_and_fine_near_the_moment():
    assert countdown(RELEASE, RELEASE - timedelta(days=3, hours=5))[:2] == (4, timedelta(days=1))  # at most 4
    assert countdown(RELEASE, RELEASE - timedelta(hours=5, minutes=10))[:2] == (6, timedelta(hours=1))
    count, unit, changes = countdown(RELEASE, RELEASE - timedelta(minutes=90, seconds=30))
    assert (count, unit, changes) == (91, timedelta(minutes=1), RELEASE - timedelta(minutes=90))
    assert countdown(RELEASE, RELEASE - timedelta(minutes=30))[2] == RELEASE - timedelta(minutes=29)  # never "now"
    # the last minute in seconds (the page counts them on; rendered again every ten seconds), never "in 1 min"
    assert countdown(RELEASE, RELEASE - timedelta(seconds=61))[:2] == (2, timedelta(minutes=1))
    assert countdown(RELEASE, RELEASE - timedelta(seconds=60)) == (
        60,
        timedelta(seconds=1),
        RELEASE - timedelta(seconds=50),
    )
    assert countdown(RELEASE, RELEASE - timedelta(seconds=35)) == (
        35,
        timedelta(seconds=1),
        RELEASE - timedelta(seconds=30),
    )
    assert countdown(RELEASE, RELEASE - timedelta(seconds=4)) == (4, timedelta(seconds=1), RELEASE)


def test_contacts_compare_normalised():
    assert contact_key(" Ann@Example.COM ") == contact_key("ann@example.com")
    assert contact_key("+86 138-0013-8000") == contact_key("+8613800138000") != contact_key("8613800138000")


# -- release


async def test_a_booking_before_the_release_is_409_not_open_yet_and_at_the_instant_201(client, clock, store, day_slots):
    early = await api_book(client, day_slots[0].id)
    body = await early.get_json()
    assert early.status_code == 409 and body["code"] == "not_open_yet"
    assert body["opens_at"] == "2026-12-01T08:00:00+00:00" and (await store.slot(day_slots[0].id)).booked == 0
    clock.set(RELEASE)
    assert (await api_book(client, day_slots[0].id)).status_code == 201


async def test_slots_say_when_they_open(client, clock, tables, day_slots):
    url = f"/api/v1/venues/test-bistro/resources/tables/slots?date={DAY}"
    assert {s["opens_at"] for s in (await (await client.get(url)).get_json())["slots"]} == {"2026-12-01T08:00:00+00:00"}
    clock.set(RELEASE)
    assert {s["opens_at"] for s in (await (await client.get(url)).get_json())["slots"]} == {None}


async def test_the_booking_form_says_when_it_opens(client, day_slots):
    html = await text(await client.get(f"/slots/{day_slots[0].id}/book"))
    assert "Booking opens" in html and "08:00" in html and "in 2 h" in html
    form = {
        "csrf_token": await csrf_token(client, f"/slots/{day_slots[0].id}/book"),
        "name": NAME,
        "contact": CONTACT,
        "party_size": "1",
    }
    refused = await client.post(f"/slots/{day_slots[0].id}/book", form=form)
    assert refused.status_code == 409 and "opens for booking on" in await text(refused)


async def test_a_waiting_page_counts_down_and_turns_bookable_at_the_instant(app, client, clock, hub, tables):
    async with client.request(f"/events/day/{tables.id}/{DAY}") as page:
        first = data_of(await read_until(page, b"</div>"))
        assert "in 2 h" in first and ">Book</a>" not in first and "Opens Tue 1 Dec 08:00" in first
        clock.set(RELEASE - timedelta(minutes=30))
        assert "in 30 min" in data_of(await read_until(page, b"in 30 min"))
        renders = hub.renders
        clock.set(RELEASE)
        opened = data_of(await read_until(page, b">Book</a>"))
        assert opened.count(">Book</a>") == 12 and "Booking opens" not in opened.split("event: slots")[-1]
        assert hub.renders == renders + 2  # the table and the date strip, once each for everyone watching
        await page.disconnect()
    await streams_closed(hub)


async def test_staff_set_the_release_in_the_resource_form(admin, store, venue):
    tables = venue.resource("tables")
    form = {
        "name": "Tables",
        "max_party": "4",
        "horizon_days": "7",
        "min_notice_minutes": "0",
        "schedule": "daily 08:00-20:00 60 10",
    }
    bad = await act(admin, f"/admin/resources/{tables.id}/edit", **form, release_days_before="3", release_time="")
    assert bad.status_code == 422 and "A release needs both" in await text(bad)
    good = await act(admin, f"/admin/resources/{tables.id}/edit", **form, release_days_before="3", release_time="07:30")
    assert good.status_code == 303
    saved = (await store.venue("test-bistro")).resource("tables")
    assert (saved.release_days_before, saved.release_time) == (3, time(7, 30))
    page = await text(await admin.get(f"/admin/resources/{tables.id}/edit"))
    assert 'name="release_days_before" type="number" min="0" max="365" value="3"' in page and 'value="07:30"' in page


# -- per-person limits


@pytest.fixture
async def limited(service, venue):
    """The bistro allows one person two bookings of a resource a day."""
    await service.edit_venue(venue, venue.name, venue.kind, venue.timezone, False, per_person_limit=2)


async def test_a_contact_holds_at_most_the_venues_limit(client, clock, limited, day_slots):
    clock.set(RELEASE)
    assert [(await api_book(client, s.id, "Ann@Example.com")).status_code for s in day_slots[:2]] == [201, 201]
    refused = await api_book(client, day_slots[2].id, " ann@example.com ")
    body = await refused.get_json()
    assert refused.status_code == 409 and body["code"] == "limit_reached" and "2 bookings" in body["error"]
    assert (await api_book(client, day_slots[2].id, "other@example.com")).status_code == 201


async def test_a_cancellation_gives_the_allowance_back(client, clock, limited, day_slots):
    clock.set(RELEASE)
    first = await (await api_book(client, day_slots[0].id)).get_json()
    await api_book(client, day_slots[1].id)
    assert (await api_book(client, day_slots[2].id)).status_code == 409
    await client.post(f"/api/v1/bookings/{first['reference']}/cancel", json={"cancel_token": first["cancel_token"]})
    assert (await api_book(client, day_slots[2].id)).status_code == 201


async def test_50_parallel_attempts_by_one_contact_book_exactly_the_limit(
    clock, store, service, limited, tables, day_slots
):
    clock.set(RELEASE)
    attempts = [service.book(tables, day_slots[n % 12].id, NAME, "+44 20 7946 0123", 1) for n in range(50)]
    results = await asyncio.gather(*attempts, return_exceptions=True)
    assert sum(not isinstance(r, Exception) for r in results) == 2
    assert all(isinstance(r, LimitReached) for r in results if isinstance(r, Exception))
    assert sum(s.booked for s in await store.slots_for_day(tables.id, DAY)) == 2


async def test_staff_may_book_over_the_limit_when_they_say_so(admin, clock, store, service, limited, tables, day_slots):
    clock.set(RELEASE)
    for s in day_slots[:2]:
        await service.book(tables, s.id, NAME, CONTACT, 1)
    path = f"/admin/resources/{tables.id}/bookings"
    refused = await act(admin, path, slot_id=str(day_slots[2].id), name=NAME, contact=CONTACT)
    assert refused.status_code == 409 and "Tick" in await text(refused)
    allowed = await act(admin, path, slot_id=str(day_slots[2].id), name=NAME, contact=CONTACT, over_limit="1")
    assert allowed.status_code == 303 and (await store.slot(day_slots[2].id)).booked == 1


async def test_the_public_cannot_claim_the_staff_override(client, clock, service, limited, tables, day_slots):
    clock.set(RELEASE)
    for s in day_slots[:2]:
        await service.book(tables, s.id, NAME, CONTACT, 1)
    assert (await api_book(client, day_slots[2].id, over_limit=True)).status_code == 409
    with pytest.raises(LimitReached):
        await service.book(tables, day_slots[2].id, NAME, CONTACT, 1, over_limit=True)  # not for_staff


async def test_staff_book_before_the_release(admin, store, tables, day_slots):
    response = await act(
        admin, f"/admin/resources/{tables.id}/bookings", slot_id=str(day_slots[0].id), name=NAME, contact=CONTACT
    )
    assert response.status_code == 303 and (await store.slot(day_slots[0].id)).booked == 1


async def test_not_open_yet_is_raised_by_the_store_itself(store, tables, day_slots):
    with pytest.raises(NotOpenYet) as refused:
        await store.book(day_slots[0].id, NAME, CONTACT, 1, START)
    assert refused.value.opens_at == RELEASE


# -- booking rate per address


async def test_bookings_past_the_rate_are_429_with_retry_after_until_the_minute_is_over(
    app, client, clock, store, day_slots
):
    clock.set(RELEASE)
    app.config["BOOKINGS_PER_MINUTE"] = 3
    assert [(await api_book(client, s.id, f"p{n}@example.com")).status_code for n, s in enumerate(day_slots[:3])] == [
        201
    ] * 3
    refused = await api_book(client, day_slots[3].id, "p9@example.com")
    assert refused.status_code == 429 and 0 < float(refused.headers["Retry-After"]) <= 60
    form = {
        "csrf_token": await csrf_token(client, f"/slots/{day_slots[3].id}/book"),
        "name": NAME,
        "contact": "p8@example.com",
        "party_size": "1",
    }
    assert (await client.post(f"/slots/{day_slots[3].id}/book", form=form)).status_code == 429
    assert (await store.slot(day_slots[3].id)).booked == 0
    clock.advance(minutes=1)
    assert (await api_book(client, day_slots[3].id, "p9@example.com")).status_code == 201


async def test_the_demo_venues_have_their_limits(tmp_path):
    from booking import demo
    from booking.store import open_store

    store = open_store(f"sqlite:///{tmp_path}/demo.db", tmp_path)
    await store.open()
    await demo.seed(store)
    limits = {v.slug: v.per_person_limit for v in await store.venues()}
    clinic = await store.venue("riverside-clinic")
    await store.close()
    assert limits == {"harbour-kitchen": 2, "riverside-clinic": 1, "corner-barber": 1}
    assert {(r.release_days_before, r.release_time) for r in clinic.resources} == {(7, time(8))}
