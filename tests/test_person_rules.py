"""Per-person rules that hold however they are approached, on every engine: one person however their contact is
written, one allowance for bookings and waitlist entries together, exact under parallel joins, and no trace of a
person left after an erasure or a retention run."""

import asyncio
from datetime import UTC, datetime, time, timedelta

import pytest

from booking.contacts import contact_key
from booking.errors import LimitReached, OfferGone
from booking.migrations import people_compared_anew
from booking.model import OpeningRule, local_today
from booking.outbox import Notices
from booking.sql import store as sql_store
from booking.store import open_store
from tests.test_store import TABLES, query

NOW = datetime.now(UTC)
ONE_A_SLOT = [OpeningRule(d, time(9), time(12), 60, 1) for d in range(7)]  # a barber's chair: 09, 10, 11


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def url(request, tmp_path):
    """An empty database of each engine."""
    return f"sqlite:///{tmp_path}/people.db" if request.param == "sqlite" else request.getfixturevalue("pg_url")


@pytest.fixture
async def store(url, tmp_path):
    store = open_store(url, tmp_path, notices=Notices(mail=True))
    await store.open()
    yield store
    await store.close()


async def place(store, country="", limit=1, rules=ONE_A_SLOT, timezone="UTC"):
    """A venue of `country` allowing `limit` a day, with one resource; its slots tomorrow and the day after."""
    venue_id = await store.add_venue(
        f"v-{country.lower() or 'none'}", "Venue", "barber", timezone, per_person_limit=limit, country=country
    )
    rid = await store.add_resource(venue_id, "chair", "Chair", rules, horizon_days=3)
    await store.extend_slots(NOW)
    day = local_today(timezone) + timedelta(days=1)
    return venue_id, await store.slots_for_day(rid, day), await store.slots_for_day(rid, day + timedelta(days=1))


async def fill(store, *slots):
    """Each slot booked full by someone else."""
    return [(await store.book(s.id, "Someone", f"someone{s.id}@example.com", s.capacity, NOW))[0] for s in slots]


# -- 1. the same person however the contact is written


@pytest.mark.parametrize(
    "spelling", ["+8613800138000", "008613800138000", "013800138000", "+86 138-0013-8000", "(0)138 0013 8000"]
)
async def test_a_phone_number_in_another_spelling_is_the_same_person(store, spelling):
    _venue, (nine, ten, _), _ = await place(store, "CN")
    await store.book(nine.id, "Zhang Wei", "13800138000", 1, NOW)
    with pytest.raises(LimitReached):
        await store.book(ten.id, "Zhang Wei", spelling, 1, NOW)
    await fill(store, ten)
    with pytest.raises(LimitReached):  # nor a place in line instead
        await store.join_waitlist(ten.id, "Zhang Wei", spelling, 1, NOW)


@pytest.mark.parametrize(
    "first, spelling",
    [
        ("alice@example.com", "Alice+1@Example.COM"),
        ("alice@example.com", "ａｌｉｃｅ@ｅｘａｍｐｌｅ.ｃｏｍ"),  # fullwidth
        ("alice.smith@gmail.com", "Alice.Smith+clinic@googlemail.com"),
        ("alice.smith@gmail.com", "alicesmith@gmail.com"),
        ("strasse@bücher.example", "STRASSE@XN--BCHER-KVA.EXAMPLE"),
    ],
)
async def test_an_e_mail_address_in_another_spelling_is_the_same_person(store, first, spelling):
    _venue, (nine, ten, _), _ = await place(store, "GB")
    await store.book(nine.id, "Alice", first, 1, NOW)
    with pytest.raises(LimitReached):
        await store.book(ten.id, "Alice", spelling, 1, NOW)


async def test_dots_count_outside_gmail():
    assert contact_key("a.lice@example.com") != contact_key("alice@example.com")
    assert contact_key("a.lice@gmail.com") == contact_key("alice@gmail.com")


async def test_a_venue_given_a_country_counts_its_people_anew(store):
    """Numbers written without a country code were counted by their digits; once the venue has a country they are
    E.164 numbers, and the counts so far follow."""
    venue_id, (nine, ten, _), _ = await place(store, "")
    await store.book(nine.id, "Zhang Wei", "138 0013 8000", 1, NOW)
    await store.book(ten.id, "Zhang Wei", "+86 138 0013 8000", 1, NOW)  # no country: another number so far
    await store.update_venue(venue_id, "Venue", "barber", "UTC", False, per_person_limit=2, country="CN")
    eleven = (await store.slots_for_day(nine.resource_id, nine.local_date))[2]
    with pytest.raises(LimitReached):
        await store.book(eleven.id, "Zhang Wei", "13800138000", 1, NOW)


