"""Webhook delivery under booking load: bookings made at a steady rate, each POSTed to one endpoint (the tests'
receiver); how many deliveries a second, and how long after its booking each arrived. With the app's venv:

    .venv/bin/python -m bench.webhook_lag [--engine sqlite|postgres] [--rate 150] [--seconds 10]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import tempfile
import time
from datetime import UTC, datetime, timedelta
from datetime import time as dt_time

from app import create_app
from booking.model import OpeningRule, local_today
from tests.support.receiver import Receiver


async def run(url: str, rate: float, seconds: float) -> dict:
    """Book at `rate` a second for `seconds`; the delivery rate and lags once every booking's webhook arrived."""
    config = {"DATABASE_URL": url, "SECRET_KEY": "bench", "TESTING": True, "WEBHOOKS_ALLOW_PRIVATE": True}
    app, receiver = create_app(config), Receiver()
    receiver.server.RequestHandlerClass.protocol_version = "HTTP/1.1"
    async with app.test_app():
        slotcast = app.extensions["slotcast"]
        store, service = slotcast.store, slotcast.service
        venue_id = await store.add_venue("bench", "Bench", "restaurant", "UTC")
        rules = [OpeningRule(d, dt_time(8), dt_time(20), 60, 100_000) for d in range(7)]
        await store.add_resource(venue_id, "hall", "Hall", rules, max_party=4, horizon_days=7)
        await store.extend_slots(datetime.now(UTC))
        await service.add_webhook(venue_id, receiver.url, "whsec_bench-secret-0123456789")
        resource = (await store.venue("bench")).resources[0]
        slot = (await store.slots_for_day(resource.id, local_today("UTC") + timedelta(days=1)))[0]
        booked, arrived = {}, {}

        async def one(n: int) -> None:
            made, _ = await service.book(resource, slot.id, f"Guest {n}", f"+4420794{n:05d}", 1)
            booked[made.reference] = time.monotonic()

        started, tasks = time.monotonic(), []
        total = int(rate * seconds)
        for n in range(total):
            tasks.append(asyncio.ensure_future(one(n)))
            await asyncio.sleep(max(0.0, started + (n + 1) / rate - time.monotonic()))
            note(receiver, arrived)
        await asyncio.gather(*tasks)
        while len(arrived) < total and time.monotonic() - started < seconds + 120:
            await asyncio.sleep(0.01)
            note(receiver, arrived)
        ended = time.monotonic()
    receiver.close()
    lags = sorted(arrived[ref] - booked[ref] for ref in arrived)
    return {
        "bookings": total,
        "delivered": len(arrived),
        "per_second": round(len(arrived) / (max(arrived.values()) - started), 1),
        "lag_median": round(statistics.median(lags), 3),
        "lag_p95": round(lags[int(len(lags) * 0.95) - 1], 3),
        "lag_max": round(lags[-1], 3),
        "took": round(ended - started, 1),
    }


def note(receiver: Receiver, arrived: dict) -> None:
    """When each request that came since the last look arrived (to 10 ms or so)."""
    now = time.monotonic()
    for _headers, body in receiver.received[len(arrived) :]:
        arrived.setdefault(json.loads(body)["data"]["reference"], now)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--engine", choices=("sqlite", "postgres"), default="sqlite")
    parser.add_argument("--rate", type=float, default=150.0)
    parser.add_argument("--seconds", type=float, default=10.0)
    args = parser.parse_args()
    if args.engine == "sqlite":
        with tempfile.TemporaryDirectory() as folder:
            print(asyncio.run(run(f"sqlite:///{folder}/bench.db", args.rate, args.seconds)))
        return
    from tests.support.postgres_server import PostgresServer

    server = PostgresServer(durable=True).start()
    try:
        print(asyncio.run(run(server.create_database("bench"), args.rate, args.seconds)))
    finally:
        server.stop()


if __name__ == "__main__":
    main()
