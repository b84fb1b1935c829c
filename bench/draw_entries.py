"""A draw's entries written straight into the database, as the entry window would have made them: a bench needs
20,000 of them in seconds, not the window's hours. Parties of 1 or 2, one to three preferred times each (seeded)."""

from __future__ import annotations

import random
from datetime import date, datetime

from booking.contacts import contact_key
from booking.draw import open_places
from booking.model import new_cancel_token, new_reference


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