# -- 2. bookings and waitlist entries share one allowance


async def test_waiting_for_one_slot_and_booking_another_the_same_day_is_one_too_many(store):
    """The barber, limit 1: an entry in slot A's line holds the allowance, so slot B cannot be booked as well."""
    _venue, (a, b, _), _ = await place(store)
    await fill(store, a)
    entry, _ = await store.join_waitlist(a.id, "Bo", "bo@example.com", 1, NOW)
    with pytest.raises(LimitReached):
        await store.book(b.id, "Bo", "bo@example.com", 1, NOW)
    await store.leave_waitlist(entry.reference, entry.cancel_token, NOW)  # leaving gives the allowance back
    assert (await store.book(b.id, "Bo", "bo@example.com", 1, NOW))[0].status == "confirmed"
    with pytest.raises(LimitReached):
        await store.join_waitlist(a.id, "Bo", "bo@example.com", 1, NOW)


async def test_an_accepted_offer_counts_once_and_its_cancellation_gives_it_back(store):
    _venue, (a, b, c), _ = await place(store)
    [holder] = await fill(store, a)
    entry, _ = await store.join_waitlist(a.id, "Bo", "bo@example.com", 1, NOW)
    await store.cancel(holder.reference, holder.cancel_token, NOW)
    booking, _ = await store.accept_offer(entry.reference, entry.cancel_token, NOW)
    with pytest.raises(LimitReached):
        await store.book(b.id, "Bo", "bo@example.com", 1, NOW)
    await store.cancel(booking.reference, booking.cancel_token, NOW)
    assert (await store.book(c.id, "Bo", "bo@example.com", 1, NOW))[0].status == "confirmed"


async def test_an_expired_offer_gives_the_allowance_back(store):
    _venue, (a, b, _), _ = await place(store)
    [holder] = await fill(store, a)
    await store.join_waitlist(a.id, "Bo", "bo@example.com", 1, NOW)
    await store.cancel(holder.reference, holder.cancel_token, NOW)
    assert await store.expire_offers(NOW + store.offer_for) == 1
    assert (await store.book(b.id, "Bo", "bo@example.com", 1, NOW))[0].status == "confirmed"


async def test_an_offer_that_would_break_the_limit_passes_to_the_next_in_line(store):
    """Staff booked Bo over the limit while Bo waited for A: A's freed place goes to Cy, and Bo keeps waiting."""
    _venue, (a, b, _), _ = await place(store)
    [holder] = await fill(store, a)
    bo, _ = await store.join_waitlist(a.id, "Bo", "bo@example.com", 1, NOW)
    cy, _ = await store.join_waitlist(a.id, "Cy", "cy@example.com", 1, NOW)
    await store.book(b.id, "Bo", "bo@example.com", 1, NOW, for_staff=True, over_limit=True)
    await store.cancel(holder.reference, holder.cancel_token, NOW)
    assert [(await store.waitlist_entry(e.reference))[0].status for e in (bo, cy)] == ["waiting", "offered"]
    with pytest.raises(OfferGone):
        await store.accept_offer(bo.reference, bo.cancel_token, NOW)
    assert (await store.accept_offer(cy.reference, cy.cancel_token, NOW))[0].name == "Cy"


async def test_an_offer_accepted_over_the_limit_passes_on_instead(store):
    """The offer came while Bo was within the limit; staff booked Bo over it before Bo accepted."""
    _venue, (a, b, _), _ = await place(store)
    [holder] = await fill(store, a)
    bo, _ = await store.join_waitlist(a.id, "Bo", "bo@example.com", 1, NOW)
    cy, _ = await store.join_waitlist(a.id, "Cy", "cy@example.com", 1, NOW)
    await store.cancel(holder.reference, holder.cancel_token, NOW)
    await store.book(b.id, "Bo", "bo@example.com", 1, NOW, for_staff=True, over_limit=True)
    with pytest.raises(OfferGone):
        await store.accept_offer(bo.reference, bo.cancel_token, NOW)
    assert (await store.waitlist_entry(bo.reference))[0].status == "expired"
    assert (await store.waitlist_entry(cy.reference))[0].status == "offered"
    after = await store.slot(a.id)
    assert (after.booked, after.held) == (0, 1)
    bookings = [bk for bk, _ in await store.bookings_of(a.resource_id, a.local_date) if bk.status == "confirmed"]
    assert sorted(bk.name for bk in bookings) == ["Bo"]  # the one staff made, and no second from the offer


