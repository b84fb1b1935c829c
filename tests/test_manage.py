"""A booking its holder keeps: the add-to-calendar file and "find my booking"."""

from __future__ import annotations

import re
from datetime import time, timedelta
from urllib.parse import parse_qs, urlsplit
from zoneinfo import ZoneInfo

import icalendar
import pytest

from booking.model import OpeningRule, local_today
from tests.support.helpers import CONTACT, clinic_slot, csrf_token, read_until, text
from views import manage

EMAIL = "Ana.Silva@Example.org"
NO_MATCH = "We found no booking with that reference and contact."


async def book(client, slot_id, contact=CONTACT, party_size="2") -> tuple[str, str]:
    """Book through the form as a browser would: (reference, token) from the redirect."""
    form = {
        "csrf_token": await csrf_token(client, f"/slots/{slot_id}/book"),
        "name": "Ana Silva",
        "contact": contact,
        "party_size": party_size,
    }
    response = await client.post(f"/slots/{slot_id}/book", form=form)
    assert response.status_code == 303, await text(response)
    location = urlsplit(response.headers["Location"])
    return location.path.rsplit("/", 1)[1], parse_qs(location.query)["token"][0]


def parse(body: bytes) -> tuple[icalendar.Calendar, icalendar.Event]:
    """The calendar and its one event."""
    calendar = icalendar.Calendar.from_ical(body)
    events = calendar.walk("VEVENT")
    assert len(events) == 1
    return calendar, events[0]


@pytest.fixture
async def harbour(store, clock):
    """A restaurant in London (a zone with summer time), open every day 08:00-20:00."""
    venue_id = await store.add_venue(
        "harbour", "Harbour Café", "restaurant", "Europe/London", address="1 Quay Street, London"
    )
    rules = [OpeningRule(d, time(8), time(20), 60, 10) for d in range(7)]
    await store.add_resource(venue_id, "terrace", "Terrace", rules, max_party=4, horizon_days=7)
    await store.extend_slots(clock.now())
    return await store.venue("harbour")


@pytest.fixture
async def harbour_slot(store, harbour):
    """Tomorrow's 12:00 slot (London time) of the terrace."""
    tomorrow = local_today(harbour.timezone) + timedelta(days=1)
    slots = await store.slots_for_day(harbour.resource("terrace").id, tomorrow)
    return next(s for s in slots if s.starts_at.astimezone(ZoneInfo("Europe/London")).hour == 12)


# -- add to a calendar


async def test_calendar_file_is_one_event_in_the_venues_zone(client, harbour_slot):
    reference, token = await book(client, harbour_slot.id)
    response = await client.get(f"/bookings/{reference}/calendar.ics?token={token}")
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "text/calendar; charset=utf-8"
    assert response.headers["Content-Disposition"] == f'attachment; filename="booking-{reference}.ics"'
    assert response.headers["Cache-Control"] == "no-store"  # the file holds the secret link
    body = await response.get_data()
    assert b"\r\n" in body and b"DTSTART;TZID=Europe/London:" in body
    calendar, event = parse(body)
    assert calendar["VERSION"] == "2.0" and calendar["PRODID"]
    assert [tz["TZID"] for tz in calendar.walk("VTIMEZONE")] == ["Europe/London"]
    london = ZoneInfo("Europe/London")
    assert event.start == harbour_slot.starts_at.astimezone(london) and event.start.tzinfo.key == "Europe/London"
    assert event.start.hour == 12
    assert event.end == harbour_slot.ends_at.astimezone(london)
    assert "Harbour Café" in event["SUMMARY"] and "Terrace" in event["SUMMARY"]
    assert event["LOCATION"] == "Harbour Café, 1 Quay Street, London"
    assert event["STATUS"] == "CONFIRMED"
    # Without SLOTCAST_PUBLIC_URL, and with no address to listen on (the tests' app), links are on localhost.
    link = f"http://localhost/bookings/{reference}?token={token}"
    assert f"See or cancel this booking: {link}" in event["DESCRIPTION"] and event["URL"] == link
    assert f"Reference: {reference}" in event["DESCRIPTION"] and "Places: 2" in event["DESCRIPTION"]
    assert "Ticket" not in event["DESCRIPTION"]  # a restaurant's table has no ticket
    assert calendar["METHOD"] == "PUBLISH" and event["SEQUENCE"] == 0


