"""The domain service: every write validated, stamped with its clock, and heard by whoever listens to the store."""

from datetime import UTC, datetime, time, timedelta

import pytest

from booking.clock import ManualClock
from booking.errors import CapacityConflict, NotFound, SlotFull, SlotUnavailable
from booking.model import OpeningRule
from booking.service import Invalid, Service
from booking.store import open_store

NOON = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
RULES = [OpeningRule(d, time(9), time(17), 60, 4) for d in range(7)]


@pytest.fixture
async def heard():
    return []


@pytest.fixture
async def service(tmp_path, heard):
    store = open_store(f"sqlite:///{tmp_path}/s.db", tmp_path, notify=lambda *topics: heard.append(topics))
    await store.open()
    yield Service(store, ManualClock(NOON))
    await store.close()


@pytest.fixture
async def venue(service):
    venue_id = await service.add_venue("v", "Venue", "clinic", "UTC")
    await service.add_resource(
        await service.store.venue("v"), "desk", "Desk", RULES, max_party=2, horizon_days=3, min_notice_minutes=30
    )
    assert venue_id
    return await service.store.venue("v")


async def test_a_new_resource_has_its_slots_at_once(service, venue):
    desk = venue.resource("desk")
    assert len(await service.store.slots_for_day(desk.id, NOON.date() + timedelta(days=3))) == 8
    assert await service.store.slots_for_day(desk.id, NOON.date() + timedelta(days=4)) == []


async def test_bad_requests_are_refused_before_the_store_and_nothing_is_heard(service, venue, heard):
    desk = venue.resource("desk")
    slot = (await service.store.slots_for_day(desk.id, NOON.date() + timedelta(days=1)))[0]
    heard.clear()
    with pytest.raises(Invalid) as invalid:
        await service.book(desk, slot.id, " ", "not a contact", 3)
    assert invalid.value.problems == {"name": "required", "contact": "invalid", "party_size": "too_large"}
    assert heard == [] and (await service.store.slot(slot.id)).booked == 0


async def test_a_booking_is_stamped_with_the_service_clock_and_heard_once(service, venue, heard):
    desk = venue.resource("desk")
    today = await service.store.slots_for_day(desk.id, NOON.date())
    assert [s.starts_at.hour for s in today] == [13, 14, 15, 16]  # made at noon: the morning had gone
    heard.clear()
    booking, slot = await service.book(desk, today[0].id, " Ann ", "12345", 2)  # 13:00: outside the 30 min notice
    assert booking.created_at == NOON and booking.name == "Ann"
    assert heard == [
        (
            f"day:{desk.id}:{NOON.date()}:",
            f"slot:{desk.id}:{slot.id}",
            f"board:{desk.id}:{NOON.date()}",
            f"panel:{desk.id}",
            f"ticket:{desk.id}:{NOON.date()}:",
            f"wait:{desk.id}:{NOON.date()}:",
            f"days:{desk.id}:",
            f"json:{desk.id}:{NOON.date()}",
            f"draw:{desk.id}:{NOON.date()}",
            f"entry:{desk.id}:{NOON.date()}:",
        )
    ]
    service.clock.set(NOON + timedelta(minutes=45))
    with pytest.raises(SlotUnavailable):  # inside the notice by the service's clock, whatever the real time
        await service.book(desk, today[0].id, "Bo", "12345", 1)
    service.clock.set(NOON)
    assert (await service.book(desk, today[0].id, "Bo", "12345", 1))[1].booked == 3


async def test_staff_cancel_and_the_line(service, venue, heard):
    desk = venue.resource("desk")
    slot = (await service.store.slots_for_day(desk.id, NOON.date() + timedelta(days=1)))[0]
    first, _ = await service.book(desk, slot.id, "Ann", "12345", 1)
    second, _ = await service.book(desk, slot.id, "Bo", "12345", 1)
    called, _ = await service.call_next(desk.id, slot.local_date, "Room 1")
    assert called.id == first.id and called.called_at == NOON and called.called_to == "Room 1"
    cancelled, after = await service.cancel_for_staff(second.id)
    assert cancelled.status == "cancelled" and after.booked == 1
    assert await service.call_next(desk.id, slot.local_date, "Room 1") is None
    with pytest.raises(NotFound):
        await service.cancel_for_staff(10**9)


async def test_editing_a_resource_saves_and_regenerates_in_one_transaction(service, venue, heard):
    desk = venue.resource("desk")
    day = NOON.date() + timedelta(days=1)
    slot = (await service.store.slots_for_day(desk.id, day))[0]
    await service.book(desk, slot.id, "Ann", "12345", 2)
    with pytest.raises(CapacityConflict):  # fewer places than booked: nothing saved, not even the name
        await service.edit_resource(desk, [OpeningRule(d, time(9), time(17), 60, 1) for d in range(7)], name="Renamed")
    assert (await service.store.venue("v")).resource("desk") == desk
    heard.clear()
    days = await service.edit_resource(desk, horizon_days=5)
    assert days == [NOON.date() + timedelta(days=n) for n in (4, 5)]  # a raised horizon: the new days at once
    assert len(await service.store.slots_for_day(desk.id, NOON.date() + timedelta(days=5))) == 8
    assert heard == [
        (
            "venues",
            f"day:{desk.id}:",
            f"days:{desk.id}:",
            f"slot:{desk.id}:",
            f"board:{desk.id}:",
            f"panel:{desk.id}",
            f"ticket:{desk.id}:",
            f"wait:{desk.id}:",
            f"json:{desk.id}:",
            f"draw:{desk.id}:",
            f"entry:{desk.id}:",
            f"entries:{desk.id}:",
        )
    ]


async def test_a_slot_seen_full_is_refused_without_a_transaction_but_a_replay_still_gets_its_booking(service, venue):
    desk = venue.resource("desk")
    slot = (await service.store.slots_for_day(desk.id, NOON.date() + timedelta(days=1)))[0]
    booked, _ = await service.book(desk, slot.id, "Ann", "12345", 2, idempotency_key="k-ann-0001")
    _, full = await service.book(desk, slot.id, "Bo", "23456", 2)
    writes, write = [], service.store.db.write
    service.store.db.write = lambda *args: writes.append(args) or write(*args)
    with pytest.raises(SlotFull):
        await service.book(desk, slot.id, "Cy", "34567", 1, seen=(full, "UTC"))
    assert writes == []  # refused as seen: no transaction
    replay, _ = await service.book(desk, slot.id, "Ann", "12345", 2, idempotency_key="k-ann-0001", seen=(full, "UTC"))
    assert replay.id == booked.id and len(writes) == 1  # a key may be a replay: the store answers it
    service.clock.set(slot.starts_at)  # begun: no longer the public's, whatever the count says
    with pytest.raises(SlotUnavailable):
        await service.book(desk, slot.id, "Cy", "34567", 1, seen=(full, "UTC"))
