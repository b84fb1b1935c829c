"""Real Hypercorn + real Chromium: the vendored htmx, hx-boost and the SSE wiring as a person sees them.

Run: .venv/bin/python -m pytest tests/test_browser.py -q -s   (needs Debian's chromium: `make browser`)
"""

from __future__ import annotations

import itertools
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from tests.support.live_server import ROOT, LiveServer, read_to_end

PEOPLE = itertools.count(1)  # a new contact per booking: the demo venues limit bookings per person

pytestmark = pytest.mark.browser

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
ARTIFACTS = ROOT / "test-artifacts"
SHOTS = ARTIFACTS / "screenshots"
VENUE, RESOURCE, ZONE = "harbour-kitchen", "terrace", "Europe/London"  # every day 11:00-21:00, 20 places, parties <= 8
LIVE_WITHIN_MS = 1000
TIMEOUT_MS = 10000  # a machine running three test workers at once

# Test-side instrumentation (the app has no custom JavaScript): count the SSE extension's events.
# htmx:sseBeforeMessage fires on the sse-swap element while it is still in the page, so it bubbles here.
# wait_for_function gets arrow functions, never bare expressions: Playwright evaluates a string again on every
# poll with eval(), which the app's Content-Security-Policy refuses; a function is evaluated once and then called.
SSE_PROBE = """
window.__sse = {open: 0, messages: 0, errors: 0};
document.addEventListener('htmx:sseOpen', () => window.__sse.open++);
document.addEventListener('htmx:sseBeforeMessage', () => window.__sse.messages++);
document.addEventListener('htmx:sseError', () => window.__sse.errors++);
"""

# Record (epoch ms, sub-ms precision) when the slot's row first shows the expected remaining count.
WATCH_ROW = """([id, expected]) => {
  window.__changedAt = null;
  const check = () => {
    const row = document.querySelector(`tr[data-slot-id="${id}"]`);
    if (window.__changedAt === null && row && row.dataset.remaining === String(expected)) {
      window.__changedAt = performance.timeOrigin + performance.now();
    }
  };
  new MutationObserver(check).observe(document.body, {subtree: true, childList: true, attributes: true});
}"""

# When the response to the last boosted POST to `path` arrived (epoch ms). The form POST answers 303 and the
# XHR follows it, so the booking's own response is the redirect: redirectEnd (responseEnd without one).
POST_RESPONSE_AT = """(path) => {
  const entries = performance.getEntriesByType('resource')
    .filter(e => new URL(e.name).pathname === path && e.initiatorType === 'xmlhttprequest');
  const e = entries[entries.length - 1];
  return e ? performance.timeOrigin + (e.redirectEnd || e.responseEnd) : null;
}"""


# -- fixtures


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """`python app.py` with the demo venues on a temp SQLite file; stopped with SIGTERM at the end."""
    live = LiveServer(tmp_path_factory.mktemp("live")).start()
    yield live
    # Stop while an SSE stream is open: the server must end it (named close event) and exit promptly.
    slot = bookable_slot(live, 1)
    with live.stream(f"/events/slot/{slot['id']}") as stream:
        took = live.stop(timeout=5.0)
        rest = read_to_end(stream)
    print(f"\nserver stopped {took:.2f} s after SIGTERM, with a stream open")
    assert b"event: close" in rest, rest[-300:]


