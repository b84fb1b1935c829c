"""Real Hypercorn + real Chromium for booking as a person does it (issue 10): on a phone in English and in Chinese
from the home page through the date strip and "Next available" to the confirmation; a party of 6 on the terrace;
moving a booking while another page watches both times; the .ics file; "Find my booking"; the count's flash; and
screenshots of the pages at the sizes they are used at.

The demo data (booking/demo.py) on a fresh SQLite file; slots are found through the JSON API, never hard-coded.

Run: .venv/bin/python -m pytest tests/test_browser_booking.py -q   (needs Debian's chromium: `make browser`)
"""

from __future__ import annotations

import itertools
import re
import time
from datetime import date, datetime, timedelta
from pathlib import Path
from urllib.parse import parse_qs, urlsplit
from zoneinfo import ZoneInfo

import icalendar
import pytest

from tests.support.live_server import LiveServer
from tests.test_browser import (  # noqa: F401  (browser and new_page are fixtures, used by name)
    POST_RESPONSE_AT,
    SHOTS,
    TIMEOUT_MS,
    browser,
    new_page,
    open_live,
)
from tests.test_browser_staff import PASSWORD, log_in

pytestmark = pytest.mark.browser

PEOPLE = itertools.count(1)  # a new contact per booking: the demo venues limit bookings per person and day
PHONE = dict(viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True)
DESKTOP = dict(viewport={"width": 1280, "height": 900})
HARBOUR, TERRACE, LONDON = "harbour-kitchen", "terrace", "Europe/London"  # 11:00-21:00 hourly, 20 places, parties <= 8
CLINIC, PAEDIATRICS, SHANGHAI = "riverside-clinic", "paediatrics-li", "Asia/Shanghai"  # 08:00-12:00, 8 a slot, 放号
BARBER, CHAIR, NEW_YORK = "corner-barber", "chair-1", "America/New_York"  # closed on Mondays, one place a slot
LIVE_WITHIN_MS = 1000

# Note when each watched row first shows its expected remaining count (epoch ms), and mark the document: a reload
# would lose the marks. (An arrow function: the CSP refuses the eval() a string expression needs.)
WATCH_ROWS = """(watches) => {
  window.__sameDocument = true;
  window.__rowsAt = {};
  const check = () => {
    for (const [id, expected] of watches) {
      const row = document.querySelector(`tr[data-slot-id="${id}"]`);
      if (!(id in window.__rowsAt) && row && row.dataset.remaining === String(expected)) {
        window.__rowsAt[id] = performance.timeOrigin + performance.now();
      }
    }
  };
  check();
  new MutationObserver(check).observe(document.body, {subtree: true, childList: true, attributes: true});
}"""

# Sample the computed --left of two count cells every few milliseconds (epoch ms, changed cell, unchanged cell).
SAMPLE_LEFT = """([changed, unchanged]) => {
  window.__sameDocument = true;
  window.__samples = [];
  const left = (id) => {
    const el = document.getElementById(id);
    return el ? getComputedStyle(el).getPropertyValue('--left').trim() : null;
  };
  window.__sampler = setInterval(() => window.__samples.push(
    [performance.timeOrigin + performance.now(), left(changed), left(unchanged)]), 5);
}"""
STOP_SAMPLING = "() => { clearInterval(window.__sampler); return window.__samples; }"


# -- fixtures


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """`python app.py` with the demo venues, a staff user "admin" and no booking rate per address (a day is filled
    through the API)."""
    live = LiveServer(
        tmp_path_factory.mktemp("booking"),
        env={"SLOTCAST_ADMIN_PASSWORD": PASSWORD, "SLOTCAST_BOOKINGS_PER_MINUTE": "0"},
    ).start()
    yield live
    live.stop(timeout=5.0)


# -- helpers


def today(zone: str) -> date:
    return datetime.now(ZoneInfo(zone)).date()


def slots(server: LiveServer, venue: str, resource: str, day: date) -> list[dict]:
    return server.get_json(f"/api/v1/venues/{venue}/resources/{resource}/slots?date={day.isoformat()}")["slots"]


