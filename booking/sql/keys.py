"""API keys in the store: made with their venues, found by their sha256, noted when used, revoked; and KeyStore."""

from __future__ import annotations

from datetime import datetime

from ..errors import NotFound
from ..keys import USE_NOTED_EVERY, ApiKey
from .engine import Tx
from .rows import as_moment


async def _add_key(
    tx: Tx, name: str, key_sha256: str, prefix: str, scopes: frozenset[str], venue_ids: frozenset[int], by: str, now
) -> int:
    key_id = await tx.fetch_value(
        "INSERT INTO api_keys (name, prefix, key_sha256, scopes, created_by, created_at)"
        " VALUES (:name, :prefix, :key_sha256, :scopes, :by, :now) RETURNING id",
        name=name,
        prefix=prefix,
        key_sha256=key_sha256,
        scopes=" ".join(sorted(scopes)),
        by=by,
        now=now,
    )
    await tx.execute_many(
        "INSERT INTO api_key_venues (key_id, venue_id) VALUES (:key_id, :venue_id)",
        [{"key_id": key_id, "venue_id": v} for v in sorted(venue_ids)],
    )
    return key_id


async def _keys(tx: Tx, where: str, params: dict) -> list[ApiKey]:
    """The keys `where` picks, newest first, each with its venues."""
    rows = await tx.fetch(f"SELECT * FROM api_keys WHERE {where} ORDER BY id DESC", **params)
    venues: dict[int, set[int]] = {r["id"]: set() for r in rows}
    if rows:
        ids = ", ".join(str(int(r["id"])) for r in rows)
        for row in await tx.fetch(f"SELECT key_id, venue_id FROM api_key_venues WHERE key_id IN ({ids})"):
            venues[row["key_id"]].add(row["venue_id"])
    return [
        ApiKey(
            id=r["id"],
            name=r["name"],
            prefix=r["prefix"],
            scopes=frozenset(r["scopes"].split()),
            venues=frozenset(venues[r["id"]]),
            created_by=r["created_by"],
            created_at=as_moment(r["created_at"]),
            last_used_at=as_moment(r["last_used_at"]),
            revoked_at=as_moment(r["revoked_at"]),
        )
        for r in rows
    ]


async def _revoke(tx: Tx, key_id: int, now: datetime) -> ApiKey:
    if not await tx.execute(
        "UPDATE api_keys SET revoked_at = :now WHERE id = :id AND revoked_at IS NULL", now=now, id=key_id
    ):
        raise NotFound(key_id)
    return (await _keys(tx, "id = :id", {"id": key_id}))[0]


async def _note_use(tx: Tx, key_id: int, now: datetime) -> None:
    # Whichever process notes it first in a minute writes it; the others find it fresh and change nothing.
    await tx.execute(
        "UPDATE api_keys SET last_used_at = :now WHERE id = :id AND (last_used_at IS NULL OR last_used_at <= :since)",
        now=now,
        id=key_id,
        since=now - USE_NOTED_EVERY,
    )


class KeyStore:
    """SqlStore's API key methods (`db` and `_write` are SqlStore's). No cache: every call reads its key's row,
    so a revoked key is refused at its next call, in every process."""

    async def add_api_key(
        self,
        name: str,
        key_sha256: str,
        prefix: str,
        scopes: frozenset[str],
        venue_ids: frozenset[int],
        created_by: str,
        now: datetime,
    ) -> int:
        """A new key (its sha256 only) on its venues; its id."""
        return await self._write(_add_key, name, key_sha256, prefix, scopes, venue_ids, created_by, now)

    async def api_key(self, key_sha256: str) -> ApiKey | None:
        """The key not revoked whose sha256 this is (None: no such key, or revoked)."""
        found = await self.db.read(_keys, "key_sha256 = :sha AND revoked_at IS NULL", {"sha": key_sha256})
        return found[0] if found else None

    async def api_keys(self) -> list[ApiKey]:
        """Every key not revoked, newest first."""
        return await self.db.read(_keys, "revoked_at IS NULL", {})

    async def revoke_api_key(self, key_id: int, now: datetime) -> ApiKey:
        """Revoke a key: refused from its next call on (raises NotFound when there is no such key standing)."""
        return await self._write(_revoke, key_id, now)

    async def note_key_use(self, key_id: int, now: datetime) -> None:
        """Note a key's use now, unless another call noted one within the last minute."""
        await self._write(_note_use, key_id, now)
