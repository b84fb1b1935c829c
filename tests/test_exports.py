"""Exports for the desk: a day's and a range's bookings as CSV, the printable day list, and who may have them."""

from __future__ import annotations

import csv
import io
import re
from datetime import UTC, datetime, timedelta
from urllib.parse import urlsplit

import pytest

from booking.model import ticket_label
from tests.support.helpers import CONTACT, board_url, text
from views.exports import cell

BOM = b"\xef\xbb\xbf"
HEADER = [
    "Time",
    "Resource",
    "Ticket",
    "Reference",
    "Name",
    "Contact",
    "Party",
    "Status",
    "Attendance",
    "Called at",
    "Called to",
    "Re-queued at",
]
NOTHING_YET = ["", "", "", ""]  # no mark, no call, not re-queued


def day_csv_url(day, venue: str = "test-bistro") -> str:
    return f"/admin/venues/{venue}/bookings/{day.isoformat()}.csv"


def range_csv_url(first, last, venue: str = "test-bistro") -> str:
    return f"/admin/venues/{venue}/bookings.csv?from={first}&to={last}"


def print_url(day, venue: str = "test-bistro") -> str:
    return f"/admin/venues/{venue}/board/{day.isoformat()}/print"


async def rows_of(response) -> list[list[str]]:
    """A CSV response's rows (after its BOM)."""
    return list(csv.reader(io.StringIO((await response.get_data()).decode("utf-8-sig"))))


async def slot_at(store, venue, day, hour: int, resource: str = "tables"):
    return next(s for s in await store.slots_for_day(venue.resource(resource).id, day) if s.starts_at.hour == hour)


# -- a day's CSV


async def test_the_day_csv_is_utf8_with_a_bom_and_a_row_per_booking(admin, service, venue, slot, tomorrow):
    tables = venue.resource("tables")
    booking, _ = await service.book(tables, slot.id, "王小明", CONTACT, 2)
    await service.mark(booking.id, "checked_in")
    cancelled, _ = await service.book(tables, slot.id, "Li Na", "li@example.com", 1)
    await service.cancel_for_staff(cancelled.id)

    response = await admin.get(day_csv_url(tomorrow))
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "text/csv; charset=utf-8"
    assert response.headers["Content-Disposition"] == f'attachment; filename="test-bistro-{tomorrow}.csv"'
    assert response.headers["Cache-Control"] == "no-store"  # names and contacts: never kept by a cache
    body = await response.get_data()
    assert body.startswith(BOM) and not body.startswith(BOM * 2)
    header, *rows = await rows_of(response)
    assert header == HEADER
    ticket = ticket_label(venue.ticket_letter(tables.id), booking.ticket)
    assert re.fullmatch(r"A\d{3}", ticket)
    assert rows == [
        [
            "08:00",
            "Tables",
            ticket,
            booking.reference,
            "王小明",
            "'" + CONTACT,
            "2",
            "confirmed",
            "checked in",
            "",
            "",
            "",
        ],
        [
            "08:00",
            "Tables",
            ticket_label("A", cancelled.ticket),
            cancelled.reference,
            "Li Na",
            "li@example.com",
            "1",
            "cancelled",
            *NOTHING_YET,
        ],
    ]


async def test_the_day_csv_speaks_the_staff_language(admin, service, venue, slot, tomorrow):
    await service.book(venue.resource("tables"), slot.id, "王小明", "13800138000", 1)
    header, row = await rows_of(await admin.get(day_csv_url(tomorrow) + "?lang=zh_CN"))
    assert header[0] == "时间" and "姓名" in header
    assert row[4] == "王小明" and row[7] == "已确认" and row[8:] == NOTHING_YET


@pytest.mark.parametrize(
    "lang, header, checked_in, no_show",
    [
        ("en", ["Attendance", "Called at", "Called to", "Re-queued at"], "checked in", "no-show"),
        ("zh_CN", ["到场情况", "叫号时间", "叫至", "过号重排时间"], "已签到", "爽约"),
    ],
)
async def test_the_csv_keeps_what_happened_at_the_desk(
    admin, store, service, venue, slot, tomorrow, lang, header, checked_in, no_show
):
    tables = venue.resource("tables")
    here, missed, called, waiting = [
        (await service.book(tables, slot.id, name, f"+44 20 7946 000{n}", 1))[0]
        for n, name in enumerate(("Here", "Missed", "Called", "Waiting"))
    ]
    await service.mark(here.id, "checked_in")
    await service.mark(missed.id, "no_show")
    await service.call(called.id, "Room 1")
    await service.requeue(called.id)  # 过号: missed the call, back in the line...
    await service.call(called.id, "Room 2")  # ... and called again
    called = (await store.booking(called.reference))[0]
    first, *rows = await rows_of(await admin.get(day_csv_url(tomorrow) + f"?lang={lang}"))
    assert first[8:] == header
    desk = {row[3]: row[7:] for row in rows}
    confirmed = "confirmed" if lang == "en" else "已确认"
    assert desk[here.reference] == [confirmed, checked_in, "", "", ""]
    assert desk[missed.reference] == [confirmed, no_show, "", "", ""]  # a no-show no longer reads as just confirmed
    assert desk[called.reference] == [
        confirmed,
        "",
        f"{called.called_at:%H:%M}",
        "Room 2",
        f"{called.requeued_at:%H:%M}",
    ]
    assert desk[waiting.reference] == [confirmed, *NOTHING_YET]