def remaining(server: LiveServer, venue: str, resource: str, day: date, slot_id: int) -> int:
    return next(s["remaining"] for s in slots(server, venue, resource, day) if s["id"] == slot_id)


def bookable(slot: dict, room: int = 1, notice_minutes: int = 30) -> bool:
    """Whether the public can book `room` places in the slot now (released, with a margin over the notice)."""
    earliest = datetime.now(ZoneInfo("UTC")) + timedelta(minutes=notice_minutes + 3)
    return slot["opens_at"] is None and datetime.fromisoformat(slot["start"]) >= earliest and slot["remaining"] >= room


def hhmm(slot: dict, zone: str) -> str:
    return datetime.fromisoformat(slot["start"]).astimezone(ZoneInfo(zone)).strftime("%H:%M")


def day_path(venue: str, resource: str, day: date, party: int = 1) -> str:
    return f"/book/{venue}/{resource}/{day.isoformat()}" + (f"?party={party}" if party > 1 else "")


def book(
    server: LiveServer, slot_id: int, party: int = 1, contact: str | None = None, name: str = "Api Booker"
) -> dict:
    """A booking through the JSON API, by a new person unless a contact is given."""
    contact = contact or f"guest{next(PEOPLE)}@example.org"
    booking = server.post_json(
        "/api/v1/bookings", {"slot_id": slot_id, "name": name, "contact": contact, "party_size": party}
    )
    assert booking["status"] == "confirmed", booking
    return booking


def fill_day(server: LiveServer, venue: str, resource: str, day: date) -> None:
    """Book every place of the day, one person a place (max_party is 1 at the clinic)."""
    for slot in slots(server, venue, resource, day):
        for _ in range(slot["remaining"]):
            book(server, slot["id"], name="Filling The Day")
    assert all(s["remaining"] == 0 for s in slots(server, venue, resource, day))


def next_free(server: LiveServer, venue: str, resource: str, after: date, notice_minutes: int) -> tuple[date, dict]:
    """The first slot after `after` the public can book now (what "Next available" must point at)."""
    for ahead in range(1, 15):
        day = after + timedelta(days=ahead)
        free = [s for s in slots(server, venue, resource, day) if bookable(s, 1, notice_minutes)]
        if free:
            return day, free[0]
    pytest.fail(f"no free slot at {venue}/{resource} in the two weeks after {after}")


def sse_counts(page) -> tuple[int, int]:
    return page.evaluate("[window.__sse.open, window.__sse.messages]")


def wait_live_again(page, before: tuple[int, int]) -> None:
    """After a boosted navigation: the new page's stream opened and swapped in its first event (no errors)."""
    page.wait_for_function(
        "([opened, messages]) => window.__sse.open > opened && window.__sse.messages > messages", arg=list(before)
    )
    assert page.evaluate("window.__sse.errors") == 0


def follow(page, locator, url_pattern, live: bool = False) -> None:
    """Click a link (hx-boost swaps the page in and pushes its address), and wait for where it leads."""
    before = sse_counts(page)
    locator.click()
    page.wait_for_url(url_pattern)
    if live:
        wait_live_again(page, before)


def strip_day(page, day: date):
    """The date strip's link to `day`."""
    return page.locator(f'nav#date-strip li a[href*="/{day.isoformat()}"]')


def assert_strip_shows(page, day: date, outlook: str) -> None:
    """The strip marks `day` (and only it) as the one shown, with its outlook as the class of its item."""
    current = page.locator('nav#date-strip a[aria-current="date"]')
    assert current.count() == 1, f"{current.count()} days marked current"
    assert urlsplit(current.get_attribute("href")).path.endswith(f"/{day.isoformat()}"), current.get_attribute("href")
    assert page.locator(f'nav#date-strip li.{outlook} > a[aria-current="date"]').count() == 1, (
        f"the shown day is not '{outlook}': {current.evaluate('a => a.parentElement.className')}"
    )


