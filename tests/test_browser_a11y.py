"""Accessibility (issue 10): axe-core finds no violation, of any impact, on any page, in English and in Chinese.

Every public page, the kiosk (landscape, with the AAA contrast rule as well) and every staff page, with and without
a form's errors shown, in real Chromium against a real server with the demo venues. axe is injected into the page,
which the app's Content-Security-Policy forbids: these pages live in contexts made with bypass_csp (the CSP itself is
checked by tests/test_browser_pages.py). One server, one browser and one context per language and role for the
module. The language switch is checked in a normal context: it must reload the page, so <html lang> follows.

Run: .venv/bin/python -m pytest tests/test_browser_a11y.py -q   (needs Debian's chromium and axe: `make browser axe`)
"""

from __future__ import annotations

import itertools
from datetime import datetime, timedelta
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

import pytest

from tests.support.axe import assert_accessible
from tests.support.live_server import LiveServer
from tests.test_browser import SSE_PROBE, TIMEOUT_MS, browser, new_page  # noqa: F401  (fixtures, used by name)

pytestmark = pytest.mark.browser

PASSWORD = "a11y-test-password"
LANGS = {"en": "en", "zh_CN": "zh-CN"}  # ?lang= -> <html lang>
KIOSK_VIEWPORT = {"width": 1920, "height": 1080}  # a wall display, landscape
PEOPLE = itertools.count(1)
# Whether a live page has had its first SSE swap (a page without a stream is settled at once).
SETTLED = "() => !document.querySelector('[sse-connect]') || (window.__sse && window.__sse.messages >= 1)"
# A form's problems that no field points to (aria-describedby, with aria-invalid): all but a form's summary alert.
UNTIED = """() => [...document.querySelectorAll('form .error:not([role=alert]:not([id]))')]
  .filter(p => !p.id || !document.querySelector(`[aria-invalid="true"][aria-describedby~="${p.id}"]`))
  .map(p => p.outerHTML)"""


# -- fixtures


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """`python app.py` with the demo venues, a staff user "admin", and no booking rate limit (setup books a lot)."""
    live = LiveServer(
        tmp_path_factory.mktemp("a11y"), env={"SLOTCAST_ADMIN_PASSWORD": PASSWORD}, BOOKINGS_PER_MINUTE=0
    ).start()
    yield live
    live.stop(timeout=5.0)


def person() -> dict:
    n = next(PEOPLE)
    return {"name": f"Visitor {n}", "contact": f"visitor{n}@example.org"}


def book(server: LiveServer, slot_id: int, party: int = 1) -> dict:
    who = person()
    made = server.post_json("/api/v1/bookings", {"slot_id": slot_id, "party_size": party, **who})
    assert made["status"] == "confirmed", made
    return {**made, **who}


