"""The staff back office through Quart's test client: login, venues and schedules, the day board, live board."""

from __future__ import annotations

import asyncio
import re
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qs, urlsplit

import pytest

from booking.model import local_today
from booking.service import Invalid
from middleware.csrf import unmasked
from tests.support.helpers import (
    CONTACT,
    NAME,
    act,
    board_url,
    csrf_token,
    events_in,
    log_in,
    public_booking,
    read_until,
    resource_form,
    session_token,
    streams_closed,
    tables_of,
    text,
)

# -- everything refuses strangers


def admin_pages(venue, tomorrow) -> list[str]:
    tables = venue.resource("tables")
    return [
        "/admin/",
        "/admin/venues/new",
        "/admin/venues/test-bistro/edit",
        "/admin/venues/test-bistro/board",
        board_url(tomorrow),
        "/admin/venues/test-bistro/resources/new",
        f"/admin/resources/{tables.id}/edit",
    ]


async def test_every_admin_page_sends_a_stranger_to_the_login(client, venue, tomorrow):
    for page in admin_pages(venue, tomorrow):
        response = await client.get(page)
        assert response.status_code == 302, page
        location = urlsplit(response.headers["Location"])
        assert location.path == "/admin/login", page
        assert parse_qs(location.query)["next"] == [page], page


async def test_htmx_get_of_an_admin_page_is_401_not_a_redirect(client):
    response = await client.get("/admin/", headers={"HX-Request": "true"})
    assert response.status_code == 401


async def test_every_admin_action_is_401_for_a_stranger_and_changes_nothing(
    client, store, hub, venue, slot, tomorrow, service
):
    tables = venue.resource("tables")
    booking, _ = await service.book(tables, slot.id, NAME, CONTACT, 2)
    token = await csrf_token(client, "/admin/login")  # a real token: the refusal must be about the login
    actions = [
        (f"/admin/slots/{slot.id}/closed", {"closed": "1"}),
        (f"/admin/resources/{tables.id}/bookings", {"slot_id": str(slot.id), "name": "X", "contact": "12345"}),
        (f"/admin/bookings/{booking.id}/cancel", {}),
        (f"/admin/bookings/{booking.id}/attendance", {"attendance": "no_show"}),
        (f"/admin/bookings/{booking.id}/call", {"counter": "1"}),
        (f"/admin/bookings/{booking.id}/requeue", {}),
        (f"/admin/resources/{tables.id}/call-next", {"day": tomorrow.isoformat()}),
        ("/admin/venues/new", {"slug": "intruder", "name": "Intruder", "kind": "clinic", "timezone": "UTC"}),
        ("/admin/venues/test-bistro/edit", {"name": "Hacked", "kind": "clinic", "timezone": "UTC", "archived": "1"}),
        (
            "/admin/venues/test-bistro/resources/new",
            {
                "slug": "x",
                "name": "X",
                "max_party": "1",
                "horizon_days": "1",
                "min_notice_minutes": "0",
                "schedule": "daily 08:00-09:00 30 1",
            },
        ),
        (f"/admin/resources/{tables.id}/edit", resource_form(tables, "daily 08:00-09:00 30 99", name="Hacked")),
    ]
    before = (
        await store.venues(include_archived=True),
        await store.bookings_on(venue.id, tomorrow),
        await store.slots_for_day(tables.id, tomorrow),
    )
    for path, fields in actions:
        response = await client.post(path, form={"csrf_token": token, **fields})
        assert response.status_code == 401, path
        assert "Please log in as staff." in await text(response), path
    after = (
        await store.venues(include_archived=True),
        await store.bookings_on(venue.id, tomorrow),
        await store.slots_for_day(tables.id, tomorrow),
    )
    assert after == before


async def test_staff_board_stream_is_401_for_a_stranger(client, hub, venue, tomorrow):
    response = await client.get(f"/admin/events/board/{venue.id}/{tomorrow}")
    assert response.status_code == 401
    assert hub.count() == 0


@pytest.mark.parametrize("token", ["forged-token", "", None])
async def test_admin_post_with_a_forged_or_missing_csrf_token_is_400_and_changes_nothing(admin, store, slot, token):
    form = {"closed": "1"} if token is None else {"closed": "1", "csrf_token": token}
    response = await admin.post(f"/admin/slots/{slot.id}/closed", form=form)
    assert response.status_code == 400
    assert "This form has expired" in await text(response)
    assert not (await store.slot(slot.id)).closed


async def test_admin_post_with_another_sessions_token_is_400(app, admin, store, slot):
    other = app.test_client()
    foreign = await csrf_token(other, "/admin/login")
    response = await act(admin, f"/admin/slots/{slot.id}/closed", token=foreign, closed="1")
    assert response.status_code == 400
    assert not (await store.slot(slot.id)).closed


async def test_csrf_token_in_the_htmx_header_is_accepted(admin, store, slot):
    """Fragments that arrive over SSE carry no token field: htmx sends the page's token as a header."""
    response = await admin.post(
        f"/admin/slots/{slot.id}/closed",
        form={"closed": "1"},
        headers={"HX-Request": "true", "X-CSRF-Token": await session_token(admin)},
    )
    assert response.status_code == 200
    assert (await store.slot(slot.id)).closed


# -- venues


async def test_admin_index_lists_venues_resources_and_links(admin, venue):
    html = await text(await admin.get("/admin/"))
    assert "Test Bistro" in html and "Tables" in html and "Bar seats" in html
    assert 'href="/admin/venues/test-bistro/board"' in html and 'href="/kiosk/test-bistro"' in html
    assert f'href="/admin/resources/{venue.resource("tables").id}/edit"' in html


async def test_create_a_venue(admin, store):
    response = await act(
        admin, "/admin/venues/new", slug="town-clinic", name="Town Clinic", kind="clinic", timezone="Asia/Shanghai"
    )
    assert response.status_code == 303 and response.headers["Location"] == "/admin/"
    created = await store.venue("town-clinic")
    assert (created.name, created.kind, created.timezone, created.archived) == (
        "Town Clinic",
        "clinic",
        "Asia/Shanghai",
        False,
    )
    assert "Town Clinic" in await text(await admin.get("/admin/"))


@pytest.mark.parametrize(
    "fields, message",
    [
        ({"slug": "Bad Slug!"}, "Use 1-40 lower-case letters, digits and dashes."),
        ({"slug": "-dash-first"}, "Use 1-40 lower-case letters, digits and dashes."),
        ({"slug": "x" * 41}, "Use 1-40 lower-case letters, digits and dashes."),
        ({"slug": "test-bistro"}, "That slug is taken."),
        ({"timezone": "Mars/Olympus_Mons"}, "Use a time zone name such as Europe/London or Asia/Shanghai."),
        ({"timezone": ""}, "Use a time zone name such as Europe/London or Asia/Shanghai."),
        ({"kind": "spa"}, "Choose a kind."),
        ({"name": ""}, "Please enter a name (100 characters at most)."),
    ],
)
async def test_bad_venue_is_422_with_a_message_and_nothing_stored(admin, store, fields, message):
    before = await store.venues(include_archived=True)
    form = {"slug": "new-place", "name": "New Place", "kind": "clinic", "timezone": "Europe/London", **fields}
    response = await act(admin, "/admin/venues/new", **form)
    assert response.status_code == 422
    assert message in await text(response)
    assert await store.venues(include_archived=True) == before


