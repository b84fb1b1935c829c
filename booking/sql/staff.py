"""Staff accounts and their sessions, and erasing personal data (retention, on request)."""

from __future__ import annotations

from datetime import datetime

from ..contacts import contact_key
from .engine import Tx
from .people import _forget_days_ended, _forget_person

# Where a booking or an entry is, and the country its venue reads phone numbers in.
PLACED = "JOIN slots s ON s.id = t.slot_id JOIN resources r ON r.id = s.resource_id JOIN venues v ON v.id = r.venue_id"


async def _set_password(tx: Tx, username: str, password_hash: str) -> None:
    await tx.execute(
        "INSERT INTO staff (username, password_hash) VALUES (:username, :hash) ON CONFLICT (username)"
        " DO UPDATE SET password_hash = excluded.password_hash,"
        " session_version = staff.session_version + 1",
        username=username,
        hash=password_hash,
    )


async def _add_staff(tx: Tx, username: str, password_hash: str) -> bool:
    return bool(
        await tx.execute(
            "INSERT INTO staff (username, password_hash) VALUES (:username, :hash) ON CONFLICT (username) DO NOTHING",
            username=username,
            hash=password_hash,
        )
    )


async def _password_hash(tx: Tx, username: str) -> str | None:
    return await tx.fetch_value("SELECT password_hash FROM staff WHERE username = :username", username=username)


async def _session_version(tx: Tx, username: str) -> int | None:
    return await tx.fetch_value("SELECT session_version FROM staff WHERE username = :username", username=username)


async def _end_sessions(tx: Tx, username: str) -> None:
    await tx.execute(
        "UPDATE staff SET session_version = session_version + 1 WHERE username = :username", username=username
    )


async def _access(tx: Tx, username: str) -> tuple[str, frozenset[int]] | None:
    role = await tx.fetch_value("SELECT role FROM staff WHERE username = :username", username=username)
    if role is None:
        return None
    rows = await tx.fetch(
        "SELECT v.venue_id FROM staff_venues v JOIN staff s ON s.id = v.staff_id WHERE s.username = :username",
        username=username,
    )
    return role, frozenset(r["venue_id"] for r in rows)


async def _set_access(tx: Tx, username: str, role: str, venue_ids: frozenset[int]) -> bool:
    """Give an account its role and venues; its sessions end (they were opened under the old ones)."""
    staff_id = await tx.fetch_value("SELECT id FROM staff WHERE username = :username", username=username)
    if staff_id is None:
        return False
    await tx.execute(
        "UPDATE staff SET role = :role, session_version = session_version + 1 WHERE id = :id", role=role, id=staff_id
    )
    await tx.execute("DELETE FROM staff_venues WHERE staff_id = :id", id=staff_id)
    if venue_ids:
        await tx.execute_many(
            "INSERT INTO staff_venues (staff_id, venue_id) VALUES (:staff_id, :venue_id)",
            [{"staff_id": staff_id, "venue_id": v} for v in sorted(venue_ids)],
        )
    return True


async def _erase_ended(tx: Tx, before: datetime) -> int:
    erased = await _erase(tx, "s.ends_at < :before", {"before": before}, None)
    await _forget_days_ended(tx, before)
    return erased


async def _erase_person(tx: Tx, contact: str) -> int:
    erased = await _erase(tx, "TRUE", {}, contact)
    await _forget_person(tx, contact)
    return erased


async def _erase(tx: Tx, where: str, params: dict, contact: str | None) -> int:
    """Blank the name and contact of matching bookings, waitlist and draw entries (of one person, when given), with
    what else holds them: a booking's request fingerprint, a draw entry's compared contact (unique per entry, so
    standing entries stay one per person), and their outbox rows (pending ones are never sent)."""
    erased = 0
    for table, told_as, also in (
        ("bookings", "booking_id", ", request_fingerprint = NULL"),
        ("waitlist", "waitlist_id", ""),
        ("draw_entries", None, ", contact_key = 'erased-' || id"),
    ):
        placed = PLACED.replace("t.slot_id", "t.first_choice") if table == "draw_entries" else PLACED
        rows = await tx.fetch(
            f"SELECT t.id, t.contact, v.country FROM {table} t {placed} WHERE {where} AND t.contact != ''", **params
        )
        for row in rows:
            if contact is None or contact_key(row["contact"], row["country"]) == contact_key(contact, row["country"]):
                erased += await tx.execute(
                    f"UPDATE {table} SET name = '', contact = ''{also} WHERE id = :id", id=row["id"]
                )
                if told_as:
                    await tx.execute(f"DELETE FROM outbox WHERE {told_as} = :id", id=row["id"])
    return erased
