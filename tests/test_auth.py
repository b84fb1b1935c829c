"""Staff login (views/auth.py) through the test client: the form, wrong passwords and the attempt limit, logout,
the idle and absolute session limits, what `require_staff` answers pages and htmx or streams, and password hashes.
The app's clock is steered here (sessions time out)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qs, urlsplit

import pytest
from werkzeug.security import check_password_hash

from tests.support.helpers import PASSWORD, act, clock_at, csrf_token, log_in, text
from views import auth

clock = clock_at(datetime.now(UTC))


async def next_of(response) -> str:
    """Where a redirect to the login form would go back to."""
    location = urlsplit(response.headers["Location"])
    assert response.status_code == 302 and location.path == "/admin/login"
    return parse_qs(location.query)["next"][0]


# -- login


async def test_login_page_has_a_form_with_a_csrf_token(client):
    response = await client.get("/admin/login")
    html = await text(response)
    assert response.status_code == 200
    assert 'name="csrf_token" value="' in html and 'name="password"' in html and 'type="password"' in html


async def test_login_with_the_right_password_opens_the_back_office(client, staff):
    response = await log_in(client)
    assert response.status_code == 303 and response.headers["Location"] == "/admin/"
    page = await client.get("/admin/")
    assert page.status_code == 200 and "Test Bistro" in await text(page)


async def test_the_name_is_trimmed(client, staff):
    assert (await log_in(client, username="  admin ")).status_code == 303
    assert (await client.get("/admin/")).status_code == 200


@pytest.mark.parametrize("username, password", [("admin", "wrong"), ("nobody", "pw"), ("admin", "")])
async def test_wrong_login_is_401_with_a_message(client, staff, username, password):
    response = await log_in(client, password, username=username)
    assert response.status_code == 401
    assert "Wrong name or password." in await text(response)
    assert (await client.get("/admin/")).status_code == 302  # still a stranger


async def test_a_wrong_login_keeps_the_name_typed(client, staff):
    html = await text(await log_in(client, "wrong", username="admin"))
    assert 'name="username"' in html and 'value="admin"' in html


async def test_login_without_csrf_token_is_400(client, staff):
    response = await client.post("/admin/login", form={"username": "admin", "password": PASSWORD})
    assert response.status_code == 400
    assert (await client.get("/admin/")).status_code == 302


async def test_a_login_starts_a_new_session(client, staff):
    """Nothing planted in the session before the login survives it (no session fixation)."""
    await csrf_token(client, "/admin/login")
    async with client.session_transaction() as session:
        session["planted"] = "by someone else"
    assert (await log_in(client)).status_code == 303
    async with client.session_transaction() as session:
        assert "planted" not in session and session["staff"] == "admin"


async def test_a_hash_from_hash_password_is_what_the_login_checks(client, store):
    await store.set_staff_password("ana", auth.hash_password("s3cret words"))
    assert (await log_in(client, "s3cret words", username="ana")).status_code == 303


def test_password_hashes_are_salted_and_never_hold_the_password():
    first, second = auth.hash_password("s3cret words"), auth.hash_password("s3cret words")
    assert first != second and "s3cret" not in first
    assert check_password_hash(first, "s3cret words") and not check_password_hash(first, "s3cret word")


# -- the attempt limit


async def test_five_failures_block_the_address_even_with_the_right_password(client, staff):
    for _ in range(auth.ATTEMPTS):
        assert (await log_in(client, "guess")).status_code == 401
    response = await log_in(client)
    assert response.status_code == 429
    assert 0 < int(response.headers["Retry-After"]) <= auth.WINDOW.total_seconds() + 1
    assert "Too many failed attempts" in await text(response)
    assert (await client.get("/admin/")).status_code == 302  # not logged in


async def test_a_block_ends_when_its_window_has_passed(client, staff, clock):
    for _ in range(auth.ATTEMPTS + 1):
        await log_in(client, "guess")
    assert (await log_in(client)).status_code == 429
    clock.advance(seconds=auth.WINDOW.total_seconds() + 1)
    assert (await log_in(client)).status_code == 303


async def test_a_success_clears_earlier_failures(client, staff):
    for _ in range(auth.ATTEMPTS - 1):
        assert (await log_in(client, "guess")).status_code == 401
    assert (await log_in(client)).status_code == 303
    for _ in range(auth.ATTEMPTS - 1):
        assert (await log_in(client, "guess")).status_code == 401
    assert (await log_in(client)).status_code == 303


# -- logout


async def test_logout_ends_the_session(admin):
    assert (await admin.get("/admin/")).status_code == 200
    response = await act(admin, "/admin/logout")
    assert response.status_code == 303 and response.headers["Location"] == "/admin/login"
    assert (await admin.get("/admin/")).status_code == 302
    await admin.get("/admin/login")  # a fresh token for the stranger's session: the refusal is about the login
    assert (
        await act(admin, "/admin/venues/new", slug="late", name="Late", kind="clinic", timezone="UTC")
    ).status_code == 401


async def test_logout_ends_every_session_of_that_staff_member(app, admin):
    other = app.test_client()  # the same person in another browser
    assert (await log_in(other)).status_code == 303
    assert (await other.get("/admin/")).status_code == 200
    assert (await act(admin, "/admin/logout")).status_code == 303
    assert (await other.get("/admin/")).status_code == 302


async def test_a_stranger_logging_out_is_sent_to_the_login_and_nothing_is_recorded(client, store, staff):
    token = await csrf_token(client, "/admin/login")
    response = await client.post("/admin/logout", form={"csrf_token": token})
    assert response.status_code == 303 and response.headers["Location"] == "/admin/login"
    assert [e.action for e in await store.audit_trail()] == []


# -- session limits


async def test_activity_keeps_a_session_open_until_it_is_idle_longer_than_the_limit(admin, clock):
    clock.advance(seconds=auth.IDLE.total_seconds())
    assert (await admin.get("/admin/")).status_code == 200  # exactly the limit: still open
    clock.advance(seconds=auth.IDLE.total_seconds())
    assert (await admin.get("/admin/")).status_code == 200  # the last request counts, not the login
    clock.advance(seconds=auth.IDLE.total_seconds() + 1)
    assert (await admin.get("/admin/")).status_code == 302


async def test_a_session_ends_at_its_lifetime_however_busy(admin, clock):
    step = auth.IDLE - timedelta(minutes=1)
    steps = int(auth.LIFETIME / step)
    for _ in range(steps):
        clock.advance(seconds=step.total_seconds())
        assert (await admin.get("/admin/")).status_code == 200
    clock.advance(seconds=(auth.LIFETIME - steps * step).total_seconds() + 1)
    assert (await admin.get("/admin/")).status_code == 302


# -- require_staff: pages go to the login, the rest is 401


async def test_a_page_asked_for_by_a_stranger_is_kept_with_its_query(client, staff):
    assert await next_of(await client.get("/admin/")) == "/admin/"
    asked = await next_of(await client.get("/admin/audit", query_string={"venue": "test-bistro"}))
    assert asked == "/admin/audit?venue=test-bistro"
    response = await log_in(client, next=asked)
    assert response.status_code == 303 and response.headers["Location"] == asked


async def test_login_goes_back_to_the_page_asked_for(client, staff):
    first = await client.get("/admin/venues/new")
    asked = await next_of(first)
    page = await text(await client.get(first.headers["Location"]))
    assert f'name="next" value="{asked}"' in page
    response = await log_in(client, next=asked)
    assert response.status_code == 303 and response.headers["Location"] == "/admin/venues/new"


@pytest.mark.parametrize(
    "target",
    [
        "//evil.example",
        "//evil.example/admin",
        "http://evil.example/admin",
        "https://evil.example",
        "/\\evil.example",
        "javascript:alert(1)",
        "/book/x",
    ],
)
async def test_next_never_leaves_the_back_office(client, staff, target):
    page = await text(await client.get("/admin/login", query_string={"next": target}))
    assert 'name="next" value="/admin/"' in page
    response = await log_in(client, next=target)
    assert response.status_code == 303
    assert response.headers["Location"] == "/admin/"


@pytest.mark.parametrize("page", ["/admin/webhooks/", "/admin/venues/test-bistro/bookings.csv"])
async def test_every_staff_blueprint_sends_a_stranger_to_the_login(client, page):
    assert await next_of(await client.get(page)) == page


async def test_an_expired_session_gets_what_a_stranger_gets(admin, hub, venue, tomorrow, clock):
    clock.advance(seconds=auth.IDLE.total_seconds() + 1)
    assert await next_of(await admin.get("/admin/")) == "/admin/"
    htmx = await admin.get("/admin/", headers={"HX-Request": "true"})
    assert htmx.status_code == 401 and "Please log in as staff." in await text(htmx)
    assert (
        await act(admin, "/admin/venues/new", slug="late", name="Late", kind="clinic", timezone="UTC")
    ).status_code == 401
    assert (await admin.get(f"/admin/events/board/{venue.id}/{tomorrow}")).status_code == 401
    assert hub.count() == 0
    async with admin.session_transaction() as session:
        assert "staff" not in session
