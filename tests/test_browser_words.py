"""Real Hypercorn + real Chromium on a phone, in English and in Chinese (issue 22): what a person reads on a day not
yet open, on a closed day with a party, on a full slot's page and on a waitlist offer, and axe finds nothing there.

The demo venues on a fresh SQLite file, an offer held 45 s (its last minute counted in seconds by the page itself).
Axe is injected, so every page here lives in a context made with bypass_csp (the CSP is tests/test_browser_pages.py's).

Run: .venv/bin/python -m pytest tests/test_browser_words.py -q   (needs Debian's chromium and axe: `make browser axe`)
"""

from __future__ import annotations

import itertools
import re
import time
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from tests.support.axe import assert_accessible
from tests.support.live_server import LiveServer
from tests.test_browser import SHOTS, browser, new_page  # noqa: F401  (fixtures, used by name)
from web import i18n

pytestmark = pytest.mark.browser

PHONE = dict(viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True)
LANGS = {"en": "en-GB", "zh_CN": "zh-CN"}
CLINIC, CARDIOLOGY, SHANGHAI = (
    "riverside-clinic",
    "cardiology-wang",
    "Asia/Shanghai",
)  # Mon-Sat, opens 7 days ahead 08:00
HARBOUR, WINDOW, LONDON = "harbour-kitchen", "window-tables", "Europe/London"  # closed on Mondays, parties <= 6
BARBER, CHAIR, NEW_YORK = "corner-barber", "chair-1", "America/New_York"  # closed on Mondays, one place a slot
ACCENT = "rgb(11, 110, 79)"  # static/app.css --accent: good news, not the alarm red
PEOPLE = itertools.count(1)
# The words a person reads, in each language ({day}: a date as the page writes it).
SAYS = {
    "en": dict(
        release="Booking opens {day} at 08:00 · ",
        opens="Opens {day} 08:00",
        closed="Closed on this day.",
        onward="Next with room for 6 people: {day} at 12:00 →",
        full="This time is fully booked.",
        nearest="Other times with room",
        join="Join the waitlist",
        news=r"A place is yours until \d\d:\d\d\.",
        hold="s left to confirm; then it passes to the next in line.",
        buttons=["Confirm", "Leave the waitlist"],
        reload="Keep this page or its link, and reload it to see whether a place has freed: without "
        "JavaScript it does not update by itself.",
    ),
    "zh_CN": dict(
        release="{day} 08:00 开始放号 · ",
        opens="{day} 08:00 放号",
        closed="本日休息，不营业。",
        onward="最近可容纳 6 人：{day} 12:00 →",
        full="该时段已约满。",
        nearest="其他有空位的时段",
        join="排队候补",
        news=r"已为您保留空位至 \d\d:\d\d。",
        hold="秒，请及时确认；逾时将转给下一位。",
        buttons=["确认预约", "退出排队"],
        reload="请保留本页或其链接，并刷新页面查看是否有空出的位置：未启用 JavaScript 时本页不会自动更新。",
    ),
}
SETTLED = "() => window.__sse && window.__sse.messages >= 1"  # test_browser's SSE_PROBE counts these
TICK = "() => Number(getComputedStyle(document.querySelector('.tick')).getPropertyValue('--tick'))"


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """`python app.py` with the demo venues, no booking rate per address, and offers held 45 s."""
    live = LiveServer(tmp_path_factory.mktemp("words"), BOOKINGS_PER_MINUTE=0, OFFER_MINUTES=0.75).start()
    yield live
    live.stop(timeout=5.0)


@pytest.fixture(params=list(LANGS))
def lang(request) -> str:
    return request.param


@pytest.fixture
def phone(new_page, server, lang):  # noqa: F811
    """A phone in the test's language, able to take axe; `phone.go(path)` loads a path in that language."""
    page = new_page(bypass_csp=True, locale=LANGS[lang], **PHONE)

    def go(path: str, live: bool = True) -> None:
        response = page.goto(f"{server.url}{path}{'&' if '?' in path else '?'}lang={lang}")
        assert response.status == 200, f"{path}: {response.status}"
        if live:
            page.wait_for_function(SETTLED)

    page.go = go
    return page


