"""Steady traffic for the fault suite, and what must hold once a fault is over.

`Traffic` books, cancels, moves, joins waitlists and takes up offers over HTTP, from many clients against one or
more servers, and remembers every write a server acknowledged. `Pages` keeps day pages open (event streams that
come back as a browser's do) and what each shows. `Ledger` reads the database itself. `check` asserts: every
acknowledged booking kept as acknowledged, capacity and per-person limits intact, every open page equal to the
database, no offer left past its time, and no answer a 500 or a 503 without Retry-After. `waitlist_moves` proves
the line still moves: an offer made, and passed on once its time is up.
"""

from __future__ import annotations

import asyncio
import random
import re
import secrets
import sqlite3
import time
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

import asyncpg
import httpx

from booking.contacts import contact_key

VENUE, RESOURCE, ZONE = "harbour-kitchen", "terrace", "Europe/London"  # demo: 20 places an hour, 2 a person a day
LIMIT = 2
SHOWN = re.compile(rb'data-slot-id="(\d+)"[^>]*?data-remaining="(\d+)"')
UNKNOWN = "outcome_unknown"
SETTINGS = {
    "BOOKINGS_PER_MINUTE": 0,
    "OFFER_MINUTES": 0.05,
    "OFFER_CHECK_SECONDS": 0.5,
    "READY_CHECK_SECONDS": 0.5,
    "SSE_MAX_PER_CLIENT": 1000,
}  # the servers' settings: offers run out in 3 s, and are checked twice a second


def tomorrow() -> str:
    return (datetime.now(ZoneInfo(ZONE)) + timedelta(days=1)).date().isoformat()


async def day_of(url: str) -> tuple[list[int], str]:
    """Tomorrow's terrace slots (ids, 11:00 to 20:00) and the day page's event stream path."""
    async with httpx.AsyncClient(timeout=10) as http:
        slots = (await http.get(f"{url}/api/v1/venues/{VENUE}/resources/{RESOURCE}/slots?date={tomorrow()}")).json()
        page = (await http.get(f"{url}/book/{VENUE}/{RESOURCE}/{tomorrow()}")).text
    return [s["id"] for s in slots["slots"]], re.search(r'sse-connect="([^"]+)"', page).group(1).replace("&amp;", "&")


@dataclass
class Held:
    """A booking a server acknowledged, as its client last knew it."""

    reference: str
    token: str
    slot_id: int
    status: str = "confirmed"
    certain: bool = True  # False once a change to it went unanswered (or may have been saved): either state is right


def unsettled(answer) -> bool:
    """No answer came, or one that says the change may have been saved."""
    return answer is None or answer[0] == 503 and answer[1].get("code") == UNKNOWN