async def test_bad_venue_form_keeps_what_was_typed(admin):
    html = await text(
        await act(admin, "/admin/venues/new", slug="ok-slug", name="Kept Name", kind="barber", timezone="Nowhere/Land")
    )
    assert 'value="Kept Name"' in html and 'value="Nowhere/Land"' in html and 'value="ok-slug"' in html


async def test_edit_a_venue(admin, store):
    response = await act(
        admin, "/admin/venues/test-bistro/edit", name="Bistro Two", kind="restaurant", timezone="Europe/Paris"
    )
    assert response.status_code == 303
    edited = await store.venue("test-bistro")
    assert (edited.name, edited.timezone, edited.slug) == ("Bistro Two", "Europe/Paris", "test-bistro")


async def test_edit_venue_with_a_bad_time_zone_is_422_and_changes_nothing(admin, store, venue):
    response = await act(admin, "/admin/venues/test-bistro/edit", name="Other", kind="restaurant", timezone="Bad/Zone")
    assert response.status_code == 422
    assert await store.venue("test-bistro") == venue


async def test_archiving_a_venue_hides_it_from_the_public_but_not_from_staff(admin, stranger, store, tomorrow):
    response = await act(
        admin, "/admin/venues/test-bistro/edit", name="Test Bistro", kind="restaurant", timezone="UTC", archived="1"
    )
    assert response.status_code == 303
    assert (await store.venue("test-bistro")).archived
    assert "Test Bistro" not in await text(await stranger.get("/"))
    for path in ("/book/test-bistro", f"/book/test-bistro/tables/{tomorrow}", "/kiosk/test-bistro"):
        assert (await stranger.get(path)).status_code == 404, path
    staff_index = await text(await admin.get("/admin/"))
    assert "Test Bistro" in staff_index and "(archived)" in staff_index
    assert (await admin.get("/admin/venues/test-bistro/edit")).status_code == 200
    # and back again
    await act(admin, "/admin/venues/test-bistro/edit", name="Test Bistro", kind="restaurant", timezone="UTC")
    assert (await stranger.get("/book/test-bistro")).status_code == 200


async def test_venue_form_saves_address_phone_and_chinese_name(admin, store):
    response = await act(
        admin,
        "/admin/venues/test-bistro/edit",
        name="Test Bistro",
        kind="restaurant",
        timezone="UTC",
        address=" 1 Quay Street, Bristol BS1 4DJ ",
        phone="+44 117 496 0123",
        name_zh="测试小馆",
    )
    assert response.status_code == 303
    edited = await store.venue("test-bistro")
    assert (edited.address, edited.phone, edited.name_zh) == (
        "1 Quay Street, Bristol BS1 4DJ",
        "+44 117 496 0123",
        "测试小馆",
    )
    form = await text(await admin.get("/admin/venues/test-bistro/edit"))
    assert 'value="1 Quay Street, Bristol BS1 4DJ"' in form and 'value="+44 117 496 0123"' in form
    assert 'value="测试小馆"' in form


async def test_a_new_venue_gets_its_address_phone_and_chinese_name(admin, store):
    response = await act(
        admin,
        "/admin/venues/new",
        slug="town-clinic",
        name="Town Clinic",
        kind="clinic",
        timezone="Asia/Shanghai",
        address="88 Binjiang Avenue, Shanghai",
        phone="021 5555 0188",
        name_zh="城镇诊所",
    )
    assert response.status_code == 303
    created = await store.venue("town-clinic")
    assert (created.address, created.phone, created.name_zh) == (
        "88 Binjiang Avenue, Shanghai",
        "021 5555 0188",
        "城镇诊所",
    )


VENUE_DETAIL_PROBLEMS = [
    ({"phone": "call us"}, "That does not look like a phone number."),
    ({"phone": "12"}, "That does not look like a phone number."),
    ({"phone": "+1 555 0100 ext. 4"}, "That does not look like a phone number."),
    ({"phone": "1" * 25}, "That does not look like a phone number."),
    ({"address": "x" * 201}, "That address is too long (200 characters at most)."),
    ({"address": "1 Main St\u202e"}, "Please write the address in plain text (no control or invisible characters)."),
    ({"name_zh": "名" * 101}, "That Chinese name is too long (100 characters at most)."),
    ({"name_zh": "\u200b"}, "Please write the Chinese name in plain text (no control or invisible characters)."),
]


@pytest.mark.parametrize("fields, message", VENUE_DETAIL_PROBLEMS)
async def test_bad_venue_details_are_422_with_a_message_and_nothing_stored(admin, store, fields, message):
    before = await store.venues(include_archived=True)
    new = {"slug": "new-place", "name": "New Place", "kind": "clinic", "timezone": "Europe/London", **fields}
    edit = {"name": "Other Name", "kind": "restaurant", "timezone": "UTC", **fields}
    for path, form in (("/admin/venues/new", new), ("/admin/venues/test-bistro/edit", edit)):
        response = await act(admin, path, **form)
        assert response.status_code == 422, path
        assert message in await text(response), path
    assert await store.venues(include_archived=True) == before


async def test_the_service_keeps_details_not_given_and_refuses_bad_ones(service, store, venue):
    with pytest.raises(Invalid) as refused:
        await service.edit_venue(venue, venue.name, venue.kind, venue.timezone, False, phone="not a phone")
    assert refused.value.problems == {"phone": "invalid"}
    await service.edit_venue(venue, venue.name, venue.kind, venue.timezone, False, address="1 Quay Street")
    await service.edit_venue(venue, venue.name, venue.kind, venue.timezone, False, phone="0117 496 0123")
    edited = await store.venue("test-bistro")
    assert (edited.address, edited.phone) == ("1 Quay Street", "0117 496 0123")


async def test_unknown_venue_in_admin_is_404(admin):
    assert (await admin.get("/admin/venues/nowhere/edit")).status_code == 404
    assert (await admin.get("/admin/venues/nowhere/board/2030-01-01")).status_code == 404
    assert (await admin.get("/admin/resources/999999/edit")).status_code == 404


# -- resources and schedules


async def test_create_a_resource_with_a_schedule(admin, store, tomorrow):
    closed_day = tomorrow + timedelta(days=1)
    text_ = f"daily 08:00-12:00 30 3\n{closed_day} closed   # staff outing\n"
    response = await act(
        admin,
        "/admin/venues/test-bistro/resources/new",
        slug="terrace",
        name="Terrace",
        max_party="6",
        horizon_days="10",
        min_notice_minutes="60",
        schedule=text_,
    )
    assert response.status_code == 303
    terrace = (await store.venue("test-bistro")).resource("terrace")
    assert (terrace.name, terrace.max_party, terrace.horizon_days, terrace.min_notice_minutes) == ("Terrace", 6, 10, 60)
    assert len(terrace.rules) == 7 and terrace.exceptions[0].local_date == closed_day
    slots = await store.slots_for_day(terrace.id, tomorrow)
    assert [s.starts_at.strftime("%H:%M") for s in slots] == [
        "08:00",
        "08:30",
        "09:00",
        "09:30",
        "10:00",
        "10:30",
        "11:00",
        "11:30",
    ]
    assert {s.capacity for s in slots} == {3}
    assert await store.slots_for_day(terrace.id, closed_day) == []
    assert await store.slots_for_day(terrace.id, tomorrow + timedelta(days=9))  # up to its horizon (10 days)
    assert await store.slots_for_day(terrace.id, tomorrow + timedelta(days=10)) == []
    # the public can book it at once
    day_page = await admin.get(f"/book/test-bistro/terrace/{tomorrow}")
    assert day_page.status_code == 200 and f'data-slot-id="{slots[0].id}"' in await text(day_page)