def shot(page, name: str, full_page: bool = True) -> None:
    page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=full_page)


def no_sideways_scroll(page, what: str) -> None:
    overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
    assert overflow <= 0, f"{what}: the page is {overflow}px wider than the screen"


def seen_rows(page, slot_ids: list[int]) -> dict[int, float]:
    """Wait until every watched row showed its count in this same document; when each did (epoch ms)."""
    page.wait_for_function("(ids) => ids.every(id => id in window.__rowsAt)", arg=slot_ids, timeout=TIMEOUT_MS)
    assert page.evaluate("window.__sameDocument === true"), "the page reloaded instead of updating live"
    return {int(k): v for k, v in page.evaluate("window.__rowsAt").items()}


def row_remaining(page, slot_id: int) -> int:
    return int(page.get_attribute(f'tr[data-slot-id="{slot_id}"]', "data-remaining"))


def confirmation_path(booking: dict) -> str:
    return f"/bookings/{booking['reference']}?token={booking['cancel_token']}"


# -- 1. from the home page to a booking on a phone, through the strip and "Next available"


def test_phone_in_english_from_home_through_a_closed_day_to_a_booking(server, new_page):
    """On a 390×844 phone in English: home → the barber's card → Chair 1 → a closed day (Monday) in the date strip →
    its "Next available" link → the day with room (current, open) → "Book HH:MM" → the form → "You are booked"."""
    page = new_page(**PHONE, locale="en-GB")
    page.goto(server.url + "/")
    assert page.locator("h1").inner_text() == "Book a time"
    follow(page, page.locator("a.card-link", has_text="Corner Barber"), f"**/book/{BARBER}")
    shown = today(NEW_YORK)
    follow(page, page.locator("a.card-link", has_text="Chair 1"), f"**{day_path(BARBER, CHAIR, shown)}", live=True)
    current = page.locator('nav#date-strip a[aria-current="date"]')
    assert current.count() == 1 and current.get_attribute("href").endswith(f"/{shown.isoformat()}")

    # The first closed day after today (the barber rests on Mondays: always one within the strip's two weeks).
    closed = [
        date.fromisoformat(urlsplit(href).path.rsplit("/", 1)[1])
        for href in page.eval_on_selector_all(
            "nav#date-strip li.closed a", "links => links.map(a => a.getAttribute('href'))"
        )
    ]
    closed = [d for d in closed if d > shown]
    assert closed, "no closed day in the barber's date strip"
    follow(page, strip_day(page, closed[0]), f"**{day_path(BARBER, CHAIR, closed[0])}", live=True)
    assert_strip_shows(page, closed[0], "closed")
    assert page.locator("#slot-table a.button").count() == 0

    free_day, free = next_free(server, BARBER, CHAIR, closed[0], notice_minutes=0)
    link = page.locator("p.next-free a")
    assert "Next available" in link.inner_text() and hhmm(free, NEW_YORK) in link.inner_text(), link.inner_text()
    follow(page, link, f"**{day_path(BARBER, CHAIR, free_day)}", live=True)
    assert_strip_shows(page, free_day, "open")
    assert page.locator("p.next-free").count() == 0, "a day with room still points elsewhere"
    no_sideways_scroll(page, "phone day page (en)")
    shot(page, "phone-day-en-390x844")

    follow(
        page, page.get_by_role("link", name=f"Book {hhmm(free, NEW_YORK)}", exact=True), f"**/slots/{free['id']}/book"
    )
    page.fill("#name", "Sam Carter")
    page.fill("#contact", f"+1 212 555 {1000 + next(PEOPLE)}")
    page.get_by_role("button", name="Confirm booking").click()
    page.locator("h1", has_text="You are booked").wait_for()
    assert re.search(r"/bookings/[A-Z0-9]+\?token=", page.url), page.url
    assert hhmm(free, NEW_YORK) in page.locator("dl.summary").inner_text()
    assert remaining(server, BARBER, CHAIR, free_day, free["id"]) == free["remaining"] - 1