async def test_calendar_uid_is_the_same_on_every_download_and_its_own_per_booking(client, slot):
    reference, token = await book(client, slot.id)
    path = f"/bookings/{reference}/calendar.ics?token={token}"
    first = parse(await (await client.get(path)).get_data())[1]["UID"]
    again = parse(await (await client.get(path)).get_data())[1]["UID"]
    other_ref, other_token = await book(client, slot.id)
    other = parse(await (await client.get(f"/bookings/{other_ref}/calendar.ics?token={other_token}")).get_data())
    assert first == again and first.startswith(f"{reference}@")
    assert other[1]["UID"] != first


async def test_calendar_in_utc_and_start_equals_the_slot(client, slot):
    reference, token = await book(client, slot.id)
    _calendar, event = parse(await (await client.get(f"/bookings/{reference}/calendar.ics?token={token}")).get_data())
    assert event.start == slot.starts_at and event.end == slot.ends_at


async def test_calendar_links_to_the_public_address_once_set_under_the_same_uid(app, client, slot):
    reference, token = await book(client, slot.id)
    path = f"/bookings/{reference}/calendar.ics?token={token}"
    before = parse(await (await client.get(path)).get_data())[1]
    app.config["PUBLIC_URL"] = "https://book.example.org"
    _calendar, event = parse(await (await client.get(path)).get_data())
    link = f"https://book.example.org/bookings/{reference}?token={token}"
    assert link in event["DESCRIPTION"] and event["URL"] == link
    assert event["UID"] == before["UID"]  # else a calendar would hold the booking twice


async def test_calendar_of_a_clinic_names_the_ticket(client, store, clinic):
    slot = await clinic_slot(store, clinic, 15)
    reference, token = await book(client, slot.id, party_size="1")
    _calendar, event = parse(await (await client.get(f"/bookings/{reference}/calendar.ics?token={token}")).get_data())
    assert re.search(r"Ticket: A\d{3}", event["DESCRIPTION"])
    assert event.start == slot.starts_at.astimezone(ZoneInfo(clinic.timezone))


async def test_calendar_with_a_wrong_token_is_403(client, slot):
    reference, _token = await book(client, slot.id)
    for path in (f"/bookings/{reference}/calendar.ics?token=wrong", f"/bookings/{reference}/calendar.ics"):
        response = await client.get(path)
        assert response.status_code == 403
        assert f"This link is not valid for booking {reference}." in await text(response)


async def test_calendar_of_an_unknown_booking_is_404(client):
    response = await client.get("/bookings/NOSUCHREF/calendar.ics?token=x")
    assert response.status_code == 404
    assert "There is no booking with reference NOSUCHREF." in await text(response)


async def test_each_move_raises_the_sequence_of_the_same_event(client, store, slot):
    reference, token = await book(client, slot.id)
    path = f"/bookings/{reference}/calendar.ics?token={token}"
    _calendar, first = parse(await (await client.get(path)).get_data())
    later = (await store.slots_for_day(slot.resource_id, slot.local_date))[1:3]
    for sequence, target in enumerate(later, start=1):
        assert (await move(client, reference, token, target.id)).status_code == 303
        calendar, event = parse(await (await client.get(path)).get_data())
        assert calendar["METHOD"] == "PUBLISH" and event["STATUS"] == "CONFIRMED"
        assert event["UID"] == first["UID"] and event["SEQUENCE"] == sequence
        assert event.start == target.starts_at