@pytest.fixture(scope="module")
def demo(server) -> dict:
    """The demo's venues and resources, a day with room for each resource, and bookings made through the API: a
    table (to confirm, cancel and move), a clinic ticket, a cancelled booking, a full barber's slot with a waiter."""
    venues = server.get_json("/api/v1/venues")
    kinds = {v["slug"]: v["kind"] for v in venues}
    days, free = {}, {}
    for venue in venues:
        for resource in venue["resources"]:
            for ahead in range(2, 9):
                day = (datetime.now(ZoneInfo(venue["timezone"])).date() + timedelta(days=ahead)).isoformat()
                path = f"/api/v1/venues/{venue['slug']}/resources/{resource['slug']}/slots?date={day}"
                room = [s for s in server.get_json(path)["slots"] if s["remaining"] >= 1]
                if len(room) >= 3:
                    days[venue["slug"], resource["slug"]], free[venue["slug"], resource["slug"]] = day, room
                    break
            else:
                pytest.fail(f"{venue['slug']}/{resource['slug']} has no day with room in the next week")
    table_slots = free["harbour-kitchen", "terrace"]
    table, cancelled = book(server, table_slots[0]["id"], 2), book(server, table_slots[1]["id"], 2)
    server.post_json(f"/api/v1/bookings/{cancelled['reference']}/cancel", {"cancel_token": cancelled["cancel_token"]})
    ticket = book(server, free["riverside-clinic", "paediatrics-li"][0]["id"])
    chair, other_chair = free["corner-barber", "chair-1"][:2]
    book(server, chair["id"])
    waiter = server.post_json("/api/v1/waitlist", {"slot_id": chair["id"], "party_size": 1, **person()})
    taken = book(server, other_chair["id"])  # then freed: its waiter is offered the place
    offered = server.post_json("/api/v1/waitlist", {"slot_id": other_chair["id"], "party_size": 1, **person()})
    server.post_json(f"/api/v1/bookings/{taken['reference']}/cancel", {"cancel_token": taken["cancel_token"]})
    # the clinic a little past its release (放号): days not open yet, with a countdown
    zone = ZoneInfo(next(v["timezone"] for v in venues if v["slug"] == "riverside-clinic"))
    later = (datetime.now(zone).date() + timedelta(days=10)).isoformat()
    not_yet = server.get_json(f"/api/v1/venues/riverside-clinic/resources/paediatrics-li/slots?date={later}")["slots"]
    return dict(
        server=server,
        venues=[v["slug"] for v in venues],
        kinds=kinds,
        days=days,
        table=table,
        cancelled=cancelled,
        ticket=ticket,
        waiter=waiter,
        offered=offered,
        full_slot=chair["id"],
        table_slot=table_slots[2]["id"],
        later=later,
        not_yet_slot=not_yet[0]["id"],
        table_day=days["harbour-kitchen", "terrace"],
        clinic_day=days["riverside-clinic", "paediatrics-li"],
    )


@pytest.fixture(scope="module")
def contexts(browser, server):  # noqa: F811  (the browser fixture, imported above)
    """One context per (role, language), made when first asked for: "public", "kiosk" (landscape) and "staff"
    (logged in through the form); all with bypass_csp, so that axe can be injected."""
    made = {}

    def get(role: str, lang: str):
        if (role, lang) not in made:
            context = browser.new_context(bypass_csp=True, viewport=KIOSK_VIEWPORT if role == "kiosk" else None)
            context.set_default_timeout(TIMEOUT_MS)
            context.add_init_script(SSE_PROBE)
            page = context.new_page()
            if role == "staff":
                page.goto(f"{server.url}/admin/login?next=/admin/&lang={lang}")
                page.fill("#username", "admin")
                page.fill("#password", PASSWORD)
                page.click("form.booking button[type=submit]")
                page.wait_for_url(lambda url: urlsplit(url).path == "/admin/")
            made[role, lang] = page
        return made[role, lang]

    yield get
    for page in made.values():
        page.context.close()


# -- the pages: (name, role, steps); steps(page, go, demo) brings the page to the state to check, go(path) loads a
# path in the test's language (?lang=, which the app keeps in a cookie for the forms' posts)


def submit(page, form: str, status: int, *, validate: bool = True) -> None:
    """Press the form's submit button (without the browser's own validation unless `validate`); wait for the
    answer with `status` and for htmx to swap it in."""
    if not validate:
        page.eval_on_selector(form, "f => f.setAttribute('novalidate', '')")
    with page.expect_response(lambda r: r.request.method == "POST") as answer:
        page.click(f"{form} button[type=submit]")
    assert answer.value.status == status, f"{form}: {answer.value.status}, not {status}"
    page.wait_for_function("() => !document.querySelector('.htmx-request, .htmx-settling, .htmx-swapping')")


def fill_person(page, prefix: str = "") -> None:
    for field, value in person().items():
        page.fill(f"#{prefix}{field}", value)


def booking_path(made: dict, tail: str = "") -> str:
    return f"/bookings/{made['reference']}{tail}?token={made['cancel_token']}"


def login_failed(page, go, demo):
    go("/admin/login")
    page.fill("#username", "admin")
    page.fill("#password", "not the password")
    submit(page, "form.booking", 401)