def test_phone_in_chinese_from_home_through_a_full_day_to_a_booking(server, new_page):
    """On a phone, switched to 中文 with the language switch: home → 滨江诊所 → 儿科 → a day filled through the API (已满 in
    the strip) → "最近可约" → the next day with room → "预约 HH:MM" → the form → "挂号成功"."""
    full = today(SHANGHAI) + timedelta(days=1)  # released (a week ahead), every day open
    fill_day(server, CLINIC, PAEDIATRICS, full)

    page = new_page(**PHONE, locale="en-GB")
    page.goto(server.url + "/")
    follow(page, page.locator('nav.langs a[hreflang="zh-CN"]'), "**/?lang=zh_CN")
    assert page.locator("h1").inner_text() == "在线预约"
    assert page.get_attribute("html", "lang") == "zh-CN"  # the switch loads the whole page, not just its body
    follow(page, page.locator("a.card-link", has_text="滨江诊所"), f"**/book/{CLINIC}")
    follow(page, page.locator("a.card-link", has_text="儿科"), f"**/book/{CLINIC}/{PAEDIATRICS}/*", live=True)

    follow(page, strip_day(page, full), f"**{day_path(CLINIC, PAEDIATRICS, full)}", live=True)
    assert_strip_shows(page, full, "full")
    assert page.locator("#slot-table a.button").count() == 0

    free_day, free = next_free(server, CLINIC, PAEDIATRICS, full, notice_minutes=0)
    link = page.locator("p.next-free a")
    assert "最近可约" in link.inner_text() and hhmm(free, SHANGHAI) in link.inner_text(), link.inner_text()
    follow(page, link, f"**{day_path(CLINIC, PAEDIATRICS, free_day)}", live=True)
    assert_strip_shows(page, free_day, "open")
    no_sideways_scroll(page, "phone day page (zh)")
    shot(page, "phone-day-zh-390x844")

    follow(
        page, page.get_by_role("link", name=f"预约 {hhmm(free, SHANGHAI)}", exact=True), f"**/slots/{free['id']}/book"
    )
    page.fill("#name", "王小明")
    page.fill("#contact", f"138 0013 {8000 + next(PEOPLE)}")
    page.get_by_role("button", name="确认预约").click()
    page.locator("h1", has_text="挂号成功").wait_for()
    assert page.get_attribute("html", "lang") == "zh-CN"
    assert remaining(server, CLINIC, PAEDIATRICS, free_day, free["id"]) == free["remaining"] - 1


# -- 2. party first


