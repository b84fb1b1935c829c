"""Which resource a slot read belongs to, on both engines: kept until the venues change (so that a JSON booking
finds its resource and venue without reading the slot first); a booking's transaction refuses a slot that is not
the resource's its caller named."""

from __future__ import annotations

from datetime import timedelta

import pytest

from booking.errors import NotFound
from booking.model import local_today
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
