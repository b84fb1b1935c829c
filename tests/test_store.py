"""The Store contract: every engine (SQLite and PostgreSQL) must pass these."""

import asyncio
import sqlite3
from datetime import UTC, datetime, time, timedelta

import asyncpg
import pytest

from booking.errors import (
    Forbidden,
    LimitReached,
    NotFound,
    NotMovable,
    OfferGone,
    OtherResource,
    SlotAvailable,
    SlotFull,
    SlotUnavailable,
)
from booking.migrations import MIGRATIONS, texts_and_offer_languages
from booking.model import OpeningRule, local_today
from booking.store import open_store, sqlite_path

NOW = datetime.now(UTC)
RULES = [OpeningRule(d, time(9), time(12), 60, 10) for d in range(7)]


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def url(request, tmp_path):
    """An empty database of each engine."""
    return f"sqlite:///{tmp_path}/store.db" if request.param == "sqlite" else request.getfixturevalue("pg_url")


@pytest.fixture
async def store(url, tmp_path):
    store = open_store(url, tmp_path)
    await store.open()
    yield store
    await store.close()


@pytest.fixture
async def resource_id(store):
    venue_id = await store.add_venue("v", "Venue", "restaurant", "UTC")
    rid = await store.add_resource(venue_id, "r", "Room", RULES, max_party=10, horizon_days=3, min_notice_minutes=30)
    await store.extend_slots(NOW)
    return rid


@pytest.fixture
async def slot(store, resource_id):
    return (await store.slots_for_day(resource_id, local_today("UTC") + timedelta(days=1)))[0]


async def book(store, slot, n=1, **kw):
    return await store.book(slot.id, "Ann", "12345", n, NOW, **kw)


async def query(url, tmp_path, sql: str, *args) -> list[tuple]:
    """Rows of one SQL statement, run by the engine's own driver behind the store's back."""
    if url.startswith("sqlite"):
        with sqlite3.connect(sqlite_path(url, tmp_path)) as db:
            return db.execute(sql.replace("$1", "?"), args).fetchall()
    db = await asyncpg.connect(url)
    try:
        return [tuple(r) for r in await db.fetch(sql, *args)]
    finally:
        await db.close()


def test_sqlite_urls(tmp_path):
    assert sqlite_path("sqlite:///instance/x.db", tmp_path) == tmp_path / "instance/x.db"
    assert sqlite_path("sqlite:////var/x.db", tmp_path).as_posix() == "/var/x.db"
    with pytest.raises(ValueError):
        open_store("mysql://x", tmp_path)


TABLES = {
    "sqlite": "SELECT name FROM sqlite_master WHERE type = 'table'",
    "postgresql": "SELECT tablename FROM pg_tables WHERE schemaname = 'public'",
}


async def test_migrations_run_once_from_empty(url, tmp_path):
    for _ in range(2):  # reopening must not re-run a step
        store = open_store(url, tmp_path)
        await store.open()
        await store.close()
    versions = [v for (v,) in await query(url, tmp_path, "SELECT version FROM schema_version ORDER BY version")]
    assert versions == list(range(1, len(MIGRATIONS) + 1))
    assert {"venues", "resources", "opening_rules", "slots", "bookings"} <= {
        r[0] for r in await query(url, tmp_path, TABLES[url.split(":")[0]])
    }


async def test_accounts_made_before_roles_become_owners_on_upgrade(url, tmp_path, monkeypatch):
    monkeypatch.setattr("booking.sql.store.MIGRATIONS", MIGRATIONS[:9])  # the schema before staff roles
    old = open_store(url, tmp_path)
    await old.open()
    await old.add_staff("admin", "hash")  # as the schema then had it (a password set now enables too)
    await old.close()
    monkeypatch.undo()
    store = open_store(url, tmp_path)
    await store.open()
    try:
        assert await store.staff_access("admin") == ("owner", frozenset())
        venue_id = await store.add_venue("v", "Venue", "restaurant", "UTC")
        version = await store.staff_session_version("admin")
        await store.set_staff_password("boss", "hash")  # an owner is left when admin is one no longer
        assert await store.set_staff_access("admin", "desk", frozenset({venue_id}))
        assert await store.staff_access("admin") == ("desk", frozenset({venue_id}))
        assert await store.staff_session_version("admin") == version + 1  # its sessions ended
        assert not await store.set_staff_access("nobody", "desk", frozenset({venue_id}))
    finally:
        await store.close()


