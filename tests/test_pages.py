"""The public pages through Quart's test client: venues, day view, booking form, confirmation, cancel."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qs, urlsplit

import pytest
from babel.dates import format_date

from booking import rules_text
from booking.model import local_today
from middleware.csrf import unmasked
from tests.support.helpers import csrf_token

CONTACT = "+44 20 7946 0000"


async def text(response) -> str:
    return await response.get_data(as_text=True)


def day_url(day, resource="tables") -> str:
    return f"/book/test-bistro/{resource}/{day.isoformat()}"


async def post_booking(
    client, slot_id, *, name="Ana Silva", contact=CONTACT, party_size="2", token=None, key=None, headers=None
):
    """Submit the booking form as a browser would (with this session's CSRF token unless given)."""
    if token is None:
        token = await csrf_token(client, f"/slots/{slot_id}/book")
    form = {"csrf_token": token, "name": name, "contact": contact, "party_size": party_size}
    if key is not None:
        form["idempotency_key"] = key
    return await client.post(f"/slots/{slot_id}/book", form=form, headers=headers or {})


def booking_link(response) -> tuple[str, str]:
    """(reference, token) from the redirect after a booking."""
    assert response.status_code == 303
    location = urlsplit(response.headers["Location"])
    reference = re.fullmatch(r"/bookings/([A-Z0-9]+)", location.path).group(1)
    return reference, parse_qs(location.query)["token"][0]


async def make_booking(client, slot_id, **fields) -> tuple[str, str]:
    return booking_link(await post_booking(client, slot_id, **fields))


def form_field(html: str, name: str) -> str:
    return re.search(rf'<input type="hidden" name="{name}" value="([^"]*)">', html).group(1)


def rows(html: str) -> list[str]:
    """The opening tags of the slot table's body rows."""
    body = re.search(r"<tbody>(.*)</tbody>", html, re.S).group(1)
    return re.findall(r"<tr\b[^>]*>", body)


def remaining_in_row(html: str, slot_id: int) -> int:
    return int(re.search(rf'data-slot-id="{slot_id}" data-remaining="(\d+)"', html).group(1))


async def booked(store, slot_id) -> int:
    return (await store.slot(slot_id)).booked


# -- venues, resources, the day view


async def test_index_lists_venues_with_links(client, store):
    await store.add_venue("second-place", "Second Place", "clinic", "Asia/Shanghai")
    html = await text(await client.get("/"))
    assert 'href="/book/test-bistro"' in html and "Test Bistro" in html
    assert 'href="/book/second-place"' in html and "Second Place" in html


async def test_venue_page_lists_its_resources(client):
    response = await client.get("/book/test-bistro")
    html = await text(response)
    today = local_today("UTC").isoformat()
    assert response.status_code == 200
    for slug, name in (("tables", "Tables"), ("bar", "Bar seats")):  # the whole card is the link
        assert re.search(
            rf'<a class="card-link" href="/book/test-bistro/{slug}/{today}">\s*<strong>{name}</strong>', html
        ), slug


async def test_each_venue_card_is_one_link(client, service, venue):
    await service.edit_venue(venue, venue.name, venue.kind, venue.timezone, False, address="1 Quay Street, Bristol")
    html = await text(await client.get("/"))
    card = re.search(r'<a class="card-link" href="/book/test-bistro">(.*?)</a>', html, re.S).group(1)
    assert "<strong>Test Bistro</strong>" in card and "Restaurant" in card and "1 Quay Street, Bristol" in card


async def test_venue_page_says_where_and_when(client, service, venue):
    await service.edit_venue(
        venue,
        venue.name,
        venue.kind,
        venue.timezone,
        False,
        address="1 Quay Street, Bristol BS1 4DJ",
        phone="+44 (0)117 496 0123",
    )
    rules, _ = rules_text.parse(
        "mon-fri 09:00-12:00 30 2\nmon-fri 13:00-17:00 30 2\nsat 10:00-12:00 60 2\nsat 12:00-14:00 60 2"
    )
    await service.edit_resource(venue.resource("tables"), rules, [])
    html = await text(await client.get("/book/test-bistro"))
    assert "<dt>Address</dt>" in html and "1 Quay Street, Bristol BS1 4DJ" in html
    assert 'href="https://www.openstreetmap.org/search?query=1+Quay+Street%2C+Bristol+BS1+4DJ"' in html
    assert '<a href="tel:+441174960123">+44 (0)117 496 0123</a>' in html
    assert "Opening hours" in html
    assert "<dt>Mon–Fri</dt><dd>09:00–12:00 · 13:00–17:00</dd>" in html
    assert "<dt>Sat</dt><dd>10:00–14:00</dd>" in html  # sessions that touch read as one
    assert "<dt>Every day</dt><dd>18:00–20:00</dd>" in html  # the bar


async def test_venue_page_without_address_or_phone_shows_neither(client):
    html = await text(await client.get("/book/test-bistro"))
    assert "Address" not in html and "tel:" not in html and "openstreetmap" not in html
    assert "<dt>Every day</dt><dd>08:00–20:00</dd>" in html


async def test_opening_hours_name_the_days_in_the_visitors_language(client, service, venue):
    rules, _ = rules_text.parse("mon-fri 09:00-12:00 30 2")
    await service.edit_resource(venue.resource("tables"), rules, [])
    html = await text(await client.get("/book/test-bistro?lang=zh_CN"))
    assert "周一" in html and "周五" in html and "Mon" not in html


async def chinese_names(service, store):
    venue = await store.venue("test-bistro")
    await service.edit_venue(venue, venue.name, venue.kind, venue.timezone, False, name_zh="测试小馆")
    await service.edit_resource(venue.resource("tables"), name_zh="餐桌")
    return await store.venue("test-bistro")


async def test_a_chinese_visitor_sees_the_chinese_names(client, service, store, tomorrow):
    venue = await chinese_names(service, store)
    zh = {"Accept-Language": "zh-CN,zh;q=0.9"}
    index = await text(await client.get("/", headers=zh))
    assert "测试小馆" in index and "Test Bistro" not in index
    page = await text(await client.get("/book/test-bistro", headers=zh))
    assert "测试小馆" in page and "Test Bistro" not in page
    assert "<strong>餐桌</strong>" in page and "<strong>Bar seats</strong>" in page  # no Chinese name: the name
    slot = (await store.slots_for_day(venue.resource("tables").id, tomorrow))[0]
    form = await text(await client.get(f"/slots/{slot.id}/book", headers=zh))
    assert "餐桌" in form and "测试小馆" in form and "Test Bistro" not in form


async def test_an_english_visitor_sees_the_names(client, service, store):
    await chinese_names(service, store)
    for path in ("/", "/book/test-bistro"):
        html = await text(await client.get(path, headers={"Accept-Language": "en"}))
        assert "Test Bistro" in html and "测试小馆" not in html and "餐桌" not in html, path


async def test_day_page_has_a_row_per_slot_with_id_and_remaining(client, store, venue, tomorrow):
    slots = await store.slots_for_day(venue.resource("tables").id, tomorrow)
    response = await client.get(day_url(tomorrow))
    html = await text(response)
    assert response.status_code == 200
    tags = rows(html)
    assert len(tags) == len(slots) == 12
    for tag, slot in zip(tags, slots, strict=True):
        assert f'data-slot-id="{slot.id}"' in tag and f'data-remaining="{slot.remaining}"' in tag
    assert f'href="/slots/{slots[0].id}/book"' in html


async def test_day_page_links_previous_and_next_day(client, tomorrow):
    html = await text(await client.get(day_url(tomorrow)))
    assert f'rel="prev" href="{day_url(tomorrow - timedelta(days=1))}"' in html
    assert f'rel="next" href="{day_url(tomorrow + timedelta(days=1))}"' in html


async def test_day_page_has_a_date_picker_that_leads_to_the_day(client, tomorrow):
    html = await text(await client.get(day_url(tomorrow)))
    picker = re.search(r'<form class="date-picker"[^>]*>.*?</form>', html, re.S).group(0)
    assert 'method="get"' in picker and 'action="/book/test-bistro/tables"' in picker
    assert f'<input type="date" name="date" value="{tomorrow.isoformat()}"' in picker


async def test_day_page_connects_to_its_day_stream(client, venue, tomorrow):
    html = await text(await client.get(day_url(tomorrow)))
    resource_id = venue.resource("tables").id
    assert f'hx-ext="sse" sse-connect="/events/day/{resource_id}/{tomorrow.isoformat()}"' in html
    assert re.search(r'<div sse-swap="slots">\s*<div id="slot-table"', html)  # the swap target outlives each swap
    assert html.count("sse-connect=") == 1  # one stream per page


async def test_day_page_shows_the_remaining_count_after_a_booking(client, slot, tomorrow):
    await make_booking(client, slot.id, party_size="3")
    html = await text(await client.get(day_url(tomorrow)))
    assert remaining_in_row(html, slot.id) == 7


async def test_picking_a_date_redirects_to_the_day_url(client, tomorrow):
    response = await client.get(f"/book/test-bistro/tables?date={tomorrow.isoformat()}")
    assert response.status_code in (301, 302, 303, 307, 308)
    assert urlsplit(response.headers["Location"]).path == day_url(tomorrow)


async def test_picking_no_date_redirects_to_today(client):
    response = await client.get("/book/test-bistro/bar")
    assert urlsplit(response.headers["Location"]).path == day_url(local_today("UTC"), "bar")


# -- bad addresses


@pytest.mark.parametrize("bad", ["2026-13-45", "yesterday", "2026-02-30", "x" * 5000])
async def test_day_page_refuses_a_bad_date_clearly(client, bad):
    response = await client.get(f"/book/test-bistro/tables/{bad}")
    html = await text(response)
    assert response.status_code == 400
    message = re.search(r'<p class="error" role="alert">(.*?)</p>', html, re.S).group(1)
    assert message == f"“{bad[:40]}” is not a date. Use the form YYYY-MM-DD."  # quoted, cut short


@pytest.mark.parametrize("bad", ["2026-13-45", "yesterday", "9" * 5000])
async def test_date_picker_refuses_a_bad_date_clearly(client, bad):
    response = await client.get(f"/book/test-bistro/tables?date={bad}")
    assert response.status_code == 400
    assert "is not a date" in await text(response)


@pytest.mark.parametrize(
    "path, message",
    [
        ("/book/nowhere", "There is no venue called “nowhere”."),
        ("/book/nowhere/tables/2026-11-24", "There is no venue called “nowhere”."),
        ("/book/nowhere/tables?date=2026-11-24", "There is no venue called “nowhere”."),
        ("/book/test-bistro/sofa/2026-11-24", "Test Bistro has nothing called “sofa”."),
        ("/book/test-bistro/sofa", "Test Bistro has nothing called “sofa”."),
    ],
)
async def test_unknown_venue_or_resource_is_a_clear_404(client, path, message):
    response = await client.get(path)
    assert response.status_code == 404
    assert message in await text(response)


@pytest.mark.parametrize("slot_id", ["999999", str(10**25), "abc", "-1"])
async def test_unknown_slot_form_is_a_404(client, slot_id):
    response = await client.get(f"/slots/{slot_id}/book")
    assert response.status_code == 404
    assert '<p class="error" role="alert">' in await text(response)


@pytest.mark.parametrize("slot_id", [999999, 10**25])
async def test_booking_an_unknown_slot_is_a_404(client, slot, slot_id):
    response = await post_booking(client, slot_id, token=await csrf_token(client, f"/slots/{slot.id}/book"))
    assert response.status_code == 404
    assert '<p class="error" role="alert">' in await text(response)
    assert (await client.get("/api/v1/venues")).status_code == 200  # and the server carries on


# -- the booking form and booking


async def test_booking_form_has_csrf_idempotency_and_live_status(client, slot):
    response = await client.get(f"/slots/{slot.id}/book")
    html = await text(response)
    assert response.status_code == 200
    async with client.session_transaction() as session:
        secret = session["csrf_token"]
    shown, again = (
        form_field(html, "csrf_token"),
        form_field(await text(await client.get(f"/slots/{slot.id}/book")), "csrf_token"),
    )
    assert secret and secret not in html and shown != again  # masked afresh for each page (BREACH)
    assert unmasked(shown) == unmasked(again) == secret
    assert re.fullmatch(r"[A-Za-z0-9_-]{8,64}", form_field(html, "idempotency_key"))
    assert f'sse-connect="/events/slot/{slot.id}"' in html
    assert re.search(r'<div sse-swap="slot-status">\s*<p id="slot-status"[^>]*data-remaining="10"', html)
    assert "10 seats left" in html  # a restaurant's words
    assert '<form id="booking-form"' in html and f'action="/slots/{slot.id}/book"' in html


async def test_each_form_load_gets_a_new_idempotency_key(client, slot):
    first = form_field(await text(await client.get(f"/slots/{slot.id}/book")), "idempotency_key")
    second = form_field(await text(await client.get(f"/slots/{slot.id}/book")), "idempotency_key")
    assert first != second


async def test_booking_redirects_to_the_confirmation(client, store, slot):
    reference, token = await make_booking(client, slot.id, party_size="3")
    booking, after = await store.booking(reference)
    assert booking.cancel_token == token and booking.status == "confirmed"
    assert booking.party_size == 3 and booking.name == "Ana Silva" and booking.contact == CONTACT
    assert after.booked == 3


async def test_confirmation_shows_reference_and_cancel_link(client, slot):
    response = await post_booking(client, slot.id)
    reference, token = booking_link(response)
    page = await client.get(response.headers["Location"])
    html = await text(page)
    assert page.status_code == 200
    assert f'<dd class="reference">{reference}</dd>' in html
    link = re.search(r'<a class="cancel-link" href="([^"]+)"', html).group(1)
    assert urlsplit(link).path == f"/bookings/{reference}/cancel"
    assert parse_qs(urlsplit(link).query)["token"] == [token]


async def test_cancel_page_asks_before_cancelling(client, store, slot):
    reference, token = await make_booking(client, slot.id)
    html = await text(await client.get(f"/bookings/{reference}/cancel?token={token}"))
    assert f"Cancel booking {reference}?" in html
    assert f'action="/bookings/{reference}/cancel"' in html and f'name="token" value="{token}"' in html
    booking, after = await store.booking(reference)
    assert booking.status == "confirmed" and after.booked == 2  # looking does not cancel


async def test_cancelling_frees_the_places_on_the_day_page(client, store, slot, tomorrow):
    reference, token = await make_booking(client, slot.id, party_size="3")
    assert remaining_in_row(await text(await client.get(day_url(tomorrow))), slot.id) == 7
    form = {"csrf_token": await csrf_token(client, f"/slots/{slot.id}/book"), "token": token}
    response = await client.post(f"/bookings/{reference}/cancel", form=form)
    assert response.status_code == 303
    assert booking_link(response) == (reference, token)
    assert (await store.booking(reference))[0].status == "cancelled"
    assert remaining_in_row(await text(await client.get(day_url(tomorrow))), slot.id) == 10
    html = await text(await client.get(response.headers["Location"]))
    assert "Booking cancelled" in html and 'class="cancel-link"' not in html


async def test_cancelling_twice_gives_the_places_back_once(client, store, slot):
    await make_booking(client, slot.id, party_size="4", name="Other")
    reference, token = await make_booking(client, slot.id, party_size="3")
    form = {"csrf_token": await csrf_token(client, f"/slots/{slot.id}/book"), "token": token}
    for _ in range(2):
        assert (await client.post(f"/bookings/{reference}/cancel", form=form)).status_code == 303
    assert await booked(store, slot.id) == 4


async def test_double_submitted_form_books_once(client, store, slot):
    html = await text(await client.get(f"/slots/{slot.id}/book"))
    key, token = form_field(html, "idempotency_key"), form_field(html, "csrf_token")
    first = await post_booking(client, slot.id, token=token, key=key)
    second = await post_booking(client, slot.id, token=token, key=key)
    assert booking_link(first) == booking_link(second)
    assert await booked(store, slot.id) == 2


async def test_two_form_loads_book_twice(client, store, slot):
    keys = [form_field(await text(await client.get(f"/slots/{slot.id}/book")), "idempotency_key") for _ in range(2)]
    first = await make_booking(client, slot.id, key=keys[0])
    second = await make_booking(client, slot.id, key=keys[1])
    assert first != second
    assert await booked(store, slot.id) == 4


# -- a full slot


async def fill(store, slot_id, places):
    """Take `places` places directly in the store, in parties of at most 4."""
    now = datetime.now(UTC)
    while places:
        party = min(places, 4)
        await store.book(slot_id, "Filler", CONTACT, party, now)
        places -= party


async def test_too_few_places_for_the_party_says_so_and_offers_nearest_with_room(client, store, slot):
    await fill(store, slot.id, 8)
    response = await post_booking(client, slot.id, party_size="4")
    html = await text(response)
    assert response.status_code == 409
    assert "just taken" not in html  # two places are left: the slot was not taken, the party is too large
    assert "Only 2 places are left in this slot: too few for 4 people. Here are the nearest with room." in html
    assert '<form id="booking-form"' in html and "<h1>Sorry</h1>" not in html  # the form, not an error page
    offered = [int(i) for i in re.findall(r'<a href="/slots/(\d+)/book\?party=4">', html)]  # the party goes along
    assert offered and slot.id not in offered
    for other in offered:
        assert (await store.slot(other)).remaining >= 4
    assert 'value="Ana Silva"' in html  # what was typed is kept
    assert 'data-remaining="2"' in html  # the live status shows the truth
    assert await booked(store, slot.id) == 8


async def test_completely_full_slot_refuses_one_more(client, store, venue, tomorrow):
    bar = (await store.slots_for_day(venue.resource("bar").id, tomorrow))[0]
    await fill(store, bar.id, 2)
    response = await post_booking(client, bar.id, party_size="1")
    assert response.status_code == 409
    assert "just taken" in await text(response)
    assert await booked(store, bar.id) == 2


async def test_htmx_failed_post_returns_only_the_form_fragment(client, store, slot):
    await fill(store, slot.id, 10)
    response = await post_booking(client, slot.id, party_size="4", headers={"HX-Request": "true"})
    html = await text(response)
    assert response.status_code == 409
    # the slot is full now: in the form's place, no form that cannot succeed, but where to go instead
    assert html.strip().startswith('<section id="booking-form"') and html.strip().endswith("</section>")
    assert "<html" not in html and "just taken" in html and 'name="name"' not in html
    assert response.headers["HX-Retarget"] == "#booking-form"
    assert response.headers["HX-Reswap"] == "outerHTML"


async def test_htmx_invalid_post_returns_the_form_fragment_with_problems(client, store, slot):
    response = await post_booking(client, slot.id, name="", headers={"HX-Request": "true"})
    html = await text(response)
    assert response.status_code == 422
    assert html.strip().startswith('<form id="booking-form"') and "<html" not in html
    assert "Please enter your name." in html
    assert response.headers["HX-Retarget"] == "#booking-form"
    assert await booked(store, slot.id) == 0


async def test_failed_post_without_htmx_returns_the_whole_page(client, slot):
    response = await post_booking(client, slot.id, name="")
    html = await text(response)
    assert response.status_code == 422
    assert html.lstrip().startswith("<!doctype html>") and "HX-Retarget" not in response.headers


# -- bad form input: a clear 4xx and nothing stored


@pytest.mark.parametrize(
    "party_size, message",
    [
        ("0", "At least one place, please."),
        ("-1", "At least one place, please."),
        ("5", "At most 4 places per booking."),
        (str(10**30), "Please choose how many places, as a whole number."),
        ("two", "Please choose how many places, as a whole number."),
        ("2.5", "Please choose how many places, as a whole number."),
        ("", "Please choose how many places, as a whole number."),
    ],
)
async def test_bad_party_size_is_refused_and_nothing_stored(client, store, slot, party_size, message):
    response = await post_booking(client, slot.id, party_size=party_size)
    assert response.status_code == 422
    assert message in await text(response)
    assert await booked(store, slot.id) == 0


@pytest.mark.parametrize(
    "name, message",
    [
        ("", "Please enter your name."),
        ("   ", "Please enter your name."),
        ("n" * 10_000, "That name is too long (100 characters at most)."),
    ],
)
async def test_bad_name_is_refused_and_nothing_stored(client, store, slot, name, message):
    response = await post_booking(client, slot.id, name=name)
    assert response.status_code == 422
    assert message in await text(response)
    assert await booked(store, slot.id) == 0


@pytest.mark.parametrize(
    "contact, message",
    [
        ("", "Please enter a phone number or an e-mail address."),
        ("call me", "That does not look like a phone number or an e-mail address."),
    ],
)
async def test_bad_contact_is_refused_and_nothing_stored(client, store, slot, contact, message):
    response = await post_booking(client, slot.id, contact=contact)
    assert response.status_code == 422
    assert message in await text(response)
    assert await booked(store, slot.id) == 0


@pytest.mark.parametrize("name", ["王小明", "Zoë 🎉 Ødegaard", "محمد"])
async def test_unicode_names_are_kept_and_shown(client, store, slot, name):
    response = await post_booking(client, slot.id, name=name)
    reference, _token = booking_link(response)
    assert (await store.booking(reference))[0].name == name
    assert f"<dd><bdi>{name}</bdi></dd>" in await text(await client.get(response.headers["Location"]))


async def test_html_in_a_name_is_escaped_on_the_confirmation(client, slot):
    response = await post_booking(client, slot.id, name="<script>alert(1)</script>")
    html = await text(await client.get(response.headers["Location"]))
    assert "<script>alert(1)</script>" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html


async def test_html_in_a_refused_form_is_escaped(client, slot):
    response = await post_booking(client, slot.id, name='"><script>alert(1)</script>', party_size="0")
    html = await text(response)
    assert response.status_code == 422
    assert "<script>alert(1)</script>" not in html


@pytest.mark.parametrize("token", [None, "", "forged-token-123"])
async def test_booking_without_the_right_csrf_token_is_refused(client, store, slot, token):
    assert await csrf_token(client, f"/slots/{slot.id}/book")  # the session has one; the form does not carry it
    form = {"name": "Ana", "contact": CONTACT, "party_size": "2"}
    if token is not None:
        form["csrf_token"] = token
    response = await client.post(f"/slots/{slot.id}/book", form=form)
    assert response.status_code == 400
    assert "This form has expired" in await text(response)
    assert await booked(store, slot.id) == 0


async def test_csrf_token_of_another_session_is_refused(app, client, store, slot):
    other = await csrf_token(app.test_client(), f"/slots/{slot.id}/book")
    assert other and other != await csrf_token(client, f"/slots/{slot.id}/book")
    response = await post_booking(client, slot.id, token=other)
    assert response.status_code == 400
    assert await booked(store, slot.id) == 0


async def test_cancel_without_csrf_token_is_refused(client, store, slot):
    reference, token = await make_booking(client, slot.id)
    response = await client.post(f"/bookings/{reference}/cancel", form={"token": token})
    assert response.status_code == 400
    assert (await store.booking(reference))[0].status == "confirmed"
    assert await booked(store, slot.id) == 2


# -- cancel links: wrong token, unknown reference


@pytest.mark.parametrize("path", ["/bookings/{ref}?token=wrong", "/bookings/{ref}", "/bookings/{ref}/cancel?token=x"])
async def test_wrong_token_pages_are_403(client, slot, path):
    reference, _token = await make_booking(client, slot.id)
    response = await client.get(path.format(ref=reference))
    assert response.status_code == 403
    assert f"This link is not valid for booking {reference}." in await text(response)


async def test_cancel_with_wrong_token_is_403_and_changes_nothing(client, store, slot):
    reference, _token = await make_booking(client, slot.id)
    form = {"csrf_token": await csrf_token(client, f"/slots/{slot.id}/book"), "token": "wrong"}
    response = await client.post(f"/bookings/{reference}/cancel", form=form)
    assert response.status_code == 403
    assert (await store.booking(reference))[0].status == "confirmed"
    assert await booked(store, slot.id) == 2


@pytest.mark.parametrize(
    "method, path",
    [
        ("GET", "/bookings/NOSUCHREF?token=x"),
        ("GET", "/bookings/NOSUCHREF/cancel?token=x"),
        ("POST", "/bookings/NOSUCHREF/cancel"),
    ],
)
async def test_unknown_reference_is_404(client, slot, method, path):
    token = await csrf_token(client, f"/slots/{slot.id}/book")
    form = {"csrf_token": token, "token": "x"} if method == "POST" else None
    response = await client.open(path, method=method, form=form)
    assert response.status_code == 404
    assert "There is no booking with reference NOSUCHREF." in await text(response)


# -- locale


async def test_english_by_default(client, tomorrow):
    response = await client.get(day_url(tomorrow))
    html = await text(response)
    assert '<html lang="en">' in html
    assert format_date(tomorrow, format="full", locale="en") in html
    assert "lang=" not in response.headers.get("Set-Cookie", "")


async def test_accept_language_chinese_selects_zh_cn(client, tomorrow):
    html = await text(await client.get(day_url(tomorrow), headers={"Accept-Language": "zh-CN,zh;q=0.9,en;q=0.5"}))
    assert '<html lang="zh-CN">' in html
    chinese_date = format_date(tomorrow, format="full", locale="zh_CN")
    assert "年" in chinese_date and f">{chinese_date}</h2>" in html


async def test_lang_parameter_selects_zh_cn_and_remembers_it(client, tomorrow):
    response = await client.get(f"{day_url(tomorrow)}?lang=zh_CN", headers={"Accept-Language": "en"})
    assert '<html lang="zh-CN">' in await text(response)
    assert "lang=zh_CN" in response.headers["Set-Cookie"]
    later = await text(await client.get(day_url(tomorrow), headers={"Accept-Language": "en"}))
    assert '<html lang="zh-CN">' in later and "年" in later


async def test_lang_parameter_switches_back_to_english(client):
    await client.get("/?lang=zh_CN")
    html = await text(await client.get("/?lang=en"))
    assert '<html lang="en">' in html
    assert '<html lang="en">' in await text(await client.get("/"))


async def test_unknown_lang_is_ignored(client):
    response = await client.get("/?lang=xx")
    assert response.status_code == 200
    assert '<html lang="en">' in await text(response)
    assert "lang=" not in response.headers.get("Set-Cookie", "")


async def test_switching_language_on_the_confirmation_keeps_its_token(client, slot):
    reference, token = await make_booking(client, slot.id)
    html = await text(await client.get(f"/bookings/{reference}", query_string={"token": token}))
    switch = re.search(r'<a href="([^"]+)" hreflang="zh-CN">', html).group(1).replace("&amp;", "&")
    assert switch.startswith(f"/bookings/{reference}?") and f"token={token}" in switch and "lang=zh_CN" in switch
    chinese = await client.get(switch)
    assert chinese.status_code == 200 and 'lang="zh-CN"' in await text(chinese)
