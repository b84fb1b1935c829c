"""The per-person rule: what one person holds on a resource's day — active bookings, and waitlist entries waiting
or offered — counted in person_days under their contact_key, never past the venue's limit.

Every transaction that adds one counts it with one conditional upsert, like the capacity's conditional update:
exact under any concurrency, on every engine. An entry that becomes a booking stays counted once.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import datetime

from ..contacts import contact_key
from ..errors import LimitReached
from ..model import Slot
from .engine import Tx

OF_VENUES = "SELECT r.id FROM resources r JOIN venues v ON v.id = r.venue_id WHERE {}"


@dataclass(frozen=True)
class Rule:
    """A venue's per-person rule: its limit (0: none), and the country its phone numbers are read in; with it, as
    _open_slot reads them together, whether the venue has a webhook sending (True: not read, so ask)."""

    limit: int
    country: str
    hooked: bool = True

    def key(self, contact: str) -> str:
        """The person a contact names, as this venue compares them."""
        return contact_key(contact, self.country)


async def _rule(tx: Tx, resource_id: int) -> Rule:
    row = await tx.fetch_one(
        "SELECT v.per_person_limit, v.country FROM resources r JOIN venues v ON v.id = r.venue_id WHERE r.id = :id",
        id=resource_id,
    )
    return Rule(row["per_person_limit"], row["country"])


async def _count(tx: Tx, person: str, slot: Slot, limit: int) -> None:
    """One more thing this person holds on the slot's resource and day, or LimitReached (0: no limit)."""
    if (
        await tx.fetch_value(
            "INSERT INTO person_days (contact_key, resource_id, local_date, active) VALUES (:person, :resource_id, :day, 1)"
            " ON CONFLICT (contact_key, resource_id, local_date) DO UPDATE SET active = person_days.active + 1"
            " WHERE :limit = 0 OR person_days.active < :limit RETURNING active",
            person=person,
            resource_id=slot.resource_id,
            day=slot.local_date,
            limit=limit,
        )
        is None
    ):
        raise LimitReached(limit)


async def _uncount(tx: Tx, person: str, slot: Slot) -> None:
    """One thing fewer this person holds on the slot's resource and day."""
    await tx.execute(
        "UPDATE person_days SET active = active - 1 WHERE contact_key = :person"
        " AND resource_id = :resource_id AND local_date = :day AND active > 0",
        person=person,
        resource_id=slot.resource_id,
        day=slot.local_date,
    )


async def _over(tx: Tx, person: str, slot: Slot, limit: int) -> bool:
    """Whether this person holds more than `limit` on the slot's resource and day (staff booked over it, or the
    limit fell): one statement, which locks their count when it is over."""
    if not (limit and person):
        return False
    return (
        await tx.fetch_value(
            "UPDATE person_days SET active = active WHERE contact_key = :person AND resource_id = :resource_id"
            " AND local_date = :day AND active > :limit RETURNING active",
            person=person,
            resource_id=slot.resource_id,
            day=slot.local_date,
            limit=limit,
        )
        is not None
    )


async def _recount(tx: Tx, where: str, params: dict) -> None:
    """person_days anew for the venues `where` picks (`v`): keys as contact_key makes them now, counts from the
    bookings and entries that hold something (a venue's country changed, or how people are compared)."""
    held = await tx.fetch(
        "SELECT t.contact, s.resource_id, s.local_date, v.country FROM (SELECT slot_id, contact FROM bookings"
        " WHERE status = 'confirmed' UNION ALL SELECT slot_id, contact FROM waitlist WHERE status IN ('waiting',"
        " 'offered')) t JOIN slots s ON s.id = t.slot_id JOIN resources r ON r.id = s.resource_id"
        f" JOIN venues v ON v.id = r.venue_id WHERE t.contact != '' AND {where}",
        **params,
    )
    counts = Counter((contact_key(h["contact"], h["country"]), h["resource_id"], h["local_date"]) for h in held)
    await tx.execute(f"DELETE FROM person_days WHERE resource_id IN ({OF_VENUES.format(where)})", **params)
    if counts:
        await tx.execute_many(
            "INSERT INTO person_days (contact_key, resource_id, local_date, active) VALUES (:person, :resource_id,"
            " :day, :n) ON CONFLICT (contact_key, resource_id, local_date) DO UPDATE SET active = excluded.active",
            [dict(person=p, resource_id=r, day=d, n=n) for (p, r, d), n in counts.items()],
        )


async def _forget_person(tx: Tx, contact: str) -> None:
    """Every count of the person a contact names, at every venue (an erasure)."""
    for country in {r["country"] for r in await tx.fetch("SELECT DISTINCT country FROM venues")}:
        await tx.execute(
            f"DELETE FROM person_days WHERE contact_key = :person AND resource_id IN"
            f" ({OF_VENUES.format('v.country = :country')})",
            person=contact_key(contact, country),
            country=country,
        )


async def _forget_days_ended(tx: Tx, before: datetime) -> None:
    """The counts of resource-days whose every slot ended before `before` (their people's data is erased)."""
    await tx.execute(
        "DELETE FROM person_days WHERE NOT EXISTS (SELECT 1 FROM slots s WHERE s.resource_id ="
        " person_days.resource_id AND s.local_date = person_days.local_date AND s.ends_at >= :before)",
        before=before,
    )
