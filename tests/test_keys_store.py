"""API keys in the store, on both engines: found by their sha256 with their scopes and venues, a last use noted at
most once a minute, a revoke that the next lookup sees, and the key itself nowhere."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from booking.clock import ManualClock
from booking.errors import NotFound
from booking.keys import BOOKINGS_READ, WEBHOOKS_MANAGE, digest, key_problems
from booking.service import Service
from tests.test_store import query, store, url  # noqa: F401  (store and url are fixtures: each engine)

NOW = datetime(2030, 6, 1, 9, 0, tzinfo=UTC)


async def test_a_key_is_found_by_its_hash_noted_once_a_minute_and_revoked(store, url, tmp_path):
    clock = ManualClock(NOW)
    service = Service(store, clock)
    first = await store.add_venue("a", "A", "restaurant", "UTC")
    second = await store.add_venue("b", "B", "restaurant", "UTC")
    key, key_id = await service.create_api_key(" Till ", frozenset({BOOKINGS_READ, WEBHOOKS_MANAGE}), {first}, "ana")
    found = await service.api_key(key)
    assert (found.id, found.name, found.prefix, found.created_by) == (key_id, "Till", key[:11], "ana")
    assert found.scopes == {BOOKINGS_READ, WEBHOOKS_MANAGE} and found.venues == {first}
    assert found.allows(BOOKINGS_READ, first) and not found.allows(BOOKINGS_READ, second)
    assert found.last_used_at is None and (await store.api_key(digest(key))).last_used_at == NOW
    clock.set(NOW + timedelta(seconds=59))
    assert (await service.api_key(key)).last_used_at == NOW  # not written again within the minute
    clock.set(NOW + timedelta(seconds=61))
    await service.api_key(key)
    assert (await store.api_key(digest(key))).last_used_at == NOW + timedelta(seconds=61)
    for wrong in (key[:-1], "sk_", key.removeprefix("sk_"), ""):
        assert await service.api_key(wrong) is None
    rows = await query(url, tmp_path, "SELECT * FROM api_keys")
    assert key not in str(rows) and digest(key) in str(rows)
    assert (await service.revoke_api_key(key_id)).revoked_at == NOW + timedelta(seconds=61)
    assert await service.api_key(key) is None and await store.api_keys() == []
    with pytest.raises(NotFound):
        await service.revoke_api_key(key_id)


def test_a_key_needs_a_name_known_scopes_and_a_venue():
    """Checked before the store is asked (Service.create_api_key raises Invalid with these)."""
    assert key_problems("Till", {BOOKINGS_READ}, {1}) == {}
    for name in ("", " ", "x" * 101, "Till\x00"):
        assert set(key_problems(name, {BOOKINGS_READ}, {1})) == {"name"}, name
    for scopes in (set(), {"bookings:delete"}, {BOOKINGS_READ, "all"}):
        assert set(key_problems("Till", scopes, {1})) == {"scopes"}, scopes
    assert set(key_problems("Till", {BOOKINGS_READ}, set())) == {"venues"}