def booking_errors(page, go, demo):
    go(f"/slots/{demo['table_slot']}/book")
    page.fill("#party_size", "99")
    submit(page, "#booking-form", 422, validate=False)
    page.wait_for_selector("#booking-form .error")


def slot_taken(page, go, demo):
    """A full slot's page has no booking form: the form of a free chair, whose one place someone else takes while
    this visitor fills it in."""
    server, zone = demo["server"], ZoneInfo("America/New_York")
    for ahead in range(2, 9):
        day = (datetime.now(zone).date() + timedelta(days=ahead)).isoformat()
        path = f"/api/v1/venues/corner-barber/resources/chair-1/slots?date={day}"
        free = [s["id"] for s in server.get_json(path)["slots"] if s["remaining"] == 1]
        if free:
            break
    go(f"/slots/{free[-1]}/book")
    fill_person(page)
    book(server, free[-1])
    submit(page, "#booking-form", 409)
    page.wait_for_selector("#booking-form .alternatives")


def waitlist_errors(page, go, demo):
    go(f"/slots/{demo['full_slot']}/book")
    submit(page, "#waitlist", 422, validate=False)
    page.wait_for_selector("#waitlist .error")
    assert urlsplit(page.url).path.endswith("/book"), f"the failed join pushed {page.url}: a reload could not GET it"


def find_empty(page, go, demo):
    go("/bookings/find")
    submit(page, "form.booking", 422, validate=False)


def find_wrong(page, go, demo):
    go("/bookings/find")
    page.fill("#reference", "NOSUCHREF")
    page.fill("#contact", "nobody@example.org")
    submit(page, "form.booking", 404)


def form_errors(path: str):
    def steps(page, go, demo):
        go(path)
        page.fill("#name", "")
        submit(page, "form.booking", 422, validate=False)
        page.wait_for_selector("form.booking .error")

    return steps


def erase_unconfirmed(page, go, demo):
    go("/admin/erase")
    page.fill("#contact", "someone@example.org")
    submit(page, "form.booking", 422)


def resource_edit(page, go, demo):
    go("/admin/")
    go(page.get_attribute('a[href^="/admin/resources/"][href$="/edit"]', "href"))


def resource_edit_errors(page, go, demo):
    resource_edit(page, go, demo)
    page.fill("#name", "")
    submit(page, "form.booking", 422, validate=False)


def call_ticket(page, go, demo):
    """Call the clinic's ticket from its board: the board shows it called (and its holder's page, the call)."""
    go(f"/admin/venues/riverside-clinic/board/{demo['clinic_day']}")
    page.wait_for_function(SETTLED)
    entry = page.locator("ul.bookings li", has_text=demo["ticket"]["name"])
    if not entry.locator("form[action$='/requeue']").count():
        with page.expect_response(lambda r: r.request.method == "POST"):
            entry.locator("form[action$='/call'] button").click()
        entry.locator("form[action$='/requeue']").wait_for()


def archived_venue(page, go, demo):
    """The back office with an archived venue (made and archived through the forms, once)."""
    go("/admin/")
    if not page.locator('a[href="/admin/venues/closed-cafe/edit"]').count():
        go("/admin/venues/new")
        page.fill("#slug", "closed-cafe")
        page.fill("#name", "Closed Café")
        page.fill("#timezone", "Europe/London")
        submit(page, "form.booking", 303)
        go("/admin/venues/closed-cafe/edit")
        page.check("input[name=archived]")
        submit(page, "form.booking", 303)
        go("/admin/")
    page.locator(".card.archived").wait_for()


def load(path: str):
    return lambda page, go, demo: go(path.format(**demo))


def day_path(demo, venue: str, resource: str) -> str:
    party = "?party=2" if demo["kinds"][venue] == "restaurant" else ""
    return f"/book/{venue}/{resource}/{demo['days'][venue, resource]}{party}"