def test_party_of_six_on_the_terrace(server, new_page):
    """Choose 6 with the chips: a row with fewer than 6 left (made through the API, before the page loads and while
    it is open) offers no Book; every Book link carries ?party=6, and the form comes with 6 people filled in."""
    day = today(LONDON) + timedelta(days=3)
    free = [s for s in slots(server, HARBOUR, TERRACE, day) if bookable(s, 20)]
    assert len(free) >= 4, "the terrace has too few untouched slots on that day"
    before_load, while_open, chosen = free[0], free[1], free[2]
    book(server, before_load["id"], 8)
    book(server, before_load["id"], 8)  # 4 left

    page = new_page(**DESKTOP)
    open_live(page, server, day_path(HARBOUR, TERRACE, day))
    follow(
        page,
        page.locator("nav.party a", has_text=re.compile(r"^\s*6\s*$")),
        f"**{day_path(HARBOUR, TERRACE, day, party=6)}",
        live=True,
    )
    assert page.locator('nav.party a[aria-current="true"]').inner_text().strip() == "6"

    def assert_no_book(slot_id: int, left: int) -> None:
        row = page.locator(f'tr[data-slot-id="{slot_id}"]')
        assert row_remaining(page, slot_id) == left
        assert row.locator("a.button").count() == 0, f"a Book link in a row with {left} left for a party of 6"
        assert "Too few seats for 6" in row.inner_text()  # a restaurant's words

    assert_no_book(before_load["id"], 4)
    page.evaluate(WATCH_ROWS, [[while_open["id"], 3]])
    book(server, while_open["id"], 8)
    book(server, while_open["id"], 8)
    book(server, while_open["id"], 1)  # 3 left
    seen_rows(page, [while_open["id"]])
    assert_no_book(while_open["id"], 3)

    links = page.eval_on_selector_all("#slot-table a.button", "links => links.map(a => a.getAttribute('href'))")
    assert links, "no Book link for a party of 6"
    for href in links:
        assert parse_qs(urlsplit(href).query).get("party") == ["6"], href
    for slot in slots(server, HARBOUR, TERRACE, day):  # every row with room for 6 still offers it
        if bookable(slot, 6):
            assert page.locator(f'tr[data-slot-id="{slot["id"]}"] a.button').count() == 1, slot
    shot(page, "desktop-day-party-6-1280x900")

    follow(
        page,
        page.get_by_role("link", name=f"Book {hhmm(chosen, LONDON)}", exact=True),
        f"**/slots/{chosen['id']}/book?party=6",
    )
    assert page.input_value("#party_size") == "6"
    page.fill("#name", "Ada Party")
    page.fill("#contact", f"party{next(PEOPLE)}@example.org")
    page.get_by_role("button", name="Confirm booking").click()
    page.locator("h1", has_text="Your table is reserved").wait_for()
    assert remaining(server, HARBOUR, TERRACE, day, chosen["id"]) == chosen["remaining"] - 6


# -- 3. moving a booking while another page watches


def test_reschedule_updates_a_watching_page_live(server, new_page):
    """From the booking's page (in 中文) → "改期" → another time → "改到 …": a day page open elsewhere sees the old time
    gain the places back and the new one lose them, without a reload, within a second; the booking's page shows the
    new time."""
    day, party = today(LONDON) + timedelta(days=4), 2
    free = [s for s in slots(server, HARBOUR, TERRACE, day) if bookable(s, 20)]
    assert len(free) >= 3
    old, new = free[0], free[2]
    booking = book(server, old["id"], party)

    watcher = new_page(**DESKTOP)
    open_live(watcher, server, day_path(HARBOUR, TERRACE, day))
    assert row_remaining(watcher, old["id"]) == 20 - party and row_remaining(watcher, new["id"]) == 20

    holder = new_page(**PHONE)
    holder.goto(server.url + confirmation_path(booking) + "&lang=zh_CN")
    assert holder.locator("h1").inner_text() == "订座成功"
    follow(holder, holder.get_by_role("link", name="改期"), f"**/bookings/{booking['reference']}/reschedule?*")
    follow(
        holder,
        holder.get_by_role("link", name=f"{hhmm(new, LONDON)} · 剩余 20 个座位", exact=True),
        f"**/bookings/{booking['reference']}/reschedule/{new['id']}?*",
    )  # a page that asks first
    watcher.evaluate(WATCH_ROWS, [[old["id"], 20], [new["id"], 20 - party]])
    with holder.expect_response(lambda r: r.request.method == "POST") as posted:
        holder.get_by_role("button", name=re.compile(rf"^改到 .* {hhmm(new, LONDON)}$")).click()
    assert posted.value.status == 303, posted.value.status
    holder.wait_for_url(f"**/bookings/{booking['reference']}?token=*")
    holder.locator("h1", has_text="订座成功").wait_for()
    new_end = datetime.fromisoformat(new["end"]).astimezone(ZoneInfo(LONDON)).strftime("%H:%M")
    assert f"{hhmm(new, LONDON)}–{new_end}" in holder.locator("dl.summary").inner_text()

    seen = seen_rows(watcher, [old["id"], new["id"]])
    answered = holder.evaluate(POST_RESPONSE_AT, f"/bookings/{booking['reference']}/reschedule")
    assert answered, "no resource timing for the reschedule POST"
    for slot_id, what in ((old["id"], "the old time"), (new["id"], "the new time")):
        delay = seen[slot_id] - answered
        print(f"\nreschedule: {what} changed {delay:.0f} ms after the response")
        assert delay < LIVE_WITHIN_MS, f"{what} changed {delay:.0f} ms after the reschedule's response"
    assert row_remaining(watcher, old["id"]) == 20 and row_remaining(watcher, new["id"]) == 20 - party
    assert remaining(server, HARBOUR, TERRACE, day, new["id"]) == 20 - party


