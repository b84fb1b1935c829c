"""PostgreSQL only: change notices inside the transaction, listening for other processes' changes, pg_dump."""

import asyncio
import contextlib
import json
import os
import signal
import time as clock
from datetime import UTC, datetime, time, timedelta
from pathlib import Path

import asyncpg
import pytest

from booking import topics
from booking.errors import SlotFull
from booking.model import OpeningRule, local_today
from booking.postgres import CHANNEL, LISTENER_NAME, PostgresDatabase
from booking.sql import SqlStore

NOW = datetime.now(UTC)

pytestmark = pytest.mark.postgres


@pytest.fixture
async def stores(pg_url):
    """Two stores on one database, like two worker processes; the second checks its listener every 0.5 s."""
    first, second = SqlStore(PostgresDatabase(pg_url)), SqlStore(PostgresDatabase(pg_url, keepalive=0.5))
    await first.open()
    await second.open()
    yield first, second
    await first.close()
    await second.close()


@pytest.fixture
async def slot(stores):
    store = stores[0]
    venue_id = await store.add_venue("v", "Venue", "restaurant", "UTC")
    rid = await store.add_resource(venue_id, "r", "Room", [OpeningRule(d, time(9), time(12), 60, 2) for d in range(7)])
    await store.extend_slots(NOW)
    return (await store.slots_for_day(rid, local_today("UTC") + timedelta(days=1)))[0]


class Recorder:
    """on_change / on_resync callbacks that queue what they were given."""

    def __init__(self):
        self.changes: asyncio.Queue = asyncio.Queue()
        self.resyncs: asyncio.Queue = asyncio.Queue()

    def on_change(self, *names):
        self.changes.put_nowait(names)

    def on_resync(self):
        self.resyncs.put_nowait(clock.monotonic())


async def test_a_booking_announces_its_topics_on_commit_only(pg_url, stores, slot):
    store = stores[0]
    heard: asyncio.Queue = asyncio.Queue()
    db = await asyncpg.connect(pg_url)
    await db.add_listener(CHANNEL, lambda *notice: heard.put_nowait(notice[3]))
    try:
        _, after = await store.book(slot.id, "Ann", "12345", 2, NOW)
        payload = await asyncio.wait_for(heard.get(), 2)
        assert json.loads(payload) == {"o": store.db.origin, "t": list(topics.of_slot(after))}
        assert len(payload.encode()) < 8000 and "Ann" not in payload
        with pytest.raises(SlotFull):  # rolled back: no notice
            await store.book(slot.id, "Bo", "12345", 1, NOW)
        await asyncio.sleep(0.2)
        assert heard.empty()
    finally:
        await db.close()


async def test_many_topics_are_split_into_notices_under_8000_bytes(pg_url, stores):
    store, names = stores[0], [f"day:{n}:2026-01-01" for n in range(1000)]  # ~21 kB of topic names
    heard: asyncio.Queue = asyncio.Queue()
    db = await asyncpg.connect(pg_url)
    await db.add_listener(CHANNEL, lambda *notice: heard.put_nowait(notice[3]))
    try:

        async def announce(tx):
            await tx.changed(*names)

        await store.db.write(announce)
        payloads, received = [], []
        while len(received) < len(names):
            payloads.append(await asyncio.wait_for(heard.get(), 2))
            received += json.loads(payloads[-1])["t"]
    finally:
        await db.close()
    assert received == names and len(payloads) > 1
    assert all(len(p.encode()) < 8000 for p in payloads)


@contextlib.asynccontextmanager
async def listening(store):
    """A Recorder of what `store`'s listener hears, from the moment it listens."""
    seen = Recorder()
    task = asyncio.create_task(store.listen(seen.on_change, seen.on_resync))
    try:
        await asyncio.wait_for(seen.resyncs.get(), 5)  # listening now
        yield seen
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)


async def test_listen_relays_other_processes_changes_only(stores, slot):
    mine, other = stores
    async with listening(mine) as seen:
        await mine.book(slot.id, "Ann", "12345", 1, NOW)  # its own hub has it already
        _, after = await other.book(slot.id, "Bo", "12345", 1, NOW)
        assert await asyncio.wait_for(seen.changes.get(), 2) == topics.of_slot(after)
        assert seen.changes.empty()


