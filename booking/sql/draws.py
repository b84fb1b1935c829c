"""The draw (抽签): a resource-day's draw opened with its seed, entries and withdrawals while it is open, and the
draw itself — one transaction that ranks, books, waitlists and tells; and the store's methods for all of it.

Every per-person rule is one statement: a standing entry per person is the partial unique index (the insert does
nothing on a second one), and the draw's row is the lock entries, withdrawals and the draw take in that order.
"""

from __future__ import annotations

from datetime import date, datetime

from .. import topics
from ..draw import (
    BOOKED,
    DRAW,
    NONE,
    OPEN,
    WAITLISTED,
    WITHDRAWN,
    AlreadyEntered,
    Ballot,
    Draw,
    DrawClosed,
    DrawEntry,
    NotADraw,
    Outcome,
    assign,
    draw_order,
    new_seed,
    open_places,
    window,
)
from ..model import (
    Forbidden,
    LimitReached,
    NotFound,
    Resource,
    Slot,
    new_cancel_token,
    new_reference,
)
from ..outbox import CREATED, DRAWN, Notices
from .bookings import _booking_where, _insert_booking
from .engine import Tx
from .notify import _notify_not_drawn
from .outbox import _announce, _tell
from .people import Rule, _count
from .rows import as_moment, build
from .slots import _slots
from .waitlist import _entry

OF_DAY = "resource_id = :resource_id AND local_date = :day"


async def _draw_where(tx: Tx, where: str, params: dict) -> Draw | None:
    row = await tx.fetch_one(f"SELECT * FROM draws WHERE {where}", **params)
    return build(Draw, row) if row else None


async def _open_draws(tx: Tx) -> list[Draw]:
    return [build(Draw, r) for r in await tx.fetch("SELECT * FROM draws WHERE status = 'open' ORDER BY id")]


async def _resource(tx: Tx, resource_id: int) -> tuple[Resource, str, Rule]:
    """A resource as stored, its venue's time zone and per-person rule."""
    row = await tx.fetch_one(
        "SELECT r.*, v.timezone, v.per_person_limit, v.country FROM resources r"
        " JOIN venues v ON v.id = r.venue_id WHERE r.id = :id",
        id=resource_id,
    )
    if row is None:
        raise NotFound(resource_id)
    return build(Resource, row), row["timezone"], Rule(row["per_person_limit"], row["country"])


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


async def _run_draw(tx: Tx, draw_id: int, now: datetime, notices: Notices) -> Draw | None:
    """Draw now, if it is due and nobody has: the drawn Draw, else None (not due, or drawn already)."""
    draw = await _draw_where(tx, "id = :id", {"id": draw_id})
    if draw is None or draw.status != OPEN:
        return None
    resource, timezone, rule = await _resource(tx, draw.resource_id)
    if now < window(resource, draw.local_date, timezone)[1]:
        return None
    # Exactly once: a second process waits here for the first to commit, then finds it drawn.
    if not await tx.fetch_value(
        "UPDATE draws SET status = 'drawn', drawn_at = :now WHERE id = :id AND status = 'open' RETURNING id",
        now=now,
        id=draw_id,
    ):
        return None
    day = {"resource_id": draw.resource_id, "day": draw.local_date}
    slots = {s.id: s for s in await _slots(tx, OF_DAY, day, "FOR UPDATE")}
    room = open_places(list(slots.values()), now)
    places = sum(room.values())
    ballots = {b.number: b for b in await _ballots(tx, draw_id)}
    plan = assign(
        [ballots[n] for n in draw_order(bytes.fromhex(draw.seed), ballots)], room, await _at_limit(tx, draw, rule.limit)
    )
    drawn = []
    for rank, (ballot, outcome, slot_id) in enumerate(plan, start=1):
        booking_id = None
        if outcome == BOOKED:
            booking_id = await _book_winner(tx, ballot.id, slots[slot_id], now, rule, notices)
        if outcome == BOOKED and not booking_id:
            outcome, slot_id = NONE, None
        drawn.append({"id": ballot.id, "status": outcome, "rank": rank, "booking_id": booking_id, "slot": slot_id})
    await tx.execute_many(
        "UPDATE draw_entries SET status = :status, rank = :rank, booking_id = :booking_id,"
        " drawn_slot = :slot WHERE id = :id",
        drawn,
    )
    await _wait_in_rank_order(tx, draw_id, now)
    await _count_waiting(tx, draw)
    counts = {status: sum(1 for d in drawn if d["status"] == status) for status in (BOOKED, WAITLISTED, NONE)}
    await tx.execute(
        "UPDATE draws SET places = :places, booked = :booked, waitlisted = :waitlisted WHERE id = :id",
        places=places,
        booked=counts[BOOKED],
        waitlisted=counts[WAITLISTED],
        id=draw_id,
    )
    await _tell_drawn(tx, draw, list(slots.values()), counts, places, now)
    await _notify_not_drawn(tx, draw_id, resource.venue_id, now, notices)
    r, on = draw.resource_id, draw.local_date
    await tx.changed(
        *(t for s in slots.values() for t in topics.of_slot(s)),
        topics.entries(r, on),
        topics.draw(r, on),
        topics.entry.family(r, on),
    )
    return await _draw_where(tx, "id = :id", {"id": draw_id})