async def test_resource_form_shows_the_schedule_as_text(admin, venue):
    html = await text(await admin.get(f"/admin/resources/{venue.resource('tables').id}/edit"))
    assert "mon 08:00-20:00 60 10" in html and "sun 08:00-20:00 60 10" in html


@pytest.mark.parametrize(
    "schedule_text, line",
    [
        ("daily 08:00-12:00 30 3\nevery tuesday morning", 2),
        ("mon-fri 12:00-08:00 30 3", 1),  # closes before it opens
        ("mon 08:00-12:00 30 3\n\nmon 08:00-12:00 thirty 3", 3),  # blank lines count
        ("# comment\ntue 08:00-12:00 30 3 # ok\nfri 25:00-26:00 30 3", 3),
        ("mon 08:00-12:00 30", 1),
        ("daily 08:00-12:00 30 3\n2026-02-30 closed", 2),
        ("mon 08:00-12:00 1 3", 1),  # slots shorter than five minutes
    ],
)
async def test_unreadable_rules_are_422_with_the_line_number(admin, store, schedule_text, line):
    before = await store.venue("test-bistro")
    response = await act(
        admin,
        "/admin/venues/test-bistro/resources/new",
        slug="terrace",
        name="Terrace",
        max_party="2",
        horizon_days="7",
        min_notice_minutes="0",
        schedule=schedule_text,
    )
    assert response.status_code == 422
    assert f"Line {line} could not be read." in await text(response)
    assert await store.venue("test-bistro") == before  # no resource, no slots


async def test_editing_with_unreadable_rules_is_422_and_changes_nothing(admin, store, venue, tomorrow):
    tables = venue.resource("tables")
    slots = await store.slots_for_day(tables.id, tomorrow)
    response = await act(
        admin,
        f"/admin/resources/{tables.id}/edit",
        **resource_form(tables, "daily 08:00-20:00 60 12\nsat 10:00", name="Renamed"),
    )
    assert response.status_code == 422
    assert "Line 2 could not be read." in await text(response)
    assert await tables_of(store) == tables
    assert await store.slots_for_day(tables.id, tomorrow) == slots


async def test_resource_form_saves_the_chinese_name(admin, store, venue):
    tables = venue.resource("tables")
    form = await text(await admin.get(f"/admin/resources/{tables.id}/edit"))
    assert 'name="name_zh"' in form
    response = await act(
        admin, f"/admin/resources/{tables.id}/edit", **resource_form(tables, "daily 08:00-20:00 60 10", name_zh="餐桌")
    )
    assert response.status_code == 303
    assert (await tables_of(store)).name_zh == "餐桌"
    response = await act(
        admin,
        "/admin/venues/test-bistro/resources/new",
        slug="terrace",
        name="Terrace",
        name_zh="露台",
        max_party="6",
        horizon_days="10",
        min_notice_minutes="0",
        schedule="daily 08:00-12:00 30 3",
    )
    assert response.status_code == 303
    assert (await store.venue("test-bistro")).resource("terrace").name_zh == "露台"


async def test_an_overlong_chinese_resource_name_is_422_and_changes_nothing(admin, store, venue):
    tables = venue.resource("tables")
    response = await act(
        admin,
        f"/admin/resources/{tables.id}/edit",
        **resource_form(tables, "daily 08:00-20:00 60 10", name_zh="名" * 101),
    )
    assert response.status_code == 422
    assert "That Chinese name is too long (100 characters at most)." in await text(response)
    assert await tables_of(store) == tables


@pytest.mark.parametrize(
    "field, value", [("max_party", "0"), ("horizon_days", "366"), ("min_notice_minutes", "-5"), ("max_party", "many")]
)
async def test_bad_resource_numbers_are_422(admin, store, venue, field, value):
    tables = venue.resource("tables")
    response = await act(
        admin,
        f"/admin/resources/{tables.id}/edit",
        **resource_form(tables, "daily 08:00-20:00 60 10", **{field: value}),
    )
    assert response.status_code == 422
    assert "A whole number from" in await text(response)
    assert await tables_of(store) == tables


async def test_regenerating_slots_keeps_bookings(admin, store, hub, venue, slot, tomorrow, service):
    tables = venue.resource("tables")
    booking, _ = await service.book(tables, slot.id, NAME, CONTACT, 3)
    # more places per slot
    edit = f"/admin/resources/{tables.id}/edit"
    response = await act(admin, edit, **resource_form(tables, "daily 08:00-20:00 60 12"))
    assert response.status_code == 303
    after = await store.slots_for_day(tables.id, tomorrow)
    assert after[0].id == slot.id and (after[0].capacity, after[0].booked) == (12, 3)
    assert {s.capacity for s in after} == {12} and len(after) == 12
    # shorter evenings: the unbooked late slots go, the booked morning slot stays as it is
    response = await act(admin, edit, **resource_form(tables, "daily 08:00-18:00 60 12"))
    assert response.status_code == 303
    after = await store.slots_for_day(tables.id, tomorrow)
    assert [s.starts_at.hour for s in after] == list(range(8, 18))
    assert after[0].id == slot.id and (after[0].capacity, after[0].booked) == (12, 3)
    kept, _slot = await store.booking_by_id(booking.id)
    assert (kept.status, kept.slot_id, kept.party_size, kept.name) == ("confirmed", slot.id, 3, NAME)
    assert [r.closes.hour for r in (await tables_of(store)).rules] == [18] * 7


async def test_schedule_change_shows_at_once_on_the_public_day_page(admin, stranger, venue, tomorrow):
    tables = venue.resource("tables")
    await act(admin, f"/admin/resources/{tables.id}/edit", **resource_form(tables, "daily 08:00-10:00 60 4"))
    html = await text(await stranger.get(f"/book/test-bistro/tables/{tomorrow}"))
    assert len(re.findall(r'<tr data-slot-id="\d+"', html)) == 2 and 'data-remaining="4"' in html


async def test_a_raised_horizon_opens_the_new_days_at_once(admin, stranger, store, venue, tomorrow):
    tables = venue.resource("tables")
    far = tomorrow + timedelta(days=9)  # beyond today + 7
    assert await store.slots_for_day(tables.id, far) == []
    response = await act(
        admin,
        f"/admin/resources/{tables.id}/edit",
        **resource_form(tables, "daily 08:00-20:00 60 10", horizon_days="14"),
    )
    assert response.status_code == 303
    html = await text(await stranger.get(f"/book/test-bistro/tables/{far}"))
    assert len(re.findall(r'<tr data-slot-id="\d+"', html)) == 12 and html.count(">Book</a>") == 12
    assert (await public_booking(stranger.app, (await store.slots_for_day(tables.id, far))[3].id)).status_code == 303