PAGES = [
    ("index", "public", load("/")),
    *[(f"venue-{v}", "public", load(f"/book/{v}")) for v in ("harbour-kitchen", "riverside-clinic", "corner-barber")],
    *[
        (f"day-{v}-{r}", "public", lambda page, go, demo, v=v, r=r: go(day_path(demo, v, r)))
        for v, r in (
            ("harbour-kitchen", "window-tables"),
            ("harbour-kitchen", "terrace"),
            ("riverside-clinic", "cardiology-wang"),
            ("riverside-clinic", "paediatrics-li"),
            ("corner-barber", "chair-1"),
        )
    ],
    ("day-begun", "public", load("/book/harbour-kitchen/terrace")),  # today: the times that have begun
    ("day-past", "public", load("/book/harbour-kitchen/terrace/2020-01-01")),
    ("day-not-open-yet", "public", load("/book/riverside-clinic/paediatrics-li/{later}")),
    ("book-not-open-yet", "public", load("/slots/{not_yet_slot}/book")),
    ("book", "public", lambda page, go, demo: go(f"/slots/{demo['table_slot']}/book?party=2")),
    ("book-errors", "public", booking_errors),
    ("book-full-waitlist", "public", lambda page, go, demo: go(f"/slots/{demo['full_slot']}/book")),
    ("book-taken-alternatives", "public", slot_taken),
    ("waitlist-errors", "public", waitlist_errors),
    (
        "waitlist-entry",
        "public",
        lambda page, go, demo: go(f"/waitlist/{demo['waiter']['reference']}?token={demo['waiter']['cancel_token']}"),
    ),
    (
        "waitlist-offered",
        "public",
        lambda page, go, demo: go(f"/waitlist/{demo['offered']['reference']}?token={demo['offered']['cancel_token']}"),
    ),
    ("confirmation-table", "public", lambda page, go, demo: go(booking_path(demo["table"]))),
    ("confirmation-ticket", "public", lambda page, go, demo: go(booking_path(demo["ticket"]))),
    ("confirmation-cancelled", "public", lambda page, go, demo: go(booking_path(demo["cancelled"]))),
    ("cancel", "public", lambda page, go, demo: go(booking_path(demo["table"], "/cancel"))),
    ("reschedule", "public", lambda page, go, demo: go(booking_path(demo["table"], "/reschedule"))),
    ("find", "public", load("/bookings/find")),
    ("find-errors", "public", find_empty),
    ("find-wrong", "public", find_wrong),
    ("not-found", "public", lambda page, go, demo: go("/book/no-such-venue", 404)),
    ("login", "public", load("/admin/login")),
    ("login-failed", "public", login_failed),
    *[(f"kiosk-{v}", "kiosk", load(f"/kiosk/{v}")) for v in ("harbour-kitchen", "riverside-clinic", "corner-barber")],
    ("staff-index", "staff", load("/admin/")),
    ("staff-index-archived", "staff", archived_venue),
    ("board", "staff", load("/admin/venues/harbour-kitchen/board/{table_day}")),
    ("board-queue", "staff", load("/admin/venues/riverside-clinic/board/{clinic_day}")),
    ("board-called", "staff", call_ticket),
    ("confirmation-ticket-called", "public", lambda page, go, demo: go(booking_path(demo["ticket"]))),
    (
        "board-search",
        "staff",
        lambda page, go, demo: go(
            f"/admin/venues/harbour-kitchen/board/{demo['table_day']}?q={demo['table']['reference']}"
        ),
    ),
    ("day-list", "staff", load("/admin/venues/harbour-kitchen/board/{table_day}/print")),
    ("audit", "staff", load("/admin/audit")),
    ("erase", "staff", load("/admin/erase")),
    ("erase-errors", "staff", erase_unconfirmed),
    ("venue-new", "staff", load("/admin/venues/new")),
    ("venue-new-errors", "staff", form_errors("/admin/venues/new")),
    ("venue-edit", "staff", load("/admin/venues/harbour-kitchen/edit")),
    ("resource-new", "staff", load("/admin/venues/harbour-kitchen/resources/new")),
    ("resource-new-errors", "staff", form_errors("/admin/venues/harbour-kitchen/resources/new")),
    ("resource-edit", "staff", resource_edit),
    ("resource-edit-errors", "staff", resource_edit_errors),
]