async def _ballots(tx: Tx, draw_id: int) -> list[Ballot]:
    """The standing entries of a draw, as much of each as ranking and assigning needs (20,000 rows: no more)."""
    rows = await tx.fetch(
        "SELECT id, number, party_size, first_choice, second_choice, third_choice FROM draw_entries"
        " WHERE draw_id = :id AND status = 'entered'",
        id=draw_id,
    )
    return [
        Ballot(
            r["id"],
            r["number"],
            r["party_size"],
            tuple(p for p in (r["first_choice"], r["second_choice"], r["third_choice"]) if p is not None),
        )
        for r in rows
    ]


async def _at_limit(tx: Tx, draw: Draw, limit: int) -> frozenset[int]:
    """The entries whose person already holds as much of the day as the venue allows (0: no limit)."""
    if not limit:
        return frozenset()
    return frozenset(
        r["id"]
        for r in await tx.fetch(
            "SELECT e.id FROM draw_entries e JOIN person_days p ON p.contact_key = e.contact_key AND p.resource_id = :r"
            " AND p.local_date = :day WHERE e.draw_id = :id AND e.status = 'entered' AND p.active >= :limit",
            r=draw.resource_id,
            day=draw.local_date,
            id=draw.id,
            limit=limit,
        )
    )


async def _book_winner(tx: Tx, entry_id: int, slot: Slot, now: datetime, rule: Rule, notices: Notices) -> int | None:
    """A winner's booking, made as any booking is (limit, capacity, ticket, outbox), held with the entry's secret;
    None if the limit or the capacity refuse it after all (a concurrent staff booking): its places stay free."""
    entry = build(DrawEntry, await tx.fetch_one("SELECT * FROM draw_entries WHERE id = :id", id=entry_id))
    try:
        await _count(tx, rule.key(entry.contact), slot, rule.limit)
    except LimitReached:
        return None
    after = await tx.fetch_one(
        "UPDATE slots SET booked = booked + :n WHERE id = :id AND booked + held + :n <= capacity RETURNING *",
        n=entry.party_size,
        id=slot.id,
    )
    if after is None:
        return None
    booking, slot = await _insert_booking(
        tx, build(Slot, after), entry.name, entry.contact, entry.party_size, now, entry.locale
    )
    await tx.execute(
        "UPDATE bookings SET cancel_token = :token WHERE id = :id", token=entry.cancel_token, id=booking.id
    )
    booking, slot = await _booking_where(tx, "id", booking.id)
    await _announce(tx, CREATED, booking, slot, now, notices, draw_entry=entry.reference)
    return booking.id