async def test_older_audit_entries_get_plain_action_names_on_upgrade(url, tmp_path, monkeypatch):
    step = next(i for i, s in enumerate(MIGRATIONS) if isinstance(s, str) and "close_or_reopen_slot" in s)
    monkeypatch.setattr("booking.sql.store.MIGRATIONS", MIGRATIONS[:step])  # before the trail kept ids

    async def legacy(tx):
        for action in ("close_slot", "webhooks.add", "webhooks.remove", "login"):
            await tx.execute(
                "INSERT INTO audit_log (at, actor, address, action, subject) VALUES (:at, 'admin', '-', :action, '')",
                at=datetime.now(UTC),
                action=action,
            )

    old = open_store(url, tmp_path)
    await old.open()
    await old.db.write(legacy)
    await old.close()
    monkeypatch.undo()
    store = open_store(url, tmp_path)
    await store.open()
    try:  # a closing could not be told from a reopening: said as either
        actions = {e.action for e in await store.audit_trail()}
        assert actions == {"close_or_reopen_slot", "add_webhook", "remove_webhook", "login"}
    finally:
        await store.close()


async def test_the_outbox_made_anew_for_text_messages_keeps_its_rows(url, tmp_path, monkeypatch):
    """The step that lets the outbox take kind 'sms' (SQLite cannot change a CHECK: the table is made anew) keeps
    its rows and indexes, and still refuses a kind it does not know."""
    monkeypatch.setattr("booking.sql.store.MIGRATIONS", MIGRATIONS[: MIGRATIONS.index(texts_and_offer_languages)])
    old = open_store(url, tmp_path)
    await old.open()
    venue_id = await old.add_venue("v", "Venue", "restaurant", "UTC")
    await old.close()
    row = "INSERT INTO outbox (kind, event, delivery, venue_id, body, created_at, due_at) VALUES ('{}', 'booking.created', '{}', {}, '{{}}', '2030-01-01 00:00:00', '2030-01-01 00:00:00')"
    await query(url, tmp_path, row.format("email", "mail_kept", venue_id))
    monkeypatch.undo()
    store = open_store(url, tmp_path)
    await store.open()
    try:
        await query(url, tmp_path, row.format("sms", "sms_new", venue_id))
        assert [(m.kind, m.delivery) for m in await store.outbox()] == [("sms", "sms_new"), ("email", "mail_kept")]
        with pytest.raises((sqlite3.IntegrityError, asyncpg.CheckViolationError)):
            await query(url, tmp_path, row.format("fax", "fax_no", venue_id))
        if url.startswith("sqlite"):
            indexes = await query(
                url,
                tmp_path,
                "SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'outbox' AND sql IS NOT NULL",
            )
            assert {name for (name,) in indexes} == {
                "outbox_due",
                "outbox_by_venue",
                "outbox_by_booking",
                "outbox_by_entry",
                "outbox_in_order",  # the webhooks' order, made by a later step
                "outbox_entry_in_order",
            }
    finally:
        await store.close()


@pytest.mark.postgres
async def test_postgres_workers_starting_together_migrate_once(pg_url, tmp_path):
    stores = [open_store(pg_url, tmp_path) for _ in range(4)]
    await asyncio.gather(*(s.open() for s in stores))
    await asyncio.gather(*(s.close() for s in stores))
    versions = [v for (v,) in await query(pg_url, tmp_path, "SELECT version FROM schema_version ORDER BY version")]
    assert versions == list(range(1, len(MIGRATIONS) + 1))


async def test_venues_come_back_with_resources_and_rules(store, resource_id):
    venue = await store.venue("v")
    assert venue.name == "Venue" and venue.timezone == "UTC"
    assert venue.resource("r").id == resource_id
    assert venue.resource("r").rules == tuple(RULES)
    assert (await store.venue_of_resource(resource_id)).slug == "v"
    assert await store.venue("nope") is None
    assert [v.slug for v in await store.venues()] == ["v"]


