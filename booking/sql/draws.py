"""The draw (抽签): a resource-day's draw opened with its seed, entries and withdrawals while it is open, and the
draw itself — one transaction that ranks, books, waitlists and tells; and the store's methods for all of it.

Every per-person rule is one statement: a standing entry per person is the partial unique index (the insert does
nothing on a second one), and the draw's row is the lock entries, withdrawals and the draw take in that order.
"""

from __future__ import annotations

import json
from datetime import date, datetime
from functools import cached_property, partial

from .. import topics
from ..batches import Batches
from ..draw import (
    BOOKED,
    DRAW,
    WAITLISTED,
    WITHDRAWN,
    AlreadyEntered,
    Draw,
    DrawClosed,
    DrawEntry,
    NotADraw,
    Outcome,
    new_seed,
    window,
)
from ..errors import Forbidden, NotFound
from ..model import Booking, WaitlistEntry, new_cancel_token, new_reference
from .drawing import ID_IN, OF_DAY, ROWS, _draw_where, _draws_where, _resource, _run_draw, keyed
from .engine import Tx
from .rows import as_moment, build
from .slots import _slots_by_id


async def _open_draws(tx: Tx) -> list[Draw]:
    return [build(Draw, r) for r in await tx.fetch("SELECT * FROM draws WHERE status = 'open' ORDER BY id")]


async def _open_draw(tx: Tx, resource_id: int, day: date, now: datetime) -> Draw:
    """The resource-day's draw, made with a fresh secret seed if it has none yet (its sha256 is public from now)."""
    seed, digest = new_seed()
    if await tx.execute(
        "INSERT INTO draws (resource_id, local_date, seed, seed_sha256, created_at) VALUES"
        " (:resource_id, :day, :seed, :digest, :now) ON CONFLICT (resource_id, local_date) DO NOTHING",
        resource_id=resource_id,
        day=day,
        seed=seed,
        digest=digest,
        now=now,
    ):
        await tx.changed(topics.draw(resource_id, day), topics.entries(resource_id, day))
    return await _draw_where(tx, OF_DAY, {"resource_id": resource_id, "day": day})


async def _enter(
    tx: Tx,
    resource_id: int,
    day: date,
    person: tuple[str, str, int],
    preferences: tuple[int, ...],
    now: datetime,
    locale: str,
) -> tuple[DrawEntry, Draw]:
    (name, contact, party_size), choices = person, (*preferences, None, None)[:3]
    resource, timezone, rule = await _resource(tx, resource_id)
    if resource.release_mode != DRAW:
        raise NotADraw(resource_id)
    opens, closes = window(resource, day, timezone)
    if not opens <= now < closes:
        raise DrawClosed(opens, closes)
    draw = await _open_draw(tx, resource_id, day, now)
    # The draw's row first (the draw takes it first too): a number, while the draw is still open.
    number = await tx.fetch_value(
        "UPDATE draws SET numbered = numbered + 1, entered = entered + 1 WHERE id = :id"
        " AND status = 'open' RETURNING numbered",
        id=draw.id,
    )
    if number is None:
        raise DrawClosed(opens, closes)
    token = new_cancel_token()
    for _ in range(5):
        row = await tx.fetch_one(
            "INSERT INTO draw_entries (draw_id, number, reference, cancel_token, name, contact, contact_key,"
            " party_size, first_choice, second_choice, third_choice, locale, created_at) VALUES (:draw_id, :number, :reference,"
            " :token, :name, :contact, :person, :n, :first, :second, :third, :locale, :now)"
            " ON CONFLICT DO NOTHING RETURNING *",
            draw_id=draw.id,
            number=number,
            reference=new_reference(),
            token=token,
            name=name,
            contact=contact,
            person=rule.key(contact),
            n=party_size,
            first=choices[0],
            second=choices[1],
            third=choices[2],
            locale=locale,
            now=now,
        )
        if row:
            await tx.changed(topics.draw(resource_id, day), topics.entries(resource_id, day))
            return build(DrawEntry, row), await _draw_where(tx, "id = :id", {"id": draw.id})
        # A unique value was taken: this person's standing entry (one per person), or else the reference.
        if await tx.fetch_value(
            "SELECT 1 FROM draw_entries WHERE draw_id = :draw_id AND contact_key = :person AND status != 'withdrawn'",
            draw_id=draw.id,
            person=rule.key(contact),
        ):
            raise AlreadyEntered()
    raise RuntimeError("could not draw a unique reference")


async def _entry_where(tx: Tx, column: str, value) -> tuple[DrawEntry, Draw] | None:
    row = await tx.fetch_one(f"SELECT * FROM draw_entries WHERE {column} = :value", value=value)
    if row is None:
        return None
    return build(DrawEntry, row), await _draw_where(tx, "id = :id", {"id": row["draw_id"]})


