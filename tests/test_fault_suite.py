"""The fault suite (`make faults`, left out of `make test` for its time): real `python app.py` processes under
steady traffic (bookings, cancels, moves, waitlist joins and offers taken up, open day pages), a fault injected and
recovered from, then: every acknowledged booking kept, capacity and limits intact, every open page equal to the
database, the waitlist moving, no 500 and no 503 without Retry-After (tests/support/traffic.py).

Faults: kill -9 on SQLite; PostgreSQL stopped and started (fast and immediate) under two processes; a worker frozen
(SIGSTOP) holding a slot's row lock; the listener's connection terminated; the offer check across a 7 s database
outage; a disk that fills up (a small tmpfs) on SQLite."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import time

import httpx
import pytest

from tests.support.faults import SmallDisk
from tests.support.live_server import LiveServer
from tests.support.postgres_server import PostgresServer
from tests.support.traffic import (
    SETTINGS,
    Ledger,
    Pages,
    Traffic,
    check,
    day_of,
    offer_passes_on,
    queue_with_an_offer,
    waitlist_moves,
)

pytestmark = pytest.mark.faults

OFFER_CHECK = SETTINGS["OFFER_CHECK_SECONDS"]


@pytest.fixture(scope="module")
def pg():
    """A PostgreSQL server of this module's own (the tests stop and start it), durable: a crash keeps every commit."""
    server = PostgresServer(durable=True).start()
    yield server
    server.stop()


@contextlib.asynccontextmanager
async def servers(tmp_path, count: int = 1, url: str | None = None):
    """`count` servers on one database (SQLite in tmp_path unless `url`); the later ones start once the first has
    seeded the demo."""
    started = []
    try:
        for n in range(count):
            folder = tmp_path / f"server-{n}"
            folder.mkdir()
            env = {"SLOTCAST_DATABASE_URL": url or f"sqlite:///{tmp_path}/slotcast.db"}
            started.append(await LiveServer(folder, env, **SETTINGS).astart())
        yield started
    finally:
        for server in started:
            server.kill()


async def readiness(url: str) -> tuple[int, str]:
    async with httpx.AsyncClient(timeout=5) as http:
        answer = await http.get(f"{url}/readyz")
    return answer.status_code, answer.text


