"""Faults that fit `make test`'s time, each against the real thing: a PostgreSQL database that drops and refuses its
connections, a session frozen holding a slot's lock, a COMMIT cut off, a disk that is really full (a small tmpfs),
and background tasks that fail. The long scenarios under load are in test_fault_suite.py (`make faults`)."""

from __future__ import annotations

import asyncio
import re
import time
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from datetime import time as daytime

import pytest

from app import create_app
from booking.clock import ManualClock
from booking.model import OpeningRule, local_today
from tests.support.faults import SmallDisk, database_away, frozen_session, sql
from tests.support.helpers import csrf_token

TOKEN = "scrape"
FAST = {"READY_CHECK_SECONDS": 0.2, "READY_TIMEOUT_SECONDS": 0.5, "METRICS_TOKEN": TOKEN, "BOOKINGS_PER_MINUTE": 0}


@asynccontextmanager
async def serving(url: str, clock=None, **config):
    """An app on `url` with one venue whose room takes one person an hour (09:00-17:00), checked often."""
    app = create_app({"DATABASE_URL": url, "SECRET_KEY": "test", "TESTING": True, **FAST, **config}, clock=clock)
    async with app.test_app():
        store = app.extensions["slotcast"].store
        venue_id = await store.add_venue("v", "Venue", "restaurant", "UTC")
        await store.add_resource(
            venue_id, "room", "Room", [OpeningRule(d, daytime(9), daytime(17), 60, 1) for d in range(7)], horizon_days=3
        )
        await store.extend_slots(app.extensions["slotcast"].clock.now())
        yield app


async def first_slot(app):
    running = app.extensions["slotcast"]
    room = (await running.store.venue("v")).resource("room")
    return room, (await running.store.slots_for_day(room.id, local_today("UTC") + timedelta(days=1)))[0]


def booking_body(slot, contact: str = "ann@example.com") -> dict:
    return {"slot_id": slot.id, "name": "Ann", "contact": contact}


async def ready(client) -> tuple[int, str]:
    response = await client.get("/readyz")
    return response.status_code, await response.get_data(as_text=True)


async def readyz_until(client, wanted: int, timeout: float = 3.0) -> str:
    """Poll /readyz until it answers `wanted`; its last text."""
    deadline = time.monotonic() + timeout
    while (answer := await ready(client))[0] != wanted:
        assert time.monotonic() < deadline, f"/readyz still says {answer}"
        await asyncio.sleep(0.05)
    return answer[1]


def db_name(url: str) -> str:
    return url.rsplit("/", 1)[1]


# -- 1. background work heals


@pytest.mark.postgres
async def test_an_offer_past_its_time_passes_on_after_a_database_outage(postgres, pg_url):
    clock = ManualClock(datetime.now(UTC))
    async with serving(pg_url, clock, OFFER_CHECK_SECONDS=0.2, OFFER_MINUTES=10) as app:
        service, store = app.extensions["slotcast"].service, app.extensions["slotcast"].store
        room, slot = await first_slot(app)
        held, _ = await service.book(room, slot.id, "Ann", "ann@example.com", 1)
        first, _ = await service.join_waitlist(room, slot.id, "Bo", "bo@example.com", 1)
        second, _ = await service.join_waitlist(room, slot.id, "Cy", "cy@example.com", 1)
        await service.cancel(held.reference, held.cancel_token)
        assert (await store.waitlist_entry(first.reference))[0].status == "offered"

        async with database_away(postgres, db_name(pg_url)):
            clock.advance(minutes=11)  # the offer's time runs out while nothing can be written
            await asyncio.sleep(1.0)  # checks fail meanwhile (the loop used to die at the first)
            assert (await ready(app.test_client()))[0] == 503

        deadline = time.monotonic() + 5
        while (await store.waitlist_entry(second.reference))[0].status != "offered":
            assert time.monotonic() < deadline, "the expired offer never passed on"
            await asyncio.sleep(0.1)
        assert (await store.waitlist_entry(first.reference))[0].status == "expired"
        assert (await store.slot(slot.id)).held == 1
        await readyz_until(app.test_client(), 200)


