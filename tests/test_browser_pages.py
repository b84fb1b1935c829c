"""Every kind of page in real Chromium, JavaScript on, under the strict Content-Security-Policy (issue 11).

Each page's response must carry the CSP header, and Chromium must refuse nothing on it (no inline style or script,
no eval): checked here after every page, and again by `new_page` when the test ends.

Run: .venv/bin/python -m pytest tests/test_browser_pages.py -q   (needs Debian's chromium: `make browser`)
"""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from playwright.sync_api import expect

from middleware.headers import CSP
from tests.support.live_server import LiveServer
from tests.test_browser import browser, new_page  # noqa: F401  (fixtures, used by name)

pytestmark = pytest.mark.browser

PASSWORD = "pages-test-password"
LIVE = "() => window.__sse.open >= 1 && window.__sse.messages >= 1"  # test_browser's SSE_PROBE counts these
# Count the SSE swaps into the ticket (the confirmation arrives boosted, in the same document as the form).
WATCH_TICKET = """() => document.addEventListener('htmx:sseBeforeMessage',
  (e) => { if (e.target.querySelector('#ticket')) window.__ticketSwaps = (window.__ticketSwaps || 0) + 1; })"""

# (path, wait for its SSE stream to open and swap once, status); {names} come from the `demo` fixture.
PUBLIC_PAGES = [
    ("/", False, 200),  # the venue list
    ("/book/{venue}", False, 200),  # a venue
    ("/book/{venue}/{resource}/{day}", True, 200),  # a day, live
    ("/slots/{slot}/book", True, 200),  # a booking form, live
    ("/kiosk/{venue}", True, 200),  # the kiosk, live
    ("/book/no-such-venue", False, 404),  # an error page
    ("/book/{venue}?lang=zh_CN", False, 200),  # the language switch to Chinese (last: it sets a cookie)
]
STAFF_PAGES = [
    ("/admin/", False, 200),  # the back office index
    ("/admin/venues/{venue}/board/{day}", True, 200),  # the day board, live
    ("/admin/venues/new", False, 200),  # the new-venue form
    ("{resource_edit}", False, 200),  # a resource's edit form
]


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """`python app.py` with the demo venues and a staff user "admin"."""
    live = LiveServer(tmp_path_factory.mktemp("pages"), env={"SLOTCAST_ADMIN_PASSWORD": PASSWORD}).start()
    yield live
    live.stop(timeout=5.0)


@pytest.fixture(scope="module")
def demo(server) -> dict:
    """Real demo slugs, a day some days ahead and a slot on it with room (from the JSON API), at a venue with queue
    tickets (a restaurant's confirmation has no live ticket to follow)."""
    for venue in sorted(server.get_json("/api/v1/venues"), key=lambda v: v["kind"] == "restaurant"):
        for resource in venue["resources"]:
            for ahead in range(2, 7):
                day = (datetime.now(ZoneInfo(venue["timezone"])).date() + timedelta(days=ahead)).isoformat()
                path = f"/api/v1/venues/{venue['slug']}/resources/{resource['slug']}/slots?date={day}"
                free = [s for s in server.get_json(path)["slots"] if s["remaining"] >= 2]
                if free:
                    return dict(venue=venue["slug"], resource=resource["slug"], day=day, slot=free[0]["id"])
    pytest.fail("no demo resource has a slot with room in the next days")


@pytest.fixture
def page(new_page):
    """A Chromium page, JavaScript on, that keeps the CSP refusals it logs in `page.refused`."""
    page = new_page()
    page.refused = []

    def keep(text: str) -> None:
        if "Content Security Policy" in text:
            page.refused.append(text)

    page.context.on("console", lambda message: keep(message.text))
    page.context.on("weberror", lambda error: keep(str(error.error)))
    return page


def assert_clean(page, response, what: str) -> None:
    """The response carried the CSP header, and Chromium refused nothing so far."""
    assert response.headers.get("content-security-policy") == CSP, f"{what}: no CSP header"
    assert not page.refused, f"{what}: refused under the CSP:\n" + "\n".join(page.refused)


def visit(page, server: LiveServer, path: str, live: bool = False, status: int = 200):
    """Load `path`; with `live`, wait until its SSE stream opened and swapped in an event."""
    response = page.goto(server.url + path)
    assert response.status == status, f"{path}: {response.status}"
    if live:
        page.wait_for_function(LIVE)
    assert_clean(page, response, path)


def submit(page, button: str) -> None:
    """Press a boosted form's button; check the page its POST redirected to."""
    with page.expect_response(lambda r: r.request.redirected_from is not None) as landed:
        page.click(button)
    assert_clean(page, landed.value, f"{button} -> {landed.value.url}")


def test_public_pages(server, demo, page):
    """The venue list, a venue, a day, a booking form, the kiosk, a 404 and a page in Chinese."""
    for path, live, status in PUBLIC_PAGES:
        visit(page, server, path.format(**demo), live, status)
    assert page.get_attribute("html", "lang") == "zh-CN"


def test_booking_and_cancelling(server, demo, page):
    """Book through the form (the confirmation with its live ticket), then the cancel form and cancelling."""
    visit(page, server, f"/slots/{demo['slot']}/book", live=True)
    page.fill("#name", "Ada Lovelace")
    page.fill("#contact", "ada@example.org")
    page.evaluate(WATCH_TICKET)
    submit(page, "#booking-form button[type=submit]")
    page.wait_for_function("() => window.__ticketSwaps >= 1")  # the live ticket
    assert_clean(page, page.goto(page.url), "the confirmation")  # a full load of it too
    page.wait_for_function(LIVE)
    page.click("a.cancel-link")
    page.wait_for_url("**/cancel?token=*")
    assert_clean(page, page.goto(page.url), "the cancel form")  # a full load of it too
    submit(page, "button.danger")
    expect(page.locator("h1")).to_have_text("Booking cancelled")  # once htmx has swapped the answer in


def test_staff_pages(server, demo, page):
    """The staff login, the back office, a day board, the new-venue form and a resource's edit form."""
    visit(page, server, "/admin/login?next=/admin/")
    page.fill("#username", "admin")
    page.fill("#password", PASSWORD)
    submit(page, "form.booking button[type=submit]")
    demo = dict(demo, resource_edit=page.get_attribute('a[href^="/admin/resources/"][href$="/edit"]', "href"))
    for path, live, status in STAFF_PAGES:
        visit(page, server, path.format(**demo), live, status)