async def test_the_calendar_file_of_a_cancelled_booking_cancels_the_event(client, store, slot):
    reference, token = await book(client, slot.id)
    path = f"/bookings/{reference}/calendar.ics?token={token}"
    uid = parse(await (await client.get(path)).get_data())[1]["UID"]
    later = (await store.slots_for_day(slot.resource_id, slot.local_date))[1]
    assert (await move(client, reference, token, later.id)).status_code == 303
    form = {"csrf_token": await csrf_token(client, f"/bookings/{reference}/cancel?token={token}"), "token": token}
    assert (await client.post(f"/bookings/{reference}/cancel", form=form)).status_code == 303
    response = await client.get(path)
    assert response.status_code == 200
    assert response.headers["Content-Disposition"] == f'attachment; filename="booking-{reference}.ics"'
    body = await response.get_data()
    calendar, event = parse(body)
    assert calendar["METHOD"] == "CANCEL" and event["STATUS"] == "CANCELLED"  # RFC 5546: take the event away
    assert event["UID"] == uid and event["SEQUENCE"] == 2  # after the booking and its one move
    assert token.encode() not in body and "URL" not in event
    assert event["DESCRIPTION"].splitlines()[:2] == ["Booking cancelled", f"Reference: {reference}"]
    page = await text(await client.get(f"/bookings/{reference}?token={token}"))
    assert re.search(
        rf'<a class="calendar-link" href="/bookings/{reference}/calendar.ics\?token={token}" download>'
        r"Remove it from my calendar \(.ics\)</a>",
        page,
    )
    assert 'id="manage-link"' not in page


@pytest.mark.parametrize(
    "public_url, base", [(None, "http://localhost"), ("https://book.example.org/", "https://book.example.org")]
)
async def test_confirmation_offers_the_calendar_file_and_the_link_to_copy(app, client, slot, public_url, base):
    app.config["PUBLIC_URL"] = public_url
    reference, token = await book(client, slot.id)
    html = await text(await client.get(f"/bookings/{reference}?token={token}", headers={"Host": "evil.example"}))
    assert re.search(
        rf'<p hx-boost="false"><a class="calendar-link" href="/bookings/{reference}/calendar.ics\?'
        rf'token={token}" download>',
        html,
    )
    assert '<label for="manage-link">' in html
    field = re.search(r'<input id="manage-link"[^>]*>', html, re.S).group(0)
    assert "readonly" in field and f'value="{base}/bookings/{reference}?token={token}"' in field
    assert "evil.example" not in html  # a Host header never builds a link


# -- find my booking


async def find(client, reference, contact, token=None, htmx=False, address=None, lang=None):
    """Post the find form (with the session's CSRF token unless given), from `address` and in `lang` when given."""
    if token is None:
        token = await csrf_token(client, "/bookings/find")
    headers = {**({"HX-Request": "true"} if htmx else {}), **({"Accept-Language": lang} if lang else {})}
    return await client.post(
        "/bookings/find",
        form={"csrf_token": token, "reference": reference, "contact": contact},
        headers=headers,
        scope_base={"client": (address, 1)} if address else None,
    )


async def test_index_links_to_find_my_booking(client):
    assert 'href="/bookings/find"' in await text(await client.get("/"))


async def test_find_form_has_labelled_fields_and_a_csrf_token(client):
    response = await client.get("/bookings/find")
    html = await text(response)
    assert response.status_code == 200
    assert '<form class="booking" method="post" action="/bookings/find">' in html
    assert '<input type="hidden" name="csrf_token" value="' in html
    assert '<label for="reference">' in html and '<input id="reference" name="reference"' in html
    assert '<label for="contact">' in html and '<input id="contact" name="contact"' in html


async def test_find_by_phone_written_another_way_leads_to_the_booking(client, slot):
    reference, token = await book(client, slot.id, contact="+44 20 7946 0000")
    response = await find(client, f" {reference[:4].lower()} {reference[4:].lower()} ", "+44-20-7946-0000")
    assert response.status_code == 303
    assert response.headers["Location"] == f"/bookings/{reference}?token={token}"


async def test_find_by_email_in_another_case_leads_to_the_booking(client, slot):
    reference, token = await book(client, slot.id, contact=EMAIL)
    response = await find(client, reference, "  ana.silva@EXAMPLE.ORG ")
    assert response.status_code == 303
    assert response.headers["Location"] == f"/bookings/{reference}?token={token}"
    assert (await client.get(response.headers["Location"])).status_code == 200


async def test_wrong_contact_and_unknown_reference_get_the_same_answer(client, slot):
    reference, _token = await book(client, slot.id)
    wrong_contact = await find(client, reference, "+44 20 7946 0001")
    unknown = await find(client, "NOSUCHRF", "+44 20 7946 0001")
    assert wrong_contact.status_code == unknown.status_code == 404
    pages = [await text(wrong_contact), await text(unknown)]
    for html in pages:
        assert f'<p id="find-error" class="error" role="alert">{NO_MATCH}</p>' in html
        assert 'aria-describedby="find-error"' in html  # both fields point at it
        assert "Location" not in wrong_contact.headers
    masked = re.compile(r'name="csrf_token" value="[^"]+"')  # masked afresh for each page
    assert masked.sub("", pages[0].replace(reference, "X")) == masked.sub("", pages[1].replace("NOSUCHRF", "X"))


