"""Real Hypercorn + real Chromium, on a phone, in English and in Chinese: moving a booking asks first and then says
where it moved from; the link to keep is absolute on the address the server listens on; axe finds nothing.

Run: .venv/bin/python -m pytest tests/test_browser_moves.py -q   (needs Debian's chromium and axe: `make browser axe`)
"""

from __future__ import annotations

import itertools
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from babel.dates import format_date

from tests.support.axe import assert_accessible
from tests.support.live_server import LiveServer
from tests.test_browser import browser, new_page  # noqa: F401  (fixtures, used by name)

pytestmark = pytest.mark.browser

PHONE = dict(viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True)
HARBOUR, TERRACE, LONDON = "harbour-kitchen", "terrace", "Europe/London"  # 11:00-21:00 hourly, 20 places
PEOPLE = itertools.count(1)
WORDS = {  # what each page says, in each language
    "en": dict(
        change="Change the time",
        left="{n} seats left",
        ask="Move your booking from {was} to {new}?",
        move="Move to {new}",
        moved="Moved from {was} to {new}.",
        date="EEE d MMM",
    ),
    "zh_CN": dict(
        change="改期",
        left="剩余 {n} 个座位",
        ask="把预约从 {was} 改到 {new}？",
        move="改到 {new}",
        moved="已从 {was} 改到 {new}。",
        date="M月d日EEE",
    ),
}


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """`python app.py` with the demo venues, and no SLOTCAST_PUBLIC_URL."""
    live = LiveServer(tmp_path_factory.mktemp("moves"), BOOKINGS_PER_MINUTE=0).start()
    yield live
    live.stop(timeout=5.0)


def when(slot: dict, lang: str) -> str:
    """A slot's start as the pages say it, short: 'Tue 1 Dec 12:00' / '12月1日周二 12:00'."""
    start = datetime.fromisoformat(slot["start"]).astimezone(ZoneInfo(LONDON))
    return f"{format_date(start.date(), WORDS[lang]['date'], locale=lang)} {start:%H:%M}"


def left(server: LiveServer, path: str, slot: dict) -> int:
    return next(s for s in server.get_json(path)["slots"] if s["id"] == slot["id"])["remaining"]


@pytest.mark.parametrize("lang", ["en", "zh_CN"])
def test_a_move_on_a_phone_asks_first_then_says_where_it_moved_from(server, new_page, lang):
    words = WORDS[lang]
    day = datetime.now(ZoneInfo(LONDON)).date() + timedelta(days=3 if lang == "en" else 4)
    path = f"/api/v1/venues/{HARBOUR}/resources/{TERRACE}/slots?date={day.isoformat()}"
    free = [s for s in server.get_json(path)["slots"] if s["remaining"] == 20]
    old, new = free[1], free[3]
    booking = server.post_json(
        "/api/v1/bookings",
        {"slot_id": old["id"], "name": "Ana Mover", "party_size": 2, "contact": f"mover{next(PEOPLE)}@example.org"},
    )
    own = f"/bookings/{booking['reference']}?token={booking['cancel_token']}"
    page = new_page(**PHONE, bypass_csp=True)  # axe is injected
    page.goto(f"{server.url}{own}&lang={lang}")
    # The link to keep works from anywhere: absolute, on the address `python app.py` listens on.
    assert page.input_value("#manage-link") == server.url + own

    page.get_by_role("link", name=words["change"], exact=True).click()
    page.wait_for_url("**/reschedule?*")
    time = datetime.fromisoformat(new["start"]).astimezone(ZoneInfo(LONDON)).strftime("%H:%M")
    choice = page.get_by_role("link", name=f"{time} · {words['left'].format(n=20)}", exact=True)
    assert choice.is_visible()
    assert_accessible(page, f"the times to move to [{lang}]")

    choice.click()
    page.wait_for_url(f"**/reschedule/{new['id']}?*")
    asked = words["ask"].format(was=when(old, lang), new=when(new, lang))
    assert page.locator("p.status").inner_text() == asked
    assert left(server, path, new) == 20, "asking moved the booking"
    assert page.evaluate("document.documentElement.scrollWidth - window.innerWidth") <= 0, "wider than the phone"
    assert_accessible(page, f"the question before a move [{lang}]")

    page.get_by_role("button", name=words["move"].format(new=when(new, lang)), exact=True).click()
    page.wait_for_url(f"**{own}")
    notice = page.locator("p.notice.moved")
    notice.wait_for()
    assert notice.inner_text() == words["moved"].format(was=when(old, lang), new=when(new, lang))
    assert left(server, path, new) == 18
    assert_accessible(page, f"the booking after its move [{lang}]")