class Traffic:
    """Many clients' bookings, cancels, moves, waitlist joins and accepted offers, spread over `urls`."""

    def __init__(self, urls: list[str], slot_ids: list[int], contacts: int = 40, seed: int = 1):
        self.urls, self.slot_ids, self.seed = urls, slot_ids, seed
        self.contacts = [f"guest{n}@example.com" for n in range(contacts)]
        self.held: dict[str, Held] = {}
        self.entries: dict[str, str] = {}  # waitlist entry -> its token, until it is booked or gone
        self.unsettled: list[tuple[str, dict, str]] = []  # bookings of unknown outcome: (url, body, key)
        self.answers: Counter = Counter()  # (operation, status); None: no answer (refused, cut, timed out)
        self.without_retry_after = 0  # 503s that did not say when to come back
        self.slowest: dict[str, float] = {}  # per server: its slowest answer, in seconds
        self._busy: set[str] = set()  # what a client is changing now: one change at a time per booking or entry
        self._stop = asyncio.Event()
        self._clients: list[asyncio.Task] = []

    def start(self, clients: int = 8) -> None:
        self._clients = [asyncio.create_task(self._client(n)) for n in range(clients)]

    async def stop(self) -> None:
        self._stop.set()
        await asyncio.gather(*self._clients)

    def count(self, operation: str, status: int | None) -> int:
        return self.answers[operation, status]

    async def _client(self, n: int) -> None:
        rng = random.Random(self.seed * 1000 + n)
        actions = (self.book, self.cancel, self.move, self.join, self.accept)
        async with httpx.AsyncClient(timeout=10) as http:
            while not self._stop.is_set():
                await rng.choices(actions, (5, 2, 2, 2, 2))[0](http, rng)
                await asyncio.sleep(rng.uniform(0.005, 0.03))

    async def call(
        self, http, operation: str, url: str, path: str, body: dict | None = None, key: str = "", method: str = "POST"
    ):
        """One request: (status, JSON body), or None when no answer came."""
        began = time.monotonic()
        try:
            answer = await http.request(method, url + path, json=body, headers={"Idempotency-Key": key} if key else {})
        except httpx.HTTPError:
            self.answers[operation, None] += 1
            await asyncio.sleep(0.5)  # the server is away: a browser would wait a moment too
            return None
        self.slowest[url] = max(self.slowest.get(url, 0.0), time.monotonic() - began)
        self.answers[operation, answer.status_code] += 1
        data = answer.json() if answer.headers.get("Content-Type", "").startswith("application/json") else {}
        if answer.status_code == 503:
            if not answer.headers.get("Retry-After", "").isdigit():
                self.without_retry_after += 1
            await asyncio.sleep(0.5)  # told to come back later (sooner than asked: the traffic presses on)
        return answer.status_code, data

    async def book(self, http, rng) -> None:
        url, key = rng.choice(self.urls), secrets.token_hex(8)
        body = {
            "slot_id": rng.choice(self.slot_ids),
            "name": "Fault Test",
            "contact": rng.choice(self.contacts),
            "party_size": rng.randint(1, 3),
        }
        answer = await self.call(http, "book", url, "/api/v1/bookings", body, key)
        if unsettled(answer):
            self.unsettled.append((url, body, key))
        elif answer[0] == 201:
            self._keep(answer[1])

    def _keep(self, booking: dict) -> None:
        self.held[booking["reference"]] = Held(booking["reference"], booking["cancel_token"], booking["slot_id"])

    def _take(self, rng, among) -> str | None:
        """One of `among` that no client is changing now, marked as being changed."""
        free = [k for k in among if k not in self._busy]
        if not free:
            return None
        chosen = rng.choice(free)
        self._busy.add(chosen)
        return chosen

    async def _change(self, http, rng, operation: str, body: dict) -> None:
        """Cancel or move a confirmed booking; what the answer says it is now, or uncertain if none came."""
        reference = self._take(rng, [h.reference for h in self.held.values() if h.status == "confirmed"])
        if reference is None:
            return
        held = self.held[reference]
        try:
            answer = await self.call(
                http,
                operation,
                rng.choice(self.urls),
                f"/api/v1/bookings/{reference}/{operation}",
                {"cancel_token": held.token, **body},
            )
            if unsettled(answer):
                held.certain = False
            elif answer[0] == 200:
                held.slot_id, held.status, held.certain = answer[1]["slot_id"], answer[1]["status"], True
        finally:
            self._busy.discard(reference)

    async def cancel(self, http, rng) -> None:
        await self._change(http, rng, "cancel", {})

    async def move(self, http, rng) -> None:
        await self._change(http, rng, "reschedule", {"slot_id": rng.choice(self.slot_ids)})

    async def join(self, http, rng) -> None:
        body = {
            "slot_id": rng.choice(self.slot_ids),
            "name": "Fault Test",
            "contact": rng.choice(self.contacts),
            "party_size": rng.randint(1, 2),
        }
        answer = await self.call(http, "join", rng.choice(self.urls), "/api/v1/waitlist", body)
        if answer and answer[0] == 201:
            self.entries[answer[1]["reference"]] = answer[1]["cancel_token"]

    async def accept(self, http, rng) -> None:
        """Look at a waitlist entry; take up its offer if it has one."""
        reference = self._take(rng, list(self.entries))
        if reference is None:
            return
        url, token = rng.choice(self.urls), self.entries[reference]
        try:
            state = await self.call(http, "entry", url, f"/api/v1/waitlist/{reference}?token={token}", method="GET")
            if not state or state[0] != 200 or state[1]["status"] == "waiting":
                return
            if state[1]["status"] == "offered":
                answer = await self.call(
                    http, "accept", url, f"/api/v1/waitlist/{reference}/accept", {"cancel_token": token}
                )
                if answer and answer[0] == 201:
                    self._keep(answer[1])
                if answer and answer[0] in (201, 409) or unsettled(answer):
                    del self.entries[reference]  # booked, gone, or (unanswered) of a booking we cannot know
            else:
                del self.entries[reference]  # booked, expired or left
        finally:
            self._busy.discard(reference)

    async def settle(self) -> None:
        """Send every booking of unknown outcome again with its key: each is now made once, or refused."""
        async with httpx.AsyncClient(timeout=10) as http:
            for url, body, key in self.unsettled:
                answer = await self.call(http, "again", url, "/api/v1/bookings", body, key)
                assert answer and answer[0] in (201, 409), f"a booking sent again with its key: {answer}"
                if answer[0] == 201:
                    self._keep(answer[1])