async def test_the_limit_after_a_reschedule(store):
    """A move to another day counts there (a waitlist entry included) and frees the day it leaves."""
    _venue, (today_a, today_b, _), (next_a, next_b, _) = await place(store)
    booking, _ = await store.book(today_a.id, "Bo", "bo@example.com", 1, NOW)
    await fill(store, next_a)
    entry, _ = await store.join_waitlist(next_a.id, "Bo", "bo@example.com", 1, NOW)
    with pytest.raises(LimitReached):
        await store.reschedule(booking.reference, booking.cancel_token, next_b.id, NOW)
    moved, _ = await store.reschedule(booking.reference, booking.cancel_token, today_b.id, NOW)  # the same day
    assert moved.slot_id == today_b.id
    await store.leave_waitlist(entry.reference, entry.cancel_token, NOW)
    moved, _ = await store.reschedule(booking.reference, booking.cancel_token, next_b.id, NOW)
    assert moved.slot_id == next_b.id
    with pytest.raises(LimitReached):
        await store.join_waitlist(next_a.id, "Bo", "BO@example.com", 1, NOW)
    assert (await store.book(today_a.id, "Bo", "bo@example.com", 1, NOW))[0].status == "confirmed"


# -- 3. parallel joins: exactly the limit


async def test_50_parallel_joins_by_one_contact_on_two_stores_admit_exactly_the_limit(url, tmp_path, store):
    """Like two worker processes: separate connections (and pools), one database."""
    _venue, (a, b, c), _ = await place(store, "CN", limit=2)
    await fill(store, a, b, c)
    other = open_store(url, tmp_path)
    await other.open()
    try:
        spellings = ["13800138000", "+86 138 0013 8000", "008613800138000"]
        joins = [
            s.join_waitlist(slot.id, "Zhang Wei", spellings[n % 3], 1, NOW)
            for n in range(25)
            for s, slot in ((store, (a, b, c)[n % 3]), (other, (c, b, a)[n % 3]))
        ]
        results = await asyncio.gather(*joins, return_exceptions=True)
    finally:
        await other.close()
    assert sum(not isinstance(r, Exception) for r in results) == 2
    assert all(isinstance(r, LimitReached) for r in results if isinstance(r, Exception))
    waiting = await query(url, tmp_path, "SELECT COUNT(*) FROM waitlist WHERE status = 'waiting'")
    assert waiting == [(2,)]


# -- 4. erasure and retention leave no trace of the person


async def every_row(url, tmp_path) -> str:
    """Every row of every table, as one text."""
    lines = []
    for (table,) in sorted(await query(url, tmp_path, TABLES[url.split(":")[0]])):
        lines += [f"{table}: {row!r}" for row in await query(url, tmp_path, f"SELECT * FROM {table}")]
    return "\n".join(lines)


async def person_everywhere(store):
    """Zhang Wei books, waits for a full slot, and is offered its freed place: bookings, an entry, e-mails,
    webhooks (a booking's and the offer's, still pending) and the per-person counts all hold the person."""
    venue_id, (a, b, c), _ = await place(store, "CN", limit=3)
    await store.add_webhook(venue_id, "https://hooks.example/in", "secret", NOW)
    await store.book(b.id, "Zhang Wei", "zhang.wei+clinic@gmail.com", 1, NOW)
    [holder] = await fill(store, a)
    await store.join_waitlist(a.id, "Zhang Wei", "ZhangWei@googlemail.com", 1, NOW)
    await store.cancel(holder.reference, holder.cancel_token, NOW)
    await store.book(c.id, "Zhang Wei", "+86 138 0013 8000", 1, NOW)
    return (
        "Zhang Wei",
        "zhang.wei",
        "ZhangWei",
        "zhangwei@gmail.com",
        "+86 138 0013 8000",
        "+8613800138000",
        "13800138000",
    )


