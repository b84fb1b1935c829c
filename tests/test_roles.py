"""Staff roles per venue: every staff endpoint × owner, manager, desk × own and other venue; what the lists show;
a staff stream ending with its session; the create-staff command."""

from __future__ import annotations

import asyncio
from types import SimpleNamespace

import pytest

from booking.access import DESK, MANAGER, OWNER, may, problem
from tests.conftest import EVERY_DAY
from tests.support.helpers import (
    CONTACT,
    NAME,
    PASSWORD,
    act,
    log_in,
    password_hash,
    read_until,
    session_token,
    text,
)

ALL, MANAGERS, OWNERS = {OWNER, MANAGER, DESK}, {OWNER, MANAGER}, {OWNER}
V = SimpleNamespace  # a venue's ids as the paths below use them

# endpoint -> (roles allowed on their own venue, [(method, path, form)]); on another venue only an owner is.
# Endpoints about no venue (None in the last place) allow the same roles on both.
EXPECTED = {
    "admin.index": (ALL, lambda v: [("GET", "/admin/", None)], False),
    "admin.today_board": (ALL, lambda v: [("GET", f"/admin/venues/{v.slug}/board", None)], True),
    "admin.board": (ALL, lambda v: [("GET", f"/admin/venues/{v.slug}/board/{v.day}", None)], True),
    "admin.close_slot": (ALL, lambda v: [("POST", f"/admin/slots/{v.slot}/closed", {"closed": "0"})], True),
    "admin.create_booking": (
        ALL,
        lambda v: [
            (
                "POST",
                f"/admin/resources/{v.resource}/bookings",
                {"slot_id": str(v.slot), "name": NAME, "contact": CONTACT, "party_size": "1"},
            )
        ],
        True,
    ),
    "admin.cancel_booking": (ALL, lambda v: [("POST", f"/admin/bookings/{v.spare}/cancel", {})], True),
    "admin.mark_booking": (
        ALL,
        lambda v: [("POST", f"/admin/bookings/{v.booking}/attendance", {"attendance": "checked_in"})],
        True,
    ),
    "admin.call_ticket": (ALL, lambda v: [("POST", f"/admin/bookings/{v.booking}/call", {"counter": "1"})], True),
    "admin.requeue_ticket": (ALL, lambda v: [("POST", f"/admin/bookings/{v.booking}/requeue", {})], True),
    "admin.call_next": (
        ALL,
        lambda v: [("POST", f"/admin/resources/{v.resource}/call-next", {"day": v.day, "counter": "1"})],
        True,
    ),
    "admin.new_venue": (
        OWNERS,
        lambda v: [("GET", "/admin/venues/new", None), ("POST", "/admin/venues/new", {})],
        False,
    ),
    "admin.edit_venue": (
        MANAGERS,
        lambda v: [("GET", f"/admin/venues/{v.slug}/edit", None), ("POST", f"/admin/venues/{v.slug}/edit", {})],
        True,
    ),
    "admin.new_resource": (
        MANAGERS,
        lambda v: [
            ("GET", f"/admin/venues/{v.slug}/resources/new", None),
            ("POST", f"/admin/venues/{v.slug}/resources/new", {}),
        ],
        True,
    ),
    "admin.edit_resource": (
        MANAGERS,
        lambda v: [
            ("GET", f"/admin/resources/{v.resource}/edit", None),
            ("POST", f"/admin/resources/{v.resource}/edit", {}),
        ],
        True,
    ),
    "audit.trail": (MANAGERS, lambda v: [("GET", f"/admin/audit?venue={v.slug}", None)], True),
    "audit.trail_csv": (MANAGERS, lambda v: [("GET", f"/admin/audit.csv?venue={v.slug}", None)], True),
    "admin.erase_person": (OWNERS, lambda v: [("GET", "/admin/erase", None), ("POST", "/admin/erase", {})], False),
    "exports.day_csv": (ALL, lambda v: [("GET", f"/admin/venues/{v.slug}/bookings/{v.day}.csv", None)], True),
    "exports.day_list": (ALL, lambda v: [("GET", f"/admin/venues/{v.slug}/board/{v.day}/print", None)], True),
    "exports.draw_csv": (
        ALL,
        lambda v: [("GET", f"/admin/venues/{v.slug}/draws/{v.resource_slug}/{v.day}.csv", None)],
        True,
    ),
    "exports.range_csv": (
        MANAGERS,
        lambda v: [("GET", f"/admin/venues/{v.slug}/bookings.csv?from={v.day}&to={v.day}", None)],
        True,
    ),
    "webhooks.index": (MANAGERS, lambda v: [("GET", "/admin/webhooks/", None)], False),
    "webhooks.add": (MANAGERS, lambda v: [("POST", "/admin/webhooks/", {"venue": str(v.id), "url": ""})], True),
    "webhooks.choose_events": (
        MANAGERS,
        lambda v: [("POST", f"/admin/webhooks/{v.hook}/events", {"events": "booking.created"})],
        True,
    ),
    "webhooks.send_test": (MANAGERS, lambda v: [("POST", f"/admin/webhooks/{v.hook}/test", {})], True),
    "webhooks.disable": (MANAGERS, lambda v: [("POST", f"/admin/webhooks/{v.hook}/disable", {})], True),
    "webhooks.enable": (MANAGERS, lambda v: [("POST", f"/admin/webhooks/{v.hook}/enable", {})], True),
    "webhooks.rotate": (MANAGERS, lambda v: [("POST", f"/admin/webhooks/{v.hook}/rotate", {})], True),
    "webhooks.resend": (
        MANAGERS,
        lambda v: [("POST", f"/admin/webhooks/deliveries/{v.delivery}/resend", {})],
        True,
    ),
    "webhooks.remove": (MANAGERS, lambda v: [("POST", f"/admin/webhooks/{v.hook}/remove", {})], True),
    "api_keys.index": (MANAGERS, lambda v: [("GET", "/admin/api-keys/", None)], False),
    "api_keys.create": (
        MANAGERS,
        lambda v: [("POST", "/admin/api-keys/", {"name": "Till", "venue": str(v.id), "scope": "bookings:read"})],
        True,
    ),
    "api_keys.revoke": (MANAGERS, lambda v: [("POST", f"/admin/api-keys/{v.key}/revoke", {})], True),
    "streams.board_stream": (ALL, lambda v: [("STREAM", f"/admin/events/board/{v.id}/{v.day}", None)], True),
    "staff.index": (MANAGERS, lambda v: [("GET", "/admin/staff", None)], False),
    # a venue's desk account: a manager looks after those of its own venues only
    "staff.create": (
        MANAGERS,
        lambda v: [("POST", "/admin/staff", {"username": f"new-{v.slug}", "role": DESK, "venues": str(v.id)})],
        True,
    ),
    "staff.account": (MANAGERS, lambda v: [("GET", f"/admin/staff/{v.desk}", None)], True),
    "staff.change": (
        MANAGERS,
        lambda v: [("POST", f"/admin/staff/{v.desk}/access", {"role": DESK, "venues": str(v.id)})],
        True,
    ),
    "staff.set_enabled": (MANAGERS, lambda v: [("POST", f"/admin/staff/{v.desk}/enabled", {"enabled": "1"})], True),
    "staff.password_link": (MANAGERS, lambda v: [("POST", f"/admin/staff/{v.desk}/link", {})], True),
    "staff.own_account": (ALL, lambda v: [("GET", "/admin/account", None)], False),
    "staff.change_own_password": (ALL, lambda v: [("POST", "/admin/account", {"current": "wrong"})], False),
}
# The way in and out, and the one-time password link (its token is the key): no role needed.
LOGIN = {"auth.login", "auth.log_in", "auth.log_out", "password_links.set_password_form", "password_links.set_password"}


