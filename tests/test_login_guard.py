"""Logging in without locking people out (views/login_guard.py), through the test client: a browser that logged in
before (a signed device cookie) gets through strangers' failures and is limited by its own; forged, foreign and
untrusted clients are limited per address and per name; a crowd of strangers' logins is turned away before the
hash while a trusted device's login is answered."""

from __future__ import annotations

import asyncio
import time

import pytest
from itsdangerous import URLSafeTimedSerializer

from tests.support.helpers import PASSWORD, csrf_token, password_hash, text
from views import auth, login_guard

DEVICE = "slotcast-device"


async def login_from(client, address: str, password: str = PASSWORD, username: str = "admin"):
    """The login form posted from a client at `address` (the peer's address: no proxy)."""
    form = {"csrf_token": await csrf_token(client, "/admin/login"), "username": username, "password": password}
    return await client.post("/admin/login", form=form, scope_base={"client": (address, 1)})


async def trusted_browser(app, address: str = "192.0.2.10", username: str = "admin"):
    """A browser that has logged in once (and so carries its device cookie)."""
    browser = app.test_client()
    assert (await login_from(browser, address, username=username)).status_code == 303
    assert any(cookie.name == DEVICE for cookie in browser.cookie_jar)
    return browser


async def lock_the_name(app, username: str = "admin", also_from: str | None = None):
    """Six wrong logins at `username` from six addresses (one of them `also_from`, when given)."""
    stranger = app.test_client()
    addresses = [f"198.51.100.{n}" for n in range(auth.ATTEMPTS)] + [also_from or "198.51.100.99"]
    codes = [(await login_from(stranger, address, "guess", username)).status_code for address in addresses]
    assert codes == [401] * auth.ATTEMPTS + [429]


async def test_a_trusted_device_logs_in_through_strangers_failures_an_untrusted_client_does_not(app, staff):
    browser = await trusted_browser(app)
    await lock_the_name(app, also_from="192.0.2.10")  # its address too: a shared network's
    response = await login_from(browser, "192.0.2.10")
    assert response.status_code == 303 and response.headers["Location"] == "/admin/"
    assert (await browser.get("/admin/")).status_code == 200
    refused = await login_from(app.test_client(), "203.0.113.5")  # the right password, from a new browser
    assert refused.status_code == 429 and "Too many failed attempts" in await text(refused)
    assert 0 < int(refused.headers["Retry-After"]) <= auth.WINDOW.total_seconds() + 1


async def test_a_trusted_device_is_limited_by_its_own_failures_only(app, staff):
    browser = await trusted_browser(app)
    assert [(await login_from(browser, "192.0.2.10", "guess")).status_code for _ in range(auth.ATTEMPTS)] == [401] * 5
    locked = await login_from(browser, "192.0.2.10")
    assert locked.status_code == 429 and "Too many failed attempts" in await text(locked)
    # Its failures were its own: the name and other browsers, even at the same address, are not locked.
    assert (await login_from(app.test_client(), "192.0.2.11")).status_code == 303


async def test_a_device_stays_trusted_after_logout_and_a_new_session(app, staff):
    browser = await trusted_browser(app)
    await browser.post("/admin/logout", form={"csrf_token": await csrf_token(browser, "/admin/")})
    await lock_the_name(app)
    assert (await login_from(browser, "192.0.2.99")).status_code == 303  # another network: the device counts


def forged_with_another_secret() -> str:
    return URLSafeTimedSerializer("not this app's secret", salt="slotcast login device").dumps(["admin", "n0nce"])


@pytest.mark.parametrize("cookie", ["another account's", "tampered", "another secret's", "garbage"])
async def test_a_forged_or_foreign_device_cookie_is_not_trusted(app, store, staff, cookie):
    await store.set_staff_password("ana", password_hash())
    ana = await trusted_browser(app, username="ana")
    real = next(c.value for c in ana.cookie_jar if c.name == DEVICE)
    value = {
        "another account's": real,
        "tampered": real[:-2] + ("AA" if not real.endswith("AA") else "BB"),
        "another secret's": forged_with_another_secret(),
        "garbage": "not-a-cookie",
    }[cookie]
    browser = app.test_client()
    browser.set_cookie("localhost", DEVICE, value, path=login_guard.DEVICE_PATH)
    await lock_the_name(app)
    assert (await login_from(browser, "192.0.2.10")).status_code == 429


