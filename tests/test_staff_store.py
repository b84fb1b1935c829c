"""Staff accounts in the store, on both engines: new accounts without a password, one-time password links (only
their sha256 at rest, 24 hours, once), disabling, the last enabled owner kept, and the login counts."""

from __future__ import annotations

import asyncio
import hashlib
from datetime import UTC, datetime, timedelta

import pytest

from booking.access import DESK, MANAGER, OWNER, LastOwner
from booking.clock import ManualClock
from booking.service import Service
from tests.test_store import query, store, url  # noqa: F401  (store and url are fixtures: each engine)

NOW = datetime(2026, 12, 6, 12, tzinfo=UTC)


@pytest.fixture
async def service(store):  # noqa: F811
    return Service(store, ManualClock(NOW))


@pytest.fixture
async def desk(store, service):  # noqa: F811
    """An owner "boss" with a password, and a new desk account "front" of one venue (its id)."""
    venue_id = await store.add_venue("v", "Venue", "restaurant", "UTC")
    await store.set_staff_password("boss", "boss-hash")
    return await service.create_staff("front", DESK, frozenset({venue_id}))


async def test_a_new_account_has_no_password_and_counts_its_logins(store, service, desk):  # noqa: F811
    account = await store.staff_account(desk)
    assert (account.username, account.role, account.enabled, account.failed_logins) == ("front", DESK, True, 0)
    assert len(account.venues) == 1 and account.last_login_at is None
    assert await store.staff_password_hash("front") == "!"  # no werkzeug hash: no password matches it
    assert await service.create_staff("front", MANAGER, account.venues) is None  # the name is taken
    assert [a.username for a in await store.staff_accounts()] == ["boss", "front"]
    await service.staff_login_failed("front")
    await service.staff_login_failed("front")
    await service.staff_login_failed("nobody")  # no such account: nothing
    assert (await store.staff_account(desk)).failed_logins == 2
    service.clock.advance(minutes=5)
    await service.staff_logged_in("front")
    account = await store.staff_account(desk)
    assert account.failed_logins == 0 and account.last_login_at == NOW + timedelta(minutes=5)


async def test_a_link_is_kept_only_as_its_sha256_and_sets_the_password_once(store, service, desk, url, tmp_path):  # noqa: F811
    token = await service.issue_password_link(desk)
    kept = await query(url, tmp_path, "SELECT token_sha256 FROM password_links")
    assert kept == [(hashlib.sha256(token.encode()).hexdigest(),)] and len(token) >= 40
    version = await store.staff_session_version("front")
    assert await service.password_link_holder(token) == "front"
    assert await service.use_password_link(token, "new-hash") == "front"
    assert await store.staff_password_hash("front") == "new-hash"
    assert await store.staff_session_version("front") == version + 1  # its sessions ended
    assert await service.use_password_link(token, "other-hash") is None  # once
    assert await service.password_link_holder(token) is None
    assert await store.staff_password_hash("front") == "new-hash"
    again = await service.issue_password_link(desk)
    used = await asyncio.gather(*(service.use_password_link(again, f"hash-{n}") for n in range(4)))
    assert used.count("front") == 1 and used.count(None) == 3  # two uses at once: one password set


async def test_a_link_works_for_24_hours_and_only_the_newest_does(store, service, desk):  # noqa: F811
    first = await service.issue_password_link(desk)
    second = await service.issue_password_link(desk)
    assert await service.password_link_holder(first) is None and await service.password_link_holder(second) == "front"
    service.clock.advance(hours=23, minutes=59)
    assert await service.password_link_holder(second) == "front"
    service.clock.advance(minutes=1)
    assert await service.use_password_link(second, "late-hash") is None
    assert await store.staff_password_hash("front") == "!"


async def test_disabling_an_account_and_keeping_the_last_owner(store, service, desk):  # noqa: F811
    await store.set_staff_password("front", "front-hash")
    token = await service.issue_password_link(desk)
    version = await store.staff_session_version("front")
    assert await service.set_staff_enabled(desk, False)
    assert await store.staff_password_hash("front") is None and await store.staff_access("front") is None
    assert await store.staff_session_version("front") == version + 1
    assert await service.password_link_holder(token) is None and await service.issue_password_link(desk) is None
    assert not (await store.staff_account(desk)).enabled
    assert await service.set_staff_enabled(desk, True)
    assert await store.staff_password_hash("front") == "front-hash" and (await store.staff_access("front"))[0] == DESK
    assert not await service.set_staff_enabled(desk + 1000, False)
    # the last enabled owner is neither disabled nor demoted
    boss = next(a for a in await store.staff_accounts() if a.username == "boss")
    with pytest.raises(LastOwner):
        await service.set_staff_enabled(boss.id, False)
    with pytest.raises(LastOwner):
        await service.set_staff_access("boss", DESK, boss.venues | {1})
    assert (await store.staff_account(boss.id)).enabled and await store.staff_access("boss") == (OWNER, frozenset())
    second = await service.create_staff("second", OWNER, frozenset())
    assert await service.set_staff_enabled(boss.id, False)  # another owner is left
    with pytest.raises(LastOwner):
        await service.set_staff_enabled(second, False)