async def test_extend_slots_fills_the_horizon_once(store, resource_id):
    today = local_today("UTC")
    for offset in range(4):  # today .. today + horizon
        assert len(await store.slots_for_day(resource_id, today + timedelta(days=offset))) == 3
    assert await store.slots_for_day(resource_id, today + timedelta(days=4)) == []
    assert await store.extend_slots(NOW) == 0
    assert await store.extend_slots(NOW + timedelta(days=1)) == 3  # a day later, one more day


async def test_book_takes_places_and_returns_the_new_count(store, slot):
    booking, after = await book(store, slot, 3)
    assert booking.status == "confirmed" and booking.party_size == 3 and booking.cancel_token
    assert after.booked == 3 and after.remaining == 7
    found, found_slot = await store.booking(booking.reference)
    assert found.name == "Ann" and found_slot.booked == 3


async def test_book_refuses_what_does_not_fit(store, slot):
    await book(store, slot, 8)
    with pytest.raises(SlotFull):
        await book(store, slot, 3)
    assert (await store.slot(slot.id)).booked == 8
    await book(store, slot, 2)
    assert (await store.slot(slot.id)).remaining == 0


async def test_book_refuses_unknown_past_and_too_soon_slots(store, resource_id, slot):
    with pytest.raises(NotFound):
        await store.book(999999, "Ann", "12345", 1, NOW)
    with pytest.raises(SlotUnavailable):
        await store.book(slot.id, "Ann", "12345", 1, slot.starts_at - timedelta(minutes=10))  # inside min notice
    assert (await store.slot(slot.id)).booked == 0


async def test_idempotency_key_books_once(store, slot):
    first, _ = await book(store, slot, 2, idempotency_key="key-123456")
    again, after = await book(store, slot, 2, idempotency_key="key-123456")
    assert again.reference == first.reference and again.cancel_token == first.cancel_token
    assert after.booked == 2


async def test_one_idempotency_key_sent_many_times_at_once_books_once(store, slot):
    results = await asyncio.gather(*(book(store, slot, 2, idempotency_key="key-racing-1") for _ in range(20)))
    assert len({b.reference for b, _ in results}) == 1
    assert (await store.slot(slot.id)).booked == 2


async def test_cancel_gives_the_places_back_once(store, slot):
    booking, _ = await book(store, slot, 4)
    with pytest.raises(Forbidden):
        await store.cancel(booking.reference, "wrong", NOW)
    with pytest.raises(NotFound):
        await store.cancel("NOSUCHREF", booking.cancel_token, NOW)
    cancelled, after, changed = await store.cancel(booking.reference, booking.cancel_token, NOW)
    assert changed and cancelled.status == "cancelled" and after.booked == 0
    _, again, changed = await store.cancel(booking.reference, booking.cancel_token, NOW)
    assert not changed and again.booked == 0


async def test_free_slots_near_skips_full_and_too_small(store, resource_id, slot):
    await book(store, slot, 10)
    nearby = await store.free_slots_near(slot, 5, NOW)
    assert nearby and slot.id not in [s.id for s in nearby]
    assert all(s.remaining >= 5 and s.resource_id == resource_id for s in nearby)
    assert nearby == sorted(nearby, key=lambda s: s.starts_at)
    starts = [s.starts_at for s in nearby]
    assert min(abs(s - slot.starts_at) for s in starts) == timedelta(hours=1)


async def test_200_concurrent_bookers_fill_exactly_the_capacity(store, slot):
    results = await asyncio.gather(*(book(store, slot) for _ in range(200)), return_exceptions=True)
    confirmed = [r for r in results if not isinstance(r, Exception)]
    assert len(confirmed) == 10
    assert all(isinstance(r, SlotFull) for r in results if isinstance(r, Exception))
    assert (await store.slot(slot.id)).booked == 10
    assert len({b.reference for b, _ in confirmed}) == 10


