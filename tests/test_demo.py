"""`make run`'s demo data: every demo venue is bookable most days of the next two weeks."""

from datetime import UTC, datetime, timedelta

from booking import demo
from booking.contacts import looks_like_phone
from booking.model import local_today
from booking.store import open_store


async def test_demo_venues_have_free_slots_most_days_ahead(tmp_path):
    store = open_store(f"sqlite:///{tmp_path}/demo.db", tmp_path)
    await store.open()
    try:
        await demo.seed(store)
        await store.extend_slots(datetime.now(UTC))
        venues = await store.venues()
        assert {v.kind for v in venues} == {"restaurant", "clinic", "barber"}
        for venue in venues:
            today = local_today(venue.timezone)
            open_days = 0
            for offset in range(1, 15):
                day = today + timedelta(days=offset)
                slots = [s for r in venue.resources for s in await store.slots_for_day(r.id, day)]
                open_days += any(s.remaining for s in slots)
            assert open_days >= 12, venue.slug
    finally:
        await store.close()


async def test_demo_venues_say_where_they_are_and_have_chinese_names(tmp_path):
    store = open_store(f"sqlite:///{tmp_path}/demo.db", tmp_path)
    await store.open()
    try:
        await demo.seed(store)
        for venue in await store.venues():
            assert venue.address and looks_like_phone(venue.phone) and venue.name_zh, venue.slug
            assert all(r.name_zh for r in venue.resources), venue.slug
        clinic = await store.venue("riverside-clinic")
        assert clinic.resource("cardiology-wang").name_zh.startswith("心内科")
    finally:
        await store.close()
