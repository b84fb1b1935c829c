"""A draw's entries written straight into the database, as the entry window would have made them: a bench needs
20,000 of them in seconds, not the window's hours. Parties of 1 or 2, one to three preferred times each (seeded).

    .venv/bin/python -m bench.draw_entries FILE_OR_URL HH:MM COUNT OUT.json   # run with the app's Python

adds bench-hall's "draw" resource (ten 10-minute slots of 10 places a day, parties up to 2, released by draw one day
before at HH:MM UTC, entries open 24 h before) to a seeded database, then COUNT entries to the draw of the day
released at the next HH:MM, and writes {resource_id, day, entries: [[id, reference, cancel_token], ...]} to OUT.
"""

from __future__ import annotations

import asyncio
import json
import random
import sys
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path

from booking.contacts import contact_key
from booking.draw import open_places
from booking.model import OpeningRule, new_cancel_token, new_reference
from booking.store import open_store

ROOT = Path(__file__).resolve().parent.parent


async def add_entries(store, resource_id: int, day: date, count: int, now: datetime) -> tuple[int, list[tuple]]:
    """The day's draw (opened now if it was not) with `count` entries more: its id, and each entry's
    (id, reference, cancel token)."""
    draw = await store.open_draw(resource_id, day, now)
    slots = list(open_places(await store.slots_for_day(resource_id, day), now))
    shuffle = random.Random(1)
    rows = []
    for n in range(draw.numbered + 1, draw.numbered + count + 1):
        wishes = [*shuffle.sample(slots, shuffle.randint(1, min(3, len(slots)))), None, None]
        contact = f"entrant{n}@example.org"
        rows.append(
            dict(
                draw_id=draw.id,
                number=n,
                reference=new_reference(),
                token=new_cancel_token(),
                name=f"Entrant {n}",
                contact=contact,
                person=contact_key(contact),
                n=1 + n % 2,
                first=wishes[0],
                second=wishes[1],
                third=wishes[2],
                now=now,
            )
        )

    async def write(tx) -> list[tuple]:
        await tx.execute_many(
            "INSERT INTO draw_entries (draw_id, number, reference, cancel_token, name, contact, contact_key,"
            " party_size, first_choice, second_choice, third_choice, created_at) VALUES (:draw_id, :number,"
            " :reference, :token, :name, :contact, :person, :n, :first, :second, :third, :now)",
            rows,
        )
        await tx.execute(
            "UPDATE draws SET numbered = numbered + :count, entered = entered + :count WHERE id = :id",
            count=count,
            id=draw.id,
        )
        found = await tx.fetch(
            "SELECT id, reference, cancel_token FROM draw_entries WHERE draw_id = :id ORDER BY number", id=draw.id
        )
        return [(r["id"], r["reference"], r["cancel_token"]) for r in found]

    entries, _changed = await store.db.write(write)
    return draw.id, entries[-count:] if count else []


async def main(target: str, at: str, count: int, out: str) -> None:
    store = open_store(target if "://" in target else f"sqlite:///{Path(target).resolve()}", ROOT)
    await store.open()
    try:
        now, release = datetime.now(UTC), time.fromisoformat(at)
        hall = (await store.venue("bench-hall")).id
        ten = [OpeningRule(d, time(9), time(10, 40), 10, 10) for d in range(7)]
        resource_id = await store.add_resource(
            hall,
            "draw",
            "Draw",
            ten,
            max_party=2,
            horizon_days=8,
            release_days_before=1,
            release_time=release,
            release_mode="draw",
            draw_entry_hours=24,
            now=now,
        )
        instant = datetime.combine(now.date(), release, UTC)
        day = (instant if instant > now else instant + timedelta(days=1)).date() + timedelta(days=1)
        _draw_id, entries = await add_entries(store, resource_id, day, count, now)
    finally:
        await store.close()
    Path(out).write_text(json.dumps({"resource_id": resource_id, "day": day.isoformat(), "entries": entries}))


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]))