async def venue_ids(store, service, slug: str, day) -> V:
    """A venue's slug, ids, a booking to act on and one to cancel, a webhook with a delivery, a desk account and an
    API key."""
    venue = await store.venue(slug)
    resource = venue.resources[0]
    slot = (await store.slots_for_day(resource.id, day))[0]
    booking, _ = await service.book(resource, slot.id, NAME, CONTACT, 1)
    spare, _ = await service.book(resource, slot.id, NAME, "+44 20 7946 0999", 1)
    hook = await service.add_webhook(venue.id, "https://hooks.example.com/in", "s" * 20)
    desk = await service.create_staff(f"desk-{slug}", DESK, frozenset({venue.id}))
    _key, key = await service.create_api_key("Till", frozenset({"bookings:read"}), frozenset({venue.id}), "admin")
    await service.send_test_event(hook)
    delivery = (await store.outbox(venue.id))[0].id
    return V(
        slug=slug,
        id=venue.id,
        resource=resource.id,
        resource_slug=resource.slug,
        slot=slot.id,
        booking=booking.id,
        spare=spare.id,
        hook=hook,
        desk=desk,
        key=key,
        delivery=delivery,
        day=day.isoformat(),
    )


@pytest.fixture
async def clinic(store, clock):
    """A second venue, nobody's but the owner's."""
    venue_id = await store.add_venue("clinic", "Riverside Clinic", "clinic", "UTC")
    await store.add_resource(venue_id, "dr-li", "Dr. Li", EVERY_DAY, horizon_days=7)
    await store.extend_slots(clock.now())
    return await store.venue("clinic")