async def test_a_day_without_bookings_is_just_the_header(admin, tomorrow):
    response = await admin.get(day_csv_url(tomorrow + timedelta(days=3)))
    assert response.status_code == 200
    assert await rows_of(response) == [HEADER]


async def test_a_bad_day_or_venue_is_refused_clearly(admin):
    response = await admin.get("/admin/venues/test-bistro/bookings/2026-02-30.csv")
    assert response.status_code == 400
    assert "is not a date" in await text(response)
    assert (await admin.get("/admin/venues/nowhere/bookings/2026-02-03.csv")).status_code == 404


# -- formula injection


def test_a_cell_that_could_start_a_formula_gets_an_apostrophe():
    for risky in ("=1+2", "+86 138", "-2+3", "@SUM(A1)", "\t=1", "\r=1"):
        assert cell(risky) == "'" + risky
    for safe in ("Ann", "王小明", "a=b", " =1", "", 3):
        assert cell(safe) == safe


async def test_names_typed_by_the_public_cannot_run_as_formulas(admin, store, service, venue, slot, tomorrow):
    tables = venue.resource("tables")
    await service.book(tables, slot.id, '=HYPERLINK("http://evil.example","click")', "ann@example.com", 1)
    await service.book(tables, slot.id, "@SUM(1+1)*cmd", "+44 20 7946 0000", 1)
    await service.book(tables, slot.id, "-1+1", "bo@example.com", 1)
    await store.book(slot.id, "\t=2+5", "\r+1", 1, datetime.now(UTC), for_staff=True)  # past the form's checks
    _header, *rows = await rows_of(await admin.get(day_csv_url(tomorrow)))
    cells = [c for row in rows for c in row]
    assert '\'=HYPERLINK("http://evil.example","click")' in cells
    assert "'@SUM(1+1)*cmd" in cells and "'+44 20 7946 0000" in cells and "'-1+1" in cells
    assert "'\t=2+5" in cells and "'\r+1" in cells
    assert not [c for c in cells if c[:1] in ("=", "+", "-", "@", "\t", "\r")]


# -- a range of days


async def test_the_range_csv_has_a_date_column_and_every_day_of_the_range(admin, store, service, venue, tomorrow):
    tables, bar = venue.resource("tables"), venue.resource("bar")
    first = await slot_at(store, venue, tomorrow, 9)
    later = await slot_at(store, venue, tomorrow + timedelta(days=2), 18, "bar")
    outside = await slot_at(store, venue, tomorrow + timedelta(days=4), 10)
    one, _ = await service.book(tables, first.id, "王小明", "13800138000", 2)
    two, _ = await service.book(bar, later.id, "Zhang Wei", "zw@example.com", 1)
    await service.book(tables, outside.id, "Too Late", "tl@example.com", 1)

    last = tomorrow + timedelta(days=3)
    response = await admin.get(range_csv_url(tomorrow, last))
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "text/csv; charset=utf-8"
    assert response.headers["Content-Disposition"] == (f'attachment; filename="test-bistro-{tomorrow}-to-{last}.csv"')
    assert (await response.get_data()).startswith(BOM)
    header, *rows = await rows_of(response)
    assert header == ["Date", *HEADER]
    assert rows == [
        [
            tomorrow.isoformat(),
            "09:00",
            "Tables",
            ticket_label("A", one.ticket),
            one.reference,
            "王小明",
            "13800138000",
            "2",
            "confirmed",
            *NOTHING_YET,
        ],
        [
            (tomorrow + timedelta(days=2)).isoformat(),
            "18:00",
            "Bar seats",
            ticket_label("B", two.ticket),
            two.reference,
            "Zhang Wei",
            "zw@example.com",
            "1",
            "confirmed",
            *NOTHING_YET,
        ],
    ]


