"""Baseline: the smallest plausible Quart app taking Slotcast's booking POST, served by Hypercorn as app.py is (one
process, asyncio loop, h11): the same JSON body, one in-memory counter per slot, no database.

    .venv/bin/python bench/baselines/quart_post.py PORT   POST /api/v1/bookings {"slot_id", "name", "contact"}:
201 while the slot (100 places) has room, then 409. Runs on the app's venv: the same Quart and Hypercorn.
"""

import asyncio
import sys

from hypercorn.asyncio import serve
from hypercorn.config import Config
from quart import Quart, request

PLACES = 100
booked: dict[int, int] = {}
app = Quart(__name__)


@app.post("/api/v1/bookings")
async def book():
    """One place of the slot, or 409 once it is full."""
    body = await request.get_json()
    slot = int(body["slot_id"])
    if booked.get(slot, 0) >= PLACES:
        return {"error": "This time is full.", "code": "slot_unavailable"}, 409
    booked[slot] = booked.get(slot, 0) + 1
    return {"reference": f"R{slot}-{booked[slot]}", "slot_id": slot, "name": body["name"]}, 201


if __name__ == "__main__":
    config = Config()
    config.bind, config.backlog, config.accesslog, config.graceful_timeout = [f"127.0.0.1:{sys.argv[1]}"], 4096, None, 5
    asyncio.run(serve(app, config))