def dated(lang: str, key: str, day: date, short: bool = True) -> str:
    """SAYS[lang][key] with `day` written as the pages write dates in `lang`."""
    with i18n.use(lang):
        return SAYS[lang][key].format(day=i18n.short_date(day) if short else i18n.long_date(day))


def person() -> dict:
    n = next(PEOPLE)
    return {"name": f"Visitor {n}", "contact": f"words{n}@example.org", "party_size": 1}


def free_chair_slots(server: LiveServer) -> list[dict]:
    """The barber's free slots from tomorrow on (its own zone): no notice or closing time gets in the way."""
    today = datetime.now(ZoneInfo(NEW_YORK)).date()
    found = []
    for day in (today + timedelta(days=ahead) for ahead in range(1, 8)):
        path = f"/api/v1/venues/{BARBER}/resources/{CHAIR}/slots?date={day.isoformat()}"
        found += [s for s in server.get_json(path)["slots"] if s["remaining"] == 1]
    return found


def shot(page, name: str) -> None:
    page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)


def box(page, selector: str) -> dict:
    return page.locator(selector).bounding_box()


# -- a day not yet open: when it opens, first and only


def test_an_unreleased_clinic_day_says_when_it_opens_and_nothing_else(server, phone, lang):
    today = datetime.now(ZoneInfo(SHANGHAI)).date()
    day = next(d for d in (today + timedelta(days=n) for n in range(9, 14)) if d.weekday() < 6)
    opens = day - timedelta(days=7)  # at 08:00, Shanghai
    phone.go(f"/book/{CLINIC}/{CARDIOLOGY}/{day.isoformat()}")
    first = phone.locator("main p").first
    assert "release" in first.get_attribute("class")
    assert first.inner_text().startswith(dated(lang, "release", opens, short=False)), first.inner_text()
    assert re.search(r"(in \d+ (days?|h)|还有 \d+ (天|小时))$", first.inner_text()), first.inner_text()
    assert phone.locator("p.next-free").count() == 0  # no "nothing free", no "next available"
    main = phone.inner_text("main")
    assert not any(untrue in main for untrue in ("Nothing free", "Next available", "这一天已无空位", "最近可约"))
    row = dated(lang, "opens", opens)
    labels = phone.locator("#slot-table tr.not_yet td:last-child").all_inner_texts()
    assert labels and all(label.strip() == row for label in labels), labels
    shot(phone, f"phone-unreleased-day-{lang}")
    assert_accessible(phone, f"an unreleased clinic day [{lang}]")


# -- a closed day with a party: closed, then the next time with room for the party


def test_a_closed_day_with_a_party_says_closed_then_the_next_time_with_room(server, phone, lang):
    today = datetime.now(ZoneInfo(LONDON)).date()
    monday = next(d for d in (today + timedelta(days=n) for n in range(1, 8)) if d.weekday() == 0)
    phone.go(f"/book/{HARBOUR}/{WINDOW}/{monday.isoformat()}?party=6")
    said = phone.locator("p.next-free")
    onward = dated(lang, "onward", monday + timedelta(days=1))
    assert " ".join(said.inner_text().split()) == f"{SAYS[lang]['closed']} {onward}"
    link = said.locator("a")
    assert link.get_attribute("href").endswith(f"/{(monday + timedelta(days=1)).isoformat()}?party=6")
    assert phone.locator('nav#date-strip li.closed a[aria-current="date"]').count() == 1
    main = phone.inner_text("main")
    assert not any(untrue in main for untrue in ("Nothing free", "No slots on this day", "没有可容纳", "已关闭"))
    shot(phone, f"phone-closed-day-party-6-{lang}")
    assert_accessible(phone, f"a closed day for a party of 6 [{lang}]")


# -- a full slot's page: no booking form, its waitlist, the nearest times with room