async def test_a_lowered_horizon_refuses_bookings_past_it_at_once_and_keeps_those_made(
    admin, stranger, store, venue, tomorrow, service
):
    tables = venue.resource("tables")
    day5, day6 = tomorrow + timedelta(days=4), tomorrow + timedelta(days=5)
    booked = (await store.slots_for_day(tables.id, day5))[2]
    booking, _ = await service.book(tables, booked.id, NAME, CONTACT, 2)
    free = (await store.slots_for_day(tables.id, day5))[5]
    response = await act(
        admin,
        f"/admin/resources/{tables.id}/edit",
        **resource_form(tables, "daily 08:00-20:00 60 10", horizon_days="2"),
    )
    assert response.status_code == 303
    assert (await public_booking(stranger.app, booked.id)).status_code in (404, 409)
    assert (await public_booking(stranger.app, free.id)).status_code in (404, 409)
    assert [s.id for s in await store.slots_for_day(tables.id, day5)] == [booked.id]  # unbooked slots went
    assert await store.slots_for_day(tables.id, day6) == []
    assert ">Book</a>" not in await text(await stranger.get(f"/book/test-bistro/tables/{day5}"))
    kept, slot = await store.booking_by_id(booking.id)
    assert (kept.status, slot.booked) == ("confirmed", 2)
    assert NAME in await text(await admin.get(board_url(day5)))  # staff still see it


@pytest.mark.parametrize(
    "schedule_text",
    [
        "daily 08:00-20:00 60 2",  # fewer places than the 3 booked
        "daily 09:00-20:00 60 10",  # the booked 08:00 slot would vanish
        "daily 08:00-20:00 60 10\n{day} closed",  # its day closed
    ],
)
async def test_a_change_below_the_bookings_is_refused_with_409_and_changes_nothing(
    admin, store, hub, venue, slot, tomorrow, schedule_text, service
):
    tables = venue.resource("tables")
    await service.book(tables, slot.id, NAME, CONTACT, 3)
    before = [await store.slots_for_day(tables.id, tomorrow + timedelta(days=n)) for n in range(-1, 7)]
    response = await act(
        admin,
        f"/admin/resources/{tables.id}/edit",
        **resource_form(tables, schedule_text.format(day=tomorrow), name="Renamed"),
    )
    assert response.status_code == 409
    html = await text(response)
    assert "Refused: these slots hold more bookings than the new schedule allows" in html
    assert f"{tomorrow} 08:00" in html and "Cancel or move those bookings first." in html
    assert await tables_of(store) == tables  # rules, exceptions and name as they were
    assert [await store.slots_for_day(tables.id, tomorrow + timedelta(days=n)) for n in range(-1, 7)] == before


async def test_a_closed_date_removes_that_days_unbooked_slots(admin, stranger, store, venue, tomorrow):
    tables = venue.resource("tables")
    later = tomorrow + timedelta(days=1)
    later_slots = await store.slots_for_day(tables.id, later)
    response = await act(
        admin,
        f"/admin/resources/{tables.id}/edit",
        **resource_form(tables, f"daily 08:00-20:00 60 10\n{tomorrow} closed"),
    )
    assert response.status_code == 303
    assert await store.slots_for_day(tables.id, tomorrow) == []
    assert await store.slots_for_day(tables.id, later) == later_slots  # other days untouched
    assert 'data-slot-id="' not in await text(await stranger.get(f"/book/test-bistro/tables/{tomorrow}"))
    # lifting the exception brings the day back
    await act(admin, f"/admin/resources/{tables.id}/edit", **resource_form(tables, "daily 08:00-20:00 60 10"))
    assert len(await store.slots_for_day(tables.id, tomorrow)) == 12


async def test_a_changed_hours_exception_applies_to_that_day_only(admin, store, venue, tomorrow):
    tables = venue.resource("tables")
    response = await act(
        admin,
        f"/admin/resources/{tables.id}/edit",
        **resource_form(tables, f"daily 08:00-20:00 60 10\n{tomorrow} 10:00-12:00 30 4"),
    )
    assert response.status_code == 303
    slots = await store.slots_for_day(tables.id, tomorrow)
    assert [(s.starts_at.strftime("%H:%M"), s.capacity) for s in slots] == [
        ("10:00", 4),
        ("10:30", 4),
        ("11:00", 4),
        ("11:30", 4),
    ]
    assert len(await store.slots_for_day(tables.id, tomorrow + timedelta(days=1))) == 12


async def test_archiving_a_resource_hides_it_from_the_public_but_not_from_staff(
    admin, stranger, store, venue, tomorrow
):
    bar = venue.resource("bar")
    response = await act(
        admin, f"/admin/resources/{bar.id}/edit", **resource_form(bar, "daily 18:00-20:00 60 2", archived="1")
    )
    assert response.status_code == 303
    assert (await store.venue("test-bistro")).resource("bar").archived
    assert "Bar seats" not in await text(await stranger.get("/book/test-bistro"))
    assert (await stranger.get(f"/book/test-bistro/bar/{tomorrow}")).status_code == 404
    assert (await stranger.get("/book/test-bistro/bar")).status_code == 404
    assert "Bar seats" not in await text(await stranger.get("/kiosk/test-bistro"))
    staff_index = await text(await admin.get("/admin/"))
    assert "Bar seats" in staff_index and "(archived)" in staff_index
    assert (await admin.get(f"/admin/resources/{bar.id}/edit")).status_code == 200


async def test_archived_resources_slots_cannot_be_booked_by_the_public(admin, stranger, store, venue, tomorrow):
    bar = venue.resource("bar")
    bar_slot = (await store.slots_for_day(bar.id, tomorrow))[0]
    await act(admin, f"/admin/resources/{bar.id}/edit", **resource_form(bar, "daily 18:00-20:00 60 2", archived="1"))
    assert (await stranger.get(f"/slots/{bar_slot.id}/book")).status_code == 404
    assert (await public_booking(stranger.app, bar_slot.id)).status_code == 404
    api = await stranger.post("/api/v1/bookings", json={"slot_id": bar_slot.id, "name": "A", "contact": "12345"})
    assert api.status_code == 404
    listed = await (await stranger.get("/api/v1/venues")).get_json()
    assert [r["slug"] for r in listed[0]["resources"]] == ["tables"]
    assert (await store.slot(bar_slot.id)).booked == 0


async def test_archived_venues_slots_cannot_be_booked_by_the_public(admin, stranger, store, slot):
    await act(
        admin, "/admin/venues/test-bistro/edit", name="Test Bistro", kind="restaurant", timezone="UTC", archived="1"
    )
    assert (await stranger.get(f"/slots/{slot.id}/book")).status_code == 404
    assert (await public_booking(stranger.app, slot.id)).status_code == 404
    api = await stranger.post("/api/v1/bookings", json={"slot_id": slot.id, "name": "A", "contact": "12345"})
    assert api.status_code == 404
    assert (await store.slot(slot.id)).booked == 0


# -- the day board