async def test_after_an_erasure_no_table_holds_the_person(url, tmp_path, store):
    traces = await person_everywhere(store)
    before = await every_row(url, tmp_path)
    assert all(t in before for t in traces)
    assert "waitlist.offered" in before
    assert await store.erase_person("Zhang.Wei@GMAIL.com") == 2  # a booking and the entry
    assert await store.erase_person("013800138000") == 1
    after = await every_row(url, tmp_path)
    assert [t for t in traces if t in after] == []
    assert [
        m for m in await store.claim_messages(NOW, timedelta(minutes=1), 100) if m.event == "waitlist.offered"
    ] == []


async def test_after_a_retention_run_no_table_holds_the_person(url, tmp_path, store):
    traces = await person_everywhere(store)
    assert await store.erase_ended(NOW + timedelta(days=5)) == 3 + 1  # Zhang Wei's three, and the slot's holder
    after = await every_row(url, tmp_path)
    assert [t for t in traces if t in after] == []
    assert await query(url, tmp_path, "SELECT COUNT(*) FROM person_days") == [(0,)]


# -- the step that compares people anew, on a database of the last version before it


async def test_the_migration_counts_people_anew(url, tmp_path, monkeypatch):
    """Counted before as they were written (and bookings only): after it, one E.164 person with its entry too."""
    before = sql_store.MIGRATIONS.index(people_compared_anew) - 1  # the step that adds the country, and this one
    monkeypatch.setattr(sql_store, "MIGRATIONS", sql_store.MIGRATIONS[:before])
    old = open_store(url, tmp_path)
    await old.open()
    await old.close()
    for statement in OLD_ROWS:
        await query(url, tmp_path, statement)
    monkeypatch.undo()
    store = open_store(url, tmp_path)
    await store.open()
    try:
        assert (await store.venue("clinic")).country == "CN"  # from its time zone
        counts = await query(url, tmp_path, "SELECT contact_key, active FROM person_days")
        assert counts == [("+8613800138000", 3)]
        offered = await query(url, tmp_path, "SELECT waitlist_id FROM outbox WHERE event = 'waitlist.offered'")
        assert offered == [(1,)]
    finally:
        await store.close()


TOMORROW = (NOW + timedelta(days=1)).strftime("%Y-%m-%d")
OLD_ROWS = [
    "INSERT INTO venues (id, slug, name, kind, timezone, per_person_limit) VALUES (1, 'clinic', 'Clinic', 'clinic',"
    " 'Asia/Shanghai', 5)",
    "INSERT INTO resources (id, venue_id, slug, name, max_party, horizon_days) VALUES (1, 1, 'dr', 'Dr', 1, 3)",
    f"INSERT INTO slots (id, resource_id, starts_at, ends_at, local_date, capacity, booked) VALUES (1, 1,"
    f" '{TOMORROW} 01:00:00', '{TOMORROW} 02:00:00', '{TOMORROW}', 2, 2)",
    "INSERT INTO bookings (reference, cancel_token, slot_id, name, contact, party_size, status, created_at) VALUES"
    " ('AAAA2222', 't1', 1, 'Zhang Wei', '+86 138 0013 8000', 1, 'confirmed', '2026-01-01 00:00:00'),"
    " ('AAAA3333', 't2', 1, 'Zhang Wei', '13800138000', 1, 'confirmed', '2026-01-01 00:00:00'),"
    " ('AAAA4444', 't3', 1, 'Zhang Wei', '13800138000', 1, 'cancelled', '2026-01-01 00:00:00')",
    "INSERT INTO waitlist (id, reference, cancel_token, slot_id, name, contact, party_size, status, created_at)"
    " VALUES (1, 'WWWW2222', 't4', 1, 'Zhang Wei', '0086 13800138000', 1, 'waiting', '2026-01-01 00:00:00')",
    f"INSERT INTO person_days (contact_key, resource_id, local_date, active) VALUES ('+8613800138000', 1,"
    f" '{TOMORROW}', 1), ('13800138000', 1, '{TOMORROW}', 1)",
    "INSERT INTO webhooks (id, venue_id, url, secret, created_at) VALUES (1, 1, 'https://h.example/', 's',"
    " '2026-01-01 00:00:00')",
    "INSERT INTO outbox (kind, event, delivery, venue_id, webhook_id, body, created_at, due_at) VALUES ('webhook',"
    " 'waitlist.offered', 'evt_1.1', 1, 1, '{\"data\":{\"reference\":\"WWWW2222\"}}', '2026-01-01 00:00:00',"
    " '2026-01-01 00:00:00')",
]