async def test_every_write_that_changes_a_page_is_announced(stores, slot):
    mine, other = stores
    async with listening(other) as seen:
        booking, _ = await mine.book(slot.id, "Ann", "12345", 1, NOW)
        writes = [
            lambda: mine.call(booking.id, "Room 1", NOW),
            lambda: mine.requeue(booking.id, NOW),
            lambda: mine.call_next(slot.resource_id, slot.local_date, "Room 2", NOW),
            lambda: mine.set_attendance(booking.id, "checked_in"),
            lambda: mine.set_slot_closed(slot.id, True),
            lambda: mine.cancel(booking.reference, booking.cancel_token, NOW),
        ]
        assert await asyncio.wait_for(seen.changes.get(), 2) == topics.of_slot(slot)  # the booking
        for write in writes:
            await write()
            assert await asyncio.wait_for(seen.changes.get(), 2) == topics.of_slot(slot)
        days = await mine.edit_resource(slot.resource_id, {}, [], [], NOW)  # closes every future slot
        assert days and await asyncio.wait_for(seen.changes.get(), 2) == (topics.VENUES,)  # the schedule saved
        assert await asyncio.wait_for(seen.changes.get(), 2) == topics.of_resource(slot.resource_id)


async def test_a_venue_changed_by_another_process_is_read_again_once_heard(stores, slot):
    mine, other = stores
    async with listening(other) as seen:
        venue = await other.venue("v")  # kept from here on
        await mine.update_venue(venue.id, "Renamed", venue.kind, venue.timezone, False)
        assert (await other.venue("v")).name in ("Venue", "Renamed")  # not heard yet, perhaps
        assert topics.VENUES in await asyncio.wait_for(seen.changes.get(), 2)
        assert (await other.venue("v")).name == "Renamed" and (await mine.venue("v")).name == "Renamed"


async def test_a_lost_listener_reconnects_and_resyncs(pg_url, stores, slot):
    mine, other = stores
    seen = Recorder()
    listening = asyncio.create_task(other.listen(seen.on_change, seen.on_resync))
    admin = await asyncpg.connect(pg_url)
    try:
        await asyncio.wait_for(seen.resyncs.get(), 5)
        killed_at = clock.monotonic()
        assert (
            await admin.fetchval(
                "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE application_name = $1"
                " AND datname = current_database()",
                LISTENER_NAME,
            )
            == 1
        )
        resynced_at = await asyncio.wait_for(seen.resyncs.get(), 10)
        print(f"listener back {resynced_at - killed_at:.2f} s after it was killed")
        _, after = await mine.book(slot.id, "Ann", "12345", 1, NOW)
        assert await asyncio.wait_for(seen.changes.get(), 2) == topics.of_slot(after)
    finally:
        await admin.close()
        listening.cancel()
        await asyncio.gather(listening, return_exceptions=True)


async def test_a_hung_listener_is_noticed_by_its_liveness_check(pg_url, stores):
    """A peer that stops answering (no FIN, as after a network cut) fails the periodic SELECT 1."""
    seen = Recorder()
    listening = asyncio.create_task(stores[1].listen(seen.on_change, seen.on_resync))
    admin = await asyncpg.connect(pg_url)
    pid = None
    try:
        await asyncio.wait_for(seen.resyncs.get(), 5)
        pid = await admin.fetchval(
            "SELECT pid FROM pg_stat_activity WHERE application_name = $1 AND datname = current_database()",
            LISTENER_NAME,
        )
        os.kill(pid, signal.SIGSTOP)  # the backend freezes; its socket stays open
        frozen_at = clock.monotonic()
        resynced_at = await asyncio.wait_for(seen.resyncs.get(), 5)
        print(f"hung listener replaced after {resynced_at - frozen_at:.2f} s (checks every 0.5 s)")
        assert resynced_at - frozen_at < 2 * stores[1].db.keepalive + 1
    finally:
        if pid:
            os.kill(pid, signal.SIGCONT)
        await admin.close()
        listening.cancel()
        await asyncio.gather(listening, return_exceptions=True)


async def test_listen_stops_promptly_when_cancelled(stores):
    seen = Recorder()
    listening = asyncio.create_task(stores[1].listen(seen.on_change, seen.on_resync))
    await asyncio.wait_for(seen.resyncs.get(), 5)
    began = clock.monotonic()
    listening.cancel()
    await asyncio.gather(listening, return_exceptions=True)
    assert clock.monotonic() - began < 0.5


