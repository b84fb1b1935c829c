"""What an outside audit tried, tried again: login guessing, cross-site API calls, key replay, cookie replay,
Host-header links, hostile input, private files. The app's clock is steered here (sessions time out)."""

from __future__ import annotations

import asyncio
import os
import stat
import threading
import unicodedata
from datetime import UTC, datetime

import pytest

from app import DEMO_PASSWORD, create_app, instance_secret
from booking.store import open_store, sqlite_path
from tests.support.helpers import (
    CONTACT,
    NAME,
    act,
    clock_at,
    csrf_token,
    log_in,
    password_hash,
    read_until,
    text,
)
from views import auth

FORWARDED = {"TRUSTED_PROXIES": "<local>"}  # the test client's peer address plays our own proxy


clock = clock_at(datetime.now(UTC))


def from_address(address: str) -> dict:
    return {"X-Forwarded-For": address}


async def api_book(client, slot_id, key=None, caller=None, **fields):
    """An API booking (from the address `caller` when given)."""
    headers = {"Idempotency-Key": key} if key is not None else {}
    body = {"slot_id": slot_id, "name": NAME, "contact": CONTACT, "party_size": 1, **fields}
    return await client.post(
        "/api/v1/bookings", json=body, headers=headers, scope_base={"client": (caller, 1)} if caller else None
    )


# -- login


async def test_parallel_guesses_from_one_address_are_limited_like_sequential_ones(client, staff):
    token = await csrf_token(client, "/admin/login")
    form = {"csrf_token": token, "username": "admin", "password": "guess"}
    answers = await asyncio.gather(*(client.post("/admin/login", form=form) for _ in range(60)))
    codes = sorted(r.status_code for r in answers)
    assert codes.count(401) == auth.ATTEMPTS and codes.count(429) == 60 - auth.ATTEMPTS


async def test_one_name_is_limited_whatever_the_addresses(app, staff):
    app.config.update(FORWARDED)
    client = app.test_client()
    token = await csrf_token(client, "/admin/login")
    for n in range(auth.ATTEMPTS):
        form = {"csrf_token": token, "username": "admin", "password": "guess"}
        assert (await client.post("/admin/login", form=form, headers=from_address(f"10.0.0.{n}"))).status_code == 401
    form = {"csrf_token": token, "username": "admin", "password": "pw"}
    assert (await client.post("/admin/login", form=form, headers=from_address("10.0.9.9"))).status_code == 429
    form["username"] = "somebody-else"  # another name from a fresh address still gets its answer
    assert (await client.post("/admin/login", form=form, headers=from_address("10.0.9.8"))).status_code == 401


async def test_an_ipv4_mapped_address_is_counted_as_its_ipv4_address(app, staff):
    """Bound to [::], a server sees each IPv4 client as ::ffff:a.b.c.d: it is the client a.b.c.d, and a proxy
    trusted by its IPv4 address is still trusted."""
    app.config["TRUSTED_PROXIES"] = "10.0.0.1"
    client = app.test_client()
    token = await csrf_token(client, "/admin/login")

    async def guess(peer: str, name: str, **forwarded) -> int:
        form = {"csrf_token": token, "username": name, "password": "guess"}
        response = await client.post(
            "/admin/login",
            form=form,
            scope_base={"client": (peer, 1)},
            headers=from_address(forwarded["by"]) if forwarded else {},
        )
        return response.status_code

    for n in range(auth.ATTEMPTS):
        assert await guess("::ffff:203.0.113.7", f"user{n}") == 401
    assert await guess("203.0.113.7", "someone") == 429
    assert await guess("::ffff:10.0.0.1", "someone", by="::ffff:203.0.113.7") == 429  # through our proxy
    assert await guess("::ffff:203.0.113.8", "someone") == 401  # the next address is another client


async def test_an_untrusted_peer_cannot_pick_its_address(client, staff):
    for n in range(auth.ATTEMPTS):
        await client.post(
            "/admin/login",
            form={"csrf_token": await csrf_token(client, "/admin/login"), "username": f"user{n}", "password": "x"},
            headers=from_address(f"10.1.0.{n}"),
        )
    response = await client.post(
        "/admin/login",
        headers=from_address("10.1.9.9"),
        form={"csrf_token": await csrf_token(client, "/admin/login"), "username": "admin", "password": "pw"},
    )
    assert response.status_code == 429  # counted by its real address: X-Forwarded-For was not ours to trust


