"""The draw itself (抽签): one transaction that ranks, books, waitlists and tells, in a few statements whatever the
number of entries — one read of the slots and one of the entries, the places given in Python (booking.draw.assign),
then each kind of row written by one statement: the winners' counts, places, tickets and bookings, the entries'
outcomes, the waitlist in draw order, the people's counts and text messages (the winners' webhooks and messages
go as any booking's: a few per place). 20,000 entries are a few dozen statements, not 20,000."""

from __future__ import annotations

import json
from datetime import datetime

from .. import topics
from ..draw import BOOKED, NONE, OPEN, WAITLISTED, Ballot, Draw, DrawEntry, assign, draw_order, open_places, window
from ..errors import NotFound
from ..model import Booking, Resource, Slot, new_reference
from ..outbox import CREATED, DRAWN, Notices
from .engine import Tx
from .notify import _notify_not_drawn
from .outbox import _announce, _tell
from .people import Rule
from .rows import build
from .slots import _slots

# A set of rows the statements below read as a table: a JSON object, id -> [values] (json_each reads it on both
# engines, as (key, value)).
ROWS = "json_each(:rows)"
ID_IN = f"SELECT CAST(key AS INTEGER) FROM {ROWS}"  # the ids of ROWS, for `id IN (…)`
OF_DAY = "resource_id = :resource_id AND local_date = :day"


async def _draw_where(tx: Tx, where: str, params: dict) -> Draw | None:
    found = await _draws_where(tx, where, **params)
    return found[0] if found else None


async def _draws_where(tx: Tx, where: str, **params) -> list[Draw]:
    return [build(Draw, r) for r in await tx.fetch(f"SELECT * FROM draws WHERE {where}", **params)]


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


def keyed(rows: dict[int, list]) -> str:
    """`rows` as the JSON object ROWS reads, in id order."""
    return json.dumps({str(k): rows[k] for k in sorted(rows)}, separators=(",", ":"))


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
    slots = {
        s.id: s
        for s in await _slots(tx, OF_DAY, {"resource_id": draw.resource_id, "day": draw.local_date}, "FOR UPDATE")
    }
    room = open_places(list(slots.values()), now)
    places = sum(room.values())
    ballots = {b.number: b for b in await _ballots(tx, draw_id)}
    order = [ballots[n] for n in draw_order(bytes.fromhex(draw.seed), ballots)]
    plan = assign(order, room, await _at_limit(tx, draw, rule.limit))
    booked = await _book_winners(
        tx, draw, [(b, s) for b, outcome, s in plan if outcome == BOOKED], slots, now, rule, notices
    )
    drawn = {}
    for rank, (ballot, outcome, slot_id) in enumerate(plan, start=1):
        if outcome == BOOKED and ballot.id not in booked:  # the limit refused it after all: its places stay free
            outcome, slot_id = NONE, None
        drawn[ballot.id] = [outcome, rank, booked.get(ballot.id), slot_id]
    await tx.execute(
        "UPDATE draw_entries SET status = r.value ->> 0, rank = CAST(r.value ->> 1 AS INTEGER),"
        " booking_id = CAST(r.value ->> 2 AS INTEGER), drawn_slot = CAST(r.value ->> 3 AS INTEGER)"
        f" FROM {ROWS} AS r WHERE draw_entries.id = CAST(r.key AS INTEGER)",
        rows=keyed(drawn),
    )
    await _wait_in_rank_order(tx, draw_id, now)
    await _count_waiting(tx, draw)
    counts = {status: sum(1 for d in drawn.values() if d[0] == status) for status in (BOOKED, WAITLISTED, NONE)}
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
            (r["first_choice"],)
            if r["second_choice"] is None
            else tuple(p for p in (r["first_choice"], r["second_choice"], r["third_choice"]) if p is not None),
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