def test_a_full_slots_page_offers_its_waitlist_and_the_nearest_times(server, phone, lang):
    slot = free_chair_slots(server)[2]
    taken = server.post_json("/api/v1/bookings", {"slot_id": slot["id"], **person()})
    assert taken["status"] == "confirmed"
    phone.go(f"/slots/{slot['id']}/book")
    assert phone.inner_text("#slot-status").strip() == SAYS[lang]["full"]
    assert phone.locator("form#booking-form").count() == 0 and phone.locator("#name").count() == 0
    nearest = phone.locator("section#booking-form")
    assert nearest.locator("h2").inner_text() == SAYS[lang]["nearest"]
    links = nearest.locator("ul.alternatives a")
    assert links.count() >= 1 and all(
        re.search(r"/slots/\d+/book$", href)
        for href in links.evaluate_all("links => links.map(a => a.getAttribute('href'))")
    )
    waitlist = phone.locator("form#waitlist")
    assert waitlist.locator("h2").inner_text() == SAYS[lang]["join"]
    assert waitlist.locator("#wait-name").is_visible()
    gap = box(phone, "form#waitlist")["y"] - (
        box(phone, "section#booking-form")["y"] + box(phone, "section#booking-form")["height"]
    )
    assert gap >= 16, f"the waitlist's form follows the nearest times {gap:.0f} px apart"
    shot(phone, f"phone-full-slot-{lang}")
    assert_accessible(phone, f"a full slot's page [{lang}]")


# -- a waitlist offer: good news, one obvious button, a quiet way out, the hold counting down by itself


def offered(server: LiveServer, slot: dict) -> str:
    """A waiter for `slot` (taken, then freed): the path of the waiter's page, with its offer held 45 s."""
    taken = server.post_json("/api/v1/bookings", {"slot_id": slot["id"], **person()})
    waiter = server.post_json("/api/v1/waitlist", {"slot_id": slot["id"], **person()})
    server.post_json(f"/api/v1/bookings/{taken['reference']}/cancel", {"cancel_token": taken["cancel_token"]})
    return f"/waitlist/{waiter['reference']}?token={waiter['cancel_token']}"


def counts_down(page) -> None:
    """The hold's seconds go down by themselves (CSS), and say what is left of the 45 s."""
    first = page.evaluate(TICK)
    time.sleep(1.5)
    then = page.evaluate(TICK)
    assert 0 < then < first <= 45, (first, then)


def test_the_offer_page_makes_confirming_the_obvious_action_and_counts_the_hold(server, phone, new_page, lang):  # noqa: F811
    path = offered(server, free_chair_slots(server)[lang == "en"])
    phone.go(path)
    news = phone.locator("#waiting .good-news")
    assert re.fullmatch(SAYS[lang]["news"], news.inner_text().strip()), news.inner_text()
    assert news.evaluate("e => getComputedStyle(e).color") == ACCENT
    hold = phone.inner_text("#waiting .hold")  # the seconds themselves are CSS's (see counts_down)
    assert SAYS[lang]["hold"] in hold, hold
    counts_down(phone)
    buttons = phone.locator("#waiting button")
    assert buttons.all_inner_texts() == SAYS[lang]["buttons"]
    confirm, leave = box(phone, "#waiting button.primary"), box(phone, "#waiting button.quiet")
    assert confirm["height"] > leave["height"] + 10 and leave["y"] - (confirm["y"] + confirm["height"]) >= 16
    assert phone.locator("#waiting button.quiet").evaluate("e => getComputedStyle(e).backgroundColor") in (
        "rgba(0, 0, 0, 0)",
        "transparent",
    )
    assert phone.locator("noscript").count() == 1 and phone.locator(".with-script").is_visible()
    shot(phone, f"phone-offer-{lang}")
    assert_accessible(phone, f"a waitlist offer [{lang}]")

    plain = new_page(bypass_csp=True, java_script_enabled=False, locale=LANGS[lang], **PHONE)
    plain.goto(f"{server.url}{path}&lang={lang}")
    assert SAYS[lang]["reload"] in plain.inner_text("main") and not plain.locator(".with-script").is_visible()
    counts_down(plain)  # no script: the seconds still count