async def test_the_booking_rate_counts_an_ipv6_client_by_its_64_and_a_mapped_address_as_ipv4(app, client, slot):
    """As the login limits do: a household's many IPv6 addresses are one client, and a mapped IPv4 address is its
    IPv4 address, whether it is the peer's or handed over by our own proxy."""
    app.config.update(BOOKINGS_PER_MINUTE=2, TRUSTED_PROXIES="10.0.0.1")

    async def book(n: int, peer: str, forwarded: str | None = None) -> int:
        body = {"slot_id": slot.id, "name": NAME, "contact": f"p{n}@example.com", "party_size": 1}
        headers = from_address(forwarded) if forwarded else {}
        response = await client.post("/api/v1/bookings", json=body, headers=headers, scope_base={"client": (peer, 1)})
        return response.status_code

    assert [await book(1, "2001:db8:5:1::1"), await book(2, "2001:db8:5:1::2")] == [201, 201]
    assert await book(3, "2001:db8:5:1:ffff::3") == 429  # the same /64
    assert await book(4, "2001:db8:5:2::1") == 201  # the next /64
    assert await book(5, "::ffff:203.0.113.7") == 201
    assert await book(6, "::ffff:10.0.0.1", forwarded="::ffff:203.0.113.7") == 201  # through our proxy
    assert await book(7, "203.0.113.7") == 429


async def test_the_limit_holds_across_processes(app, staff, clock):
    # On the same clock: this module's starts when it is imported, minutes before a full run gets here.
    other = create_app({"DATABASE_URL": app.config["DATABASE_URL"], "SECRET_KEY": "test", "TESTING": True}, clock=clock)
    async with other.test_app():
        for client in [app.test_client()] * auth.ATTEMPTS:
            assert (await log_in(client, "guess")).status_code == 401
        assert (await log_in(other.test_client())).status_code == 429


async def test_passwords_are_checked_off_the_event_loop_and_unknown_names_cost_a_check(client, staff, monkeypatch):
    checked_on = []
    real = auth.check_password_hash

    def recording(stored, password):
        checked_on.append(threading.current_thread() is threading.main_thread())
        return real(stored, password)

    monkeypatch.setattr(auth, "check_password_hash", recording)
    assert (await log_in(client, "guess")).status_code == 401
    assert (await log_in(client, "guess", username="nobody")).status_code == 401
    assert checked_on == [False, False]


# -- staff sessions


async def saved_session(client) -> dict:
    async with client.session_transaction() as session:
        return dict(session)


async def replay(client, saved: dict) -> None:
    async with client.session_transaction() as session:
        session.clear()
        session.update(saved)


async def test_a_cookie_replayed_after_logout_opens_nothing(admin):
    saved = await saved_session(admin)
    assert (await admin.get("/admin/")).status_code == 200
    assert (await act(admin, "/admin/logout")).status_code == 303
    await replay(admin, saved)
    assert (await admin.get("/admin/")).status_code == 302


async def test_a_new_password_ends_open_sessions(admin, service):
    await service.set_staff_password("admin", password_hash())
    assert (await admin.get("/admin/")).status_code == 302


async def test_a_session_ends_when_idle_and_after_a_working_day(app, admin, clock):
    clock.advance(hours=1, minutes=59)
    assert (await admin.get("/admin/")).status_code == 200
    clock.advance(hours=2, minutes=1)
    assert (await admin.get("/admin/")).status_code == 302
    fresh = app.test_client()
    assert (await log_in(fresh)).status_code == 303
    for _ in range(11):
        clock.advance(hours=1)
        assert (await fresh.get("/admin/")).status_code == 200
    clock.advance(hours=1, minutes=1)
    assert (await fresh.get("/admin/")).status_code == 302


async def test_over_https_the_session_cookie_is_host_only_and_secure(tmp_path, staff):
    app = create_app(
        {"DATABASE_URL": f"sqlite:///{tmp_path}/h.db", "SECRET_KEY": "t", "PUBLIC_URL": "https://b.example"}
    )
    async with app.test_app():
        await app.extensions["slotcast"].service.add_staff("admin", password_hash())
        response = await log_in(app.test_client())
        [cookie] = [c for c in response.headers.getlist("Set-Cookie") if "-session=" in c]  # (and the device's)
        assert cookie.startswith("__Host-session=") and "Secure" in cookie and "Path=/" in cookie
        assert "Domain" not in cookie