async def account(app, service, name: str, role: str, venue_ids: frozenset[int]):
    """A test client logged in as a new account of this role on these venues."""
    await service.set_staff_password(name, password_hash())
    await service.set_staff_access(name, role, venue_ids)
    client = app.test_client()
    assert (await log_in(client, username=name)).status_code == 303
    await client.get("/admin/")  # a page with a form: the session has its token
    return client


@pytest.fixture
async def accounts(app, service, staff, venue, clinic):
    """Logged-in clients: the owner `admin`, and a manager and a desk account of the test bistro only."""
    return {
        OWNER: await account(app, service, "admin", OWNER, frozenset()),
        MANAGER: await account(app, service, "bistro-manager", MANAGER, frozenset({venue.id})),
        DESK: await account(app, service, "bistro-desk", DESK, frozenset({venue.id})),
    }


async def status_of(client, method: str, path: str, form: dict | None) -> int:
    """The status a staff request gets (a stream that opens: read its first bytes, then leave)."""
    if method == "GET":
        return (await client.get(path)).status_code
    if method == "POST":
        return (await client.post(path, form={"csrf_token": await session_token(client), **form})).status_code
    async with client.request(path) as connection:
        first = await asyncio.wait_for(connection.receive(), 2)
        status = connection.status_code
        if status == 200:
            assert first.startswith(b"retry: ")
        await connection.disconnect()
    return status


def staff_endpoints(app) -> set[str]:
    """Every endpoint under /admin, from the app's URL map."""
    return {rule.endpoint for rule in app.url_map.iter_rules() if rule.rule.startswith("/admin")}


