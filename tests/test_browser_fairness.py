"""Real Hypercorn + real Chromium for the scarce moment: a release (放号) and a waitlist offer (候补), as people see them.

A day page open before its release turns bookable at the instant by itself; a cancelled booking reaches the first
waiter's open page within a second, and "Confirm" books it. The server's clock is set ahead (once, before the release
is set) so that the release's whole minute is MARGIN_S seconds away, not up to a minute more.

Run: .venv/bin/python -m pytest tests/test_browser_fairness.py -q -s   (needs Debian's chromium: `make browser`)
"""

from __future__ import annotations

import time
from datetime import date, datetime, timedelta
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

import pytest

from tests.support.live_server import LiveServer
from tests.test_browser import (  # noqa: F401  (browser and new_page are fixtures, used by name)
    browser,
    new_page,
    open_live,
)
from tests.test_browser_staff import PASSWORD, log_in

pytestmark = pytest.mark.browser

VENUE, RESOURCE, ZONE = "harbour-kitchen", "terrace", "Europe/London"  # every day 11:00-21:00, ten slots a day
BARBER, CHAIR, BARBER_ZONE = "corner-barber", "chair-1", "America/New_York"  # one place a slot, 1 per person a day
DAYS_BEFORE = 2
RELEASE_WITHIN_MS = 2000
OFFER_WITHIN_MS = 1000
MARGIN_S = 10  # the release is this far ahead, so that the page is open and has its seconds' countdown before it

# The seconds a countdown's last minute shows (static/app.css counts them in --tick).
TICK = "() => Number(getComputedStyle(document.querySelector('.tick')).getPropertyValue('--tick'))"

# Record (wall clock, epoch ms) when an element matching `selector` first contains `text`. Marks the document:
# a reload would lose the marks. (An arrow function: the CSP refuses the eval() a string expression needs.)
WATCH = """([key, selector, text]) => {
  window.__sameDocument = true;
  window.__seen = window.__seen || {};
  window.__seen[key] = null;
  const check = () => {
    const found = [...document.querySelectorAll(selector)].some(el => el.textContent.includes(text));
    if (window.__seen[key] === null && found) window.__seen[key] = Date.now();
  };
  check();
  new MutationObserver(check).observe(document.body, {subtree: true, childList: true, characterData: true});
}"""


# -- fixtures


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """`python app.py` with the demo venues, a staff user "admin" and no booking rate per address."""
    live = LiveServer(
        tmp_path_factory.mktemp("fairness"),
        env={"SLOTCAST_ADMIN_PASSWORD": PASSWORD, "SLOTCAST_BOOKINGS_PER_MINUTE": "0"},
        leading_clock=True,
    ).start()
    yield live
    live.stop(timeout=5.0)


# -- helpers


def watch(page, key: str, selector: str, text: str) -> None:
    """Start noting when `selector` first shows `text` in this document."""
    page.evaluate(WATCH, [key, selector, text])


def seen_at(page, key: str, timeout: float) -> float:
    """Wait until the watched text showed in this same document (never reloaded); when (epoch ms)."""
    page.wait_for_function(f"() => window.__seen[{key!r}] !== null", timeout=timeout)
    assert page.evaluate("window.__sameDocument === true"), "the page reloaded instead of updating live"
    return page.evaluate(f"window.__seen[{key!r}]")


def minute_ahead(server: LiveServer, zone: str, seconds: float) -> datetime:
    """Set the server's clock ahead (by under a minute) so that its next whole minute is `seconds` away; that minute,
    in `zone` (a whole minute in every zone)."""
    real = time.time()
    lead = -(real + seconds) % 60
    server.lead_clock(lead)
    return datetime.fromtimestamp(round(real + lead + seconds), ZoneInfo(zone))


def slots(server: LiveServer, venue: str, resource: str, day: date) -> list[dict]:
    """A resource's slots on `day` through the JSON API."""
    return server.get_json(f"/api/v1/venues/{venue}/resources/{resource}/slots?date={day.isoformat()}")["slots"]


def edit_path(admin, venue_name: str, resource_name: str) -> str:
    """The resource's edit form, found through the back office's links."""
    card = admin.locator("section.card", has=admin.locator("h2", has_text=venue_name))
    return card.get_by_role("link", name=resource_name, exact=True).get_attribute("href")


def form_values(admin) -> dict:
    """What the resource form shows now."""
    fields = (
        "name",
        "max_party",
        "horizon_days",
        "min_notice_minutes",
        "release_days_before",
        "release_time",
        "schedule",
    )
    return {
        **{f: admin.input_value(f"#{f}") for f in fields},
        "archived": admin.is_checked("form.booking input[name=archived]"),
    }


def free_chair_slot(server: LiveServer) -> tuple[date, dict]:
    """The barber's first free slot from tomorrow on (its own zone), so no notice or closing time gets in the way."""
    today = datetime.now(ZoneInfo(BARBER_ZONE)).date()
    for day in (today + timedelta(days=ahead) for ahead in range(1, 8)):
        free = [s for s in slots(server, BARBER, CHAIR, day) if s["remaining"] == 1]
        if free:
            return day, free[0]
    pytest.fail("the barber's chair has no free slot in the coming week")


# -- tests


