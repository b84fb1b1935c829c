"""Real Hypercorn + real Chromium: an owner makes a desk account of one venue on the staff pages, its one-time link
sets the password in another browser, and the desk account logs in, sees its venue only, books a caller on its
board and is refused the other venues' boards; axe finds nothing on the pages on the way.

Run: .venv/bin/python -m pytest tests/test_browser_accounts.py -q   (needs Debian's chromium and axe: `make browser axe`)
"""

from __future__ import annotations

import json
import urllib.request
from datetime import datetime, timedelta
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

import pytest

from tests.support.axe import assert_accessible
from tests.support.live_server import LiveServer
from tests.test_browser import browser, new_page  # noqa: F401  (fixtures, used by name)

pytestmark = pytest.mark.browser

OWNER_PASSWORD, DESK_PASSWORD = "owner-test-password", "desk password 2026"
HARBOUR, LONDON = "harbour-kitchen", "Europe/London"  # the demo's: window tables and a terrace, 11:00-21:00


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """`python app.py` with the demo venues and an owner "admin"."""
    live = LiveServer(tmp_path_factory.mktemp("accounts"), env={"SLOTCAST_ADMIN_PASSWORD": OWNER_PASSWORD}).start()
    yield live
    live.stop(timeout=5.0)


def log_in(page, name: str, password: str) -> None:
    """The login form, filled in as a person does (the page is on it)."""
    page.fill("#username", name)
    page.fill("#password", password)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url(lambda url: urlsplit(url).path != "/admin/login")


def test_a_desk_account_made_on_the_pages_sets_its_password_and_works_its_venue_only(server, new_page):
    owner = new_page(bypass_csp=True)  # axe is injected
    owner.goto(f"{server.url}/admin/staff")
    log_in(owner, "admin", OWNER_PASSWORD)
    assert urlsplit(owner.url).path == "/admin/staff"
    owner.fill("#username", "front-desk")
    owner.get_by_label("Desk: the day board of their venues").check()
    owner.get_by_label("Harbour Kitchen").check()
    owner.get_by_role("button", name="Create the account").click()
    link = owner.locator("code.link").inner_text()
    assert link.startswith(f"{server.url}/admin/password/")
    assert_accessible(owner, "the staff list with a new account's link")

    desk = new_page(bypass_csp=True)  # another browser: the account's holder
    desk.goto(link)
    desk.get_by_text("For the staff account front-desk.").wait_for()
    assert_accessible(desk, "the set-password page")
    desk.fill("#password", DESK_PASSWORD)
    desk.fill("#again", DESK_PASSWORD)
    desk.get_by_role("button", name="Set the password").click()
    desk.get_by_text("Your password is set.").wait_for()
    desk.get_by_role("link", name="Log in").click()
    desk.wait_for_url("**/admin/login")
    log_in(desk, "front-desk", DESK_PASSWORD)
    home = desk.locator("main").inner_text()
    assert "Harbour Kitchen" in home and "Riverside Clinic" not in home and "Corner Barber" not in home
    assert desk.get_by_role("link", name="Staff", exact=True).count() == 0

    day = (datetime.now(ZoneInfo(LONDON)).date() + timedelta(days=2)).isoformat()
    desk.goto(f"{server.url}/admin/venues/{HARBOUR}/board/{day}")
    terrace = desk.locator("section.board", has=desk.get_by_role("heading", name="Terrace"))
    terrace.get_by_label("Name").fill("Caller Wong")
    terrace.get_by_label("Phone or e-mail").fill("+44 20 7946 0777")
    # Someone books online meanwhile: the live board is rendered anew, and what the clerk typed stays.
    slots = api(server, "GET", f"/api/v1/venues/{HARBOUR}/resources/terrace/slots?date={day}")["slots"]
    api(
        server,
        "POST",
        "/api/v1/bookings",
        {"slot_id": slots[0]["id"], "name": "Online Ada", "contact": "ada@example.org"},
    )
    terrace.get_by_text("Online Ada").wait_for()
    assert terrace.get_by_label("Name").input_value() == "Caller Wong"
    terrace.get_by_role("button", name="Book for caller").click()
    terrace.get_by_text("Caller Wong").first.wait_for()
    refused = desk.goto(f"{server.url}/admin/venues/riverside-clinic/board/{day}")
    assert refused.status == 403 and "Your account may not do this here." in desk.locator("main").inner_text()


def api(server: LiveServer, method: str, path: str, body: dict | None = None) -> dict:
    """One JSON API call to the live server."""
    data = json.dumps(body).encode() if body is not None else None
    call = urllib.request.Request(server.url + path, data, {"Content-Type": "application/json"}, method=method)
    with urllib.request.urlopen(call, timeout=10) as answer:
        return json.loads(answer.read())