async def test_two_stores_on_one_database_never_overbook(url, tmp_path, store, slot):
    """Like two worker processes: separate connections (and threads or pools), one database."""
    other = open_store(url, tmp_path)
    await other.open()
    try:
        attempts = [s.book(slot.id, "Bo", "12345", 1, NOW) for s in (store, other) for _ in range(100)]
        results = await asyncio.gather(*attempts, return_exceptions=True)
    finally:
        await other.close()
    assert sum(not isinstance(r, Exception) for r in results) == 10
    assert (await store.slot(slot.id)).booked == 10


async def test_the_database_itself_refuses_overbooking(url, tmp_path, store, slot):
    """The CHECK constraint is the backstop behind the conditional update."""
    with pytest.raises((sqlite3.IntegrityError, asyncpg.CheckViolationError)):
        await query(url, tmp_path, "UPDATE slots SET booked = capacity + 1 WHERE id = $1", slot.id)


async def test_venue_by_id(store, resource_id):
    venue = await store.venue("v")
    assert (await store.venue_by_id(venue.id)) == venue
    assert await store.venue_by_id(venue.id + 1000) is None


async def test_a_venues_address_phone_and_chinese_names_are_kept(store, resource_id):
    assert ((v := await store.venue("v")).address, v.phone, v.name_zh, v.resource("r").name_zh) == ("", "", "", "")
    venue_id = await store.add_venue(
        "w", "W", "clinic", "Asia/Shanghai", address="88 Binjiang Avenue", phone="+86 21 5555 0188", name_zh="滨江诊所"
    )
    rid = await store.add_resource(venue_id, "heart", "Cardiology", RULES, name_zh="心内科")
    w = await store.venue("w")
    assert (w.address, w.phone, w.name_zh, w.resource(rid).name_zh) == (
        "88 Binjiang Avenue",
        "+86 21 5555 0188",
        "滨江诊所",
        "心内科",
    )
    await store.update_venue(venue_id, "W2", "clinic", "Asia/Shanghai", False)  # details not given: kept
    assert (await store.venue("w")).address == "88 Binjiang Avenue"
    await store.update_venue(venue_id, "W2", "clinic", "Asia/Shanghai", False, phone="", name_zh="新名")
    w = await store.venue("w")
    assert (w.name, w.address, w.phone, w.name_zh) == ("W2", "88 Binjiang Avenue", "", "新名")
    await store.edit_resource(rid, {"name_zh": "心脏科"}, RULES, [], NOW)
    assert (await store.venue("w")).resource(rid).name_zh == "心脏科"
    with pytest.raises(ValueError):
        await store.update_venue(venue_id, "W2", "clinic", "UTC", False, website="x")


# -- the waitlist (候补): a freed place is offered to exactly one entry, held, then booked or passed on


async def fill_and_wait(store, slot, *parties):
    """Fill the slot (one booking per place), then line up waitlist entries of these party sizes."""
    bookings = [(await store.book(slot.id, f"B{n}", f"+44 7700 9000{n:02d}", 1, NOW))[0] for n in range(10)]
    entries = [
        (await store.join_waitlist(slot.id, f"W{n}", f"w{n}@example.com", size, NOW))[0]
        for n, size in enumerate(parties)
    ]
    return bookings, entries


async def test_joining_a_slot_with_room_is_refused(store, slot):
    with pytest.raises(SlotAvailable):
        await store.join_waitlist(slot.id, "Ann", "12345", 1, NOW)


async def test_a_freed_place_is_offered_to_the_first_whose_party_fits_and_held(store, slot):
    bookings, (pair, single, later) = await fill_and_wait(store, slot, 2, 1, 1)
    assert [(await store.waitlist_entry(e.reference))[2] for e in (pair, single, later)] == [1, 2, 3]
    _, after, _ = await store.cancel(bookings[0].reference, bookings[0].cancel_token, NOW)
    assert (after.booked, after.held, after.remaining) == (9, 1, 0)  # held for the offer: taken to everyone else
    offered, _, position = await store.waitlist_entry(single.reference)
    assert offered.status == "offered" and offered.offered_until == NOW + store.offer_for and position is None
    assert (await store.waitlist_entry(pair.reference))[0].status == "waiting"
    with pytest.raises(SlotFull):
        await book(store, slot)
    booking, full = await store.accept_offer(single.reference, single.cancel_token, NOW)
    assert booking.status == "confirmed" and booking.name == "W1" and (full.booked, full.held) == (10, 0)
    assert (await store.waitlist_entry(single.reference))[0].status == "booked"
    with pytest.raises(OfferGone):
        await store.accept_offer(single.reference, single.cancel_token, NOW)