class Pages:
    """`count` day pages open on each server: event streams that come back after half a second when cut, as a
    browser's do; `shown[i]`: what page i shows now (slot id -> places left)."""

    def __init__(self, urls: list[str], path: str, count: int = 10):
        self.targets = [(url, path) for url in urls for _ in range(count)]
        self.shown: list[dict[int, int]] = [{} for _ in self.targets]
        self._tasks: list[asyncio.Task] = []

    async def open(self, timeout: float = 10.0) -> Pages:
        self._tasks = [asyncio.create_task(self._follow(i)) for i in range(len(self.targets))]
        deadline = time.monotonic() + timeout
        while not all(self.shown):
            assert time.monotonic() < deadline, "not every page opened"
            await asyncio.sleep(0.05)
        return self

    def close(self) -> None:
        for task in self._tasks:
            task.cancel()

    async def _follow(self, index: int) -> None:
        url, path = self.targets[index]
        where = urlsplit(url)
        while True:
            writer = None
            try:
                reader, writer = await asyncio.open_connection(where.hostname, where.port)
                writer.write(
                    f"GET {path} HTTP/1.1\r\nHost: {where.netloc}\r\nAccept: text/event-stream\r\n\r\n".encode()
                )
                pending = b""
                while chunk := await reader.read(65536):
                    *events, pending = (pending + chunk).split(b"\n\n")
                    for event in events:
                        self.shown[index].update((int(s), int(n)) for s, n in SHOWN.findall(event))
            except OSError:
                pass  # the server went away: come back as the browser would
            finally:
                if writer is not None:
                    writer.close()
            await asyncio.sleep(0.5)


class Ledger:
    """The database itself (a SQLite file or a PostgreSQL database), read without any server."""

    def __init__(self, url: str):
        self.url = url

    async def rows(self, query: str) -> list[dict]:
        if self.url.startswith("sqlite"):
            with sqlite3.connect(self.url.removeprefix("sqlite:///"), timeout=10) as db:
                db.row_factory = sqlite3.Row
                return [dict(r) for r in db.execute(query)]
        db = await asyncpg.connect(self.url)
        try:
            return [dict(r) for r in await db.fetch(query)]
        finally:
            await db.close()


SLOT_TRUTH = """SELECT s.id, s.capacity, s.booked, s.held, s.closed,
  (SELECT COALESCE(SUM(b.party_size), 0) FROM bookings b WHERE b.slot_id = s.id AND b.status = 'confirmed') AS confirmed,
  (SELECT COALESCE(SUM(w.party_size), 0) FROM waitlist w WHERE w.slot_id = s.id AND w.status = 'offered') AS offered
FROM slots s"""


async def check(ledger: Ledger, traffic: Traffic, pages: Pages, offer_check: float) -> None:
    """Everything that must hold once the fault is over and the traffic has stopped."""
    failed = {operation: n for (operation, status), n in traffic.answers.items() if status == 500}
    assert not failed, f"answered 500: {failed}"
    assert traffic.without_retry_after == 0, "a 503 without Retry-After"
    await traffic.settle()
    await acknowledged_kept(ledger, traffic)
    await capacity_intact(ledger)
    await limits_intact(ledger)
    await no_offer_left_past_its_time(ledger, offer_check)
    await pages_show_the_database(ledger, pages)


async def acknowledged_kept(ledger: Ledger, traffic: Traffic) -> None:
    """Every booking a server acknowledged is there, as its last acknowledged change left it."""
    stored = {r["reference"]: r for r in await ledger.rows("SELECT reference, slot_id, status FROM bookings")}
    missing = [h.reference for h in traffic.held.values() if h.reference not in stored]
    wrong = [
        (h, stored[h.reference])
        for h in traffic.held.values()
        if h.certain
        and h.reference in stored
        and (stored[h.reference]["status"], stored[h.reference]["slot_id"]) != (h.status, h.slot_id)
    ]
    assert not missing, f"{len(missing)} acknowledged bookings lost: {missing[:5]}"
    assert not wrong, f"{len(wrong)} bookings not as acknowledged: {wrong[:5]}"


async def capacity_intact(ledger: Ledger) -> None:
    """Each slot's counts are its bookings' and offers' sums, and never more than its capacity."""
    broken = [
        r
        for r in await ledger.rows(SLOT_TRUTH)
        if r["booked"] != r["confirmed"]
        or r["held"] != r["offered"]
        or r["booked"] + r["held"] > r["capacity"]
        or min(r["booked"], r["held"]) < 0
    ]
    assert not broken, f"slots whose counts are wrong: {broken[:5]}"