@pytest.mark.parametrize("lang", LANGS)
@pytest.mark.parametrize("name, role, steps", PAGES, ids=[name for name, *_ in PAGES])
def test_no_axe_violations(server, demo, contexts, lang, name, role, steps):
    """The page, in the language, has no axe violation of any impact (the kiosk: none at AAA contrast either)."""
    page = contexts(role, lang)

    def go(path: str, status: int = 200) -> None:
        response = page.goto(f"{server.url}{path}{'&' if '?' in path else '?'}lang={lang}")
        assert response.status == status, f"{path}: {response.status}, not {status}"

    steps(page, go, demo)
    page.wait_for_function(SETTLED)
    assert page.evaluate("document.documentElement.lang") == LANGS[lang], f"{name}: <html lang> is not {lang}"
    assert not page.evaluate(UNTIED), f"{name}: problems not tied to their fields: {page.evaluate(UNTIED)}"
    assert_accessible(page, f"{name} [{lang}]", enhanced=role == "kiosk")


def test_language_switch_updates_html_lang(server, new_page):  # noqa: F811  (the new_page fixture)
    """Switching language through the header's link (the body is boosted) loads the whole page: <html lang> follows,
    both ways."""
    page = new_page()
    page.goto(f"{server.url}/book/harbour-kitchen?lang=en")
    assert page.evaluate("document.documentElement.lang") == "en"
    page.click("nav.langs a[hreflang=zh-CN]")
    page.wait_for_url("**lang=zh_CN")
    page.wait_for_function("() => document.documentElement.lang === 'zh-CN'")
    assert page.locator("h1").inner_text() == "港湾厨房"
    page.click("nav.langs a[hreflang=en]")
    page.wait_for_url("**lang=en")
    page.wait_for_function("() => document.documentElement.lang === 'en'")
    assert page.locator("h1").inner_text() == "Harbour Kitchen"


# The focused element: its tag, classes, whether it is in <main>, its outline and where it is on the screen.
FOCUSED = """() => {
  const el = document.activeElement, style = getComputedStyle(el), box = el.getBoundingClientRect();
  return {tag: el.tagName.toLowerCase(), cls: el.className, text: (el.innerText || el.value || '').trim().slice(0, 40),
          inMain: !!el.closest('main'), outline: style.outlineStyle, width: parseFloat(style.outlineWidth),
          top: box.top, bottom: box.bottom, height: box.height};
}"""


@pytest.mark.parametrize("path", ["/book/harbour-kitchen/terrace", "/slots/{full_slot}/book", "/admin/login"])
def test_skip_link_and_a_focus_ring_on_every_focusable(server, demo, new_page, path):  # noqa: F811
    """The first Tab shows "Skip to content", which moves the focus to the main content; then every element the
    keyboard reaches shows a focus ring at least 2 px wide."""
    page = new_page()
    page.goto(server.url + path.format(**demo) + ("&" if "?" in path else "?") + "lang=en")
    page.wait_for_function(SETTLED)
    page.keyboard.press("Tab")
    skip = page.evaluate(FOCUSED)
    assert skip["cls"] == "skip-link" and skip["text"] == "Skip to content", skip
    assert skip["top"] >= 0 and skip["height"] > 0, f"the skip link is not on the screen when focused: {skip}"
    assert skip["outline"] != "none" and skip["width"] >= 2, skip
    page.keyboard.press("Enter")
    page.wait_for_function("() => document.activeElement === document.querySelector('main')")
    assert page.evaluate("() => location.hash") == "#content"
    seen = 0
    for _ in range(60):
        page.keyboard.press("Tab")
        focused = page.evaluate(FOCUSED)
        if focused["tag"] == "body" or not focused["inMain"]:
            break
        seen += 1
        assert focused["outline"] != "none" and focused["width"] >= 2, f"no visible focus ring: {focused}"
    assert seen >= 2, f"the keyboard reached only {seen} element(s) in the main content after the skip link"