async def test_every_staff_endpoint_has_an_expected_status_per_role_and_venue(
    app, accounts, store, service, venue, clinic, tomorrow
):
    missing = staff_endpoints(app) - LOGIN - set(EXPECTED)
    assert not missing, f"staff endpoints without a row in EXPECTED (and a rule in views/permissions.py): {missing}"
    places = {
        "own": await venue_ids(store, service, venue.slug, tomorrow),
        "other": await venue_ids(store, service, clinic.slug, tomorrow),
    }
    # The least allowed first, and another venue before one's own: what an allowed action removes is gone after.
    for role in (DESK, MANAGER, OWNER):
        for where in ("other", "own"):
            for endpoint, (allowed, paths, about_venue) in EXPECTED.items():
                may = role in allowed and (where == "own" or not about_venue or role == OWNER)
                for method, path, form in paths(places[where]):
                    status = await status_of(accounts[role], method, path, form)
                    seen = f"{role} {where} {endpoint} {method} {path}: {status}"
                    if not may:
                        assert status == 403, seen
                    elif method in ("GET", "STREAM"):
                        assert status in (200, 302, 303), seen
                    else:
                        assert status < 500 and status not in (401, 403), seen


async def test_a_desk_account_sees_only_its_venue_and_its_board(accounts, venue, clinic, tomorrow):
    desk = accounts[DESK]
    home = await text(await desk.get("/admin/"))
    assert venue.name in home and clinic.name not in home
    hidden_links = (
        "/admin/venues/new",
        "/admin/audit",
        "/admin/webhooks/",
        "/admin/api-keys/",
        "/admin/erase",
        "/edit",
    )
    for hidden in (*hidden_links, "/resources/new"):
        assert hidden not in home, hidden
    board = await text(await desk.get(f"/admin/venues/{venue.slug}/board/{tomorrow}"))
    assert f"/admin/venues/{venue.slug}/bookings/{tomorrow}.csv" in board and "bookings.csv" not in board
    refused = await desk.get(f"/admin/venues/{clinic.slug}/board/{tomorrow}")
    assert refused.status_code == 403 and "Your account may not do this here." in await text(refused)
    chinese = await desk.get(
        f"/admin/venues/{clinic.slug}/board/{tomorrow}", headers={"Accept-Language": "zh-CN,zh;q=0.9"}
    )
    assert chinese.status_code == 403 and "您的账号无权在此执行此操作。" in await text(chinese)


def test_the_rule_is_one_pure_function_of_role_venues_action_and_venue():
    assert may(OWNER, (), "audit", 7) and may(OWNER, (), "anything new")
    assert may(DESK, {1}, "board", 1) and not may(DESK, {1}, "board", 2) and not may(DESK, {1}, "export", 1)
    assert may(MANAGER, {1}, "webhooks") and not may(MANAGER, (), "webhooks") and not may(MANAGER, {1}, "owners")
    assert problem(DESK, ()) == "venues" and problem("janitor", {1}) == "role" and problem(OWNER, ()) is None


async def test_a_manager_sees_its_venues_tools_and_only_its_venues(accounts, venue, clinic):
    manager = accounts[MANAGER]
    home = await text(await manager.get("/admin/"))
    assert clinic.name not in home and f"/admin/venues/{venue.slug}/edit" in home and "/admin/venues/new" not in home
    assert "/admin/audit" in home and "/admin/webhooks/" in home and "/admin/erase" not in home
    assert "/admin/api-keys/" in home
    hooks = await text(await manager.get("/admin/webhooks/"))
    assert clinic.name not in hooks
    keys = await text(await manager.get("/admin/api-keys/"))
    assert clinic.name not in keys and venue.name in keys
    audit = await text(await manager.get("/admin/audit"))
    assert venue.name in audit and clinic.name not in audit  # its venues' entries only (tests/test_audit.py)


async def test_the_owner_sees_every_venue(accounts, venue, clinic):
    home = await text(await accounts[OWNER].get("/admin/"))
    assert venue.name in home and clinic.name in home and "/admin/erase" in home


# -- a staff stream ends with its session


async def ended(connection, timeout: float = 1.5) -> bytes:
    """What a stream sends until it ends (it must end within `timeout`)."""
    seen = b""
    while chunk := await asyncio.wait_for(connection.receive(), timeout):
        seen += chunk
    return seen