async def test_the_store_reads_a_venues_bookings_between_two_days(store, venue, tomorrow, clinic):
    first = await slot_at(store, venue, tomorrow, 8)
    second = await slot_at(store, venue, tomorrow + timedelta(days=1), 19, "bar")
    now = datetime.now(UTC)
    b2, _ = await store.book(second.id, "Second", "22222", 1, now)
    b1, _ = await store.book(first.id, "First", "11111", 1, now)
    elsewhere = (await store.slots_for_day(clinic.resource("dr-li").id, tomorrow))[0]
    await store.book(elsewhere.id, "Other Venue", "33333", 1, now)
    found = await store.bookings_between(venue.id, tomorrow, tomorrow + timedelta(days=1))
    assert [(b.reference, s.id) for b, s in found] == [(b1.reference, first.id), (b2.reference, second.id)]
    assert await store.bookings_between(venue.id, tomorrow + timedelta(days=2), tomorrow + timedelta(days=5)) == []
    assert [b.id for b, _s in await store.bookings_between(venue.id, tomorrow, tomorrow)] == [b1.id]


async def test_a_bad_range_is_refused_with_a_clear_message(admin, tomorrow):
    far = tomorrow + timedelta(days=92)
    refused = {
        "/admin/venues/test-bistro/bookings.csv": "YYYY-MM-DD",
        f"/admin/venues/test-bistro/bookings.csv?from={tomorrow}": "YYYY-MM-DD",
        f"/admin/venues/test-bistro/bookings.csv?to={tomorrow}": "YYYY-MM-DD",
        range_csv_url("2026-13-01", tomorrow): "is not a date",
        range_csv_url(tomorrow, "tomorrow"): "is not a date",
        range_csv_url(tomorrow, tomorrow - timedelta(days=1)): "The last day comes before the first.",
        range_csv_url(tomorrow, far): "At most 92 days in one file.",
    }
    for url, message in refused.items():
        response = await admin.get(url)
        assert response.status_code == 400, url
        assert response.headers["Content-Type"].startswith("text/html"), url
        assert message in await text(response), url
    assert (await admin.get(range_csv_url(tomorrow, far - timedelta(days=1)))).status_code == 200  # 92 days


# -- strangers get nothing


async def test_a_stranger_gets_the_login_or_401_and_no_data(app, stranger, service, venue, slot, tomorrow):
    await service.book(venue.resource("tables"), slot.id, "王小明", CONTACT, 1)
    for url in (day_csv_url(tomorrow), range_csv_url(tomorrow, tomorrow), print_url(tomorrow)):
        response = await stranger.get(url)
        assert response.status_code == 302, url
        assert urlsplit(response.headers["Location"]).path == "/admin/login", url
        assert "王小明" not in await text(response)
        response = await stranger.get(url, headers={"HX-Request": "true"})
        assert response.status_code == 401, url
        assert "王小明" not in await text(response) and CONTACT not in await text(response)


# -- the printable day list


async def test_the_print_page_lists_confirmed_bookings_with_a_checked_in_box(admin, service, venue, slot, tomorrow):
    tables = venue.resource("tables")
    here, _ = await service.book(tables, slot.id, "王小明", CONTACT, 3)
    await service.mark(here.id, "checked_in")
    await service.book(tables, slot.id, "Zhang Wei", "zw@example.com", 1)
    gone, _ = await service.book(tables, slot.id, "Gone Away", "ga@example.com", 1)
    await service.cancel_for_staff(gone.id)

    response = await admin.get(print_url(tomorrow))
    assert response.status_code == 200
    page = await text(response)
    assert "<title>Test Bistro · Day list" in page
    for resource in venue.open_resources:
        assert f'id="list-{resource.id}"' in page and resource.name in page
    assert "王小明" in page and CONTACT in page and "Zhang Wei" in page
    assert "Gone Away" not in page  # confirmed bookings only
    assert ticket_label("A", here.ticket) in page
    checked = re.search(rf'<tr data-booking-id="{here.id}">(.*?)</tr>', page, re.S).group(1)
    assert "☑" in checked and "<td>3</td>" in checked
    assert page.count("☐") == 1  # Zhang Wei, not yet here
    assert "style=" not in page and "<style" not in page and "<script>" not in page  # the CSP allows neither


async def test_the_stylesheet_lays_out_pages_for_paper(admin):
    css = await text(await admin.get("/static/app.css"))
    block = css[css.index("@media print {") :]
    hidden = re.search(r"^\s*(.*)\{ display: none !important; \}", block, re.M).group(1)
    assert {".top", "nav", "form", "button"} <= {s.strip() for s in hidden.split(",")}
    assert ".day-list-table thead { display: table-header-group; }" in block


async def test_the_board_links_to_the_three_exports(admin, tomorrow):
    page = await text(await admin.get(board_url(tomorrow)))
    line = re.search(r'<p class="exports[^"]*" hx-boost="false">(.*?)</p>', page, re.S).group(1)
    week_end = tomorrow + timedelta(days=6)
    assert f'href="{day_csv_url(tomorrow)}"' in line
    assert f'href="{range_csv_url(tomorrow, week_end).replace("&", "&amp;")}"' in line
    assert f'href="{print_url(tomorrow)}"' in line