async def test_find_under_htmx_shows_the_refusal_in_the_page(client, slot):
    reference, _token = await book(client, slot.id)
    response = await find(client, reference, "someone@else.example", htmx=True)
    assert response.status_code == 404  # the layout's htmx-config swaps 4xx answers in
    html = await text(response)
    assert NO_MATCH in html and '<form class="booking" method="post" action="/bookings/find">' in html
    assert 'value="someone@else.example"' in html  # what was typed stays


async def test_find_with_empty_fields_says_which(client):
    response = await find(client, "  ", "---")
    html = await text(response)
    assert response.status_code == 422
    assert '<p id="reference-error" class="error">Please enter your booking reference.</p>' in html
    assert '<p id="contact-error" class="error">Please enter a phone number or an e-mail address.</p>' in html
    assert 'aria-describedby="reference-error"' in html and 'aria-describedby="contact-error"' in html


async def test_find_without_csrf_token_is_refused(client, slot):
    reference, _token = await book(client, slot.id)
    for token in ("", "forged"):
        response = await find(client, reference, CONTACT, token=token)
        assert response.status_code == 400
        assert "This form has expired" in await text(response)


async def test_an_erased_contact_matches_nothing(client, service, slot):
    reference, _token = await book(client, slot.id)
    await service.erase_person(CONTACT, "admin", "127.0.0.1")
    response = await find(client, reference, CONTACT)
    assert response.status_code == 404 and NO_MATCH in await text(response)


async def test_guessing_at_one_reference_is_slowed_down(client, slot):
    reference, token = await book(client, slot.id)
    for n in range(5):
        assert (await find(client, reference, f"+44 20 7946 000{n + 1}")).status_code == 404
    refused = await find(client, reference, CONTACT)  # even the right contact waits now
    assert refused.status_code == 429 and int(refused.headers["Retry-After"]) > 0
    assert "Too many failed attempts. Try again in 10 minutes." in await text(refused)
    other, other_token = await book(client, slot.id)  # another reference is not held up by it
    assert (await find(client, other, CONTACT)).headers["Location"] == f"/bookings/{other}?token={other_token}"


async def test_strangers_guesses_do_not_lock_the_owner_out(client, slot):
    """Strangers fail at a reference from many networks: one that tries again waits, and is told where a booking's
    own link is, in both languages; the owner, new to the reference, finds the booking until strangers have tried
    it PER_REFERENCE_FOR_NEWCOMERS times (then even the owner waits, told where the link is)."""
    reference, token = await book(client, slot.id)
    booking_page = f"/bookings/{reference}?token={token}"
    for n in range(manage.PER_REFERENCE):
        assert (await find(client, reference, f"+44 20 7946 000{n}", address=f"198.51.100.{n}")).status_code == 404
    english = (
        "Too many failed attempts. Try again in 10 minutes.",
        (
            "Your link to this booking is in the "
            "confirmation message or e-mail you got when you booked: it opens the booking without this form."
        ),
    )
    chinese = ("失败的尝试次数过多，请 10 分钟后再试。", "本预约的专属链接在您预约时收到的确认信息或确认邮件里")
    for address, lang, words in [("198.51.100.0", None, english), ("::ffff:198.51.100.1", "zh-CN", chinese)]:
        again = await find(client, reference, "+44 20 7946 0009", address=address, lang=lang)
        assert again.status_code == 429 and int(again.headers["Retry-After"]) > 0
        page = await text(again)
        assert all(word in page for word in words), address
    for _ in range(2):  # found, and found again: a client that found it has not failed at it
        owner = await find(client, reference, CONTACT, address="2001:db8:5:6::7")
        assert owner.status_code == 303 and owner.headers["Location"] == booking_page
    tried = manage.PER_REFERENCE + 4
    for n in range(tried, manage.PER_REFERENCE_FOR_NEWCOMERS):
        assert (await find(client, reference, "+44 20 7946 0009", address=f"192.0.2.{n}")).status_code == 404
    late = await find(client, reference, CONTACT, address="203.0.113.7")
    assert late.status_code == 429 and "Your link to this booking is in the confirmation message" in await text(late)


