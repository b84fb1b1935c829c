"""Staff accounts and their sessions, one-time password links, and erasing personal data (retention, on
request); and SqlStore's methods for the accounts."""

from __future__ import annotations

from datetime import datetime

from ..access import OWNER, LastOwner, StaffAccount
from ..contacts import contact_key
from .engine import Tx
from .notify import DRAW_RESULT
from .people import _forget_days_ended, _forget_person
from .rows import build

# Where a booking or an entry is, and the country its venue reads phone numbers in.
PLACED = "JOIN slots s ON s.id = t.slot_id JOIN resources r ON r.id = s.resource_id JOIN venues v ON v.id = r.venue_id"
NO_PASSWORD = "!"  # an account made on the staff pages has none until its link is used: no password matches this
ACCOUNT = "SELECT id, username, role, enabled, last_login_at, failed_logins FROM staff"


async def _set_password(tx: Tx, username: str, password_hash: str) -> None:
    """Create an account or set its password (enabled again: the command line is the way back in)."""
    await tx.execute(
        "INSERT INTO staff (username, password_hash) VALUES (:username, :hash) ON CONFLICT (username)"
        " DO UPDATE SET password_hash = excluded.password_hash, enabled = TRUE,"
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
    """An enabled account's password hash (a disabled one has none to match)."""
    return await tx.fetch_value(
        "SELECT password_hash FROM staff WHERE username = :username AND enabled", username=username
    )


async def _session_version(tx: Tx, username: str) -> int | None:
    return await tx.fetch_value("SELECT session_version FROM staff WHERE username = :username", username=username)


async def _end_sessions(tx: Tx, username: str) -> None:
    await tx.execute(
        "UPDATE staff SET session_version = session_version + 1 WHERE username = :username", username=username
    )


async def _logged_in(tx: Tx, username: str, now: datetime) -> None:
    await tx.execute(
        "UPDATE staff SET last_login_at = :now, failed_logins = 0 WHERE username = :username",
        username=username,
        now=now,
    )


async def _login_failed(tx: Tx, username: str) -> None:
    await tx.execute("UPDATE staff SET failed_logins = failed_logins + 1 WHERE username = :username", username=username)


async def _access(tx: Tx, username: str) -> tuple[str, frozenset[int]] | None:
    """An enabled account's role and venues (a disabled one has none)."""
    role = await tx.fetch_value("SELECT role FROM staff WHERE username = :username AND enabled", username=username)
    if role is None:
        return None
    rows = await tx.fetch(
        "SELECT v.venue_id FROM staff_venues v JOIN staff s ON s.id = v.staff_id WHERE s.username = :username",
        username=username,
    )
    return role, frozenset(r["venue_id"] for r in rows)


async def _accounts(tx: Tx, where: str = "TRUE", **params) -> list[StaffAccount]:
    rows = await tx.fetch(f"{ACCOUNT} WHERE {where} ORDER BY username", **params)
    venues: dict[int, set[int]] = {}
    for link in await tx.fetch("SELECT staff_id, venue_id FROM staff_venues"):
        venues.setdefault(link["staff_id"], set()).add(link["venue_id"])
    return [build(StaffAccount, r, venues=frozenset(venues.get(r["id"], ()))) for r in rows]


async def _account(tx: Tx, staff_id: int) -> StaffAccount | None:
    return next(iter(await _accounts(tx, "id = :id", id=staff_id)), None)


async def _keep_an_owner(tx: Tx, staff_id: int) -> None:
    """Raise LastOwner when this account is the last enabled owner. The owners' rows are locked first, so two
    changes at once (each to another owner) cannot both pass."""
    owners = await tx.fetch("SELECT id FROM staff WHERE role = 'owner' AND enabled ORDER BY id FOR UPDATE")
    if [r["id"] for r in owners] == [staff_id]:
        raise LastOwner()


async def _create_account(tx: Tx, username: str, role: str, venue_ids: frozenset[int]) -> int | None:
    """A new enabled account with no password yet (None: the name is taken)."""
    staff_id = await tx.fetch_value(
        "INSERT INTO staff (username, password_hash, role) VALUES (:username, :hash, :role)"
        " ON CONFLICT (username) DO NOTHING RETURNING id",
        username=username,
        hash=NO_PASSWORD,
        role=role,
    )
    if staff_id is not None:
        await _set_venues(tx, staff_id, venue_ids)
    return staff_id


async def _set_access(tx: Tx, username: str, role: str, venue_ids: frozenset[int]) -> bool:
    """Give an account its role and venues; its sessions end (they were opened under the old ones). Raises
    LastOwner when it is the last enabled owner and would be one no longer."""
    staff_id = await tx.fetch_value("SELECT id FROM staff WHERE username = :username", username=username)
    if staff_id is None:
        return False
    if role != OWNER:
        await _keep_an_owner(tx, staff_id)
    await tx.execute(
        "UPDATE staff SET role = :role, session_version = session_version + 1 WHERE id = :id", role=role, id=staff_id
    )
    await _set_venues(tx, staff_id, venue_ids)
    return True


async def _set_venues(tx: Tx, staff_id: int, venue_ids: frozenset[int]) -> None:
    await tx.execute("DELETE FROM staff_venues WHERE staff_id = :id", id=staff_id)
    if venue_ids:
        await tx.execute_many(
            "INSERT INTO staff_venues (staff_id, venue_id) VALUES (:staff_id, :venue_id)",
            [{"staff_id": staff_id, "venue_id": v} for v in sorted(venue_ids)],
        )


async def _set_enabled(tx: Tx, staff_id: int, enabled: bool) -> bool:
    """Enable or disable an account; disabling ends its sessions and voids its password link (LastOwner when it
    is the last enabled owner)."""
    if not enabled:
        await _keep_an_owner(tx, staff_id)
        await tx.execute("DELETE FROM password_links WHERE staff_id = :id", id=staff_id)
    ends = "" if enabled else ", session_version = session_version + 1"
    return bool(
        await tx.execute(f"UPDATE staff SET enabled = :enabled{ends} WHERE id = :id", enabled=enabled, id=staff_id)
    )


async def _issue_link(tx: Tx, staff_id: int, token_sha256: str, now: datetime, expires_at: datetime) -> bool:
    """An enabled account's one password link (an earlier one stops working; expired ones are dropped)."""
    if not await tx.fetch_value("SELECT enabled FROM staff WHERE id = :id", id=staff_id):
        return False
    await tx.execute("DELETE FROM password_links WHERE staff_id = :id OR expires_at <= :now", id=staff_id, now=now)
    await tx.execute(
        "INSERT INTO password_links (token_sha256, staff_id, expires_at) VALUES (:sha, :id, :expires_at)",
        sha=token_sha256,
        id=staff_id,
        expires_at=expires_at,
    )
    return True


async def _link_holder(tx: Tx, token_sha256: str, now: datetime) -> str | None:
    """The name of the enabled account a link unused and unexpired is for."""
    return await tx.fetch_value(
        "SELECT s.username FROM password_links l JOIN staff s ON s.id = l.staff_id"
        " WHERE l.token_sha256 = :sha AND l.expires_at > :now AND s.enabled",
        sha=token_sha256,
        now=now,
    )


async def _use_link(tx: Tx, token_sha256: str, password_hash: str, now: datetime) -> str | None:
    """Set the password a link is for and spend the link (its deletion is the one use: a second waits, then finds
    nothing); the account's name, or None."""
    username = await _link_holder(tx, token_sha256, now)
    if username is None or not await tx.execute(
        "DELETE FROM password_links WHERE token_sha256 = :sha", sha=token_sha256
    ):
        return None
    await _set_password(tx, username, password_hash)
    return username


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
            f"SELECT t.id, t.reference, t.contact, v.country FROM {table} t {placed} WHERE {where} AND t.contact != ''",
            **params,
        )
        for row in rows:
            if contact is None or contact_key(row["contact"], row["country"]) == contact_key(contact, row["country"]):
                erased += await tx.execute(
                    f"UPDATE {table} SET name = '', contact = ''{also} WHERE id = :id", id=row["id"]
                )
                if told_as:
                    await tx.execute(f"DELETE FROM outbox WHERE {told_as} = :id", id=row["id"])
                else:  # a draw entry's result, told by its reference
                    await tx.execute("DELETE FROM outbox WHERE delivery = :id", id=DRAW_RESULT + row["reference"])
    return erased