async def test_board_shows_names_and_contacts_to_staff_only(
    admin, stranger, store, hub, venue, slot, tomorrow, service
):
    tables = venue.resource("tables")
    await service.book(tables, slot.id, NAME, CONTACT, 2)
    board = await admin.get(board_url(tomorrow))
    html = await text(board)
    assert board.status_code == 200
    assert NAME in html and CONTACT in html and "A001" in html
    assert f'id="board-{tables.id}"' in html and f'id="board-{venue.resource("bar").id}"' in html
    assert f'sse-connect="/admin/events/board/{venue.id}/{tomorrow}"' in html
    for path in (
        f"/book/test-bistro/tables/{tomorrow}",
        f"/slots/{slot.id}/book",
        "/kiosk/test-bistro",
        "/book/test-bistro",
    ):
        page = await stranger.get(path)
        assert page.status_code == 200, path
        html = await text(page)
        assert NAME not in html and CONTACT not in html, path
    assert (await stranger.get(board_url(tomorrow))).status_code == 302


async def test_public_streams_never_carry_names(app, store, hub, venue, slot, tomorrow, service):
    tables = venue.resource("tables")
    public = app.test_client()
    await service.book(tables, slot.id, NAME, CONTACT, 1)
    async with (
        public.request(f"/events/day/{tables.id}/{tomorrow}") as day_stream,
        public.request(f"/events/slot/{slot.id}") as slot_stream,
        public.request("/kiosk/test-bistro/events") as kiosk_stream,
    ):
        seen = [
            await read_until(day_stream, b"</div>"),
            await read_until(slot_stream, b"</p>"),
            await read_until(kiosk_stream, f"event: panel-{venue.resource('bar').id}".encode()),
        ]
        await service.book(tables, slot.id, NAME, CONTACT, 1)
        seen += [
            await read_until(day_stream, b'data-remaining="8"'),
            await read_until(slot_stream, b'data-remaining="8"'),
        ]
        for connection in (day_stream, slot_stream, kiosk_stream):
            await connection.disconnect()
    for chunk in seen:
        assert NAME.encode() not in chunk and CONTACT.encode() not in chunk
    await streams_closed(hub)


async def test_today_board_redirects_to_the_dated_board(admin):
    response = await admin.get("/admin/venues/test-bistro/board")
    assert response.status_code == 302
    assert response.headers["Location"] == board_url(local_today("UTC"))


async def test_board_with_a_bad_date_is_400(admin):
    assert (await admin.get("/admin/venues/test-bistro/board/tomorrow")).status_code == 400


async def test_staff_book_for_a_caller(admin, store, venue, slot, tomorrow):
    tables = venue.resource("tables")
    response = await act(
        admin,
        f"/admin/resources/{tables.id}/bookings",
        slot_id=str(slot.id),
        name=NAME,
        contact=CONTACT,
        party_size="3",
    )
    assert response.status_code == 303
    assert response.headers["Location"] == f"{board_url(tomorrow)}#board-{tables.id}"
    [(booking, booked_slot)] = await store.bookings_on(venue.id, tomorrow)
    assert (booking.name, booking.contact, booking.party_size, booking.status) == (NAME, CONTACT, 3, "confirmed")
    assert booked_slot.id == slot.id and booked_slot.booked == 3
    assert NAME in await text(await admin.get(board_url(tomorrow)))


async def test_staff_can_book_inside_the_minimum_notice_the_public_cannot(
    admin, app, store, venue, slot, tomorrow, service
):
    tables = venue.resource("tables")
    await service.edit_resource(tables, min_notice_minutes=3 * 24 * 60)
    assert (await public_booking(app, slot.id)).status_code == 409
    response = await act(
        admin,
        f"/admin/resources/{tables.id}/bookings",
        slot_id=str(slot.id),
        name=NAME,
        contact=CONTACT,
        party_size="1",
    )
    assert response.status_code == 303
    assert (await store.slot(slot.id)).booked == 1


async def test_staff_booking_problems_are_shown_on_the_board(admin, store, venue, slot, tomorrow):
    tables = venue.resource("tables")
    response = await act(
        admin, f"/admin/resources/{tables.id}/bookings", slot_id=str(slot.id), name="", contact=CONTACT, party_size="9"
    )
    assert response.status_code == 422
    html = await text(response)
    assert 'role="alert"' in html and f'id="board-{tables.id}"' in html
    assert (await store.slot(slot.id)).booked == 0


async def test_staff_booking_of_a_full_slot_is_409(admin, store, hub, venue, tomorrow, service):
    bar = venue.resource("bar")
    bar_slot = (await store.slots_for_day(bar.id, tomorrow))[0]
    await service.book(bar, bar_slot.id, "Someone", "12345", 1)
    await service.book(bar, bar_slot.id, "Someone else", "12346", 1)
    response = await act(
        admin,
        f"/admin/resources/{bar.id}/bookings",
        slot_id=str(bar_slot.id),
        name=NAME,
        contact=CONTACT,
        party_size="1",
    )
    assert response.status_code == 409
    assert "That slot has no room for that many places." in await text(response)
    assert (await store.slot(bar_slot.id)).booked == 2


async def test_staff_booking_a_slot_of_another_resource_is_404(admin, store, venue, tomorrow):
    bar_slot = (await store.slots_for_day(venue.resource("bar").id, tomorrow))[0]
    response = await act(
        admin,
        f"/admin/resources/{venue.resource('tables').id}/bookings",
        slot_id=str(bar_slot.id),
        name=NAME,
        contact=CONTACT,
        party_size="1",
    )
    assert response.status_code == 404
    assert (await store.slot(bar_slot.id)).booked == 0


async def test_staff_cancel(admin, store, hub, venue, slot, tomorrow, service):
    booking, _ = await service.book(venue.resource("tables"), slot.id, NAME, CONTACT, 4)
    response = await act(admin, f"/admin/bookings/{booking.id}/cancel")
    assert response.status_code == 303
    cancelled, freed = await store.booking_by_id(booking.id)
    assert cancelled.status == "cancelled" and freed.booked == 0
    html = await text(await admin.get(board_url(tomorrow)))
    assert "cancelled" in html
    # a second cancel changes nothing
    assert (await act(admin, f"/admin/bookings/{booking.id}/cancel")).status_code == 303
    assert (await store.slot(slot.id)).booked == 0


@pytest.mark.parametrize("mark, shown", [("checked_in", "checked in"), ("no_show", "no-show")])
async def test_staff_mark_attendance(admin, store, hub, venue, slot, tomorrow, mark, shown, service):
    booking, _ = await service.book(venue.resource("tables"), slot.id, NAME, CONTACT, 1)
    response = await act(admin, f"/admin/bookings/{booking.id}/attendance", attendance=mark)
    assert response.status_code == 303
    assert (await store.booking_by_id(booking.id))[0].attendance == mark
    assert f"<em>{shown}</em>" in await text(await admin.get(board_url(tomorrow)))
    # and cleared again
    await act(admin, f"/admin/bookings/{booking.id}/attendance", attendance="")
    assert (await store.booking_by_id(booking.id))[0].attendance is None


async def test_unknown_attendance_mark_is_400(admin, store, hub, venue, slot, service):
    booking, _ = await service.book(venue.resource("tables"), slot.id, NAME, CONTACT, 1)
    assert (await act(admin, f"/admin/bookings/{booking.id}/attendance", attendance="asleep")).status_code == 400
    assert (await store.booking_by_id(booking.id))[0].attendance is None