async def _withdraw(tx: Tx, reference: str, token: str, now: datetime) -> DrawEntry:
    found = await _entry_where(tx, "reference", reference)
    if found is None:
        raise NotFound(reference)
    entry, draw = found
    if not entry.token_matches(token):
        raise Forbidden(reference)
    if entry.status == WITHDRAWN:
        return entry
    resource, timezone, _rule = await _resource(tx, draw.resource_id)
    opens, closes = window(resource, draw.local_date, timezone)
    # The draw's row, then the entry's: the order the draw takes them in, so the two never deadlock.
    if now >= closes or not await tx.fetch_value(
        "SELECT id FROM draws WHERE id = :id AND status = 'open' FOR UPDATE", id=draw.id
    ):
        raise DrawClosed(opens, closes)
    if await tx.fetch_value(
        "UPDATE draw_entries SET status = 'withdrawn' WHERE id = :id AND status = 'entered' RETURNING id", id=entry.id
    ):
        await tx.execute("UPDATE draws SET entered = entered - 1 WHERE id = :id", id=draw.id)
        r, on = draw.resource_id, draw.local_date
        await tx.changed(topics.entry(r, on, entry.id), topics.draw(r, on), topics.entries(r, on))
    return build(DrawEntry, await tx.fetch_one("SELECT * FROM draw_entries WHERE id = :id", id=entry.id))


async def _held(tx: Tx, references: list[str]) -> list[tuple[DrawEntry, Draw, Outcome] | None]:
    """Entries by reference, like _holdings."""
    rows = await tx.fetch(
        f"SELECT id, reference FROM draw_entries WHERE reference IN (SELECT key FROM {ROWS})",
        rows=json.dumps(dict.fromkeys(references, 0)),
    )
    ids = {r["reference"]: r["id"] for r in rows}
    found = dict(zip(ids.values(), await _holdings(tx, list(ids.values())), strict=True)) if ids else {}
    return [found.get(ids.get(reference)) for reference in references]


async def _holdings(tx: Tx, ids: list[int]) -> list[tuple[DrawEntry, Draw, Outcome] | None]:
    """Entries by id, each with its draw and what it came to — its booking, or its waitlist entry and place — in a
    few statements however many (at the draw every open entry page reads its own at once)."""
    rows = await tx.fetch(f"SELECT * FROM draw_entries WHERE id IN ({ID_IN})", rows=keyed(dict.fromkeys(ids, 0)))
    entries = {r["id"]: build(DrawEntry, r) for r in rows}
    draw_ids = {e.draw_id for e in entries.values()}
    draws = {d.id: d for d in await _draws_where(tx, f"id IN ({ID_IN})", rows=keyed(dict.fromkeys(draw_ids, 0)))}
    waitlisted = {e.id for e in entries.values() if e.status == WAITLISTED}
    waits = (
        {
            r["draw_entry_id"]: build(WaitlistEntry, r)
            for r in await tx.fetch(
                f"SELECT * FROM waitlist WHERE draw_entry_id IN ({ID_IN})", rows=keyed(dict.fromkeys(waitlisted, 0))
            )
        }
        if waitlisted
        else {}
    )
    booking_ids = [e.booking_id for e in entries.values() if e.status == BOOKED and e.booking_id]
    booking_ids += [w.booking_id for w in waits.values() if w.booking_id]
    bookings = (
        {
            r["id"]: build(Booking, r)
            for r in await tx.fetch(
                f"SELECT * FROM bookings WHERE id IN ({ID_IN})", rows=keyed(dict.fromkeys(booking_ids, 0))
            )
        }
        if booking_ids
        else {}
    )
    slots = await _slots_by_id(tx, sorted({b.slot_id for b in bookings.values()} | {w.slot_id for w in waits.values()}))
    places = await _places(tx, [w for w in waits.values() if w.status == "waiting"])
    found = []
    for entry_id in ids:
        entry = entries.get(entry_id)
        if entry is None:
            found.append(None)
            continue
        outcome = Outcome()
        if entry.status == BOOKED and entry.booking_id in bookings:
            booking = bookings[entry.booking_id]
            outcome = Outcome(slot=slots.get(booking.slot_id), booking=booking)
        elif (waiting := waits.get(entry.id)) is not None:
            booked = bookings.get(waiting.booking_id)
            outcome = Outcome(
                slot=slots.get(waiting.slot_id), waiting=waiting, position=places.get(waiting.id), booking=booked
            )
        found.append((entry, draws[entry.draw_id], outcome))
    return found


