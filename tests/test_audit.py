"""The audit trail people can read: what is kept (exports, print lists, views of names once per session and
venue-day, closing apart from reopening), in words of both languages, in the venue's time, filtered, as CSV (a
manager's: its venues only), never editable; and an erased person leaves no trace in it."""

from __future__ import annotations

import csv
import io
from datetime import timedelta
from zoneinfo import ZoneInfo

import pytest

from booking.access import MANAGER, OWNER
from tests.conftest import EVERY_DAY
from tests.support.helpers import CONTACT, NAME, act, board_url, log_in, text
from tests.test_roles import account

ZH = {"Accept-Language": "zh-CN,zh;q=0.9"}


async def actions(store, **query) -> list[str]:
    return [e.action for e in await store.audit_trail(**query)]


async def page(client, headers=None, **args) -> str:
    response = await client.get("/admin/audit", query_string=args, headers=headers or {})
    assert response.status_code == 200
    return await text(response)


async def csv_rows(client, **args) -> list[list[str]]:
    response = await client.get("/admin/audit.csv", query_string=args)
    assert response.status_code == 200 and response.content_type.startswith("text/csv")
    return list(csv.reader(io.StringIO((await response.get_data()).decode("utf-8-sig"))))


@pytest.fixture
async def shanghai(store, clock):
    """A second venue, eight hours ahead of UTC."""
    venue_id = await store.add_venue("tea-house", "Tea House", "restaurant", "Asia/Shanghai")
    await store.add_resource(venue_id, "rooms", "Rooms", EVERY_DAY, horizon_days=7)
    await store.extend_slots(clock.now())
    return await store.venue("tea-house")


async def test_every_export_and_print_list_is_kept_with_its_venue_and_days(admin, store, venue, tomorrow):
    last = tomorrow + timedelta(days=3)
    base = f"/admin/venues/{venue.slug}"
    for path in (
        f"{base}/bookings/{tomorrow}.csv",
        f"{base}/bookings.csv?from={tomorrow}&to={last}",
        f"{base}/draws/tables/{tomorrow}.csv",
        f"{base}/board/{tomorrow}/print",
    ):
        assert (await admin.get(path)).status_code == 200, path
    trail = await store.audit_trail(venue.id)
    assert [e.action for e in trail] == ["print_list", "export_draw", "export_range", "export_day"]
    assert {(e.actor, e.local_date) for e in trail} == {("admin", tomorrow)}
    assert trail[2].last_date == last
    # a range export is found on each of its days
    assert await actions(store, day=tomorrow + timedelta(days=2)) == ["export_range"]
    html = await page(admin, venue=venue.slug)
    assert f"Exported the bookings of {tomorrow} to {last} as CSV" in html
    assert f"Exported the draw of Tables on {tomorrow} as CSV" in html
    assert f"Opened the printable list of {tomorrow}" in html


async def test_a_view_of_names_is_kept_once_per_session_and_venue_day(app, admin, store, venue, tomorrow):
    for _ in range(3):
        assert (await admin.get(board_url(tomorrow), query_string={"q": NAME})).status_code == 200
    await admin.get(f"/admin/venues/{venue.slug}/board/{tomorrow}/print")
    await admin.get(f"/admin/venues/{venue.slug}/board/{tomorrow}/print")
    await admin.get(board_url(tomorrow + timedelta(days=1)))
    trail = await store.audit_trail(venue.id)
    assert [(e.action, e.local_date) for e in trail] == [
        ("view_board", tomorrow + timedelta(days=1)),
        ("print_list", tomorrow),
        ("view_board", tomorrow),
    ]
    assert all(NAME not in e.subject for e in trail)  # the search is not kept
    again = app.test_client()  # a new session sees the same board: kept again
    assert (await log_in(again)).status_code == 303
    await again.get(board_url(tomorrow))
    assert await actions(store, venue_id=venue.id, day=tomorrow, action="view_board") == ["view_board"] * 2


async def test_closing_and_reopening_a_slot_are_two_actions(admin, store, venue, slot):
    await act(admin, f"/admin/slots/{slot.id}/closed", closed="1")
    await act(admin, f"/admin/slots/{slot.id}/closed", closed="0")
    trail = await store.audit_trail(venue.id, slot.local_date)
    assert [(e.action, e.slot_id) for e in trail] == [("reopen_slot", slot.id), ("close_slot", slot.id)]
    html = await page(admin, venue=venue.slug)
    assert "Closed the slot Tables 08:00" in html and "Reopened the slot Tables 08:00" in html
    assert "关闭了时段 Tables 08:00" in await page(admin, ZH, venue=venue.slug)


async def test_a_person_reads_the_action_in_words_of_both_languages(admin, service, store, venue, slot):
    booking, _ = await service.book(venue.resource("tables"), slot.id, "韩梅梅", CONTACT, 2)
    await act(admin, f"/admin/bookings/{booking.id}/attendance", attendance="checked_in")
    await act(admin, f"/admin/bookings/{booking.id}/call", counter="3")
    [called, checked] = await store.audit_trail(venue.id)
    assert (checked.action, checked.booking_id, called.subject) == ("check_in", booking.id, "3")
    english = await page(admin, venue=venue.slug)
    assert "Checked in A001 韩梅梅" in english and "Called A001 韩梅梅 to counter 3" in english
    assert f"/admin/bookings/{booking.id}" not in english  # not the request's path: what it did
    assert '<option value="check_in" >Checked in …</option>' in english  # the action filter, in words too
    chinese = await page(admin, ZH, venue=venue.slug)
    assert "为 A001 韩梅梅 签到" in chinese and "叫号 A001 韩梅梅 到 3 号窗口" in chinese