async def test_an_offer_that_expires_passes_on_and_with_nobody_left_the_place_returns(store, slot):
    bookings, (first, second) = await fill_and_wait(store, slot, 1, 1)
    await store.cancel(bookings[0].reference, bookings[0].cancel_token, NOW)
    assert await store.expire_offers(NOW + store.offer_for - timedelta(seconds=1)) == 0
    assert await store.expire_offers(NOW + store.offer_for) == 1
    assert (await store.waitlist_entry(first.reference))[0].status == "expired"
    assert (await store.waitlist_entry(second.reference))[0].status == "offered"
    with pytest.raises(OfferGone):
        await store.accept_offer(first.reference, first.cancel_token, NOW + store.offer_for)
    await store.leave_waitlist(second.reference, second.cancel_token, NOW)  # nobody left: back to the public
    assert (await store.slot(slot.id)).remaining == 1


async def test_accepting_needs_the_entrys_token(store, slot):
    bookings, (first,) = await fill_and_wait(store, slot, 1)
    await store.cancel(bookings[0].reference, bookings[0].cancel_token, NOW)
    with pytest.raises(Forbidden):
        await store.accept_offer(first.reference, "wrong", NOW)
    with pytest.raises(NotFound):
        await store.accept_offer("NOSUCHREF", first.cancel_token, NOW)


async def test_an_accept_racing_the_expiry_ends_one_way_only(store, slot):
    bookings, (first, second) = await fill_and_wait(store, slot, 1, 1)
    await store.cancel(bookings[0].reference, bookings[0].cancel_token, NOW)
    late = NOW + store.offer_for - timedelta(microseconds=1)  # the accept comes just in time, the expiry at time
    results = await asyncio.gather(
        store.accept_offer(first.reference, first.cancel_token, late),
        store.expire_offers(NOW + store.offer_for),
        return_exceptions=True,
    )
    after = await store.slot(slot.id)
    status = (await store.waitlist_entry(first.reference))[0].status
    assert status in ("booked", "expired") and after.booked + after.held == 10
    assert (status == "booked") == (not isinstance(results[0], Exception))
    entries = await store.bookings_of(slot.resource_id, slot.local_date)
    assert after.booked == sum(b.status == "confirmed" for b, s in entries if s.id == slot.id)


async def test_a_place_held_for_an_offer_is_not_a_nearest_time_with_room(store, resource_id, slot):
    later = (await store.slots_for_day(resource_id, slot.local_date))[1]
    bookings, _ = await fill_and_wait(store, later, 1)
    await store.cancel(bookings[0].reference, bookings[0].cancel_token, NOW)  # its one free place: held
    await book(store, slot, 10)
    assert later.id not in [s.id for s in await store.free_slots_near(slot, 1, NOW)]


async def test_many_cancellations_at_once_never_offer_a_place_twice(store, slot):
    bookings, entries = await fill_and_wait(store, slot, *[1] * 6)
    await asyncio.gather(*(store.cancel(b.reference, b.cancel_token, NOW) for b in bookings[:3]))
    statuses = [(await store.waitlist_entry(e.reference))[0].status for e in entries]
    assert statuses == ["offered"] * 3 + ["waiting"] * 3
    after = await store.slot(slot.id)
    assert (after.booked, after.held) == (7, 3)