# -- the JSON API from other sites


@pytest.mark.parametrize("content_type", ["text/plain", "application/x-www-form-urlencoded", "multipart/form-data"])
async def test_the_api_refuses_bodies_that_are_not_json(client, store, slot, content_type):
    response = await client.post(
        "/api/v1/bookings",
        data=f'{{"slot_id": {slot.id}, "name": "A", "contact": "12345"}}',
        headers={"Content-Type": content_type},
    )
    assert response.status_code == 415 and (await response.get_json())["code"] == "unsupported_media_type"
    assert (await store.slot(slot.id)).booked == 0


async def test_the_api_refuses_cross_site_browser_calls(client, store, slot):
    response = await client.post(
        "/api/v1/bookings",
        json={"slot_id": slot.id, "name": "A", "contact": "12345"},
        headers={"Sec-Fetch-Site": "cross-site"},
    )
    assert response.status_code == 403 and (await store.slot(slot.id)).booked == 0
    same = await client.post(
        "/api/v1/bookings",
        json={"slot_id": slot.id, "name": "A", "contact": "12345"},
        headers={"Sec-Fetch-Site": "same-origin"},
    )
    assert same.status_code == 201


# -- idempotency keys


async def test_a_key_reused_for_another_request_never_returns_the_first_bookings_secrets(client, store, slot):
    first = await (await api_book(client, slot.id, "shared-key-1")).get_json()
    again = await api_book(client, slot.id, "shared-key-1", name="Mallory")
    body = await again.get_json()
    assert again.status_code == 422 and body["code"] == "idempotency_mismatch"
    assert first["cancel_token"] not in str(body) and first["reference"] not in str(body)
    same = await (await api_book(client, slot.id, "shared-key-1")).get_json()
    assert same["reference"] == first["reference"] and (await store.slot(slot.id)).booked == 1


async def test_a_key_is_its_callers_alone(client, store, slot):
    """Another client sending the victim's key and body gets a 422 with none of the booking's secrets, before and
    after a cancellation; the victim's retry (from the same IPv6 /64) still answers with its booking."""
    first = await (await api_book(client, slot.id, "victims-key-1", caller="2001:db8:7:1::10")).get_json()
    for stranger in ("198.51.100.9", "::ffff:198.51.100.9", "2001:db8:7:2::10"):
        again = await api_book(client, slot.id, "victims-key-1", caller=stranger)
        body = await again.get_json()
        assert again.status_code == 422 and body["code"] == "idempotency_mismatch", stranger
        assert first["cancel_token"] not in str(body) and first["reference"] not in str(body)
        assert "another caller" in body["error"]
    retried = await api_book(client, slot.id, "victims-key-1", caller="2001:db8:7:1:ffff::1")
    assert retried.status_code == 201 and (await retried.get_json()) == first
    assert (await store.slot(slot.id)).booked == 1
    # a mapped IPv4 caller and its plain IPv4 address are one caller
    mapped = await (await api_book(client, slot.id, "mapped-key-1", caller="::ffff:203.0.113.7")).get_json()
    assert (await (await api_book(client, slot.id, "mapped-key-1", caller="203.0.113.7")).get_json()) == mapped
    await client.post(f"/api/v1/bookings/{first['reference']}/cancel", json={"cancel_token": first["cancel_token"]})
    after = await api_book(client, slot.id, "victims-key-1", caller="198.51.100.9")
    assert after.status_code == 422 and first["reference"] not in await text(after)


async def test_one_key_sent_by_two_callers_at_once_books_for_one_of_them(client, store, slot):
    callers = ["203.0.113.7", "198.51.100.9"] * 10
    answers = await asyncio.gather(*(api_book(client, slot.id, "racing-key-1", caller=c) for c in callers))
    got = {caller: set() for caller in callers}
    for caller, answer in zip(callers, answers):
        got[caller].add((answer.status_code, (await answer.get_json()).get("reference")))
    [[(booked, reference)], [refused]] = sorted(map(sorted, got.values()))  # one answer for each caller, every time
    assert booked == 201 and reference and refused == (422, None)
    assert (await store.slot(slot.id)).booked == 1


