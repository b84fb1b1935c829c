"""The request path against its floor: Slotcast and the smallest Quart POST app (bench/baselines/quart_post.py) take
the same booking POSTs, side by side: server CPU per booking made and per refusal, then a burst of bookers at once
on one slot (the p99 ratio)."""

from __future__ import annotations

import asyncio
import json
import time
from statistics import median

from bench.client import booking_body, http
from bench.scenarios.burst import UTC_DAYS
from bench.servers import Server, slotcast
from bench.workspace import APP_PYTHON, pct

PLACES = 100  # a hall slot's, and the floor's


def quart_post() -> Server:
    """The smallest Quart app taking the booking POST: the same Quart and Hypercorn, an in-memory counter."""
    return Server("quart-post", [APP_PYTHON, "bench/baselines/quart_post.py", "{port}"])


async def hall_slots(server: Server) -> list[int]:
    """The bench hall's slots of the next days (the floor takes any number: 1, 2, 3, ...)."""
    if server.name == "quart-post":
        return list(range(1, 2000))
    found = []
    for day in UTC_DAYS:
        _, body = await http(server.port, "GET", f"/api/v1/venues/bench-hall/resources/hall/slots?date={day}")
        found += [s["id"] for s in json.loads(body)["slots"]]
    return found


async def statuses(server: Server, slot_id: int, count: int, at_once: int = 1) -> list[tuple[int, float]]:
    """`count` booking POSTs for one slot, `at_once` in flight: each one's status and answer time."""
    gate = asyncio.Semaphore(at_once)

    async def one() -> tuple[int, float]:
        async with gate:
            began = time.monotonic()
            try:
                status, _ = await http(server.port, "POST", "/api/v1/bookings", booking_body(slot_id))
            except (OSError, IndexError):  # no answer: the connection was refused or closed
                status = 0
            return status, time.monotonic() - began

    return await asyncio.gather(*(one() for _ in range(count)))


async def per_request(server: Server, slots: list[int], count: int) -> dict:
    """Server CPU per booking made (one at a time, over fresh slots) and per refusal (at a full slot), in ms."""
    full, fresh = slots[0], slots[1:]
    await statuses(server, full, PLACES, 10)
    began = server.cpu()
    made = [s for i in range(count) for s, _ in await statuses(server, fresh[i % len(fresh)], 1)]
    made_cpu = server.cpu() - began
    began = server.cpu()
    refused = [s for s, _ in await statuses(server, full, count)]
    refused_cpu = server.cpu() - began
    assert set(made) == {201} and set(refused) == {409}, (set(made), set(refused))
    return dict(made_ms=made_cpu / count * 1e3, refusal_ms=refused_cpu / count * 1e3)


async def crowd(server: Server, slot_id: int, bookers: int) -> dict:
    """`bookers` POSTs for one slot at once: how many got a place, and the answer times."""
    answers = await statuses(server, slot_id, bookers, bookers)
    times = [t for _, t in answers]
    confirmed = sum(s == 201 for s, _ in answers)
    assert confirmed <= PLACES, confirmed
    unanswered = sum(s not in (201, 409) for s, _ in answers)
    return dict(p50_ms=pct(times, 50) * 1e3, p99_ms=pct(times, 99) * 1e3, confirmed=confirmed, unanswered=unanswered)


async def cost(seed: str, count: int, bookers: int, rounds: int = 3) -> dict:
    """Slotcast (one process, SQLite) and the floor, both up in one run: CPU per request, one server at a time;
    then `rounds` crowds of `bookers` at one slot each, the two servers taking turns (a shared machine's load
    drifts: turns spread it over both), and the median of each server's crowds."""
    servers = (slotcast(seed), quart_post())
    result: dict = dict(count=count, bookers=bookers, rounds=rounds)
    try:
        slots = {}
        for server in servers:
            await server.astart()
            slots[server.name] = await hall_slots(server)
            result[server.name] = await per_request(server, slots[server.name], count)
        crowds = {server.name: [] for server in servers}
        for turn in range(rounds):
            for server in servers:
                crowds[server.name].append(await crowd(server, slots[server.name][-1 - turn], bookers))
        for name, runs in crowds.items():
            result[name].update(
                p50_ms=median(r["p50_ms"] for r in runs),
                p99_ms=median(r["p99_ms"] for r in runs),
                p99s_ms=[round(r["p99_ms"]) for r in runs],
                confirmed=min(r["confirmed"] for r in runs),
                unanswered=sum(r["unanswered"] for r in runs),
            )
    finally:
        for server in servers:
            await server.astop()
    ours, floor = result["slotcast"], result["quart-post"]
    result["ratios"] = {k: ours[k] / floor[k] for k in ("made_ms", "refusal_ms", "p99_ms") if floor[k]}
    return result