async def test_actions_on_a_cancelled_booking_are_409(admin, store, hub, venue, slot, service):
    booking, _ = await service.book(venue.resource("tables"), slot.id, NAME, CONTACT, 1)
    await service.cancel(booking.reference, booking.cancel_token)
    for path, fields in (
        (f"/admin/bookings/{booking.id}/attendance", {"attendance": "checked_in"}),
        (f"/admin/bookings/{booking.id}/call", {"counter": "2"}),
    ):
        assert (await act(admin, path, **fields)).status_code == 409, path
    assert (await store.booking_by_id(booking.id))[0].called_at is None


async def test_actions_on_unknown_bookings_and_slots_are_404(admin):
    for path in (
        "/admin/bookings/999999/cancel",
        "/admin/bookings/999999/call",
        "/admin/bookings/999999/requeue",
        "/admin/slots/999999/closed",
    ):
        assert (await act(admin, path)).status_code == 404, path
    assert (await act(admin, "/admin/resources/999999/call-next", day="2030-01-01")).status_code == 404


async def test_close_and_reopen_a_slot(admin, app, store, venue, slot, tomorrow):
    response = await act(admin, f"/admin/slots/{slot.id}/closed", closed="1")
    assert response.status_code == 303
    assert (await store.slot(slot.id)).closed
    refused = await public_booking(app, slot.id)
    assert refused.status_code == 409
    assert (await store.slot(slot.id)).booked == 0
    public_day = await text(await app.test_client().get(f"/book/test-bistro/tables/{tomorrow}"))
    assert f'data-slot-id="{slot.id}" data-remaining="0"' in public_day
    assert (await act(admin, f"/admin/slots/{slot.id}/closed", closed="0")).status_code == 303
    assert not (await store.slot(slot.id)).closed
    assert (await public_booking(app, slot.id)).status_code == 303
    assert (await store.slot(slot.id)).booked == 1


async def test_closing_a_slot_keeps_its_bookings(admin, store, hub, venue, slot, service):
    booking, _ = await service.book(venue.resource("tables"), slot.id, NAME, CONTACT, 2)
    await act(admin, f"/admin/slots/{slot.id}/closed", closed="1")
    assert (await store.booking_by_id(booking.id))[0].status == "confirmed"
    assert (await store.slot(slot.id)).booked == 2


async def test_htmx_action_returns_the_resources_board_fragment(admin, store, hub, venue, slot, tomorrow, service):
    tables = venue.resource("tables")
    booking, _ = await service.book(tables, slot.id, NAME, CONTACT, 2)
    response = await act(admin, f"/admin/bookings/{booking.id}/attendance", htmx=True, attendance="checked_in")
    assert response.status_code == 200
    assert response.headers["HX-Retarget"] == f"#board-{tables.id}"
    assert response.headers["HX-Reswap"] == "outerHTML"
    html = (await text(response)).strip()
    assert html.startswith(f'<section id="board-{tables.id}"') and html.endswith("</section>")
    assert "<html" not in html and "<em>checked in</em>" in html and NAME in html
    assert unmasked(form_token(html)) == await session_token(admin)


@pytest.mark.parametrize(
    "path, fields",
    [
        ("/admin/slots/{slot}/closed", {"closed": "1"}),
        ("/admin/bookings/{booking}/cancel", {}),
        ("/admin/bookings/{booking}/attendance", {"attendance": "no_show"}),
        ("/admin/bookings/{booking}/call", {"counter": "Room 2"}),
        ("/admin/resources/{tables}/call-next", {"day": "{day}"}),
        ("/admin/resources/{tables}/bookings", {"slot_id": "{slot}", "name": "Walk In", "contact": "55555"}),
    ],
)
async def test_every_board_action_answers_htmx_with_the_fragment_and_forms_with_a_redirect(
    admin, store, hub, venue, slot, tomorrow, path, fields, service
):
    tables = venue.resource("tables")
    names = dict(slot=slot.id, tables=tables.id, day=tomorrow)
    for htmx in (True, False):
        booking, _ = await service.book(tables, slot.id, NAME, CONTACT, 1)
        names["booking"] = booking.id
        response = await act(
            admin, path.format(**names), htmx=htmx, **{k: v.format(**names) for k, v in fields.items()}
        )
        if htmx:
            assert response.status_code == 200
            assert response.headers["HX-Retarget"] == f"#board-{tables.id}"
            assert (await text(response)).lstrip().startswith(f'<section id="board-{tables.id}"')
        else:
            assert response.status_code == 303
            assert response.headers["Location"] == f"{board_url(tomorrow)}#board-{tables.id}"
        await act(admin, f"/admin/slots/{slot.id}/closed", closed="0")


def form_for(html: str, action: str) -> str:
    """The first form in a page that posts to `action`, from its opening tag to its end ('' when none)."""
    found = re.search(rf'<form method="post" action="{re.escape(action)}"[^>]*>.*?</form>', html, re.S)
    return found.group(0) if found else ""


def entry_of(html: str, booking_id: int) -> str:
    """A booking's row on the board: its <li> and what it holds."""
    return re.search(rf'<li id="booking-{booking_id}".*?</li>', html, re.S).group(0)


async def test_destructive_board_actions_ask_first_and_look_it(admin, store, hub, venue, slot, tomorrow, service):
    booking, _ = await service.book(venue.resource("tables"), slot.id, NAME, CONTACT, 2)
    html = await text(await admin.get(board_url(tomorrow)))
    cancel = form_for(html, f"/admin/bookings/{booking.id}/cancel")
    [no_show] = [f for f in re.findall(r"<form.*?</form>", entry_of(html, booking.id), re.S) if 'value="no_show"' in f]
    close = form_for(html, f"/admin/slots/{slot.id}/closed")
    for form in (cancel, no_show, close):
        assert re.search(r'hx-confirm="[^"]+"', form), form
        assert 'class="small danger"' in form, form
    assert f"Cancel the booking of A001 {NAME}?" in cancel and f"Mark A001 {NAME} as a no-show?" in no_show
    assert "Close the 08:00 slot to new bookings?" in close
    check_in = form_for(html, f"/admin/bookings/{booking.id}/attendance")
    assert 'value="checked_in"' in check_in and "Check in" in check_in
    assert "hx-confirm" not in check_in and "danger" not in check_in
    call = form_for(html, f"/admin/bookings/{booking.id}/call")
    assert "hx-confirm" not in call and "danger" not in call
    # without script the forms still post as they are: the page's forms carry their token
    assert unmasked(form_token(cancel)) == await session_token(admin)
    # reopening a closed slot is not destructive
    await act(admin, f"/admin/slots/{slot.id}/closed", closed="1")
    reopen = form_for(await text(await admin.get(board_url(tomorrow))), f"/admin/slots/{slot.id}/closed")
    assert "Reopen" in reopen and "hx-confirm" not in reopen and "danger" not in reopen