async def test_the_device_cookie_is_long_lived_http_only_lax_signed_and_secure_over_https(app, staff):
    response = await login_from(app.test_client(), "192.0.2.10")
    cookie = next(c for c in response.headers.getlist("Set-Cookie") if c.startswith(f"{DEVICE}="))
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie and "Path=/admin/login" in cookie
    assert f"Max-Age={int(login_guard.DEVICE_LIFETIME.total_seconds())}" in cookie and "Secure" not in cookie
    assert "admin" not in cookie.split(";")[0].split(".")[-1]  # the last part is the signature
    app.config["PUBLIC_URL"] = "https://book.example.org"
    response = await login_from(app.test_client(), "192.0.2.10")
    cookie = next(c for c in response.headers.getlist("Set-Cookie") if "-slotcast-device=" in c)
    assert cookie.startswith("__Secure-slotcast-device=") and "; Secure" in cookie and "HttpOnly" in cookie


async def test_login_failures_count_an_ipv6_client_by_its_64(app, store, staff):
    await store.set_staff_password("ana", password_hash())
    client = app.test_client()
    for n in range(auth.ATTEMPTS):
        assert (await login_from(client, f"2001:db8:1:2::{n + 1}", "guess")).status_code == 401
    assert (await login_from(client, "2001:db8:1:2:ffff::1", "guess", "ana")).status_code == 429  # the same /64
    assert (await login_from(client, "2001:db8:1:3::1", "guess", "ana")).status_code == 401  # the next /64


async def test_a_crowd_of_strangers_is_turned_away_before_the_hash_and_a_trusted_device_is_answered(app, store, staff):
    """100 wrong logins at once from 100 addresses at 100 names (each would pay a real password hash), and a trusted
    device's login sent in the middle of them: the crowd past the strangers' lane is turned away at once, and the
    trusted device is answered before the crowd's hashes are done."""
    browser = await trusted_browser(app)
    await store.set_staff_password("admin", auth.hash_password(PASSWORD))  # the real, slow hash from here on
    token = await csrf_token(crowd := app.test_client(), "/admin/login")
    answered: list[tuple[str, int, float, object]] = []
    began = time.monotonic()

    async def guess(n: int) -> None:
        form = {"csrf_token": token, "username": f"name{n}", "password": "guess"}
        headers = {"Accept-Language": "zh-CN" if n % 2 else "en"}  # half of them read Chinese
        response = await crowd.post(
            "/admin/login", form=form, headers=headers, scope_base={"client": (f"10.9.{n}.1", 1)}
        )
        answered.append(("crowd", response.status_code, time.monotonic() - began, (n % 2, response)))

    async def staff_member() -> None:
        response = await login_from(browser, "192.0.2.10")
        answered.append(("trusted", response.status_code, time.monotonic() - began, response))

    await asyncio.gather(*(guess(n) for n in range(50)), staff_member(), *(guess(n) for n in range(50, 100)))
    [(_, code, trusted_at, _)] = [a for a in answered if a[0] == "trusted"]
    checked = [at for who, status, at, _ in answered if who == "crowd" and status == 401]
    turned_away = [r for who, status, _, r in answered if who == "crowd" and status == 429]
    assert code == 303
    assert 1 <= len(checked) <= login_guard.STRANGERS[1]  # the strangers' lane's places
    assert len(turned_away) == 100 - len(checked)
    words = ["Many logins are being tried at once", "同时尝试登录的人过多"]
    for chinese, response in turned_away:
        assert response.headers["Retry-After"] == str(login_guard.BUSY_RETRY)
        assert words[chinese] in await text(response)
    assert trusted_at < max(checked)  # answered before the crowd's hashes were done
    assert trusted_at < 10  # a guard only: ~0.2 s on a quiet machine (docs/benchmarks.md)
