"""Real Hypercorn + real Chromium for the draw (抽签): staff turn a clinic's release into a draw at the next minute, two
visitors enter from the day page, and both entry pages turn to their results at the instant, without a reload; the
day page, an entry page before and after, and staff's board with the results are clean under axe. The server's clock
is set ahead (once, before the draw is set) so that the draw's whole minute is SETUP_S seconds away.

Run: .venv/bin/python -m pytest tests/test_browser_draw.py -q -s   (needs Debian's chromium and axe: `make browser axe`)
"""

from __future__ import annotations

from datetime import datetime, timedelta
from urllib.parse import urlsplit

import pytest

from tests.support.axe import assert_accessible
from tests.support.live_server import LiveServer
from tests.test_browser import browser, new_page  # noqa: F401  (fixtures, used by name)
from tests.test_browser_fairness import edit_path, minute_ahead, seen_at, watch
from tests.test_browser_staff import PASSWORD, log_in

pytestmark = pytest.mark.browser

VENUE, RESOURCE, ZONE = "riverside-clinic", "paediatrics-li", "Asia/Shanghai"  # every day 08:00-12:00, 8 a session
DAYS_BEFORE = 2
RESULT_WITHIN_MS = 2000
SETUP_S = 25  # staff's edit, two entries and two axe runs come before the instant


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """`python app.py` with the demo venues, a staff user "admin" and no booking rate per address."""
    live = LiveServer(
        tmp_path_factory.mktemp("draw"),
        env={"SLOTCAST_ADMIN_PASSWORD": PASSWORD, "SLOTCAST_BOOKINGS_PER_MINUTE": "0"},
        leading_clock=True,
    ).start()
    yield live
    live.stop(timeout=5.0)


def release_by_draw(new_page, server: LiveServer, instant: datetime) -> None:
    """Staff set Dr Li's days to be released by draw, DAYS_BEFORE days ahead at the instant's minute."""
    admin = new_page()
    log_in(admin, server, "/admin/")
    path = edit_path(admin, "Riverside Clinic", "Paediatrics — Dr. Li")
    admin.goto(server.url + path)
    admin.fill("#release_days_before", str(DAYS_BEFORE))
    admin.fill("#release_time", instant.strftime("%H:%M"))
    admin.select_option("#release_mode", "draw")
    admin.fill("#draw_entry_hours", "24")
    admin.click("form.booking button[type=submit]")
    admin.wait_for_url(lambda url: urlsplit(url).path == "/admin/")


def enter(page, server: LiveServer, day_path: str, n: int) -> None:
    """Enter the draw from the day page's form (boosted), onto the entry's own live page."""
    page.goto(server.url + day_path)
    page.wait_for_function("() => window.__sse.open >= 1 && window.__sse.messages >= 1")
    assert "Entries close at" in page.inner_text("#draw-status")
    page.fill("#draw-name", f"Entrant {n}")
    page.fill("#draw-contact", f"entrant{n}@example.org")
    page.select_option("#draw-preference_1", index=1)
    page.click("#draw-entry-form button[type=submit]")
    page.wait_for_url(lambda url: urlsplit(url).path.startswith("/draws/"))
    page.wait_for_function("() => window.__sse.open >= 2 && window.__sse.messages >= 2")  # the entry's own stream
    assert "You are entry #" in page.inner_text("#draw-entry")


def test_two_entrants_pages_turn_to_their_results_at_the_instant(server, new_page):
    instant = minute_ahead(server, ZONE, SETUP_S)
    day_path = f"/book/{VENUE}/{RESOURCE}/{(instant.date() + timedelta(days=DAYS_BEFORE)).isoformat()}"
    release_by_draw(new_page, server, instant)

    checked = new_page(bypass_csp=True)  # axe is injected: this one's CSP is not checked, the other's is
    plain = new_page()
    checked.goto(server.url + day_path)
    checked.wait_for_function("() => window.__sse.open >= 1 && window.__sse.messages >= 1")
    assert_accessible(checked, "a draw's day page with its entry form")
    for n, page in enumerate((checked, plain), start=1):
        enter(page, server, day_path, n)
        watch(page, "result", "#draw-entry", "You got")
    assert_accessible(checked, "an entry's page before the draw")
    left_s = instant.timestamp() - server.now()
    assert left_s > 1, f"the pages were ready only {left_s:.1f} s before the draw"
    print(f"\ndraw at {instant:%H:%M} {ZONE}; two entry pages open and waiting {left_s:.1f} s before it")

    for name, page in (("first", checked), ("second", plain)):
        real_instant = instant.timestamp() - server.lead  # the page notes the real time
        delay = seen_at(page, "result", timeout=(left_s + 10) * 1000) - real_instant * 1000
        print(f"{name} entrant's page showed its result {delay:.0f} ms after the instant")
        assert 0 <= delay < RESULT_WITHIN_MS, f"the {name} result showed {delay:.0f} ms after the instant"
    results = {page.inner_text("#draw-entry .your-turn") for page in (checked, plain)}
    assert len(results) == 2 and all("You got 08:00 — ticket B00" in r for r in results), results
    assert_accessible(checked, "an entry's page with its result")
    day = day_path.rsplit("/", 1)[1]
    drawn = server.get_json(f"/api/v1/draws/{VENUE}/{RESOURCE}/{day}")
    assert drawn["status"] == "drawn" and [r["outcome"] for r in drawn["results"]] == ["booked", "booked"]
    staff = new_page(bypass_csp=True)
    log_in(staff, server, f"/admin/venues/{VENUE}/board/{day}")
    results = staff.inner_text("section.draw-board")
    assert "Drawn at" in results and "Entrant 1" in results and "Entrant 2" in results
    assert_accessible(staff, "the staff board with a draw's results")