async def limits_intact(ledger: Ledger) -> None:
    """Each person's count per resource and day is what they hold there — confirmed bookings, and waitlist entries
    waiting or offered — and never more than the venue's limit."""
    rows = await ledger.rows(
        "SELECT t.contact, s.resource_id, s.local_date FROM (SELECT slot_id, contact FROM bookings"
        " WHERE status = 'confirmed' UNION ALL SELECT slot_id, contact FROM waitlist WHERE status"
        " IN ('waiting', 'offered')) t JOIN slots s ON s.id = t.slot_id"
    )
    held = Counter((contact_key(r["contact"]), r["resource_id"], str(r["local_date"])) for r in rows)
    counted = {
        (r["contact_key"], r["resource_id"], str(r["local_date"])): r["active"]
        for r in await ledger.rows(
            "SELECT contact_key, resource_id, local_date, active FROM person_days WHERE active > 0"
        )
    }
    assert counted == dict(held), "per-person counts differ from the bookings and entries"
    assert max(held.values(), default=0) <= LIMIT, f"over the limit: {held.most_common(3)}"


async def no_offer_left_past_its_time(ledger: Ledger, offer_check: float, timeout: float = 10.0) -> None:
    """Offers past their time pass on within a check or two (the offer check runs)."""
    deadline = time.monotonic() + timeout
    while True:
        now = datetime.now(UTC)
        late = [
            r
            for r in await ledger.rows("SELECT reference, offered_until FROM waitlist WHERE status = 'offered'")
            if moment(r["offered_until"]) < now - timedelta(seconds=2 * offer_check + 1)
        ]
        if not late:
            return
        assert time.monotonic() < deadline, f"offers left past their time: {late[:5]}"
        await asyncio.sleep(0.2)


def moment(value) -> datetime:
    """A timestamp as either database hands it back (SQLite: UTC text)."""
    return datetime.fromisoformat(value).replace(tzinfo=UTC) if isinstance(value, str) else value


async def pages_show_the_database(ledger: Ledger, pages: Pages, timeout: float = 5.0) -> None:
    """Every open page shows each slot's places left as the database has them (within `timeout`)."""
    deadline = time.monotonic() + timeout
    while True:
        truth = {
            r["id"]: 0 if r["closed"] else r["capacity"] - r["booked"] - r["held"]
            for r in await ledger.rows(SLOT_TRUTH)
        }
        stale = [(i, s, n, truth[s]) for i, shown in enumerate(pages.shown) for s, n in shown.items() if truth[s] != n]
        if not stale:
            return
        assert time.monotonic() < deadline, f"{len(stale)} page rows differ (page, slot, shown, true): {stale[:5]}"
        await asyncio.sleep(0.2)


async def waitlist_moves(url: str, slot_id: int) -> None:
    """Fill a slot, queue two people, free one place: the first is offered it, and once that offer's time is up,
    the second."""
    await offer_passes_on(url, *await queue_with_an_offer(url, slot_id))


async def queue_with_an_offer(url: str, slot_id: int) -> tuple[dict, dict]:
    """Fill the slot, queue two people, free one place; the two entries, once the first holds the place's offer."""
    async with httpx.AsyncClient(base_url=url, timeout=10) as http:
        for n, party in enumerate((8, 8, 3, 1)):
            answer = await http.post(
                "/api/v1/bookings",
                json={
                    "slot_id": slot_id,
                    "name": "Probe",
                    "party_size": party,
                    "contact": f"probe{slot_id}-{n}@example.com",
                },
            )
            assert answer.status_code == 201, answer.text
        last = answer.json()
        first, second = [
            (
                await http.post(
                    "/api/v1/waitlist",
                    json={"slot_id": slot_id, "name": "Probe", "contact": f"waiting{slot_id}-{n}@example.com"},
                )
            ).json()
            for n in (1, 2)
        ]
        assert "reference" in first and "reference" in second, (first, second)
        cancelled = await http.post(
            f"/api/v1/bookings/{last['reference']}/cancel", json={"cancel_token": last["cancel_token"]}
        )
        assert cancelled.status_code == 200 and await entry_status(http, first) == "offered"
    return first, second


async def offer_passes_on(url: str, first: dict, second: dict, timeout: float = 10.0) -> None:
    """Once the first entry's offer runs out, the second is offered the place (within `timeout`)."""
    async with httpx.AsyncClient(base_url=url, timeout=10) as http:
        deadline = time.monotonic() + timeout
        while await entry_status(http, second) != "offered":
            assert time.monotonic() < deadline, f"the line stands still: {await entry_status(http, first)}"
            await asyncio.sleep(0.1)
        assert await entry_status(http, first) == "expired"


async def entry_status(http, entry: dict) -> str:
    answer = await http.get(f"/api/v1/waitlist/{entry['reference']}", params={"token": entry["cancel_token"]})
    return answer.json()["status"]
