"""The draw (抽签) in the store, on both engines: the published ranking, preferences and parties, limits, leftover
places, the waitlist in draw order, and exactly one draw however many processes race to make it."""

from __future__ import annotations

import asyncio
import hashlib
from datetime import UTC, datetime, time, timedelta

import pytest

from booking import sql
from booking.clock import ManualClock
from booking.draw import (
    BOOKED,
    NONE,
    WAITLISTED,
    AlreadyEntered,
    DrawClosed,
    NotADraw,
    draw_order,
    time_left,
)
from booking.errors import NotOpenYet
from booking.model import OpeningRule, local_today
from booking.service import Service
from booking.store import open_store
from tests.test_store import query, store, url  # noqa: F401  (store and url are fixtures: each engine)

NOW = datetime.now(UTC)
TODAY = local_today("UTC", NOW)
DAY = TODAY + timedelta(days=3)  # released two days before at 08:00 UTC: between 8 and 32 hours from now
INSTANT = datetime.combine(TODAY + timedelta(days=1), time(8), UTC)
AFTER = INSTANT + timedelta(seconds=1)
SEED = bytes(range(32))
ORDER_OF_SIX = [5, 4, 6, 1, 2, 3]  # draw_order(SEED, 1..6), worked out once by hand with hashlib
# 09:00 has 2 places, 10:00 has 3, 11:00 is closed before the draw.
RULES = [OpeningRule(d, time(9), time(10), 60, 2) for d in range(7)] + [
    OpeningRule(d, time(10), time(12), 60, 3) for d in range(7)
]


@pytest.fixture
async def resource_id(store):
    venue_id = await store.add_venue("v", "Venue", "clinic", "UTC", per_person_limit=1)
    return await store.add_resource(
        venue_id,
        "r",
        "Room",
        RULES,
        max_party=4,
        horizon_days=7,
        release_days_before=2,
        release_time=time(8),
        release_mode="draw",
        draw_entry_hours=48,
        now=NOW,
    )


@pytest.fixture
async def slots(store, resource_id):
    """The day's 09:00, 10:00 and 11:00 slots; 11:00 closed."""
    nine, ten, eleven = await store.slots_for_day(resource_id, DAY)
    return nine, ten, await store.set_slot_closed(eleven.id, True)


async def enter(store, resource_id, n: int, preferences, party: int = 1, contact: str | None = None):
    entry, _draw = await store.enter_draw(
        resource_id, DAY, f"Person {n}", contact or f"p{n}@example.org", party, tuple(s.id for s in preferences), NOW
    )
    return entry


async def fix_seed(url, tmp_path, draw_id: int) -> None:
    """Give the draw a known seed, behind the store's back (its own is random)."""
    await query(
        url,
        tmp_path,
        f"UPDATE draws SET seed = '{SEED.hex()}', seed_sha256 = '{hashlib.sha256(SEED).hexdigest()}' WHERE id = $1",
        draw_id,
    )


async def outcomes(store, entries) -> dict[int, tuple[str, int | None, int | None]]:
    """Entry number -> (status, rank, slot id drawn)."""
    found = [await store.draw_entry(e.reference) for e in entries]
    return {entry.number: (entry.status, entry.rank, entry.drawn_slot) for entry, _draw, _outcome in found}


def test_the_published_order_is_the_documented_hash_order():
    assert draw_order(SEED, range(1, 7)) == ORDER_OF_SIX
    assert draw_order(SEED, [3, 1, 2]) == [1, 2, 3]  # ranks among those who stand, whatever the numbers given


def test_a_draws_countdown_counts_ten_minutes_from_an_hour_away_and_days_from_two():
    until = datetime(2030, 6, 2, 8, tzinfo=UTC)
    assert time_left(until, until - timedelta(hours=3, minutes=15)) == (
        timedelta(hours=3, minutes=20),
        until - timedelta(hours=3, minutes=10),
    )
    assert time_left(until, until - timedelta(days=2, seconds=1)) == (timedelta(days=3), until - timedelta(days=2))
    assert time_left(until, until - timedelta(hours=1, seconds=1)) == (
        timedelta(hours=1, minutes=10),
        until - timedelta(hours=1),
    )
    assert time_left(until, until - timedelta(hours=1)) is None  # within the hour: the booking countdown's