async def test_a_task_that_fails_or_ends_is_started_again_counted_and_makes_readyz_not_ready(tmp_path):
    async with serving(f"sqlite:///{tmp_path}/t.db") as app:
        client, tasks, calls = app.test_client(), app.extensions["slotcast"].tasks, []

        async def doomed():
            calls.append(time.monotonic())
            raise RuntimeError("cannot run")

        tasks.every("doomed", 0.05, doomed, now=True)
        tasks.keep("quitter", lambda: asyncio.sleep(0))  # returns at once: an unexpected end
        text = await readyz_until(client, 503)
        assert re.fullmatch(r"not ready: task doomed: RuntimeError: cannot run \(\d+ in a row\)\n", text)
        await asyncio.sleep(0.5)
        assert len(calls) >= 3  # tried again, and again
        scrape = await (await client.get("/metrics", headers={"Authorization": f"Bearer {TOKEN}"})).get_data(
            as_text=True
        )
        restarts = {
            task: float(n) for task, n in re.findall(r'slotcast_task_restarts_total\{task="(\w+)"\} (\S+)', scrape)
        }
        assert restarts["doomed"] >= 3 and restarts["quitter"] >= 1


# -- 2. bounded waits


@pytest.mark.postgres
async def test_a_frozen_worker_holding_a_slot_keeps_a_booking_waiting_2_s_at_most(pg_url):
    async with serving(pg_url) as app:
        client = app.test_client()
        _room, slot = await first_slot(app)
        # Another worker, frozen inside its transaction with the slot's row locked; the server ends it after 4 s.
        frozen = await frozen_session(
            pg_url, "UPDATE slots SET booked = booked WHERE id = $1", slot.id, idle_in_transaction=4
        )
        try:
            began = time.monotonic()
            refused = await client.post("/api/v1/bookings", json=booking_body(slot))
            waited = time.monotonic() - began
            assert refused.status_code == 503 and waited <= 2.5, f"{refused.status_code} after {waited:.1f} s"
            assert refused.headers["Retry-After"] == "2" and (await refused.get_json())["code"] == "unavailable"
            while (booked := await client.post("/api/v1/bookings", json=booking_body(slot))).status_code == 503:
                assert time.monotonic() - began < 8, "the frozen session's lock was never released"
            assert booked.status_code == 201  # the server ended the frozen session: its lock went with it
        finally:
            frozen.terminate()


# -- 3. honest outages


@pytest.mark.postgres
async def test_a_database_outage_is_503_with_retry_after_on_pages_and_api(postgres, pg_url):
    async with serving(pg_url) as app:
        client = app.test_client()
        _room, slot = await first_slot(app)
        day = f"/book/v/room/{slot.local_date}"
        form = {
            "csrf_token": await csrf_token(client, f"/slots/{slot.id}/book"),
            "name": "Ann",
            "contact": "ann@example.com",
            "party_size": "1",
        }
        async with database_away(postgres, db_name(pg_url)):
            api = await client.post("/api/v1/bookings", json=booking_body(slot))
            page = await client.get(day)
            posted = await client.post(f"/slots/{slot.id}/book", form=form)
            chinese = await client.get(day, headers={"Accept-Language": "zh-CN"})
        assert api.status_code == page.status_code == posted.status_code == 503
        assert {r.headers["Retry-After"] for r in (api, page, posted)} == {"5"}
        body = await api.get_json()
        assert body["code"] == "unavailable" and "cannot reach its database" in body["error"]
        for html in (await page.get_data(as_text=True), await posted.get_data(as_text=True)):
            assert "cannot reach its database" in html and "Nothing was saved" in html
        assert "暂时无法连接数据库" in await chinese.get_data(as_text=True)
        assert (await client.post("/api/v1/bookings", json=booking_body(slot))).status_code == 201  # back at once