async def test_guessing_from_one_client_is_slowed_down(client, slot):
    reference, _token = await book(client, slot.id)
    token = await csrf_token(client, "/bookings/find")
    for n in range(20):
        assert (await find(client, f"NOSUCH{n:02d}", CONTACT, token=token)).status_code == 404
    refused = await find(client, reference, CONTACT, token=token)
    assert refused.status_code == 429 and "Retry-After" in refused.headers


# -- move to another time


def moves(html: str) -> list[int]:
    """The slot ids the reschedule page offers to move to (each a link to a page that asks first)."""
    return [int(i) for i in re.findall(r'href="/bookings/\w+/reschedule/(\d+)\?token=', html)]


async def move(client, reference, token, slot_id):
    form = {
        "csrf_token": await csrf_token(client, f"/bookings/{reference}/reschedule?token={token}"),
        "token": token,
        "slot_id": str(slot_id),
    }
    return await client.post(f"/bookings/{reference}/reschedule", form=form)


async def test_the_confirmation_reads_as_the_venue_kind_and_links_to_a_change_of_time(client, slot, clinic):
    reference, token = await book(client, slot.id)
    html = await text(await client.get(f"/bookings/{reference}?token={token}"))
    assert "<h1>Your table is reserved</h1>" in html and "Your ticket" not in html  # a table, not a queue
    assert f'href="/bookings/{reference}/reschedule?token={token}">Change the time</a>' in html
    reference, token = await book(
        client, (await clinic_slot(client.app.extensions["slotcast"].store, clinic, 19)).id, party_size="1"
    )
    html = await text(await client.get(f"/bookings/{reference}?token={token}"))
    assert "<h1>Your ticket is booked</h1>" in html and "Your ticket" in html and "You are first in line." in html


async def test_the_reschedule_page_offers_the_days_times_that_fit_the_party(
    client, service, venue, slot, tomorrow, store
):
    tables = venue.resource("tables")
    day = await store.slots_for_day(tables.id, tomorrow)
    await service.book(tables, day[1].id, "Bo", "+1 212 555 0101", 4)
    await service.book(tables, day[1].id, "Cy", "+1 212 555 0102", 4)  # two places left: too few for a party of 3
    reference, token = await book(client, slot.id, party_size="3")
    offered = moves(await text(await client.get(f"/bookings/{reference}/reschedule?token={token}")))
    assert offered == [s.id for s in day[2:]]  # not its own slot, not the one without room
    assert (await client.get(f"/bookings/{reference}/reschedule?token=wrong")).status_code == 403


async def test_moving_takes_the_new_place_gives_back_the_old_and_both_show_live(
    app, client, store, venue, slot, tomorrow
):
    later = (await store.slots_for_day(venue.resource("tables").id, tomorrow))[4]
    reference, token = await book(client, slot.id, party_size="3")
    async with app.test_client().request(f"/events/day/{venue.resource('tables').id}/{tomorrow}") as page:
        await read_until(page, b"</nav>")
        response = await move(client, reference, token, later.id)
        update = (await read_until(page, f'data-slot-id="{later.id}" data-remaining="7"'.encode())).decode()
        await page.disconnect()
    assert response.status_code == 303 and response.headers["Location"] == f"/bookings/{reference}?token={token}"
    assert f'data-slot-id="{slot.id}" data-remaining="10"' in update.split("event: slots")[-1]
    assert ((await store.slot(slot.id)).booked, (await store.slot(later.id)).booked) == (0, 3)


async def test_a_move_to_a_full_time_says_so_and_leaves_the_booking_where_it_was(
    client, service, store, venue, slot, tomorrow
):
    tables = venue.resource("tables")
    later = (await store.slots_for_day(tables.id, tomorrow))[4]
    reference, token = await book(client, slot.id, party_size="3")
    for n in range(3):
        await service.book(tables, later.id, "Bo", f"+1 212 555 010{n}", 3)  # one place left
    response = await move(client, reference, token, later.id)
    assert response.status_code == 409
    assert "That time has no room left for your party. Your booking stays where it was." in await text(response)
    assert (await store.booking(reference))[0].slot_id == slot.id
    for nonsense in ("x", "0", "9" * 19):  # the last is past a database id's 64 bits
        assert (await move(client, reference, token, nonsense)).status_code == 400


