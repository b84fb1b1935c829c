"""Operating Slotcast: health for the balancer, metrics for Prometheus, logs without personal data, backups."""

from __future__ import annotations

import asyncio
import logging
import re
import time
from datetime import timedelta

import pytest

from app import create_app
from booking.store import open_store
from tests.support.helpers import CONTACT, NAME, act, csrf_token, log_in

TOKEN = "scrape-me"


async def test_healthz_answers_without_the_database(app, client):
    await app.extensions["slotcast"].store.close()  # the database is gone
    response = await client.get("/healthz")
    assert response.status_code == 200 and await response.get_data(as_text=True) == "ok\n"


async def test_readyz_is_ready_then_503_while_draining(app, client):
    assert (await client.get("/readyz")).status_code == 200
    app.extensions["slotcast"].draining = True
    response = await client.get("/readyz")
    assert response.status_code == 503 and await response.get_data(as_text=True) == "not ready: draining\n"


async def test_readyz_is_503_when_the_database_does_not_answer(app, client):
    await app.extensions["slotcast"].store.close()
    deadline = time.monotonic() + 2 * app.config["READY_CHECK_SECONDS"] + 1  # the background check finds out
    while (response := await client.get("/readyz")).status_code == 200 and time.monotonic() < deadline:
        await asyncio.sleep(0.1)
    assert response.status_code == 503 and (await response.get_data(as_text=True)).startswith("not ready: database")


async def test_metrics_need_their_token(app, client):
    assert (await client.get("/metrics")).status_code == 404  # no token configured: no endpoint
    app.config["METRICS_TOKEN"] = TOKEN
    assert (await client.get("/metrics")).status_code == 403
    assert (await client.get("/metrics", headers={"Authorization": "Bearer nope"})).status_code == 403


async def test_metrics_count_streams_bookings_broadcasts_and_login_failures(
    app, client, hub, venue, slot, tomorrow, staff
):
    app.config["METRICS_TOKEN"] = TOKEN
    tables = venue.resource("tables")
    async with client.request(f"/events/day/{tables.id}/{tomorrow}") as stream:
        await stream.receive()
        for party in (2, 20):  # one created, one refused as too large
            await client.post(
                "/api/v1/bookings", json={"slot_id": slot.id, "name": NAME, "contact": CONTACT, "party_size": party}
            )
        await hub.settle()
        await log_in(app.test_client(), "wrong")
        scrape = await (await client.get("/metrics", headers={"Authorization": f"Bearer {TOKEN}"})).get_data(
            as_text=True
        )
        await stream.disconnect()
    assert 'slotcast_open_streams{kind="day"} 1.0' in scrape
    assert 'slotcast_bookings_total{outcome="created"} 1.0' in scrape
    assert 'slotcast_bookings_total{outcome="invalid"} 1.0' in scrape
    assert re.search(r"slotcast_changes_broadcast_total [1-9]", scrape)
    assert re.search(r"slotcast_fanout_seconds_count [1-9]", scrape)
    assert "slotcast_booking_request_seconds_count 2.0" in scrape
    assert "slotcast_login_failures_total 1.0" in scrape


@pytest.mark.parametrize("form", ["text", "json"])
async def test_logs_carry_no_personal_data_or_secrets(app, client, hub, venue, slot, tomorrow, staff, caplog, form):
    app.config["LOG_FORMAT"] = form
    caplog.set_level(logging.INFO, logger="slotcast.access")
    booked = await (
        await client.post(
            "/api/v1/bookings", json={"slot_id": slot.id, "name": "Zhang Wei", "contact": "+86 138 0013 8000"}
        )
    ).get_json()
    path = f"/bookings/{booked['reference']}?token={booked['cancel_token']}"
    await client.get(path)
    async with client.request(f"/bookings/{booked['reference']}/events?token={booked['cancel_token']}") as live:
        await live.receive()
        await live.disconnect()
    staff_client = app.test_client()
    await log_in(staff_client)
    await act(staff_client, "/admin/logout")
    form_booking = {
        "csrf_token": await csrf_token(client, f"/slots/{slot.id}/book"),
        "name": "Ann Secret",
        "contact": "ann.secret@example.com",
        "party_size": "1",
    }
    await client.post(f"/slots/{slot.id}/book", form=form_booking)
    await client.post(f"/api/v1/bookings/{booked['reference']}/cancel", json={"cancel_token": booked["cancel_token"]})
    lines = [r.getMessage() for r in caplog.records if r.name == "slotcast.access"]
    text = "\n".join(lines)
    assert any(f"/bookings/{booked['reference']}" in line for line in lines) and "stream" in text
    for secret in (
        "Zhang",
        "138 0013",
        "Ann Secret",
        "ann.secret",
        booked["cancel_token"],
        "token=",
        "session",
        "csrf",
    ):
        assert secret not in text, secret
    if form == "json":
        assert all(line.startswith("{") for line in lines)


async def test_a_request_id_is_kept_or_made(client):
    kept = await client.get("/healthz", headers={"X-Request-ID": "lb-1234"})
    made = await client.get("/healthz", headers={"X-Request-ID": "<script>"})
    assert kept.headers["X-Request-ID"] == "lb-1234" and re.fullmatch(r"[0-9a-f]{16}", made.headers["X-Request-ID"])