async def test_an_empty_key_header_is_refused(client, store, slot):
    response = await api_book(client, slot.id, "")
    assert response.status_code == 422 and (await store.slot(slot.id)).booked == 0


async def test_a_replay_after_cancellation_says_so(client, slot):
    first = await (await api_book(client, slot.id, "cancel-me-1")).get_json()
    await client.post(f"/api/v1/bookings/{first['reference']}/cancel", json={"cancel_token": first["cancel_token"]})
    again = await api_book(client, slot.id, "cancel-me-1")
    body = await again.get_json()
    assert again.status_code == 409 and body["code"] == "booking_cancelled" and "cancel_token" not in body


async def test_the_form_takes_only_keys_this_server_issued_to_this_session(app, client, store, slot):
    page = await text(await client.get(f"/slots/{slot.id}/book"))
    issued = page.split('name="idempotency_key" value="')[1].split('"')[0]
    form = {
        "csrf_token": await csrf_token(client, f"/slots/{slot.id}/book"),
        "name": NAME,
        "contact": CONTACT,
        "party_size": "1",
    }
    assert (
        await client.post(f"/slots/{slot.id}/book", form={**form, "idempotency_key": "made-up-key-1"})
    ).status_code == 400
    other = app.test_client()  # another browser holding this one's key
    other_form = {**form, "csrf_token": await csrf_token(other, f"/slots/{slot.id}/book"), "idempotency_key": issued}
    assert (await other.post(f"/slots/{slot.id}/book", form=other_form)).status_code == 400
    assert (await store.slot(slot.id)).booked == 0
    assert (await client.post(f"/slots/{slot.id}/book", form={**form, "idempotency_key": issued})).status_code == 303
    # the API's keys live apart: the form key's text as an API key books anew
    assert (await api_book(client, slot.id, issued[:16])).status_code == 201
    assert (await store.slot(slot.id)).booked == 2


# -- links


async def test_the_manage_link_never_trusts_the_host_header(app, client, slot):
    booked = await (await api_book(client, slot.id)).get_json()
    path = f"/bookings/{booked['reference']}?token={booked['cancel_token']}"
    html = await text(await client.get(path, headers={"Host": "evil.example"}))
    assert "evil.example" not in html and 'href="/bookings/' in html
    app.config["PUBLIC_URL"] = "https://book.example.org"
    html = await text(await client.get(path, headers={"Host": "evil.example"}))
    assert f'value="https://book.example.org/bookings/{booked["reference"]}?token=' in html  # the link to keep


# -- hostile input


@pytest.mark.parametrize("party", ["--5", "²", "٣", "1e3"])
async def test_odd_party_sizes_are_422(client, store, slot, party):
    form = {
        "csrf_token": await csrf_token(client, f"/slots/{slot.id}/book"),
        "name": NAME,
        "contact": CONTACT,
        "party_size": party,
    }
    assert (await client.post(f"/slots/{slot.id}/book", form=form)).status_code == 422
    assert (await store.slot(slot.id)).booked == 0


async def test_odd_numbers_in_staff_forms_are_4xx(admin, venue, slot):
    tables = venue.resource("tables")
    edit = await act(
        admin,
        f"/admin/resources/{tables.id}/edit",
        name="T",
        max_party="²",
        horizon_days="7",
        min_notice_minutes="0",
        schedule="daily 08:00-20:00 60 10",
    )
    assert edit.status_code == 422
    walk_in = await act(admin, f"/admin/resources/{tables.id}/bookings", slot_id="²", name=NAME, contact=CONTACT)
    assert walk_in.status_code == 404


@pytest.mark.parametrize("day", ["9999-12-31", "0001-01-01"])
async def test_dates_at_the_ends_of_the_calendar_are_400(admin, client, day):
    assert (await client.get(f"/book/test-bistro/tables/{day}")).status_code == 400
    assert (await admin.get(f"/admin/venues/test-bistro/board/{day}")).status_code == 400


async def test_a_nul_anywhere_is_400_and_nothing_stored(client, store, slot):
    assert (await client.get("/book/test-bistro%00")).status_code == 400
    assert (await client.get("/book/test-bistro/tables?date=2026-01-01%00")).status_code == 400
    form = {
        "csrf_token": await csrf_token(client, f"/slots/{slot.id}/book"),
        "name": "Ann\x00",
        "contact": CONTACT,
        "party_size": "1",
    }
    assert (await client.post(f"/slots/{slot.id}/book", form=form)).status_code == 400
    response = await api_book(client, slot.id, name="Ann\x00")
    assert response.status_code == 422 and (await store.slot(slot.id)).booked == 0