class StaffStore:
    """SqlStore's staff account methods (`db` and `_write` are SqlStore's): each a body of this module."""

    async def set_staff_password(self, username: str, password_hash: str) -> None:
        """Create a staff account or change its password hash (its sessions end)."""
        await self._write(_set_password, username, password_hash)

    async def add_staff(self, username: str, password_hash: str) -> bool:
        """Create a staff account unless it exists; whether it was created."""
        return await self._write(_add_staff, username, password_hash)

    async def staff_password_hash(self, username: str) -> str | None:
        """The stored hash of an enabled staff account's password (None: no such account, or disabled)."""
        return await self.db.read(_password_hash, username)

    async def staff_session_version(self, username: str) -> int | None:
        """The version a staff member's sessions must carry (None: no such account)."""
        return await self.db.read(_session_version, username)

    async def staff_access(self, username: str) -> tuple[str, frozenset[int]] | None:
        """An enabled staff account's role and venue ids (None: no such account, or disabled)."""
        return await self.db.read(_access, username)

    async def set_staff_access(self, username: str, role: str, venue_ids: frozenset[int]) -> bool:
        """Give an account a role and venues, ending its sessions; False when there is no such account. Raises
        LastOwner rather than leave no enabled owner."""
        return await self._write(_set_access, username, role, venue_ids)

    async def end_staff_sessions(self, username: str) -> None:
        """Every session of this account stops working (logout, new password)."""
        await self._write(_end_sessions, username)

    async def staff_logged_in(self, username: str, now: datetime) -> None:
        """A good login: its time kept, the failures counted since forgotten."""
        await self._write(_logged_in, username, now)

    async def staff_login_failed(self, username: str) -> None:
        """A failed login at an account's name (no such account: nothing)."""
        await self._write(_login_failed, username)

    async def staff_accounts(self) -> list[StaffAccount]:
        """Every staff account, by name."""
        return await self.db.read(_accounts)

    async def staff_account(self, staff_id: int) -> StaffAccount | None:
        """One staff account by id."""
        return await self.db.read(_account, staff_id)

    async def create_staff(self, username: str, role: str, venue_ids: frozenset[int]) -> int | None:
        """A new account with no password yet; its id (None: the name is taken)."""
        return await self._write(_create_account, username, role, venue_ids)

    async def set_staff_enabled(self, staff_id: int, enabled: bool) -> bool:
        """Enable or disable an account (disabling ends its sessions); False when there is no such account. Raises
        LastOwner rather than disable the last enabled owner."""
        return await self._write(_set_enabled, staff_id, enabled)

    async def issue_password_link(self, staff_id: int, token_sha256: str, now: datetime, expires_at: datetime) -> bool:
        """Keep a password link's token hash for an enabled account (its earlier link stops working)."""
        return await self._write(_issue_link, staff_id, token_sha256, now, expires_at)

    async def password_link_holder(self, token_sha256: str, now: datetime) -> str | None:
        """The account a link still usable is for."""
        return await self.db.read(_link_holder, token_sha256, now)

    async def use_password_link(self, token_sha256: str, password_hash: str, now: datetime) -> str | None:
        """Set the password with a link, once; the account's name (None: unknown, used, expired or disabled)."""
        return await self._write(_use_link, token_sha256, password_hash, now)