async def test_a_slot_only_its_waitlist_names_can_leave_the_schedule(store):
    """A slot of no places is full from the start: people may wait for it, though nobody ever booked it."""
    venue_id = await store.add_venue("w", "W", "clinic", "UTC")
    rid = await store.add_resource(venue_id, "nil", "Nil", [OpeningRule(d, time(9), time(10), 60, 0) for d in range(7)])
    await store.extend_slots(NOW)
    slot = (await store.slots_for_day(rid, local_today("UTC") + timedelta(days=1)))[0]
    entry, _ = await store.join_waitlist(slot.id, "Ann", "12345", 1, NOW)
    await store.edit_resource(rid, {}, [], [], NOW)  # the slot leaves the schedule: it closes, its waiter's entry stays
    assert (await store.slot(slot.id)).closed
    assert (await store.waitlist_entry(entry.reference))[0].status == "waiting"


async def test_reschedule_takes_the_new_places_then_gives_back_the_old(store, resource_id, slot):
    later = (await store.slots_for_day(resource_id, slot.local_date))[1]
    booking, _ = await book(store, slot, 3)
    moved, new = await store.reschedule(booking.reference, booking.cancel_token, later.id, NOW)
    assert (moved.reference, moved.slot_id, moved.ticket) == (booking.reference, later.id, booking.ticket)
    assert new.booked == 3 and (await store.slot(slot.id)).booked == 0
    again, _ = await store.reschedule(booking.reference, booking.cancel_token, later.id, NOW)  # a repeat moves nothing
    assert again.slot_id == later.id and (await store.slot(later.id)).booked == 3


async def test_reschedule_to_a_full_slot_leaves_the_booking_where_it_was(store, resource_id, slot):
    later = (await store.slots_for_day(resource_id, slot.local_date))[1]
    booking, _ = await book(store, slot, 3)
    await book(store, later, 8)
    with pytest.raises(SlotFull):
        await store.reschedule(booking.reference, booking.cancel_token, later.id, NOW)
    assert (await store.booking(booking.reference))[0].slot_id == slot.id
    assert ((await store.slot(slot.id)).booked, (await store.slot(later.id)).booked) == (3, 8)


async def test_reschedule_refuses_what_it_may_not_move(store, resource_id, slot):
    booking, _ = await book(store, slot)
    later = (await store.slots_for_day(resource_id, slot.local_date))[1]
    with pytest.raises(Forbidden):
        await store.reschedule(booking.reference, "wrong", later.id, NOW)
    with pytest.raises(NotFound):
        await store.reschedule("NOSUCHREF", booking.cancel_token, later.id, NOW)
    other = await store.add_resource((await store.venue("v")).id, "o", "Other", RULES)
    await store.extend_slots(NOW)
    elsewhere = (await store.slots_for_day(other, slot.local_date))[0]
    with pytest.raises(OtherResource):
        await store.reschedule(booking.reference, booking.cancel_token, elsewhere.id, NOW)
    with pytest.raises(NotMovable):  # its time has begun
        await store.reschedule(booking.reference, booking.cancel_token, later.id, slot.starts_at)
    await store.cancel(booking.reference, booking.cancel_token, NOW)
    with pytest.raises(NotMovable):
        await store.reschedule(booking.reference, booking.cancel_token, later.id, NOW)
    assert (await store.slot(later.id)).booked == 0


async def test_reschedule_to_another_day_counts_against_that_days_limit(store, url, tmp_path, resource_id, slot):
    await query(url, tmp_path, "UPDATE venues SET per_person_limit = 1")
    first, _ = await book(store, slot)
    next_day, target = (await store.slots_for_day(resource_id, slot.local_date + timedelta(days=1)))[:2]
    held, _ = await store.book(next_day.id, "Ann", "12345", 1, NOW)
    with pytest.raises(LimitReached):
        await store.reschedule(first.reference, first.cancel_token, target.id, NOW)
    await store.cancel(held.reference, held.cancel_token, NOW)
    moved, new = await store.reschedule(first.reference, first.cancel_token, target.id, NOW)
    assert new.local_date == target.local_date and moved.ticket == 2  # the new day's next ticket
    again, _ = await store.book(slot.id, "Ann", "12 345", 1, NOW)  # the old day has room for this person again
    assert again.status == "confirmed"