async def test_ranking_preferences_and_parties_follow_the_published_algorithm(store, url, tmp_path, resource_id, slots):
    nine, ten, eleven = slots
    # Who is at which rank is known from the seed: shape each entry so its outcome is worked out by hand.
    by_rank = {rank: number for rank, number in enumerate(ORDER_OF_SIX, start=1)}
    wishes = {
        1: ([nine], 2),
        2: ([nine, ten], 1),
        3: ([ten], 3),
        4: ([ten, nine], 2),
        5: ([nine], 1),
        6: ([eleven, ten], 4),
    }
    shape = {by_rank[rank]: wish for rank, wish in wishes.items()}
    entries = [await enter(store, resource_id, n, *shape[n]) for n in range(1, 7)]
    draw = await store.draw(resource_id, DAY)
    await fix_seed(url, tmp_path, draw.id)
    assert await store.run_draw(draw.id, INSTANT - timedelta(seconds=1)) is None  # not due yet
    drawn = await store.run_draw(draw.id, AFTER)
    assert drawn.status == "drawn" and drawn.revealed_seed == SEED.hex() and drawn.places == 5
    got = await outcomes(store, entries)
    expected = {
        1: (BOOKED, nine.id),  # party of 2 fills 09:00
        2: (BOOKED, ten.id),  # 09:00 full: its second choice
        3: (WAITLISTED, ten.id),  # 3 places wanted, 2 left at 10:00
        4: (BOOKED, ten.id),  # 10:00 still has 2
        5: (WAITLISTED, nine.id),
        6: (NONE, None),
    }  # 11:00 closed, 10:00 full: no place, and nothing to wait for
    assert {by_rank[rank]: (status, slot) for rank, (status, slot) in expected.items()} == {
        n: (status, slot) for n, (status, _rank, slot) in got.items()
    }
    assert {n: rank for n, (_s, rank, _slot) in got.items()} == {n: r for r, n in by_rank.items()}
    results = await store.draw_results(draw.id)
    assert [number for number, *_ in results] == ORDER_OF_SIX
    assert [s.booked for s in await store.slots_for_day(resource_id, DAY)][:2] == [2, 3]


async def test_winners_are_booked_as_any_booking_is_and_losers_wait_in_draw_order(
    store, url, tmp_path, resource_id, slots
):
    nine, _ten, _eleven = slots
    entries = [await enter(store, resource_id, n, [nine]) for n in range(1, 41)]
    draw = await store.draw(resource_id, DAY)
    await store.run_draw(draw.id, AFTER)
    held = {e.number: await store.draw_entry(e.reference) for e in entries}
    winners = sorted((e for e, _d, _o in held.values() if e.status == BOOKED), key=lambda e: e.rank)
    waiting = sorted((e for e, _d, _o in held.values() if e.status == WAITLISTED), key=lambda e: e.rank)
    assert [e.rank for e in winners] == [1, 2] and [e.rank for e in waiting] == list(range(3, 41))
    for entry in winners:  # a ticket, the entry's own secret, and its place counted against the person's limit
        booking = held[entry.number][2].booking
        assert booking.ticket and booking.status == "confirmed" and booking.token_matches(entry.cancel_token)
    positions = [held[e.number][2].position for e in waiting]
    assert positions == list(range(1, 39))  # the waitlist is the draw's order
    counted = await query(url, tmp_path, "SELECT SUM(active) FROM person_days WHERE resource_id = $1", resource_id)
    assert counted == [(40,)]  # what each holds is counted as any booking or waitlist entry is: once
    # A winner cancels: the place is offered to the best-ranked entry waiting, under the entry's own reference.
    await store.cancel(held[winners[0].number][2].booking.reference, winners[0].cancel_token, AFTER)
    first = await store.waitlist_entry(waiting[0].reference)
    assert first[0].status == "offered" and first[0].token_matches(waiting[0].cancel_token)
    assert (await store.waitlist_entry(waiting[1].reference))[0].status == "waiting"


async def test_a_person_enters_once_however_their_contact_is_written(store, resource_id, slots):
    nine, ten, _eleven = slots
    entry = await enter(store, resource_id, 1, [nine], contact="+86 138 0013 8000")
    with pytest.raises(AlreadyEntered):
        await enter(store, resource_id, 2, [ten], contact="+8613800138000")
    other = await enter(store, resource_id, 3, [nine], contact="Ana@Example.org")
    with pytest.raises(AlreadyEntered):
        await enter(store, resource_id, 4, [nine], contact="ana@example.org")
    withdrawn = await store.withdraw_entry(entry.reference, entry.cancel_token, NOW)
    assert withdrawn.status == "withdrawn"
    again = await enter(store, resource_id, 5, [ten], contact="+86 138 0013 8000")
    assert again.number == 3 and other.number == 2  # numbers are the order of entry, never given twice
    draw = await store.draw(resource_id, DAY)
    assert (draw.numbered, draw.entered) == (3, 2)