async def test_times_are_in_the_venues_zone_and_in_utc_for_entries_of_no_venue(admin, store, shanghai, tomorrow):
    await admin.get(board_url(tomorrow, shanghai.slug))
    [viewed] = await store.audit_trail(shanghai.id)
    [logged_in] = await store.audit_trail(action="login")
    html = await page(admin)
    local = viewed.at.astimezone(ZoneInfo("Asia/Shanghai")).strftime("%Y-%m-%d %H:%M:%S")
    assert f"<td><time>{local}</time></td><td>Asia/Shanghai</td>" in html
    assert f"<td><time>{logged_in.at:%Y-%m-%d %H:%M:%S}</time></td><td>UTC</td>" in html
    assert "entries about no venue (logins, for one) are in UTC" in html


async def test_the_trail_is_filtered_by_venue_day_person_and_action(app, admin, service, store, venue, shanghai, slot):
    boss = await account(app, service, "boss", OWNER, frozenset())
    await act(admin, f"/admin/slots/{slot.id}/closed", closed="1")
    await act(boss, f"/admin/slots/{slot.id}/closed", closed="0")
    await boss.get(board_url(slot.local_date, shanghai.slug))
    rows = await csv_rows(admin, person="boss")
    assert [r[2] for r in rows[1:]] == ["boss"] * 3 and {r[5] for r in rows[1:]} == {
        "view_board",
        "reopen_slot",
        "login",
    }
    assert [r[5] for r in (await csv_rows(admin, venue=venue.slug))[1:]] == ["reopen_slot", "close_slot"]
    assert [r[5] for r in (await csv_rows(admin, action="close_slot"))[1:]] == ["close_slot"]
    on_day = await csv_rows(admin, day=slot.local_date.isoformat(), venue=shanghai.slug)
    assert [r[5] for r in on_day[1:]] == ["view_board"]
    assert await csv_rows(admin, day=(slot.local_date + timedelta(days=1)).isoformat(), venue=venue.slug) == [on_day[0]]
    assert "<option selected>boss</option>" in await page(admin, person="boss")
    assert (await admin.get("/admin/audit", query_string={"action": "drop_table"})).status_code == 400
    assert (await admin.get("/admin/audit", query_string={"day": "yesterday"})).status_code == 400
    assert (await admin.get("/admin/audit", query_string={"venue": "nowhere"})).status_code == 404


async def test_a_manager_exports_its_venues_only_and_the_export_is_kept(
    app, admin, service, store, venue, shanghai, tomorrow
):
    manager = await account(app, service, "bistro-manager", MANAGER, frozenset({venue.id}))
    await admin.get(board_url(tomorrow, venue.slug))
    await admin.get(board_url(tomorrow, shanghai.slug))
    rows = await csv_rows(manager)
    assert rows[0][:5] == ["When", "Time zone", "Who", "From", "What"]
    assert {r[6] for r in rows[1:]} == {"Test Bistro"}  # no entry of the tea house, no login of anybody
    assert (await manager.get("/admin/audit.csv", query_string={"venue": shanghai.slug})).status_code == 403
    assert "Tea House" not in await page(manager)
    await csv_rows(manager, venue=venue.slug)
    kept = await store.audit_trail(action="export_audit")
    assert [(e.actor, e.venue_id) for e in kept] == [("bistro-manager", venue.id), ("bistro-manager", None)]
    assert "Exported the audit trail as CSV" in await page(admin)


async def test_after_erasure_the_trail_shows_no_trace_of_the_person(admin, store, venue, slot):
    booked = await act(
        admin,
        f"/admin/resources/{slot.resource_id}/bookings",
        slot_id=str(slot.id),
        name=NAME,
        contact=CONTACT,
        party_size="1",
    )
    assert booked.status_code == 303
    [made] = await store.audit_trail(venue.id)
    await act(admin, f"/admin/bookings/{made.booking_id}/attendance", attendance="no_show")
    await admin.get(board_url(slot.local_date))
    assert NAME in await page(admin) and NAME in str(await csv_rows(admin))  # read from the booking while it has it
    assert (await act(admin, "/admin/erase", contact=CONTACT, confirm="1")).status_code == 200
    html, rows = await page(admin), str(await csv_rows(admin))
    for trace in (NAME, CONTACT, "Zhang", "+8613800138000"):
        assert trace not in html and trace not in rows, trace
    assert "Marked A001 as a no-show" in html and "Booked A001 at Tables 08:00" in html
    assert not [e for e in await store.audit_trail() if NAME in f"{e.subject}{e.actor}" or CONTACT in e.subject]


def test_nothing_in_the_app_edits_or_deletes_the_trail(app):
    for rule in app.url_map.iter_rules():
        if rule.endpoint.startswith("audit."):
            assert rule.methods <= {"GET", "HEAD", "OPTIONS"}, rule