@pytest.mark.parametrize("name", ["Ann\u202eevil", "\u200b\u200b", "Bo\x07b", "\u2066Eve\u2069"])
async def test_names_with_control_format_or_nothing_visible_are_refused(client, store, slot, name):
    response = await api_book(client, slot.id, name=name)
    assert response.status_code == 422 and "name" in (await response.get_json())["fields"]


async def test_names_are_stored_in_nfc_and_emoji_sequences_kept(client, store, slot):
    decomposed = unicodedata.normalize("NFD", "Zoë Ødegaard 👩\u200d👩\u200d👧")
    booked = await (await api_book(client, slot.id, name=decomposed)).get_json()
    assert (await store.booking(booked["reference"]))[0].name == "Zoë Ødegaard 👩\u200d👩\u200d👧"


@pytest.mark.parametrize(
    "contact, ok",
    [
        ("ann@example.com", True),
        ("+86 138 0013 8000", True),
        ("(020) 7946 0018", True),
        ("a@b", False),
        ("ann@@example.com", False),
        ("12 34", False),
        ("+1 2+3 4567", False),
        ("ann@example.com\u202e", False),
    ],
)
async def test_contacts_look_like_an_e_mail_address_or_a_phone_number(client, slot, contact, ok):
    response = await api_book(client, slot.id, contact=contact)
    assert (response.status_code == 201) is ok


# -- start-up and files


async def test_the_admin_password_from_the_environment_only_creates_a_missing_account(tmp_path):
    config = {"DATABASE_URL": f"sqlite:///{tmp_path}/a.db", "SECRET_KEY": "t", "ADMIN_PASSWORD": "first-pass"}
    app = create_app(config)
    async with app.test_app():
        await app.extensions["slotcast"].service.set_staff_password("admin", password_hash())  # changed since
    again = create_app(config)
    async with again.test_app():
        assert (await log_in(again.test_client())).status_code == 303  # still the changed password


async def test_the_demo_password_is_refused_outside_demo_mode(tmp_path):
    app = create_app({"DATABASE_URL": f"sqlite:///{tmp_path}/d.db", "SECRET_KEY": "t", "ADMIN_PASSWORD": DEMO_PASSWORD})
    with pytest.raises(Exception, match="is the demo's: choose another"):
        async with app.test_app():
            pass


async def test_the_secret_key_database_and_its_wal_are_private(tmp_path):
    folder = tmp_path / "instance"
    key = instance_secret(folder)
    assert key == instance_secret(folder)  # made once
    assert (
        stat.S_IMODE(folder.stat().st_mode) == 0o700 and stat.S_IMODE((folder / "secret_key").stat().st_mode) == 0o600
    )
    url = f"sqlite:///{folder}/data/slotcast.db"
    store = open_store(url, tmp_path)
    await store.open()
    await store.add_venue("v", "V", "restaurant", "UTC")
    path = sqlite_path(url, tmp_path)
    modes = {p.name: stat.S_IMODE(os.stat(p).st_mode) for p in path.parent.iterdir()}
    await store.close()
    assert modes and set(modes.values()) == {0o600} and "slotcast.db-wal" in modes
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700


async def test_stream_caps_count_an_ipv6_client_by_its_64(app, hub, venue, tomorrow):
    app.config["SSE_MAX_PER_CLIENT"] = 1
    path, client = f"/events/day/{venue.resource('tables').id}/{tomorrow}", app.test_client()

    def stream_from(address):
        return client.request(path, scope_base={"client": (address, 1)})

    async with stream_from("2001:db8:1:2:aaaa::1") as first:
        await first.receive()
        async with stream_from("2001:db8:1:2:bbbb::9") as same_64, stream_from("2001:db8:1:3::1") as other_64:
            turned_away = await same_64.receive()  # a 200 that ends at once: come back after `retry`
            assert same_64.headers["Retry-After"] == "30" and turned_away.startswith(b"retry: 30000\n")
            assert b"event: slots" in await read_until(other_64, b"event: slots")
            await other_64.disconnect()
            await same_64.disconnect()
        await first.disconnect()