async def test_many_entries_by_one_person_at_once_make_one(store, resource_id, slots):
    nine = slots[0]
    tries = await asyncio.gather(
        *(enter(store, resource_id, n, [nine], contact="same@example.org") for n in range(30)), return_exceptions=True
    )
    assert sum(not isinstance(t, Exception) for t in tries) == 1
    assert all(isinstance(t, AlreadyEntered) for t in tries if isinstance(t, Exception))
    assert (await store.draw(resource_id, DAY)).entered == 1


async def test_entries_open_only_in_their_window_and_only_for_a_draw(store, resource_id, slots):
    nine = slots[0]
    opens, closes = INSTANT - timedelta(hours=48), INSTANT
    for moment in (opens - timedelta(seconds=1), closes, AFTER):
        with pytest.raises(DrawClosed):
            await store.enter_draw(resource_id, DAY, "Late", "late@example.org", 1, (nine.id,), moment)
    venue_id = (await store.venue("v")).id
    race = await store.add_resource(venue_id, "race", "Race", RULES, horizon_days=7, now=NOW)
    race_slot = (await store.slots_for_day(race, DAY))[0]
    with pytest.raises(NotADraw):
        await store.enter_draw(race, DAY, "Ann", "ann@example.org", 1, (race_slot.id,), NOW)


async def test_the_per_person_limit_counts_a_booking_made_outside_the_draw(store, resource_id, slots):
    nine, ten, _eleven = slots
    await store.book(ten.id, "Caller", "caller@example.org", 1, NOW, for_staff=True)  # staff book during entries
    entries = [
        await enter(store, resource_id, 1, [nine], contact="caller@example.org"),
        await enter(store, resource_id, 2, [nine]),
    ]
    await store.run_draw((await store.draw(resource_id, DAY)).id, AFTER)
    got = await outcomes(store, entries)
    assert got[1][0] == NONE and got[2][0] == BOOKED  # the venue allows one booking a day per person


async def test_leftover_places_open_to_everyone_once_drawn_and_not_before(store, resource_id, slots):
    nine, ten, _eleven = slots
    await enter(store, resource_id, 1, [nine])  # fewer entrants than places: everyone is booked
    with pytest.raises(NotOpenYet):  # before the instant: not released
        await store.book(ten.id, "Public", "public@example.org", 1, NOW)
    with pytest.raises(NotOpenYet):  # the instant has come, the draw not yet made: it comes first
        await store.book(ten.id, "Public", "public@example.org", 1, AFTER)
    drawn = await store.run_draw((await store.draw(resource_id, DAY)).id, AFTER)
    assert (drawn.booked, drawn.waitlisted, drawn.places) == (1, 0, 5)
    booking, slot = await store.book(ten.id, "Public", "public@example.org", 3, AFTER)
    assert booking.status == "confirmed" and slot.remaining == 0
    assert (await store.slot(nine.id)).remaining == 1


async def test_two_stores_racing_to_draw_draw_once(url, tmp_path, store, resource_id, slots):
    nine, ten, _eleven = slots
    for n in range(12):
        await enter(store, resource_id, n, [nine, ten], party=1 + n % 2)
    draw = await store.draw(resource_id, DAY)
    other = open_store(url, tmp_path)
    await other.open()
    try:
        made = await asyncio.gather(*(s.run_draw(draw.id, AFTER) for s in (store, other, store, other)))
    finally:
        await other.close()
    drawn = [d for d in made if d is not None]
    assert len(drawn) == 1
    assert [s.booked for s in await store.slots_for_day(resource_id, DAY)][:2] == [2, 3]
    assert len(await store.bookings_of(resource_id, DAY)) == drawn[0].booked
    assert len(await query(url, tmp_path, "SELECT id FROM waitlist")) == drawn[0].waitlisted == 12 - drawn[0].booked


async def test_a_draw_that_fails_leaves_nothing_and_a_restarted_process_makes_it(
    url, tmp_path, store, resource_id, slots, monkeypatch
):
    nine = slots[0]
    for n in range(4):
        await enter(store, resource_id, n, [nine])
    draw = await store.draw(resource_id, DAY)

    async def killed(*_args):
        raise RuntimeError("the process died here")

    monkeypatch.setattr(sql.drawing, "_tell_drawn", killed)  # the last step of the draw's transaction
    with pytest.raises(RuntimeError):
        await store.run_draw(draw.id, AFTER)
    assert (await store.draw(resource_id, DAY)).status == "open"
    assert await store.bookings_of(resource_id, DAY) == []
    assert await query(url, tmp_path, "SELECT id FROM waitlist") == []
    monkeypatch.undo()
    restarted = open_store(url, tmp_path)  # a process started afresh (or another one, on PostgreSQL)
    await restarted.open()
    try:
        service = Service(restarted, ManualClock(AFTER + timedelta(minutes=5)))
        await service.keep_draws()
        drawn = await restarted.draw(resource_id, DAY)
        assert drawn.status == "drawn" and drawn.booked == 2 and drawn.waitlisted == 2
        await service.keep_draws()  # again: nothing more
        assert len(await restarted.bookings_of(resource_id, DAY)) == 2
    finally:
        await restarted.close()