def when(slot) -> str:
    """A slot's start as the pages say it, short: 'Mon 7 Dec 10:00' (the test bistro is on UTC)."""
    return f"{slot.starts_at:%a} {slot.starts_at.day} {slot.starts_at:%b %H:%M}"


async def test_each_time_shows_its_places_and_leads_to_a_page_that_asks_first(
    client, service, store, venue, slot, tomorrow
):
    tables = venue.resource("tables")
    later = (await store.slots_for_day(tables.id, tomorrow))[2]
    await service.book(tables, later.id, "Bo", "+1 212 555 0101", 3)
    reference, token = await book(client, slot.id, party_size="2")
    page = await text(await client.get(f"/bookings/{reference}/reschedule?token={token}"))
    asking = f"/bookings/{reference}/reschedule/{later.id}?token={token}"
    assert re.search(rf'<a class="button" href="{re.escape(asking)}">10:00\s*<small>· 7 seats left</small></a>', page)
    assert "you are asked before anything changes" in page and 'name="slot_id"' not in page  # nothing moves here

    response = await client.get(asking)
    html = await text(response)
    assert response.status_code == 200
    assert f'<p class="status">Move your booking from {when(slot)} to {when(later)}?</p>' in html
    assert "<dt>Left at 10:00</dt><dd>7</dd>" in html and "<dt>Guests</dt><dd>2</dd>" in html
    assert f'<input type="hidden" name="slot_id" value="{later.id}">' in html
    assert f'<button type="submit">Move to {when(later)}</button>' in html
    assert f"Keep it at {when(slot)}" in html
    assert (await store.booking(reference))[0].slot_id == slot.id  # asking moved nothing


async def test_the_booking_says_where_it_moved_from(client, store, venue, slot, tomorrow):
    later = (await store.slots_for_day(venue.resource("tables").id, tomorrow))[2]
    reference, token = await book(client, slot.id)
    assert "Moved from" not in await text(await client.get(f"/bookings/{reference}?token={token}"))
    response = await move(client, reference, token, later.id)
    assert response.headers["Location"] == f"/bookings/{reference}?token={token}"
    html = await text(await client.get(response.headers["Location"]))
    assert f'<p class="notice moved" role="status">Moved from {when(slot)} to {when(later)}.</p>' in html
    zh = await text(await client.get(f"{response.headers['Location']}&lang=zh_CN"))
    day = later.local_date
    assert f"已从 {day.month}月{day.day}日" in zh and f" 08:00 改到 {day.month}月{day.day}日" in zh


async def test_asking_to_move_where_it_cannot_says_why(client, service, store, venue, slot, tomorrow):
    tables = venue.resource("tables")
    full = (await store.slots_for_day(tables.id, tomorrow))[3]
    for n in range(3):
        await service.book(tables, full.id, "Bo", f"+1 212 555 010{n}", 3)  # one place left: too few for two
    reference, token = await book(client, slot.id, party_size="2")
    response = await client.get(f"/bookings/{reference}/reschedule/{full.id}?token={token}")
    assert response.status_code == 409
    html = await text(response)
    assert "That time has no room left for your party. Your booking stays where it was." in html
    assert "<h2>" in html and "Move your booking" not in html  # the day's times instead
    elsewhere = (await store.slots_for_day(venue.resource("bar").id, tomorrow))[0]
    response = await client.get(f"/bookings/{reference}/reschedule/{elsewhere.id}?token={token}")
    assert response.status_code == 409
    assert "A booking can only move to another time of the same service." in await text(response)
    own = await client.get(f"/bookings/{reference}/reschedule/{slot.id}?token={token}")
    assert own.status_code == 303 and own.headers["Location"] == f"/bookings/{reference}/reschedule?token={token}"
    assert (await client.get(f"/bookings/{reference}/reschedule/{full.id}?token=wrong")).status_code == 403
    assert (await client.get(f"/bookings/{reference}/reschedule/999999?token={token}")).status_code == 404
    assert (await client.get(f"/bookings/{reference}/reschedule/x?token={token}")).status_code == 404
