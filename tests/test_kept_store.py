"""Which resource a slot read belongs to, on both engines: kept until the venues change (so that a JSON booking
finds its resource and venue without reading the slot first); a booking's transaction refuses a slot that is not
the resource's its caller named."""

from __future__ import annotations

from datetime import timedelta

import pytest

from booking.errors import NotFound
from booking.model import local_today
from booking.store import open_store
from tests.test_store import NOW, RULES, resource_id, slot, store, url  # noqa: F401  (fixtures: each engine)


async def test_a_slot_read_names_its_resource_until_the_venues_change(store, resource_id):
    day = local_today("UTC") + timedelta(days=1)
    first, *others = await store.slots_for_day(resource_id, day)
    assert store.resource_of_slot(first.id) == resource_id and store.resource_of_slot(10**12) is None
    await store.edit_resource(resource_id, {"name_zh": "房间"}, RULES, [], NOW)
    assert store.resource_of_slot(first.id) is None  # forgotten: an id of a deleted slot could be reused
    assert (await store.slot(first.id)).id == first.id
    assert store.resource_of_slot(first.id) == resource_id  # known again once read


async def test_a_booking_for_another_resource_is_refused_and_takes_nothing(store, resource_id, slot):
    other = await store.add_resource((await store.venues())[0].id, "o", "Other", RULES)
    with pytest.raises(NotFound):
        await store.book(slot.id, "Ann", "12345", 1, NOW, resource_id=other)
    assert (await store.slot(slot.id)).booked == 0
    booked, after = await store.book(slot.id, "Ann", "12345", 1, NOW, resource_id=resource_id)
    assert (booked.slot_id, after.booked) == (slot.id, 1)


async def test_a_made_booking_is_seven_statements_on_sqlite(tmp_path):
    """BEGIN IMMEDIATE; the slot with its resource, rule and webhooks' presence; the person's count; the capacity's
    conditional UPDATE; the ticket; the INSERT; COMMIT. With a webhook sending, its SELECT too."""
    store = open_store(f"sqlite:///{tmp_path}/store.db", tmp_path)
    await store.open()
    try:
        venue_id = await store.add_venue("v", "Venue", "restaurant", "UTC")
        rid = await store.add_resource(venue_id, "r", "Room", RULES, max_party=10, horizon_days=3)
        await store.extend_slots(NOW)
        first, second = (await store.slots_for_day(rid, local_today("UTC") + timedelta(days=1)))[:2]
        statements = []
        store.db._db.set_trace_callback(statements.append)
        await store.book(first.id, "Ann", "12345", 1, NOW, resource_id=rid)
        assert [s.split()[0] for s in statements] == [
            "BEGIN",
            "SELECT",
            "INSERT",
            "UPDATE",
            "INSERT",
            "INSERT",
            "COMMIT",
        ]
        await store.add_webhook(venue_id, "https://example.org/hook", "secret", NOW)
        statements.clear()
        await store.book(second.id, "Bo", "23456", 1, NOW, resource_id=rid)
        assert (
            len([s for s in statements if "FROM resources r JOIN venues v ON v.id = r.venue_id JOIN webhooks" in s])
            == 1
        )
    finally:
        await store.close()