@pytest.fixture(scope="module")
def browser():
    """Debian's Chromium driven by Playwright (never a downloaded browser)."""
    from playwright.sync_api import sync_playwright

    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: run `make browser` (Debian's chromium package)", pytrace=False)
    SHOTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture
def new_page(browser):
    """A page in a context of its own (a separate visitor); all are closed after the test, which fails if the
    browser refused anything under the Content-Security-Policy (an inline style or script, eval, another origin)."""
    contexts, refused = [], []

    def note(text: str, what: str, page) -> None:
        if "Content Security Policy" in text or "Refused to" in text:
            refused.append(f"{what} at {page.url if page else '?'}: {text}")

    def make(**options):
        context = browser.new_context(**options)
        context.set_default_timeout(TIMEOUT_MS)
        if options.get("java_script_enabled", True):
            context.add_init_script(SSE_PROBE)
        # Chromium reports each CSP violation as a console message (scripts or not) or, for eval, a page error.
        context.on("console", lambda message: note(message.text, f"console {message.type}", message.page))
        context.on("weberror", lambda error: note(str(error.error), "page error", error.page))
        contexts.append(context)
        return context.new_page()

    yield make
    for context in contexts:
        context.close()
    if refused:
        pytest.fail(
            "the browser refused content under the Content-Security-Policy:\n" + "\n".join(refused), pytrace=False
        )


# -- helpers


def tomorrow() -> str:
    return (datetime.now(ZoneInfo(ZONE)).date() + timedelta(days=1)).isoformat()


def day_path() -> str:
    return f"/book/{VENUE}/{RESOURCE}/{tomorrow()}"


def slots(server: LiveServer) -> list[dict]:
    return server.get_json(f"/api/v1/venues/{VENUE}/resources/{RESOURCE}/slots?date={tomorrow()}")["slots"]


def remaining(server: LiveServer, slot_id: int) -> int:
    return next(s["remaining"] for s in slots(server) if s["id"] == slot_id)


def bookable_slot(server: LiveServer, index: int, room: int = 8) -> dict:
    """Tomorrow's `index`-th terrace slot with room for `room` (each test takes its own slot)."""
    free = [s for s in slots(server) if s["remaining"] >= room]
    assert len(free) > index, f"no bookable terrace slot tomorrow: {slots(server)}"
    return free[index]


def open_live(page, server: LiveServer, path: str) -> None:
    """Load a page and wait until its SSE stream is open and the first (full-state) event was swapped in."""
    page.goto(server.url + path)
    page.wait_for_function("() => window.__sse.open >= 1 && window.__sse.messages >= 1")
    assert page.evaluate("window.__sse.errors") == 0


def row_remaining(page, slot_id: int) -> int:
    return int(page.get_attribute(f'tr[data-slot-id="{slot_id}"]', "data-remaining"))


def watch_row(page, slot_id: int, expected: int) -> None:
    """Start timing the row's change, and mark the document: a reload would lose the mark."""
    page.evaluate("window.__sameDocument = true")
    page.evaluate(WATCH_ROW, [slot_id, expected])


def changed_at(page, slot_id: int, expected: int) -> float:
    """Wait until the row shows `expected` in this same document; when it did (epoch ms)."""
    page.wait_for_function("() => window.__changedAt !== null", timeout=TIMEOUT_MS)
    assert page.evaluate("window.__sameDocument === true"), "the page reloaded instead of updating live"
    assert row_remaining(page, slot_id) == expected
    return page.evaluate("window.__changedAt")


def shot(page, name: str) -> None:
    page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)


def record_delay(name: str, delay_ms: float) -> None:
    line = f"{name}: {delay_ms:.1f} ms"
    print(f"\nlive-update delay, {line}")
    ARTIFACTS.mkdir(exist_ok=True)
    path = ARTIFACTS / "live-delay.txt"
    kept = [x for x in (path.read_text().splitlines() if path.exists() else []) if not x.startswith(name + ":")]
    path.write_text("\n".join(kept + [line]) + "\n")


# -- tests