async def test_a_pg_dump_restores_with_every_booking_and_migrates_cleanly(postgres, pg_url, stores, slot):
    booking, _ = await stores[0].book(slot.id, "Ann", "12345", 1, NOW)
    dump = Path(postgres.folder) / "slotcast.dump"  # pg_dump runs as the server's user: its folder
    source = pg_url.rsplit("/", 1)[1]
    postgres._run(
        "pg_dump", "-h", "127.0.0.1", "-p", str(postgres.port), "-U", "postgres", "-Fc", "-f", str(dump), source
    )
    restored_url = postgres.create_database(source + "_restored")
    try:
        postgres._run(
            "pg_restore",
            "-h",
            "127.0.0.1",
            "-p",
            str(postgres.port),
            "-U",
            "postgres",
            "-d",
            restored_url.rsplit("/", 1)[1],
            str(dump),
        )
        restored = SqlStore(PostgresDatabase(restored_url))
        await restored.open()  # the migrations find the restored schema_version: nothing to do, no error
        try:
            assert (await restored.booking(booking.reference))[0].name == "Ann"
        finally:
            await restored.close()
    finally:
        postgres.drop_database(source + "_restored")


async def test_two_processes_share_the_outbox_without_sending_twice(stores, slot):
    """Two senders claiming at once (FOR UPDATE SKIP LOCKED) split the due messages: each one goes out once."""
    first, second = stores
    for n in (1, 2):  # two endpoints, two bookings: 4 deliveries, none waiting for another (a booking's are ordered)
        await first.add_webhook((await first.venues())[0].id, f"https://example.org/hook{n}", "s" * 20, NOW)
    for name in ("Ann", "Bo"):
        await first.book(slot.id, name, f"{name}@example.com", 1, NOW)
    queued = {m.id for m in await first.outbox()}
    assert len(queued) == 4

    async def claim_all(store):
        claimed = []
        while batch := await store.claim_messages(NOW, timedelta(minutes=1), limit=1):
            claimed += [m.id for m in batch]
            await asyncio.sleep(0)
        return claimed

    a, b = await asyncio.gather(claim_all(first), claim_all(second))
    assert sorted(a + b) == sorted(queued) and not set(a) & set(b)
    assert await first.claim_messages(NOW, timedelta(minutes=1)) == []  # claimed: not due until the lease lapses
    lapsed = await second.claim_messages(NOW + timedelta(minutes=2), timedelta(minutes=1), limit=10)
    assert {m.id for m in lapsed} == queued and {m.attempts for m in lapsed} == {2}


async def test_a_full_slot_one_process_keeps_is_forgotten_when_another_frees_it(stores, slot):
    mine, other = stores
    booking, _ = await other.book(slot.id, "Ann", "12345", 2, NOW)
    async with listening(mine) as seen:
        assert (await mine.slot(slot.id)).remaining == 0  # read full: kept
        await other.cancel(booking.reference, booking.cancel_token, NOW)
        await asyncio.wait_for(seen.changes.get(), 2)
        assert (await mine.slot(slot.id)).remaining == 2


async def test_requests_cancelled_at_any_moment_of_a_pool_acquire_leave_every_connection_free(pg_url):
    """booking.postgres acquires and releases apart from the request: a request cancelled while its acquire runs,
    or just as it completes, still gives its connection back."""
    db = PostgresDatabase(pg_url, pool_size=3)
    await db.open()
    try:

        async def held(tx):
            await tx.fetch_value("SELECT pg_sleep(0.05)")

        for turns in [*range(8), 50, 200]:  # cancelled that many loop turns in: before, during, just after
            readers = [asyncio.create_task(db.read(held)) for _ in range(12)]
            for _ in range(turns):
                await asyncio.sleep(0)
            for reader in readers:
                reader.cancel()
            await asyncio.gather(*readers, return_exceptions=True)
        await asyncio.sleep(0.2)  # the connections given back by the cancelled requests' acquires
        assert db._pool.get_idle_size() == db._pool.get_size()  # none held (those opened: 2 to 3)
        assert await asyncio.wait_for(asyncio.gather(*(db.read(held) for _ in range(3))), 2) == [None] * 3
    finally:
        if db._pool.get_idle_size() == db._pool.get_size():
            await db.close()
        else:
            db._pool.terminate()  # a close would wait for the connections nobody gives back