async def _count_waiting(tx: Tx, draw: Draw) -> None:
    """What those waiting hold, counted as any waitlist entry is (person_days), in one statement: one each, as a
    person has one standing entry in a draw (its contact_key, as the venue compares people) and the draw refused
    those at their limit already."""
    await tx.execute(
        "INSERT INTO person_days (contact_key, resource_id, local_date, active) SELECT contact_key, :r, :day, 1"
        " FROM draw_entries WHERE draw_id = :id AND status = 'waitlisted'"
        " ON CONFLICT (contact_key, resource_id, local_date) DO UPDATE SET active = person_days.active + 1",
        r=draw.resource_id,
        day=draw.local_date,
        id=draw.id,
    )


async def _wait_in_rank_order(tx: Tx, draw_id: int, now: datetime) -> None:
    """The waitlist entries of those not drawn, made in rank order by one statement (a waitlist is served in id
    order), each with its entry's reference and secret — or a fresh reference, for one a waitlist entry has."""
    taken = [
        r["id"]
        for r in await tx.fetch(
            "SELECT e.id FROM draw_entries e JOIN waitlist w ON w.reference = e.reference WHERE e.draw_id = :draw_id"
            " AND e.status = 'waitlisted'",
            draw_id=draw_id,
        )
    ]
    fresh = {f"id{n}": entry_id for n, entry_id in enumerate(taken)} | {
        f"ref{n}": new_reference() for n in range(len(taken))
    }
    reference = (
        f"CASE e.id {' '.join(f'WHEN :id{n} THEN :ref{n}' for n in range(len(taken)))} ELSE e.reference END"
        if taken
        else "e.reference"
    )
    await tx.execute(
        "INSERT INTO waitlist (reference, cancel_token, slot_id, name, contact, party_size, status, created_at,"
        f" draw_entry_id, locale) SELECT {reference}, e.cancel_token, e.drawn_slot, e.name, e.contact, e.party_size,"
        " 'waiting', :now, e.id, e.locale FROM draw_entries e WHERE e.draw_id = :draw_id AND e.status = 'waitlisted'"
        " ORDER BY e.rank",
        draw_id=draw_id,
        now=now,
        **fresh,
    )


async def _tell_drawn(
    tx: Tx, draw: Draw, slots: list[Slot], counts: dict[str, int], places: int, now: datetime
) -> None:
    """The draw.completed webhook: the day's counts, the seed and its sha256 (no names)."""
    if slots:
        await _tell(
            tx,
            DRAWN,
            slots[0],
            now,
            {
                "date": draw.local_date.isoformat(),
                "places": places,
                "entries": sum(counts.values()),
                **counts,
                "seed_sha256": draw.seed_sha256,
                "seed": draw.seed,
            },
        )


async def _holding(tx: Tx, column: str, value) -> tuple[DrawEntry, Draw, Outcome] | None:
    """An entry with its draw and what it came to (its booking, or its waitlist entry and place), for its holder."""
    found = await _entry_where(tx, column, value)
    if found is None:
        return None
    entry, draw = found
    outcome = Outcome()
    if entry.status == BOOKED and entry.booking_id:
        booking, slot = await _booking_where(tx, "id", entry.booking_id)
        outcome = Outcome(slot=slot, booking=booking)
    elif entry.status == WAITLISTED and (waiting := await _entry(tx, "draw_entry_id", entry.id)):
        booked = waiting[0].booking_id and await _booking_where(tx, "id", waiting[0].booking_id)
        outcome = Outcome(slot=waiting[1], waiting=waiting[0], position=waiting[2], booking=booked and booked[0])
    return entry, draw, outcome


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
        """An entry by reference, its draw, and what it came to."""
        return await self.db.read(_holding, "reference", reference)

    async def draw_entry_by_id(self, entry_id: int) -> tuple[DrawEntry, Draw, Outcome] | None:
        """An entry by id, like draw_entry."""
        return await self.db.read(_holding, "id", entry_id)

    async def draw_entries(self, draw_id: int, limit: int | None = None, newest_first: bool = False) -> list[DrawEntry]:
        """A draw's entries (with names: staff only), in rank order or the newest first."""
        return await self.db.read(_entries_of, draw_id, limit, newest_first)

    async def draw_results(self, draw_id: int) -> list[tuple[int, int, str, datetime | None]]:
        """(number, rank, outcome, slot start) of each entry drawn, in rank order: public, no names."""
        return await self.db.read(_results, draw_id)