async def test_keeping_draws_opens_each_when_its_entries_open(store, resource_id, slots):
    service = Service(store, ManualClock(NOW))
    assert await store.draw(resource_id, DAY) is None
    coming = await service.keep_draws()
    draw = await store.draw(resource_id, DAY)
    assert draw.status == "open" and len(draw.seed_sha256) == 64 and draw.revealed_seed is None
    assert hashlib.sha256(bytes.fromhex(draw.seed)).hexdigest() == draw.seed_sha256
    assert NOW < coming <= INSTANT  # it runs again by the instant at the latest
    await service.keep_draws()
    assert (await store.draw(resource_id, DAY)).seed == draw.seed  # opened once: the committed seed stays


async def test_a_reference_a_waitlist_entry_holds_already_gets_a_fresh_one_in_its_place(
    store, url, tmp_path, resource_id, slots
):
    nine = slots[0]
    entries = [await enter(store, resource_id, n, [nine]) for n in range(1, 9)]
    venue_id = (await store.venue("v")).id
    other = await store.add_resource(venue_id, "other", "Other", RULES, horizon_days=7, now=NOW)
    full = (await store.slots_for_day(other, TODAY + timedelta(days=1)))[0]
    await store.book(full.id, "Taker", "taker@example.org", 2, NOW)
    waiter, _position = await store.join_waitlist(full.id, "Waiter", "waiter@example.org", 1, NOW)
    draw = await store.draw(resource_id, DAY)
    await fix_seed(url, tmp_path, draw.id)
    clash = entries[draw_order(SEED, range(1, 9))[-1] - 1]  # the last drawn; a waitlist entry holds its reference
    await query(url, tmp_path, f"UPDATE waitlist SET reference = '{clash.reference}' WHERE id = $1", waiter.id)
    await store.run_draw(draw.id, AFTER)
    held = [await store.draw_entry(e.reference) for e in entries]
    waiting = sorted((h for h in held if h[0].status == WAITLISTED), key=lambda h: h[0].rank)
    assert [h[2].position for h in waiting] == list(range(1, 7))
    assert {h[2].waiting.reference == h[0].reference for h in waiting if h[0].id != clash.id} == {True}
    mine = next(h for h in held if h[0].id == clash.id)
    assert mine[0].rank == 8 and mine[2].position == 6
    assert mine[2].waiting.reference != clash.reference and mine[2].waiting.token_matches(clash.cancel_token)


async def test_erasing_a_person_blanks_their_draw_entry(store, resource_id, slots):
    entry = await enter(store, resource_id, 1, [slots[0]], contact="+86 138 0013 8000")
    await enter(store, resource_id, 2, [slots[0]], contact="other@example.org")
    assert await store.erase_person("+8613800138000") == 1
    erased, _draw, _outcome = await store.draw_entry(entry.reference)
    assert (erased.name, erased.contact) == ("", "")
    await enter(store, resource_id, 3, [slots[0]], contact="+86 138 0013 8000")  # their contact is no longer held


async def test_entry_reads_that_come_together_are_read_together(store, resource_id, slots, monkeypatch):
    nine, ten, _eleven = slots
    entries = [await enter(store, resource_id, n, [nine, ten] if n % 3 else [nine]) for n in range(1, 31)]
    draw = await store.draw(resource_id, DAY)
    await store.run_draw(draw.id, AFTER)
    alone = [await store.draw_entry(e.reference) for e in entries]
    reads, read = [], store.db.read

    async def counted(body, *args):
        reads.append(body)
        return await read(body, *args)

    monkeypatch.setattr(store.db, "read", counted)
    together = await asyncio.gather(*(store.draw_entry_by_id(e.id) for e in entries))
    assert len(reads) <= 2  # the first read, then every one that came while it ran: not 30
    assert together == alone
    places = sorted(o.position for _e, _d, o in together if o.position)
    assert places == list(range(1, len(places) + 1)) and len(places) == 30 - 5  # 5 booked, the rest wait on 09:00
    assert await store.draw_entry_by_id(10**9) is None
    reads.clear()
    by_reference = await asyncio.gather(*(store.draw_entry(e.reference) for e in [*entries, entries[0]]))
    assert len(reads) <= 2 and by_reference == [*alone, alone[0]]  # a crowd opening its pages: the same
    assert await store.draw_entry("NOSUCHREF") is None