def test_a_page_open_before_the_release_turns_bookable_at_the_instant(server, new_page):
    """Staff set the terrace to open day D at the next minute; a visitor's page of D, open before, shows the
    countdown and no Book link, then the Book links within 2 s of the instant, without a reload."""
    admin = new_page()
    log_in(admin, server, "/admin/")
    path = edit_path(admin, "Harbour Kitchen", "Terrace")
    admin.goto(server.url + path)
    before = form_values(admin)

    instant = minute_ahead(server, ZONE, MARGIN_S)
    day = instant.date() + timedelta(days=DAYS_BEFORE)  # released today (the instant's date), D days ahead
    admin.fill("#release_days_before", str(DAYS_BEFORE))
    admin.fill("#release_time", instant.strftime("%H:%M"))
    admin.click("form.booking button[type=submit]")
    admin.wait_for_url(lambda url: urlsplit(url).path == "/admin/")
    admin.goto(server.url + path)
    after = form_values(admin)
    assert after == {**before, "release_days_before": str(DAYS_BEFORE), "release_time": instant.strftime("%H:%M")}
    day_slots = slots(server, VENUE, RESOURCE, day)
    assert day_slots and {datetime.fromisoformat(s["opens_at"]) for s in day_slots} == {instant}, day_slots

    visitor = new_page()
    open_live(visitor, server, f"/book/{VENUE}/{RESOURCE}/{day.isoformat()}")
    assert "Booking opens" in visitor.inner_text("#slot-table .release")
    assert visitor.inner_text("#slot-table .countdown").strip(), "no countdown"
    assert visitor.locator("#slot-table a.button").count() == 0, "bookable before the release"
    watch(visitor, "open", "#slot-table a.button", "Book")
    left_s = instant.timestamp() - server.now()
    assert left_s > 1, f"the page was ready only {left_s:.1f} s before the release"
    print(f"\nrelease at {instant:%H:%M} {ZONE} for {day}; page open and waiting {left_s:.1f} s before it")

    # The last minute counts seconds: the page itself (CSS), set right by a render every ten seconds (SSE).
    visitor.locator("#slot-table .countdown .tick").wait_for(timeout=left_s * 1000)
    if instant.timestamp() - server.now() > 4:  # time enough to look twice before the instant
        ticks = []
        for _ in range(2):
            shown, left = visitor.evaluate(TICK), instant.timestamp() - server.now()
            ticks.append(shown)
            assert abs(shown - left) <= 2.5, f"the countdown shows {shown} s with {left:.1f} s left"
            time.sleep(1.2)
        assert ticks[1] < ticks[0], f"the seconds do not count down: {ticks}"

    real_instant = instant.timestamp() - server.lead  # the page notes the real time
    delay = seen_at(visitor, "open", timeout=(left_s + 10) * 1000) - real_instant * 1000
    print(f"release: Book links showed {delay:.0f} ms after the instant")
    assert 0 <= delay < RELEASE_WITHIN_MS, f"the Book links showed {delay:.0f} ms after the release instant"
    assert visitor.locator("#slot-table a.button", has_text="Book").count() == len(day_slots)
    assert visitor.locator("#slot-table .release").count() == 0, "still counting down after the release"


def test_a_cancellation_reaches_the_first_waiters_open_page_and_confirm_books(server, new_page):
    """The barber's chair is taken; a visitor joins its waitlist through the form and keeps the page open; the
    booking is cancelled through the API: the page shows the offer within a second, and "Confirm" books it."""
    day, slot = free_chair_slot(server)
    taken = server.post_json(
        "/api/v1/bookings",
        {"slot_id": slot["id"], "name": "First Comer", "contact": "first.comer@example.org", "party_size": 1},
    )
    assert taken["status"] == "confirmed"

    waiter = new_page()
    waiter.goto(f"{server.url}/slots/{slot['id']}/book")
    waiter.fill("#wait-name", "Wen Hou 侯文")
    waiter.fill("#wait-contact", "+44 20 7946 0555")
    waiter.evaluate("window.__sse.open = 0; window.__sse.messages = 0")  # from here on: the waitlist's stream
    waiter.click("#waitlist button[type=submit]")
    waiter.wait_for_url("**/waitlist/**")
    waiter.locator("#waiting .ahead", has_text="You are number 1 in line.").wait_for()
    waiter.wait_for_function("() => window.__sse.open >= 1 && window.__sse.messages >= 1")
    watch(waiter, "offer", "#waiting .good-news", "A place is yours until")

    sent = time.time() * 1000
    cancelled = server.post_json(
        f"/api/v1/bookings/{taken['reference']}/cancel", {"cancel_token": taken["cancel_token"]}
    )
    assert cancelled["status"] == "cancelled", cancelled
    delay = seen_at(waiter, "offer", timeout=5000) - sent
    print(f"\nwaitlist: the offer showed {delay:.0f} ms after the cancel was sent")
    assert delay < OFFER_WITHIN_MS, f"the offer showed {delay:.0f} ms after the cancellation"

    waiter.click("#waiting button:has-text('Confirm')")
    waiter.wait_for_url("**/bookings/**")  # a page of its own, to keep (the answer is an HX-Redirect)
    waiter.locator("h1", has_text="You are booked").wait_for()
    assert "Wen Hou 侯文" in waiter.inner_text("dl.summary")
    assert next(s for s in slots(server, BARBER, CHAIR, day) if s["id"] == slot["id"])["remaining"] == 0