@pytest.mark.parametrize("how", ["logout", "password", "own password", "disabled", "role"])
async def test_an_open_board_stream_ends_within_a_second_when_its_session_does(
    app, accounts, store, service, venue, clinic, slot, tomorrow, how
):
    desk = accounts[DESK]
    desk_id = next(a.id for a in await store.staff_accounts() if a.username == "bistro-desk")
    async with desk.request(f"/admin/events/board/{venue.id}/{tomorrow}") as connection:
        await read_until(connection, b"</section>")
        if how == "logout":
            assert (await act(desk, "/admin/logout")).status_code == 303
        elif how == "password":
            await service.set_staff_password("bistro-desk", password_hash())
        elif how == "own password":  # on its page: this session carries on, its stream opened before does not
            changed = await act(
                desk, "/admin/account", current=PASSWORD, password="a new password", again="a new password"
            )
            assert changed.status_code == 200
        elif how == "disabled":  # by the owner, on the staff pages
            assert (await act(accounts[OWNER], f"/admin/staff/{desk_id}/enabled", enabled="0")).status_code == 200
        else:
            await service.set_staff_access("bistro-desk", DESK, frozenset({clinic.id}))
        await ended(connection)
        await service.book(venue.resource("tables"), slot.id, "After Logout", "+44 20 7946 0555", 1)
        await asyncio.sleep(0.2)
    assert b"After Logout" not in connection.response_data


# -- accounts from the command line


async def invoke(app, *args: str, stdin: str | None = None):
    """Run a CLI command as `quart --app app:create_app …` would (off the loop: it runs its own)."""
    return await asyncio.to_thread(app.test_cli_runner().invoke, args=list(args), input=stdin)


async def test_create_staff_makes_a_desk_account_of_the_venues_named(app, store, venue, clinic):
    result = await invoke(
        app,
        "create-staff",
        "front",
        "--role",
        "desk",
        "--venue",
        venue.slug,
        "--venue",
        clinic.slug,
        "--password-stdin",
        stdin=PASSWORD + "\n",
    )
    assert result.exit_code == 0, result.output
    assert await store.staff_access("front") == (DESK, frozenset({venue.id, clinic.id}))
    client = app.test_client()
    assert (await log_in(client, username="front")).status_code == 303
    assert (await client.get("/admin/erase")).status_code == 403


async def test_create_staff_prompts_for_the_password(app, store):
    result = await invoke(app, "create-staff", "boss", "--role", "owner", stdin=f"{PASSWORD}\n{PASSWORD}\n")
    assert result.exit_code == 0, result.output
    assert await store.staff_access("boss") == (OWNER, frozenset())
    assert (await log_in(app.test_client(), username="boss")).status_code == 303


@pytest.mark.parametrize(
    "args",
    [["--role", "desk"], ["--role", "manager", "--venue", "nowhere"], ["--role", "janitor", "--venue", "test-bistro"]],
)
async def test_create_staff_refuses_a_role_without_venues_or_unknown_ones(app, store, args):
    result = await invoke(app, "create-staff", "front", *args, "--password-stdin", stdin=PASSWORD + "\n")
    assert result.exit_code != 0 and await store.staff_access("front") is None


async def test_create_staff_keeps_the_last_enabled_owner(app, store, staff, venue):
    args = ["create-staff", "admin", "--role", "desk", "--venue", venue.slug, "--password-stdin"]
    result = await invoke(app, *args, stdin=PASSWORD + "\n")
    assert result.exit_code != 0 and "last enabled owner" in result.output
    assert await store.staff_access("admin") == (OWNER, frozenset())


async def test_create_admin_makes_an_owner(app, store, service, venue):
    await service.create_staff("old", DESK, frozenset({venue.id}))
    result = await invoke(app, "create-admin", "old", stdin=f"{PASSWORD}\n{PASSWORD}\n")
    assert result.exit_code == 0, result.output
    assert await store.staff_access("old") == (OWNER, frozenset())