# -- 4. the calendar file


def test_calendar_file_from_the_confirmation(server, new_page):
    """The confirmation's calendar link downloads an .ics with one VEVENT that starts when the slot does."""
    day = today(LONDON) + timedelta(days=2)
    slot = next(s for s in slots(server, HARBOUR, TERRACE, day) if bookable(s, 2))
    booking = book(server, slot["id"], 2)
    page = new_page(**PHONE)
    page.goto(server.url + confirmation_path(booking))
    with page.expect_download() as downloading:
        page.click("a.calendar-link")
    download = downloading.value
    assert download.suggested_filename == f"booking-{booking['reference']}.ics", download.suggested_filename
    calendar = icalendar.Calendar.from_ical(Path(download.path()).read_bytes())
    events = list(calendar.walk("VEVENT"))
    assert len(events) == 1, events
    start = events[0].decoded("DTSTART")
    assert isinstance(start, datetime) and start.tzinfo is not None, start
    assert start == datetime.fromisoformat(slot["start"]), (start, slot["start"])
    assert events[0].decoded("DTEND") == datetime.fromisoformat(slot["end"])
    assert booking["reference"] in str(events[0]["DESCRIPTION"])
    assert page.url.endswith(confirmation_path(booking)), "the download replaced the page"


# -- 5. find my booking


def test_find_my_booking_with_the_contact_in_another_format(server, new_page):
    """/bookings/find: the reference (lower case) with the phone typed without its country code (the venue is in GB)
    and with dashes, or the e-mail in upper case, lands on the booking's page; a wrong contact stays on the form
    with the message in the page."""
    day = today(LONDON) + timedelta(days=6)
    slot = next(s for s in slots(server, HARBOUR, TERRACE, day) if bookable(s, 2))
    n = next(PEOPLE)
    by_phone = book(server, slot["id"], contact=f"+442079460{n:03d}", name="Phone Person")
    by_mail = book(server, slot["id"], contact=f"Mail.Person{n}@Example.org", name="Mail Person")
    page = new_page(**PHONE)

    for booking, typed in ((by_phone, f"020-7946-0{n:03d}"), (by_mail, f"MAIL.PERSON{n}@EXAMPLE.ORG")):
        page.goto(server.url + "/bookings/find")
        page.fill("#reference", booking["reference"].lower())
        page.fill("#contact", typed)
        page.get_by_role("button", name="Find my booking").click()
        page.wait_for_url(f"**/bookings/{booking['reference']}?token={booking['cancel_token']}")
        page.locator("h1", has_text="Your table is reserved").wait_for()
        assert page.locator("dd.reference").inner_text().strip() == booking["reference"]

    page.goto(server.url + "/bookings/find")
    page.fill("#reference", by_phone["reference"])
    page.fill("#contact", f"+44 20 7946 0{(n + 1) % 1000:03d}")
    with page.expect_response(lambda r: r.request.method == "POST") as posted:
        page.get_by_role("button", name="Find my booking").click()
    assert posted.value.status == 404, posted.value.status
    error = page.locator("#find-error")
    error.wait_for()
    assert error.inner_text().strip() == "We found no booking with that reference and contact."
    assert urlsplit(page.url).path == "/bookings/find", page.url
    assert page.input_value("#reference") == by_phone["reference"]  # kept, to correct the contact


# -- 6. the count's flash