async def test_a_checked_in_booking_offers_to_undo_the_mark_not_to_check_in(
    admin, store, hub, venue, slot, tomorrow, service
):
    booking, _ = await service.book(venue.resource("tables"), slot.id, NAME, CONTACT, 1)
    assert ">Check in</button>" in entry_of(await text(await admin.get(board_url(tomorrow))), booking.id)
    await act(admin, f"/admin/bookings/{booking.id}/attendance", attendance="checked_in")
    entry = entry_of(await text(await admin.get(board_url(tomorrow))), booking.id)
    assert "<em>checked in</em>" in entry
    assert ">Check in</button>" not in entry and ">No-show</button>" not in entry
    undo = form_for(entry, f"/admin/bookings/{booking.id}/attendance")
    assert ">Undo check-in</button>" in undo and 'name="attendance" value=""' in undo
    # the htmx answer (the fresh board) says the same
    response = await act(admin, f"/admin/bookings/{booking.id}/attendance", htmx=True, attendance="checked_in")
    assert ">Check in</button>" not in entry_of(await text(response), booking.id)
    # undoing it clears the mark, and check-in is offered again
    assert (await act(admin, f"/admin/bookings/{booking.id}/attendance", attendance="")).status_code == 303
    assert (await store.booking_by_id(booking.id))[0].attendance is None
    assert ">Check in</button>" in entry_of(await text(await admin.get(board_url(tomorrow))), booking.id)


async def test_a_no_show_can_be_undone_or_checked_in_late(admin, store, hub, venue, slot, tomorrow, service):
    booking, _ = await service.book(venue.resource("tables"), slot.id, NAME, CONTACT, 1)
    await act(admin, f"/admin/bookings/{booking.id}/attendance", attendance="no_show")
    entry = entry_of(await text(await admin.get(board_url(tomorrow))), booking.id)
    assert ">Check in</button>" in entry and ">Undo no-show</button>" in entry and ">No-show</button>" not in entry


async def test_the_counter_field_shows_the_remembered_counter(app, admin, store, hub, venue, slot, tomorrow, service):
    tables, bar = venue.resource("tables"), venue.resource("bar")
    first, _ = await service.book(tables, slot.id, NAME, CONTACT, 1)
    second, _ = await service.book(tables, slot.id, "Ann Other", "ann@example.com", 1)
    field = re.compile(
        r'<input name="counter" id="counter-(\d+)" hx-preserve="true"\s+size="8" maxlength="40" '
        r'value="([^"]*)"'
    )
    html = await text(await admin.get(board_url(tomorrow)))
    assert field.findall(html) == [(str(tables.id), ""), (str(bar.id), "")]
    await act(admin, f"/admin/resources/{tables.id}/call-next", day=tomorrow.isoformat(), counter="Room 7")
    html = await text(await admin.get(board_url(tomorrow)))
    assert field.findall(html) == [(str(tables.id), "Room 7"), (str(bar.id), "Room 7")]
    # calling one ticket to another counter remembers that one; the htmx answer shows it too
    response = await act(admin, f"/admin/bookings/{second.id}/call", htmx=True, counter="Desk 2")
    assert field.findall(await text(response)) == [(str(tables.id), "Desk 2")]
    assert (await store.booking_by_id(second.id))[0].called_to == "Desk 2"
    assert field.findall(await text(await admin.get(board_url(tomorrow))))[0] == (str(tables.id), "Desk 2")
    # the counter is this clerk's: another clerk's page and the live render shared by every clerk leave it blank
    other = app.test_client()
    assert (await log_in(other)).status_code == 303
    assert field.findall(await text(await other.get(board_url(tomorrow))))[0] == (str(tables.id), "")
    async with admin.request(f"/admin/events/board/{venue.id}/{tomorrow}") as connection:
        shared = await read_until(connection, f"event: board-{bar.id}".encode())  # the tables' board came first
        await connection.disconnect()
    shared = shared.split(f"event: board-{bar.id}".encode())[0]
    assert f"event: board-{tables.id}".encode() in shared and b"</section>" in shared
    assert b'maxlength="40" value=""' in shared and b"Desk 2" in shared  # "called → Desk 2", not the field's value
    assert b'value="Desk 2"' not in shared
    await streams_closed(hub)


async def test_the_call_button_sends_the_counter_typed_on_the_board(admin, store, hub, venue, slot, tomorrow, service):
    tables = venue.resource("tables")
    booking, _ = await service.book(tables, slot.id, NAME, CONTACT, 1)
    call = form_for(await text(await admin.get(board_url(tomorrow))), f"/admin/bookings/{booking.id}/call")
    assert f'hx-include="#counter-{tables.id}"' in call and 'name="counter"' not in call


async def test_walk_in_times_say_what_their_numbers_are(admin, store, hub, venue, slot, tomorrow, service):
    await service.book(venue.resource("tables"), slot.id, NAME, CONTACT, 3)
    html = await text(await admin.get(board_url(tomorrow)))
    option = re.search(rf'<option value="{slot.id}">(.*?)</option>', html, re.S).group(1)
    assert " ".join(option.split()) == "08:00 · 7 places left"
    bar_slot = (await store.slots_for_day(venue.resource("bar").id, tomorrow))[0]
    await service.book(venue.resource("bar"), bar_slot.id, "Someone", "12345", 1)
    option = re.search(
        rf'<option value="{bar_slot.id}">(.*?)</option>', await text(await admin.get(board_url(tomorrow))), re.S
    ).group(1)
    assert " ".join(option.split()) == "18:00 · 1 place left"


# -- search on the board


async def found_on(client, day, query: str) -> list[int]:
    """The booking ids the board's search lists for `query`."""
    response = await client.get(board_url(day), query_string={"q": query})
    assert response.status_code == 200
    return [int(i) for i in re.findall(r'data-found-id="(\d+)"', await text(response))]


async def test_search_finds_by_name_phone_or_reference_and_nothing_else(
    admin, store, hub, venue, slot, tomorrow, service
):
    tables, bar = venue.resource("tables"), venue.resource("bar")
    zhang, _ = await service.book(tables, slot.id, NAME, CONTACT, 2)  # +86 138 0013 8000
    ann, _ = await service.book(tables, slot.id, "Ann Other", "ann@example.com", 1)
    bar_slot = (await store.slots_for_day(bar.id, tomorrow))[0]
    bob, _ = await service.book(bar, bar_slot.id, "Bob Bar", "020 7946 0018", 1)
    later, _ = await service.book(
        tables, (await store.slots_for_day(tables.id, tomorrow + timedelta(days=1)))[0].id, "Zhang Later", CONTACT, 1
    )
    assert await found_on(admin, tomorrow, "zhang") == [zhang.id]  # any case; another day's booking is not listed
    assert await found_on(admin, tomorrow, "WEI") == [zhang.id]
    assert await found_on(admin, tomorrow, "8613800138000") == [zhang.id]  # the phone in other formats
    assert await found_on(admin, tomorrow, "+86-138-0013-8000") == [zhang.id]
    assert await found_on(admin, tomorrow, "138 0013 8000") == [zhang.id]
    assert await found_on(admin, tomorrow, "(020) 7946-0018") == [bob.id]  # on another resource's board
    assert await found_on(admin, tomorrow, "ANN@Example.com") == [ann.id]
    assert await found_on(admin, tomorrow, zhang.reference) == [zhang.id]
    assert await found_on(admin, tomorrow, ann.reference.lower()) == [ann.id]
    assert await found_on(admin, tomorrow, bob.reference[:5].lower()) == [bob.id]  # a prefix
    for nobody in ("Carol", "999", "0000 0000", bob.reference[1:], "nobody@example.com"):
        assert await found_on(admin, tomorrow, nobody) == [], nobody
    assert await found_on(admin, tomorrow + timedelta(days=1), "zhang") == [later.id]