def test_booking_in_one_page_updates_another_live(server, new_page):
    """Book through the boosted form in page 1: page 2's row drops by the party size, without a reload, < 1 s."""
    slot, party = bookable_slot(server, 0), 3
    before = slot["remaining"]
    viewer, booker = new_page(), new_page()
    with viewer.expect_response(lambda r: "/events/day/" in r.url) as stream:
        open_live(viewer, server, day_path())
    # gzip: a header, then one deflate segment per message, each decoded by Chromium as it arrives
    assert stream.value.headers.get("content-encoding") == "gzip"
    open_live(booker, server, day_path())
    assert row_remaining(viewer, slot["id"]) == row_remaining(booker, slot["id"]) == before
    # The table now on screen came over SSE (rendered outside any request): its links must stay on this site.
    links = booker.eval_on_selector_all("#slot-table a", "links => links.map(a => a.getAttribute('href'))")
    assert links and all(href.startswith("/") for href in links), links
    shot(booker, "day")
    watch_row(viewer, slot["id"], before - party)

    booker.click(f'tr[data-slot-id="{slot["id"]}"] a.button')
    booker.wait_for_url(f"**/slots/{slot['id']}/book")
    booker.fill("#name", "Ada Lovelace")
    booker.fill("#contact", "ada@example.org")
    booker.fill("#party_size", str(party))
    shot(booker, "booking-form")
    with booker.expect_response(lambda r: r.request.method == "POST") as posted:
        booker.click("#booking-form button[type=submit]")
    assert posted.value.status == 303, posted.value.status

    reference = booker.locator("dd.reference").inner_text(timeout=TIMEOUT_MS).strip()
    assert reference
    booker.wait_for_url(f"**/bookings/{reference}?token=*")  # hx-boost followed the redirect and pushed its URL
    assert booker.locator("h1").inner_text() == "Your table is reserved"
    shot(booker, "confirmation")

    seen = changed_at(viewer, slot["id"], before - party)
    answered = booker.evaluate(POST_RESPONSE_AT, f"/slots/{slot['id']}/book")
    assert answered, "no resource timing for the booking POST"
    delay = seen - answered
    record_delay("booking", delay)
    assert delay < LIVE_WITHIN_MS, f"page 2 changed {delay:.0f} ms after the booking's response"
    assert remaining(server, slot["id"]) == before - party
    shot(viewer, "day-after-booking-live")


def test_booking_and_cancel_without_javascript(server, new_page):
    """With JavaScript off, plain links and forms book, confirm and cancel; the place comes back."""
    slot, party = bookable_slot(server, 1), 2
    before = slot["remaining"]
    page = new_page(java_script_enabled=False)
    page.goto(server.url + day_path())
    assert row_remaining(page, slot["id"]) == before

    page.click(f'tr[data-slot-id="{slot["id"]}"] a.button')
    page.wait_for_url(f"**/slots/{slot['id']}/book")
    page.fill("#name", "Grace Hopper")
    page.fill("#contact", "+44 20 7946 0000")
    page.fill("#party_size", str(party))
    page.click("#booking-form button[type=submit]")
    page.wait_for_url("**/bookings/*?token=*")
    reference = page.locator("dd.reference").inner_text().strip()
    assert reference and page.locator("h1").inner_text() == "Your table is reserved"
    shot(page, "nojs-confirmation")
    assert remaining(server, slot["id"]) == before - party

    page.click("a.cancel-link")
    page.wait_for_url(f"**/bookings/{reference}/cancel?token=*")
    page.click("button.danger")
    page.wait_for_url(f"**/bookings/{reference}?token=*")
    assert page.locator("h1").inner_text() == "Booking cancelled"
    shot(page, "nojs-cancelled")
    assert remaining(server, slot["id"]) == before


def test_cancel_in_one_page_updates_another_live(server, new_page):
    """Cancel through the boosted cancel form in one page: the day view in another page gains the places back."""
    slot, party = bookable_slot(server, 2), 4
    booking = server.post_json(
        "/api/v1/bookings",
        {
            "slot_id": slot["id"],
            "name": "Alan Turing",
            "contact": f"alan{next(PEOPLE)}@example.org",
            "party_size": party,
        },
    )
    booked = slot["remaining"] - party
    assert remaining(server, slot["id"]) == booked
    viewer, canceller = new_page(), new_page()
    open_live(viewer, server, day_path())
    assert row_remaining(viewer, slot["id"]) == booked
    canceller.goto(f"{server.url}/bookings/{booking['reference']}/cancel?token={booking['cancel_token']}")
    watch_row(viewer, slot["id"], booked + party)

    with canceller.expect_response(lambda r: r.request.method == "POST") as posted:
        canceller.click("button.danger")
    assert posted.value.status == 303, posted.value.status
    canceller.locator("h1", has_text="Booking cancelled").wait_for()
    canceller.wait_for_url(f"**/bookings/{booking['reference']}?token=*")

    seen = changed_at(viewer, slot["id"], booked + party)
    answered = canceller.evaluate(POST_RESPONSE_AT, f"/bookings/{booking['reference']}/cancel")
    assert answered, "no resource timing for the cancel POST"
    delay = seen - answered
    record_delay("cancel", delay)
    assert delay < LIVE_WITHIN_MS, f"the other page changed {delay:.0f} ms after the cancel's response"
    assert remaining(server, slot["id"]) == booked + party
    shot(viewer, "day-after-cancel-live")