async def _places(tx: Tx, waiting: list[WaitlistEntry]) -> dict[int, int]:
    """Each waiting entry's place in its slot's line (1: next), in one statement."""
    if not waiting:
        return {}
    rows = await tx.fetch(
        "SELECT id, place FROM (SELECT id, ROW_NUMBER() OVER (PARTITION BY slot_id ORDER BY id) AS place FROM waitlist"
        f" WHERE slot_id IN ({ID_IN}) AND status = 'waiting') AS line WHERE id IN (SELECT CAST(key AS INTEGER) FROM"
        " json_each(:ours))",
        rows=keyed(dict.fromkeys({w.slot_id for w in waiting}, 0)),
        ours=keyed(dict.fromkeys((w.id for w in waiting), 0)),
    )
    return {r["id"]: r["place"] for r in rows}


async def _entries_of(tx: Tx, draw_id: int, limit: int | None, newest_first: bool) -> list[DrawEntry]:
    """A draw's entries: in rank order (unranked ones by number), or the newest first."""
    order = "number DESC" if newest_first else "rank IS NULL, rank, number"
    rows = await tx.fetch(
        f"SELECT * FROM draw_entries WHERE draw_id = :id ORDER BY {order}{f' LIMIT {int(limit)}' if limit else ''}",
        id=draw_id,
    )
    return [build(DrawEntry, r) for r in rows]


async def _results(tx: Tx, draw_id: int) -> list[tuple[int, int, str, datetime | None]]:
    """(number, rank, outcome, the start of the slot it was drawn for) of every entry drawn, in rank order."""
    rows = await tx.fetch(
        "SELECT e.number, e.rank, e.status, s.starts_at FROM draw_entries e LEFT JOIN slots s"
        " ON s.id = e.drawn_slot WHERE e.draw_id = :id AND e.rank IS NOT NULL ORDER BY e.rank",
        id=draw_id,
    )
    return [(r["number"], r["rank"], r["status"], as_moment(r["starts_at"])) for r in rows]


class DrawStore:
    """SqlStore's draw methods (`db`, `_write` and `notices` are SqlStore's): each a body of this module."""

    async def draw(self, resource_id: int, day: date) -> Draw | None:
        """A resource-day's draw, once opened."""
        return await self.db.read(_draw_where, OF_DAY, {"resource_id": resource_id, "day": day})

    async def open_draws(self) -> list[Draw]:
        """Every draw not drawn yet."""
        return await self.db.read(_open_draws)

    async def open_draw(self, resource_id: int, day: date, now: datetime) -> Draw:
        """Open a resource-day's draw (its secret seed made, its sha256 public), unless it is open already."""
        return await self._write(_open_draw, resource_id, day, now)

    async def enter_draw(
        self,
        resource_id: int,
        day: date,
        name: str,
        contact: str,
        party_size: int,
        preferences: tuple[int, ...],
        now: datetime,
        locale: str = "en",
    ) -> tuple[DrawEntry, Draw]:
        """An entry with the draw's next number, and the draw as it now stands. Raises NotFound, NotADraw,
        DrawClosed or AlreadyEntered (one standing entry per person, compared as bookings are)."""
        return await self._write(_enter, resource_id, day, (name, contact, party_size), tuple(preferences), now, locale)

    async def withdraw_entry(self, reference: str, token: str, now: datetime) -> DrawEntry:
        """Withdraw an entry while entries are open. Raises NotFound, Forbidden or DrawClosed."""
        return await self._write(_withdraw, reference, token, now)

    async def run_draw(self, draw_id: int, now: datetime) -> Draw | None:
        """Draw in one transaction if it is due and no process has drawn it: the drawn Draw, else None."""
        return await self._write(_run_draw, draw_id, now, self.notices)

    async def draw_entry(self, reference: str) -> tuple[DrawEntry, Draw, Outcome] | None:
        """An entry by reference, its draw, and what it came to. Reads that come together are made together: a
        crowd of entrants opening their pages are a few reads, not one each."""
        return await self._entry_reads_by_reference.add(reference)

    async def draw_entry_by_id(self, entry_id: int) -> tuple[DrawEntry, Draw, Outcome] | None:
        """An entry by id, like draw_entry: at the draw every open entry page renders its result at once, and 5,000
        of them are a few reads, not 5,000."""
        return await self._entry_reads.add(entry_id)

    @cached_property
    def _entry_reads_by_reference(self) -> Batches:
        return Batches(partial(self.db.read, _held))

    @cached_property
    def _entry_reads(self) -> Batches:
        return Batches(partial(self.db.read, _holdings))

    async def draw_entries(self, draw_id: int, limit: int | None = None, newest_first: bool = False) -> list[DrawEntry]:
        """A draw's entries (with names: staff only), in rank order or the newest first."""
        return await self.db.read(_entries_of, draw_id, limit, newest_first)

    async def draw_results(self, draw_id: int) -> list[tuple[int, int, str, datetime | None]]:
        """(number, rank, outcome, slot start) of each entry drawn, in rank order: public, no names."""
        return await self.db.read(_results, draw_id)