async def _book_winners(
    tx: Tx,
    draw: Draw,
    won: list[tuple[Ballot, int]],
    slots: dict[int, Slot],
    now: datetime,
    rule: Rule,
    notices: Notices,
) -> dict[int, int]:
    """The winners' bookings (won: in rank order, each with its slot), made as any booking is — the limit, the
    places, a ticket each in rank order, the outbox — held with each entry's secret: entry id -> booking id. One
    the limit refuses after all (a concurrent staff booking) is left out, and its places stay free."""
    if not won:
        return {}
    rows = await tx.fetch(
        f"SELECT * FROM draw_entries WHERE id IN ({ID_IN})",
        rows=keyed({b.id: [] for b, _slot in won}),
    )
    entries = {r["id"]: build(DrawEntry, r) for r in rows}
    counted = await _count_winners(tx, draw, {r["contact_key"]: r["id"] for r in rows}, rule.limit)
    won = [(b, s) for b, s in won if b.id in counted]
    for slot_id in dict.fromkeys(s for _b, s in won):
        # The slots are locked and the places were read under the lock: this cannot refuse, and says so if it does.
        if not await tx.fetch_value(
            "UPDATE slots SET booked = booked + :n WHERE id = :id AND booked + held + :n <= capacity RETURNING id",
            n=sum(b.party_size for b, s in won if s == slot_id),
            id=slot_id,
        ):
            raise RuntimeError(f"slot {slot_id} lost places under the draw's lock")
    if not won:
        return {}
    last = await tx.fetch_value(
        "INSERT INTO ticket_counters (resource_id, local_date, last) VALUES (:resource_id, :day, :n)"
        " ON CONFLICT (resource_id, local_date) DO UPDATE SET last = ticket_counters.last + :n RETURNING last",
        resource_id=draw.resource_id,
        day=draw.local_date,
        n=len(won),
    )
    winners = [(entries[b.id], slots[s], last - len(won) + n) for n, (b, s) in enumerate(won, start=1)]
    bookings = await _insert_bookings(tx, winners, now)
    for entry, slot, _ticket in winners:  # a winner's webhooks and messages, as any booking's (a hundred, not 20,000)
        await _announce(tx, CREATED, bookings[entry.id], slot, now, notices, draw_entry=entry.reference)
    return {i: booking.id for i, booking in bookings.items()}


async def _count_winners(tx: Tx, draw: Draw, people: dict[str, int], limit: int) -> set[int]:
    """One more thing each winner holds that day where the limit allows, in one statement (`people`: contact key ->
    entry id; a person has one standing entry in a draw): the entries counted."""
    rows = await tx.fetch(
        "INSERT INTO person_days (contact_key, resource_id, local_date, active) SELECT key, :r, :day, 1"
        f" FROM {ROWS} WHERE true ON CONFLICT (contact_key, resource_id, local_date) DO UPDATE"
        " SET active = person_days.active + 1 WHERE :limit = 0 OR person_days.active < :limit RETURNING contact_key",
        r=draw.resource_id,
        day=draw.local_date,
        limit=limit,
        rows=json.dumps(dict.fromkeys(people, 0)),
    )
    return {people[r["contact_key"]] for r in rows}


async def _insert_bookings(tx: Tx, winners: list[tuple[DrawEntry, Slot, int]], now: datetime) -> dict[int, Booking]:
    """A confirmed booking for each (entry, slot, ticket), with the entry's name, contact, party, language and
    secret: entry id -> booking. A reference another booking holds is drawn again."""
    made: dict[int, Booking] = {}
    for _ in range(5):
        rows = {
            e.id: dict(
                reference=new_reference(),
                token=e.cancel_token,
                slot_id=slot.id,
                name=e.name,
                contact=e.contact,
                n=e.party_size,
                now=now,
                ticket=ticket,
                locale=e.locale,
            )
            for e, slot, ticket in winners
            if e.id not in made
        }
        if not rows:
            return made
        await tx.execute_many(
            "INSERT INTO bookings (reference, cancel_token, slot_id, name, contact, party_size, status,"
            " request_fingerprint, created_at, ticket, locale) VALUES (:reference, :token, :slot_id, :name, :contact,"
            " :n, 'confirmed', '', :now, :ticket, :locale) ON CONFLICT DO NOTHING",
            list(rows.values()),
        )
        entry_of = {(r["reference"], r["token"]): i for i, r in rows.items()}
        found = await tx.fetch(
            f"SELECT * FROM bookings WHERE reference IN (SELECT key FROM {ROWS})",
            rows=json.dumps(dict.fromkeys((r["reference"] for r in rows.values()), 0)),
        )
        for row in found:
            if (i := entry_of.get((row["reference"], row["cancel_token"]))) is not None:
                made[i] = build(Booking, row)
    raise RuntimeError("could not draw unique booking references")


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