@pytest.mark.postgres
async def test_a_commit_cut_off_says_the_booking_may_be_made_and_a_retry_with_its_key_is_safe(postgres, pg_url):
    name = db_name(pg_url)
    async with serving(pg_url) as app:
        client = app.test_client()
        _room, slot = await first_slot(app)
        # The booking's COMMIT takes a while (a deferred trigger): long enough to cut its connection meanwhile.
        await sql(
            postgres,
            "CREATE FUNCTION slow_commit() RETURNS trigger LANGUAGE plpgsql AS"
            " $$ BEGIN PERFORM pg_sleep(3); RETURN NULL; END $$",
            name,
        )
        await sql(
            postgres,
            "CREATE CONSTRAINT TRIGGER slow_commit AFTER INSERT ON bookings DEFERRABLE INITIALLY"
            " DEFERRED FOR EACH ROW EXECUTE FUNCTION slow_commit()",
            name,
        )
        key = {"Idempotency-Key": "retry-me-safely"}
        booking = asyncio.create_task(client.post("/api/v1/bookings", json=booking_body(slot), headers=key))
        committing = "SELECT pid FROM pg_stat_activity WHERE query = 'COMMIT;' AND state = 'active'"
        deadline = time.monotonic() + 5
        while not (await sql(postgres, committing, name)).strip():
            assert time.monotonic() < deadline, "the booking never reached its COMMIT"
            await asyncio.sleep(0.02)
        await sql(postgres, f"SELECT pg_terminate_backend(pid) FROM ({committing}) AS c", name)
        cut = await booking
        body = await cut.get_json()
        assert cut.status_code == 503 and cut.headers["Retry-After"] and body["code"] == "outcome_unknown"
        assert "may have been saved" in body["error"] and "same Idempotency-Key is safe" in body["error"]

        await sql(postgres, "DROP TRIGGER slow_commit ON bookings", name)
        again = await client.post("/api/v1/bookings", json=booking_body(slot), headers=key)
        replay = await client.post("/api/v1/bookings", json=booking_body(slot), headers=key)
        assert again.status_code == replay.status_code == 201
        assert (await again.get_json())["reference"] == (await replay.get_json())["reference"]
        assert (await sql(postgres, "SELECT COUNT(*) FROM bookings", name)).strip() == "1"


# -- 4. readiness, and a disk that is really full


async def test_a_full_disk_is_not_ready_and_503_then_everything_heals(tmp_path):
    with SmallDisk("16m") as disk:
        async with serving(f"sqlite:///{disk.path}/slotcast.db") as app:
            client = app.test_client()
            _room, slot = await first_slot(app)
            token = await csrf_token(client, f"/slots/{slot.id}/book")
            await readyz_until(client, 200)
            disk.fill()
            assert (await readyz_until(client, 503)).startswith("not ready: database full: ")
            api = await client.post("/api/v1/bookings", json=booking_body(slot))
            body = await api.get_json()
            assert api.status_code == 503 and api.headers["Retry-After"] == "60" and body["code"] == "unavailable"
            assert "storage is full" in body["error"]
            page = await client.post(
                f"/slots/{slot.id}/book",
                form={"csrf_token": token, "name": "Bo", "contact": "bo@example.com", "party_size": "1"},
            )
            assert page.status_code == 503 and "storage is full" in await page.get_data(as_text=True)
            assert (await client.get(f"/book/v/room/{slot.local_date}")).status_code == 200  # reading goes on
            scrape = await (await client.get("/metrics", headers={"Authorization": f"Bearer {TOKEN}"})).get_data(
                as_text=True
            )
            assert 'slotcast_bookings_total{outcome="unavailable"} 2.0' in scrape

            disk.free()
            await readyz_until(client, 200)
            healed = await client.post("/api/v1/bookings", json=booking_body(slot))
            assert healed.status_code == 201  # the write path is not stuck in the transaction the full disk broke
            assert (await app.extensions["slotcast"].store.slot(slot.id)).booked == 1


@pytest.mark.postgres
async def test_readyz_answers_at_once_from_its_last_check_and_says_when_a_write_hangs(pg_url):
    async with serving(pg_url) as app:
        client = app.test_client()
        await readyz_until(client, 200)
        # A session holds the table the readiness write goes to: the write waits (reads do not).
        frozen = await frozen_session(
            pg_url, "LOCK TABLE schema_version IN ACCESS EXCLUSIVE MODE", idle_in_transaction=30
        )
        try:
            took, began = [], time.monotonic()
            while True:
                asked = time.monotonic()
                answer = await ready(client)
                took.append(time.monotonic() - asked)
                if answer[0] == 503:
                    break
                assert time.monotonic() - began < 3, "still ready while no write can be made"
                await asyncio.sleep(0.02)
            assert answer[1] == "not ready: database: no answer within 0.5 s\n"
            # From its last check: never the 0.5 s a check itself may wait (0.1 s was too tight on a busy machine).
            assert max(took) < 0.4, f"/readyz took {max(took):.3f} s"
        finally:
            frozen.terminate()
        await readyz_until(client, 200)