def test_a_changed_count_flashes_and_an_unchanged_one_does_not(server, new_page):
    """After a booking through the API, the changed cell's --left passes through fractions (the CSS transition from
    the old count to the new one) within ~100-600 ms and ends on the new count; an unchanged cell stays whole."""
    day = today(LONDON) + timedelta(days=5)
    free = [s for s in slots(server, HARBOUR, TERRACE, day) if bookable(s, 20)]
    assert len(free) >= 2
    changed, unchanged, party = free[0], free[1], 3
    page = new_page(**DESKTOP)
    open_live(page, server, day_path(HARBOUR, TERRACE, day))
    page.evaluate(SAMPLE_LEFT, [f"left-{changed['id']}", f"left-{unchanged['id']}"])
    page.wait_for_timeout(100)
    booked_at = time.time() * 1000
    book(server, changed["id"], party)
    answered = time.time() * 1000
    page.wait_for_function(f"""() => document.querySelector('tr[data-slot-id="{changed["id"]}"]')
                                 .dataset.remaining === '{20 - party}'""")
    page.wait_for_timeout(1400)  # the transition lasts 1.2 s
    samples = page.evaluate(STOP_SAMPLING)
    assert page.evaluate("window.__sameDocument === true"), "the page reloaded instead of updating live"

    def number(text: str | None) -> float:
        assert text not in (None, ""), f"--left is not set: {text!r}"
        return float(text)

    before = [number(a) for t, a, _b in samples if t < booked_at]
    assert before and all(v == 20 for v in before), f"--left before the booking: {sorted(set(before))}"
    moment = [number(a) for t, a, _b in samples if answered + 100 <= t <= answered + 600]
    assert moment, "no samples in the 100-600 ms after the booking"
    fractional = [v for v in moment if v != int(v)]
    assert fractional, f"--left of the changed cell stayed whole: {sorted(set(moment))}"
    assert all(20 - party <= v <= 20 for v in moment), moment
    assert number(samples[-1][1]) == 20 - party, samples[-1]
    others = {number(b) for _t, _a, b in samples}
    assert others == {20}, f"the unchanged cell's --left moved: {sorted(others)}"
    print(f"\ncount flash: {len(fractional)}/{len(moment)} samples fractional in 100-600 ms, e.g. {fractional[0]:.3f}")


# -- 7. screenshots at the sizes the pages are used at


def test_screenshots_of_desktop_day_kiosk_and_staff_board(server, new_page):
    """The day page on a desktop (1280×900), the clinic's kiosk in landscape (1920×1080) and portrait (1080×1920),
    and the staff day board with a booking on it (1440×900); none scrolls sideways."""
    day = today(LONDON) + timedelta(days=3)
    slot = next(s for s in slots(server, HARBOUR, TERRACE, day) if bookable(s, 2))
    book(server, slot["id"], 2, name="Board Guest")

    desktop = new_page(**DESKTOP)
    open_live(desktop, server, day_path(HARBOUR, TERRACE, day))
    no_sideways_scroll(desktop, "desktop day page")
    shot(desktop, "desktop-day-1280x900")

    kiosk = new_page(viewport={"width": 1920, "height": 1080})
    open_live(kiosk, server, f"/kiosk/{CLINIC}")
    assert kiosk.locator("section.panel").count() == 2
    no_sideways_scroll(kiosk, "kiosk 1920x1080")
    shot(kiosk, "kiosk-riverside-clinic-1920x1080", full_page=False)  # a wall display does not scroll
    kiosk.set_viewport_size({"width": 1080, "height": 1920})
    kiosk.wait_for_timeout(100)
    no_sideways_scroll(kiosk, "kiosk 1080x1920")
    shot(kiosk, "kiosk-riverside-clinic-1080x1920", full_page=False)

    board = new_page(viewport={"width": 1440, "height": 900})
    path = f"/admin/venues/{HARBOUR}/board/{day.isoformat()}"
    log_in(board, server, path)
    open_live(board, server, path)
    assert "Board Guest" in board.locator(f'tr[data-slot-id="{slot["id"]}"]').inner_text()
    shot(board, "staff-board-harbour-kitchen-1440x900")