async def test_a_backup_taken_while_serving_restores_every_booking(app, store, service, venue, slot, tmp_path):
    if not app.config["DATABASE_URL"].startswith("sqlite"):
        pytest.skip("PostgreSQL is backed up with pg_dump (README)")
    references = [
        (await service.book(venue.resource("tables"), slot.id, NAME, f"+44 20 7946 000{n}", 1))[0].reference
        for n in range(3)
    ]
    copy = tmp_path / "copy.db"
    result = app.test_cli_runner().invoke(args=["backup", str(copy)])
    assert result.exit_code == 0, result.output
    restored = open_store(f"sqlite:///{copy}", tmp_path)
    await restored.open()
    try:
        assert [(await restored.booking(r))[0].name for r in references] == [NAME] * 3
        assert (await restored.slot(slot.id)).booked == 3
    finally:
        await restored.close()


async def test_the_backup_command_refuses_postgresql(tmp_path):
    app = create_app({"DATABASE_URL": "postgresql://nobody@127.0.0.1:1/none", "SECRET_KEY": "t"})
    result = app.test_cli_runner().invoke(args=["backup", str(tmp_path / "x.db")])
    assert result.exit_code != 0 and "pg_dump" in result.output


# -- the audit trail, retention and erasure


async def test_staff_actions_are_kept_with_who_what_when_and_from_where(app, admin, service, venue, slot, tomorrow):
    booking, _ = await service.book(venue.resource("tables"), slot.id, NAME, CONTACT, 1)
    await act(admin, f"/admin/bookings/{booking.id}/attendance", attendance="checked_in")
    await act(admin, f"/admin/bookings/{booking.id}/cancel")
    trail = await app.extensions["slotcast"].store.audit_trail(venue.id, tomorrow)
    assert [e.action for e in trail] == ["cancel_booking", "check_in"]  # newest first
    assert {(e.actor, e.address, e.booking_id) for e in trail} == {("admin", "<local>", booking.id)}
    assert not [e for e in trail if NAME in e.subject or CONTACT in e.subject]  # the name is read when shown
    html = await (await admin.get(f"/admin/audit?venue=test-bistro&day={tomorrow}")).get_data(as_text=True)
    assert f"Cancelled A001 {NAME}" in html and f"Checked in A001 {NAME}" in html and CONTACT not in html
    everything = await (await admin.get("/admin/audit")).get_data(as_text=True)
    assert "Logged in" in everything


async def test_failed_logins_and_logouts_are_in_the_trail(app, client, staff):
    await log_in(client, "wrong")
    await log_in(client)
    await client.get("/admin/")  # as a browser would: a page with a form, and so a token
    assert (await act(client, "/admin/logout")).status_code == 303
    actions = [e.action for e in await app.extensions["slotcast"].store.audit_trail()]
    assert actions[:3] == ["logout", "login", "login_failed"]


async def test_retention_erases_names_and_contacts_of_ended_bookings_only(app, store, service, venue, slot):
    tables = venue.resource("tables")
    old, _ = await service.book(tables, slot.id, NAME, CONTACT, 2)
    later = (await store.slots_for_day(tables.id, slot.local_date + timedelta(days=2)))[0]
    kept, _ = await service.book(tables, later.id, "Kept Person", "kept@example.com", 1)
    assert await store.erase_ended(slot.ends_at + timedelta(days=1)) == 1
    erased, erased_slot = await store.booking(old.reference)
    assert (erased.name, erased.contact, erased.party_size, erased_slot.booked) == ("", "", 2, 2)
    assert (await store.booking(kept.reference))[0].name == "Kept Person"


async def test_the_daily_retention_is_recorded(app, store, service, clock, venue, slot):
    await service.book(venue.resource("tables"), slot.id, NAME, CONTACT, 1)
    assert await service.erase_ended(timedelta(days=-2)) == 1  # "ended two days in the future": everything
    assert [e.action for e in await store.audit_trail()][0] == "erase_ended"


async def test_staff_erase_one_persons_data_on_request(admin, store, service, venue, slot):
    tables = venue.resource("tables")
    theirs, _ = await service.book(tables, slot.id, NAME, "Ann@Example.com", 1)
    other, _ = await service.book(tables, slot.id, "Bo", "bo@example.com", 1)
    unconfirmed = await act(admin, "/admin/erase", contact="ann@example.com")
    assert unconfirmed.status_code == 422 and (await store.booking(theirs.reference))[0].name == NAME
    done = await act(admin, "/admin/erase", contact=" ann@EXAMPLE.com", confirm="1")
    assert done.status_code == 200 and "1 record erased." in await done.get_data(as_text=True)
    assert (await store.booking(theirs.reference))[0].contact == ""
    assert (await store.booking(other.reference))[0].contact == "bo@example.com"
    assert (await store.audit_trail())[0].action == "erase_person"


async def test_schedule_changes_are_kept_under_their_venue(app, admin, venue):
    tables = venue.resource("tables")
    form = {
        "name": "Tables",
        "max_party": "4",
        "horizon_days": "7",
        "min_notice_minutes": "0",
        "schedule": "daily 08:00-20:00 60 10",
    }
    assert (await act(admin, f"/admin/resources/{tables.id}/edit", **form)).status_code == 303
    [entry] = await app.extensions["slotcast"].store.audit_trail(venue.id)
    assert (entry.action, entry.subject, entry.actor) == ("edit_resource", "tables", "admin")