async def test_two_bookings_swapping_slots_at_once_both_move(store, resource_id, slot):
    other = (await store.slots_for_day(resource_id, slot.local_date))[1]
    a, _ = await book(store, slot, 2)
    b, _ = await book(store, other, 2)
    await asyncio.gather(
        store.reschedule(a.reference, a.cancel_token, other.id, NOW),
        store.reschedule(b.reference, b.cancel_token, slot.id, NOW),
    )
    assert ((await store.slot(slot.id)).booked, (await store.slot(other.id)).booked) == (2, 2)


class Counted:
    """Counts a store's database reads and write transactions (wrapping its Database's own methods)."""

    def __init__(self, store):
        self.reads = self.writes = 0
        read, write = store.db.read, store.db.write

        async def counted_read(*args):
            self.reads += 1
            return await read(*args)

        async def counted_write(*args):
            self.writes += 1
            return await write(*args)

        store.db.read, store.db.write = counted_read, counted_write


async def test_a_full_slot_is_read_once_until_a_change_is_committed(store, slot):
    booking, _ = await book(store, slot, 10)
    counted = Counted(store)
    assert [(await store.slot(slot.id)).remaining for _ in range(50)] == [0] * 50
    assert counted.reads == 1  # the crowd at a full slot reads nothing more
    await store.cancel(booking.reference, booking.cancel_token, NOW)
    assert (await store.slot(slot.id)).remaining == 10 and counted.reads == 2
    assert (await store.slot(slot.id)).remaining == 10 and counted.reads == 3  # one with room is never kept


async def test_slot_reads_asked_for_at_once_share_one_read(store, resource_id, monkeypatch):
    slots = await store.slots_between(resource_id, local_today("UTC"), local_today("UTC") + timedelta(days=3))
    monkeypatch.setattr(
        "booking.sql.slots.SLOTS_PER_STATEMENT", 4
    )  # 7 distinct slots: two statements, the second padded
    asked = [s.id for s in slots[:7]] * 30 + [10**9]
    counted = Counted(store)
    found = await asyncio.gather(*(store.slot(slot_id) for slot_id in asked))
    assert counted.reads == 1  # 211 requests at once, one read
    by_id = {s.id: s for s in slots}
    assert found == [by_id.get(slot_id) for slot_id in asked] and found[-1] is None


async def test_a_crowds_attempts_share_transactions_and_each_counts_exactly(store):
    counted = Counted(store)
    results = await asyncio.gather(
        *(store.count_attempt(["book:10.0.0.1", f"other:{i % 2}"], NOW, timedelta(minutes=1)) for i in range(200))
    )
    assert sorted(mine for (mine, _), _other in results) == list(range(1, 201))
    assert sorted(other for _mine, (other, _) in results) == sorted([*range(1, 101)] * 2)
    assert counted.writes < 20  # 200 calls, a few transactions


async def test_sqlite_commits_the_writes_that_queue_together_once_and_a_failing_one_alone_leaves_no_trace(tmp_path):
    store = open_store(f"sqlite:///{tmp_path}/group.db", tmp_path)
    await store.open()
    try:
        venue_id = await store.add_venue("v", "Venue", "restaurant", "UTC")
        rid = await store.add_resource(venue_id, "r", "Room", RULES, max_party=10, horizon_days=3)
        await store.extend_slots(NOW)
        slot = (await store.slots_for_day(rid, local_today("UTC") + timedelta(days=1)))[0]
        commits = []
        await store.db._on_thread(
            store.db._db.set_trace_callback, lambda sql: commits.append(sql) if sql == "COMMIT" else None
        )

        async def broken(tx):
            await tx.execute("UPDATE slots SET closed = TRUE WHERE id = :id", id=slot.id)
            raise RuntimeError("half way")

        writes = [book(store, slot) for _ in range(100)]
        results = await asyncio.gather(*writes[:50], store.db.write(broken), *writes[50:], return_exceptions=True)
        assert isinstance(results[50], RuntimeError)
        assert sum(not isinstance(r, Exception) for r in results) == 10
        assert sum(isinstance(r, SlotFull) for r in results) == 90
        after = await store.slot(slot.id)
        assert after.booked == 10 and not after.closed  # the broken write's own update went with it
        assert len(commits) < 10  # 101 writes, a few transactions: one fsync each
    finally:
        await store.close()