async def test_search_results_link_to_the_live_board_and_say_they_are_a_snapshot(
    admin, store, hub, venue, slot, tomorrow, service
):
    booking, _ = await service.book(venue.resource("tables"), slot.id, NAME, CONTACT, 2)
    html = await text(await admin.get(board_url(tomorrow), query_string={"q": "zhang"}))
    results = re.search(r'<section class="search-results".*?</section>', html, re.S).group(0)
    assert NAME in results and CONTACT in results and booking.reference in results and "A001" in results
    assert f'href="#booking-{booking.id}"' in results and f'<li id="booking-{booking.id}"' in html
    assert "does not update by itself" in results
    assert 'value="zhang"' in html and "sse-connect" in html  # the query stays in the box; the boards stay live
    nothing = await text(await admin.get(board_url(tomorrow), query_string={"q": "Carol"}))
    assert "No booking on this day matches." in nothing
    assert "search-results" not in await text(await admin.get(board_url(tomorrow), query_string={"q": "  "}))


async def test_search_requires_login(client, store, hub, venue, slot, tomorrow, service):
    await service.book(venue.resource("tables"), slot.id, NAME, CONTACT, 2)
    response = await client.get(board_url(tomorrow), query_string={"q": "zhang"})
    assert response.status_code == 302
    assert urlsplit(response.headers["Location"]).path == "/admin/login"
    assert NAME not in await text(response) and CONTACT not in await text(response)
    htmx = await client.get(board_url(tomorrow), query_string={"q": "zhang"}, headers={"HX-Request": "true"})
    assert htmx.status_code == 401 and NAME not in await text(htmx)


# -- live


async def test_staff_board_stream_shows_a_public_booking_at_once(app, admin, hub, venue, slot, tomorrow):
    tables, bar = venue.resource("tables"), venue.resource("bar")
    async with admin.request(f"/admin/events/board/{venue.id}/{tomorrow}") as connection:
        first = await read_until(connection, f"event: board-{bar.id}".encode())
        while first.count(b"</section>") < 2:
            first += await asyncio.wait_for(connection.receive(), 2)
        assert first.startswith(b"retry: ")
        assert events_in(first) == [f"board-{tables.id}", f"board-{bar.id}"]
        assert connection.headers["Content-Type"] == "text/event-stream"
        assert (await public_booking(app, slot.id, name="Phone Booker", contact="07700 900123")).status_code == 303
        update = await read_until(connection, b"Phone Booker")
        assert f"event: board-{tables.id}".encode() in update and b"07700 900123" in update
        assert f'id="board-{tables.id}"'.encode() in update
        await connection.disconnect()
    await streams_closed(hub)


async def test_staff_board_stream_for_an_unknown_venue_is_404(admin):
    assert (await admin.get("/admin/events/board/999999/2030-01-01")).status_code == 404
    assert (await admin.get("/admin/events/board/1/not-a-day")).status_code == 400


async def test_one_staff_action_reaches_every_other_staff_board(
    app, admin, staff, store, hub, venue, slot, tomorrow, service
):
    other = app.test_client()
    assert (await log_in(other)).status_code == 303
    tables = venue.resource("tables")
    booking, _ = await service.book(tables, slot.id, NAME, CONTACT, 1)
    async with other.request(f"/admin/events/board/{venue.id}/{tomorrow}") as connection:
        await read_until(connection, NAME.encode())
        await act(admin, f"/admin/bookings/{booking.id}/attendance", attendance="no_show")
        assert b"<em>no-show</em>" in await read_until(connection, b"<em>no-show</em>")
        await connection.disconnect()
    await streams_closed(hub)


async def clear_of_minute_tick() -> None:
    """A kiosk clock's render expires every minute: keep a render count away from that moment."""
    second = datetime.now(UTC).second + datetime.now(UTC).microsecond / 1e6
    if second > 58.5:
        await asyncio.sleep(60.2 - second)


@contextmanager
def renders_of(hub):
    """The topics the hub renders inside the block, in order."""
    rendered: list[str] = []
    render = hub._render

    async def counting(topic, locale, version, at=None):
        rendered.append(topic)
        return await render(topic, locale, version, at)

    hub._render = counting
    try:
        yield rendered
    finally:
        hub._render = render


async def test_one_booking_renders_public_kiosk_and_staff_topics_once_each(store, hub, venue, slot, tomorrow, service):
    tables = venue.resource("tables")
    watched = [f"day:{tables.id}:{tomorrow}:1", f"panel:{tables.id}", f"board:{tables.id}:{tomorrow}"]
    subscribers = [hub.subscribe(watched, "en") for _ in range(3)]
    await clear_of_minute_tick()
    before = hub.renders
    with renders_of(hub) as rendered:
        await service.book(tables, slot.id, NAME, CONTACT, 1)
        await hub.settle()
    assert sorted(rendered) == sorted(watched)  # each exactly once, for three subscribers each
    assert hub.renders - before == 3
    for sub in subscribers:
        assert set(sub.pending) == set(watched)
        assert NAME.encode() in sub.pending[watched[2]]
        assert NAME.encode() not in sub.pending[watched[0]] + sub.pending[watched[1]]
        hub.unsubscribe(sub)


async def test_one_public_booking_over_real_streams_renders_each_topic_once(app, admin, hub, venue, slot, tomorrow):
    tables = venue.resource("tables")
    public = app.test_client()
    with renders_of(hub) as rendered:
        async with (
            public.request(f"/events/day/{tables.id}/{tomorrow}") as day_a,
            public.request(f"/events/day/{tables.id}/{tomorrow}") as day_b,
            public.request("/kiosk/test-bistro/events") as kiosk_a,
            public.request("/kiosk/test-bistro/events") as kiosk_b,
            admin.request(f"/admin/events/board/{venue.id}/{tomorrow}") as board_a,
            admin.request(f"/admin/events/board/{venue.id}/{tomorrow}") as board_b,
        ):
            streams = (day_a, day_b, kiosk_a, kiosk_b, board_a, board_b)
            for connection in streams:
                await read_until(connection, b"</")
            await clear_of_minute_tick()
            await hub.settle()
            rendered.clear()
            assert (await public_booking(app, slot.id, name="Ann Public")).status_code == 303
            # (Today's kiosk panel renders as it was, the booking being tomorrow's: the kiosks get no bytes.)
            for connection, needle in zip(streams, [b'data-remaining="9"'] * 2 + [b""] * 2 + [b"Ann Public"] * 2):
                await read_until(connection, needle)
            await hub.settle()
            for connection in streams:
                await connection.disconnect()
    assert sorted(rendered) == sorted(
        [
            f"day:{tables.id}:{tomorrow}:1",
            f"days:{tables.id}:{tomorrow}:1",
            f"panel:{tables.id}",
            f"board:{tables.id}:{tomorrow}",
        ]
    )
    await streams_closed(hub)


def form_token(html: str) -> str:
    """The CSRF token a form in this HTML carries (masked: see middleware/csrf.py)."""
    return re.search(r'name="csrf_token" value="([^"]+)"', html)[1]
