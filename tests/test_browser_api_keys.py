"""Real Hypercorn + real Chromium: an owner makes an API key on /admin/api-keys, the key opens the API of the same
live server, and once revoked there it is refused (401) at its next call.

Run: .venv/bin/python -m pytest tests/test_browser_api_keys.py -q   (needs Debian's chromium: `make browser`)
"""

from __future__ import annotations

import re
from datetime import date, timedelta
from urllib.parse import urlsplit

import pytest
import requests

from tests.support.live_server import LiveServer
from tests.test_browser import browser, new_page  # noqa: F401  (fixtures, used by name)

pytestmark = pytest.mark.browser

PASSWORD = "api-keys-test-password"


@pytest.fixture(scope="module")
def live(tmp_path_factory):
    server = LiveServer(tmp_path_factory.mktemp("api-keys"), env={"SLOTCAST_ADMIN_PASSWORD": PASSWORD}).start()
    yield server
    server.stop()


def test_an_owner_makes_a_key_that_works_until_it_is_revoked(live, new_page):
    page = new_page()
    page.goto(f"{live.url}/admin/api-keys/")
    page.fill("#username", "admin")
    page.fill("#password", PASSWORD)
    page.click("form.booking button[type=submit]")
    page.wait_for_url(lambda url: urlsplit(url).path == "/admin/api-keys/")
    page.fill("#key-name", "Front desk till")
    page.get_by_label("Harbour Kitchen").check()
    page.get_by_label(re.compile("bookings:read")).check()
    page.get_by_role("button", name="Make the key").click()
    key = page.locator("#new-key").inner_text()
    assert re.fullmatch(r"sk_[A-Za-z0-9_-]{43}", key)
    day = (date.today() + timedelta(days=2)).isoformat()
    path = f"{live.url}/api/v1/venues/harbour-kitchen/bookings?date={day}"
    answer = requests.get(path, headers={"Authorization": f"Bearer {key}"}, timeout=5)
    assert answer.status_code == 200 and answer.json()["next_cursor"] is None
    other = requests.get(
        path.replace("harbour-kitchen", "corner-barber"), headers={"Authorization": f"Bearer {key}"}, timeout=5
    )
    assert other.status_code == 403 and other.json()["code"] == "other_venue"
    page.goto(f"{live.url}/admin/api-keys/")
    row = page.locator("table.api-keys tr", has_text="Front desk till")
    assert key[:11] in row.inner_text() and key not in page.content() and "never" not in row.inner_text()
    row.get_by_role("button", name="Revoke Front desk till").click()
    page.get_by_text("No keys yet.").wait_for()
    refused = requests.get(path, headers={"Authorization": f"Bearer {key}"}, timeout=5)
    assert refused.status_code == 401 and refused.headers["WWW-Authenticate"] == "Bearer"