async def ready_again(*urls: str, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    for url in urls:
        while (answer := await readiness(url))[0] != 200:
            assert time.monotonic() < deadline, f"{url} stays not ready: {answer}"
            await asyncio.sleep(0.1)


async def under_traffic(urls: list[str], clients: int = 8, pages: int = 10, hot: int = 3):
    """Traffic on `hot` of tomorrow's slots (12:00 on), and day pages on every server; the day's last slot is left
    for `waitlist_moves`."""
    slot_ids, path = await day_of(urls[0])
    traffic, shown = Traffic(urls, slot_ids[1 : 1 + hot]), await Pages(urls, path, pages).open()
    traffic.start(clients)
    return traffic, shown, slot_ids[-1]


async def wind_down(
    traffic: Traffic, pages: Pages, ledger: Ledger, urls: list[str], probe_slot: int, least: int = 30
) -> None:
    """Stop the traffic, check everything, and show that the waitlist still moves; at least `least` bookings were
    made meanwhile."""
    await traffic.stop()
    try:
        await ready_again(*urls)
        await check(ledger, traffic, pages, OFFER_CHECK)
        await waitlist_moves(urls[-1], probe_slot)
    finally:
        pages.close()
    print(f"\nanswers: {dict(sorted(traffic.answers.items(), key=str))}; slowest: {traffic.slowest}")  # -s shows it
    assert traffic.count("book", 201) >= least, traffic.answers


async def test_kill_9_mid_load_on_sqlite(tmp_path):
    async with servers(tmp_path) as (server,):
        traffic, pages, probe = await under_traffic([server.url])
        for _ in range(3):
            await asyncio.sleep(4)
            await server.astop(signal.SIGKILL)
            await server.astart()
        await asyncio.sleep(4)
        await wind_down(traffic, pages, Ledger(server.env["SLOTCAST_DATABASE_URL"]), [server.url], probe)
        assert traffic.count("book", None), "no request was cut by a kill"


async def test_postgres_stopped_and_started_mid_load_under_two_processes(tmp_path, pg):
    url = pg.create_database("restarts")
    async with servers(tmp_path, 2, url) as (a, b):
        traffic, pages, probe = await under_traffic([a.url, b.url])
        for mode in ("fast", "immediate"):  # a clean shutdown, then a crash (the restart recovers from the WAL)
            await asyncio.sleep(4)
            await asyncio.to_thread(pg.halt, mode)
            await asyncio.sleep(1)
            assert (await readiness(a.url))[0] == 503
            await asyncio.to_thread(pg.resume)
        await asyncio.sleep(4)
        await wind_down(traffic, pages, Ledger(url), [a.url, b.url], probe)
        assert sum(n for (_op, status), n in traffic.answers.items() if status == 503), "no outage was answered"


async def test_a_frozen_worker_holding_a_row_lock_delays_the_others_2_s_at_most(tmp_path, pg):
    url = pg.create_database("frozen")
    async with servers(tmp_path, 2, url) as (a, b):
        slot_ids, path = await day_of(a.url)
        hot = slot_ids[1]
        traffic, pages = Traffic([a.url, b.url], [hot]), await Pages([b.url], path).open()
        traffic.start(8)
        await freeze_holding_a_slot(a, pg, "frozen")
        try:
            waits = await book_meanwhile(b.url, hot, seconds=8)  # the server ends the frozen session after 5 s
        finally:
            os.kill(a.process.pid, signal.SIGCONT)
        # 2 s at most on the lock; under the traffic, a request may first wait (2 s at most too) for one of its
        # process's pooled connections, each held by another request waiting on the same lock.
        assert max(w for w, _ in waits) <= 4.5, f"a booking waited {max(w for w, _ in waits):.1f} s"
        print(f"\nwhile frozen: {len(waits)} bookings, slowest {max(w for w, _ in waits):.2f} s, {waits}")
        assert 503 in {s for _, s in waits} and waits[-1][1] in (201, 409), waits  # refused in time, then served
        await asyncio.sleep(3)
        await wind_down(traffic, pages, Ledger(url), [a.url, b.url], slot_ids[-1], least=10)  # one slot of 20


async def freeze_holding_a_slot(server: LiveServer, pg: PostgresServer, database: str) -> None:
    """SIGSTOP the server at a moment one of its sessions holds a slot's row inside its transaction."""
    holding = (
        "SELECT count(*) FROM pg_stat_activity a JOIN pg_locks l ON l.pid = a.pid WHERE a.datname ="
        f" '{database}' AND a.state = 'idle in transaction' AND l.relation = 'slots'::regclass"
        " AND l.mode = 'RowExclusiveLock'"
    )
    for _ in range(100):
        os.kill(server.process.pid, signal.SIGSTOP)
        await asyncio.sleep(0.2)
        if int(await asyncio.to_thread(pg.sql, holding, database)):
            return
        os.kill(server.process.pid, signal.SIGCONT)
        await asyncio.sleep(0.05)
    raise AssertionError("never caught the worker inside a booking's transaction")


async def book_meanwhile(url: str, slot_id: int, seconds: float) -> list[tuple[float, int]]:
    """Book the slot (and cancel at once) again and again for `seconds`: how long each booking took, its status."""
    waits, n, deadline = [], 0, time.monotonic() + seconds
    async with httpx.AsyncClient(base_url=url, timeout=30) as http:
        while time.monotonic() < deadline:
            began, n = time.monotonic(), n + 1
            answer = await http.post(
                "/api/v1/bookings",
                json={"slot_id": slot_id, "name": "Other Worker", "contact": f"other{n}@example.com"},
            )
            waits.append((time.monotonic() - began, answer.status_code))
            if answer.status_code == 201:
                booked = answer.json()
                await http.post(
                    f"/api/v1/bookings/{booked['reference']}/cancel", json={"cancel_token": booked["cancel_token"]}
                )
            await asyncio.sleep(0.1)
    return waits


async def test_the_listeners_connection_terminated_mid_load(tmp_path, pg):
    url = pg.create_database("listeners")
    async with servers(tmp_path, 2, url) as (a, b):
        slot_ids, path = await day_of(a.url)
        traffic, pages = Traffic([a.url], slot_ids[1:4]), await Pages([b.url], path, 20).open()  # writes on A only
        traffic.start(8)
        for _ in range(3):
            await asyncio.sleep(2)
            killed = await asyncio.to_thread(
                pg.sql,
                "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity"
                " WHERE application_name = 'slotcast-listener'",
                "listeners",
            )
            assert int(killed) == 2
        await asyncio.sleep(2)
        await wind_down(traffic, pages, Ledger(url), [a.url, b.url], slot_ids[-1])


async def test_the_offer_check_across_a_database_outage(tmp_path, pg):
    url = pg.create_database("offers")
    async with servers(tmp_path, 2, url) as (a, b):
        slot_ids, path = await day_of(a.url)
        traffic, pages = Traffic([a.url, b.url], slot_ids[1:3]), await Pages([a.url, b.url], path).open()
        traffic.start(4)
        await asyncio.sleep(2)
        queued = await queue_with_an_offer(a.url, slot_ids[-2])  # the first entry's offer runs out in 3 s
        await asyncio.to_thread(pg.halt, "fast")
        await asyncio.sleep(7)  # it runs out meanwhile, and every check fails
        assert (await readiness(b.url))[0] == 503
        await asyncio.to_thread(pg.resume)
        await offer_passes_on(b.url, *queued, timeout=OFFER_CHECK + 5)
        await asyncio.sleep(2)
        await wind_down(traffic, pages, Ledger(url), [a.url, b.url], slot_ids[-1], least=10)  # light traffic


async def test_a_disk_that_fills_up_mid_load_on_sqlite(tmp_path):
    with SmallDisk("32m") as disk:
        async with servers(tmp_path, url=f"sqlite:///{disk.path}/slotcast.db") as (server,):
            traffic, pages, probe = await under_traffic([server.url])
            await asyncio.sleep(4)
            disk.fill()
            await asyncio.sleep(4)  # offers run out meanwhile; every write is refused
            status, text = await readiness(server.url)
            assert status == 503 and text.startswith("not ready: database full"), text
            disk.free()
            await asyncio.sleep(4)
            await wind_down(traffic, pages, Ledger(server.env["SLOTCAST_DATABASE_URL"]), [server.url], probe)
            refused = {op: n for (op, status), n in traffic.answers.items() if status == 503}
            assert refused.get("book"), f"the full disk refused no booking: {traffic.answers}"
