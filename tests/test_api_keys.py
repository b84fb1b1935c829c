"""API keys: made on /admin/api-keys (shown once, kept as a hash) or from the command line; `Authorization: Bearer`
opens the keyed operations within the key's venues and scopes (401 without a standing key, 403 outside them), a
revoke at once; a day's bookings a page at a time; rate and idempotency per key. On this run's engine."""

from __future__ import annotations

import asyncio
import json
import re
from datetime import UTC, datetime

import pytest

from booking.keys import ATTENDANCE_WRITE, BOOKINGS_READ, BOOKINGS_WRITE, SCOPES, WEBHOOKS_MANAGE, digest
from tests.conftest import EVERY_DAY
from tests.support.helpers import act, log_in, password_hash, session_token, text
from tests.test_store import TABLES, query

SCOPED = {  # scope -> a call it opens, at a venue (the booking's, when it names one)
    BOOKINGS_READ: ("GET", "/api/v1/venues/{venue}/bookings?date={day}", None),
    ATTENDANCE_WRITE: ("POST", "/api/v1/bookings/{reference}/attendance", {"status": "checked_in"}),
    WEBHOOKS_MANAGE: ("GET", "/api/v1/venues/{venue}/webhooks", None),
    BOOKINGS_WRITE: ("POST", "/api/v1/bookings", {"slot_id": "{slot}", "name": "Kai", "contact": "kai@example.com"}),
}


@pytest.fixture
def app_config():
    return {"WEBHOOKS_ALLOW_PRIVATE": True}  # a loopback endpoint, and no name to look up


@pytest.fixture
async def clinic(store, clock):
    """A second venue, whose per-person limit is one booking a day."""
    venue_id = await store.add_venue("clinic", "Riverside Clinic", "clinic", "UTC", per_person_limit=1)
    await store.add_resource(venue_id, "dr-li", "Dr. Li", EVERY_DAY, horizon_days=7)
    await store.extend_slots(clock.now())
    return await store.venue("clinic")


async def make_key(service, venues, scopes=SCOPES, name: str = "Till") -> str:
    key, _key_id = await service.create_api_key(name, frozenset(scopes), frozenset(v.id for v in venues), "admin")
    return key


def bearer(key: str) -> dict:
    return {"Authorization": f"Bearer {key}"}


async def call(client, key: str | None, method: str, path: str, body=None, **headers):
    headers = {**(bearer(key) if key else {}), **headers}
    if method == "GET":
        return await client.get(path, headers=headers)
    return await client.open(path, method=method, json=body, headers=headers)


async def booked(service, venue, slot_id: int, contact: str = "ana@example.com", name: str = "Ana Silva"):
    booking, _slot = await service.book(venue.resources[0], slot_id, name, contact, 1)
    return booking


async def test_a_key_made_on_the_page_is_shown_once_kept_as_a_hash_and_revoked_at_once(
    app, admin, client, store, venue, tomorrow, database_url, tmp_path
):
    made = await act(client, "/admin/api-keys/", name="Front desk till", venue=str(venue.id), scope=BOOKINGS_READ)
    page = await text(made)
    key = re.search(r'<code id="new-key">(sk_[A-Za-z0-9_-]{43})</code>', page)[1]
    assert made.status_code == 201 and "not shown again" in page
    listing = await text(await client.get("/admin/api-keys/"))
    assert key not in listing and f"{key[:11]}…" in listing and "Front desk till" in listing and "never" in listing
    # At rest: its sha256, nowhere the key itself (every row of every table, read behind the store's back).
    engine = "sqlite" if database_url.startswith("sqlite") else "postgresql"
    for (table,) in await query(database_url, tmp_path, TABLES[engine]):
        assert key not in str(await query(database_url, tmp_path, f"SELECT * FROM {table}")), table
    assert await query(database_url, tmp_path, "SELECT prefix FROM api_keys WHERE key_sha256 = $1", digest(key))
    path = f"/api/v1/venues/{venue.slug}/bookings?date={tomorrow}"
    assert (await call(app.test_client(), key, "GET", path)).status_code == 200
    assert "never" not in await text(await client.get("/admin/api-keys/"))  # its last use
    [standing] = await store.api_keys()
    assert (await act(client, f"/admin/api-keys/{standing.id}/revoke")).status_code == 303
    refused = await call(app.test_client(), key, "GET", path)
    assert refused.status_code == 401 and refused.headers["WWW-Authenticate"].startswith("Bearer")
    assert (await refused.get_json())["code"] == "unauthorized" and await store.api_keys() == []
    trail = [(e.action, e.subject, e.venue_id) for e in await store.audit_trail(None, None)]
    subject = f"Front desk till ({key[:11]}…)"
    assert ("create_api_key", subject, venue.id) in trail and ("revoke_api_key", subject, venue.id) in trail
    shown = await text(await client.get(f"/admin/audit?venue={venue.slug}"))
    assert f"Created the API key {subject}" in shown and f"Revoked the API key {subject}" in shown


async def test_the_page_refuses_a_key_without_scopes_or_for_another_staff_members_venue(
    app, admin, client, service, store, venue, clinic
):
    empty = await act(client, "/admin/api-keys/", name="Till", venue=str(venue.id))
    assert empty.status_code == 422 and "Choose at least one scope." in await text(empty)
    assert await store.api_keys() == []
    await service.set_staff_password("bistro-manager", password_hash())
    await service.set_staff_access("bistro-manager", "manager", frozenset({venue.id}))
    manager = app.test_client()
    assert (await log_in(manager, username="bistro-manager")).status_code == 303
    await manager.get("/admin/api-keys/")
    for venues in ([str(clinic.id)], [str(venue.id), str(clinic.id)]):
        form = {"name": "Till", "venue": venues, "scope": BOOKINGS_READ}
        refused = await manager.post("/admin/api-keys/", form={"csrf_token": await session_token(manager), **form})
        assert refused.status_code == 403, venues
    assert await store.api_keys() == []


async def test_no_key_an_unknown_one_or_another_scheme_is_a_401_with_a_bearer_challenge(client, venue, tomorrow):
    path = f"/api/v1/venues/{venue.slug}/bookings?date={tomorrow}"
    for headers in ({}, bearer("sk_" + "x" * 43), bearer(""), {"Authorization": "Basic YWRtaW46eA=="}):
        response = await client.get(path, headers=headers)
        assert response.status_code == 401 and response.headers["WWW-Authenticate"] == "Bearer", headers
        assert set(await response.get_json()) == {"error", "code"}
    assert (await client.get("/api/v1/venues")).status_code == 200  # the public API stays public


async def test_each_scope_opens_its_calls_on_the_keys_venues_only(app, client, service, venue, clinic, slot):
    clinic_slot = (await app.extensions["slotcast"].store.slots_for_day(clinic.resources[0].id, slot.local_date))[0]
    places = {
        venue.id: dict(venue=venue.slug, day=slot.local_date, slot=slot.id),
        clinic.id: dict(venue=clinic.slug, day=slot.local_date, slot=clinic_slot.id),
    }
    for place, found_slot in ((venue, slot), (clinic, clinic_slot)):
        places[place.id]["reference"] = (await booked(service, place, found_slot.id)).reference
    for scope in SCOPES:
        key = await make_key(service, [venue], [scope], name=scope)
        for other, (method, path, body) in SCOPED.items():
            for place in (venue, clinic):
                fill = places[place.id]
                sent = body and {k: (fill["slot"] if v == "{slot}" else v) for k, v in body.items()}
                response = await call(client, key, method, path.format(**fill), sent)
                code = (await response.get_json()).get("code") if response.status_code >= 400 else None
                seen = f"{scope} key: {other} at {place.slug} -> {response.status_code} {code}"
                if other != scope:
                    assert response.status_code == 403 and code == "insufficient_scope", seen
                elif place is clinic:
                    assert response.status_code == 403 and code == "other_venue", seen
                else:
                    assert response.status_code in (200, 201), seen


async def test_a_days_bookings_come_a_page_at_a_time_with_names_and_contacts(client, service, store, venue, slot):
    bar = venue.resource("bar")
    bar_slot = (await store.slots_for_day(bar.id, slot.local_date))[0]
    made = [await booked(service, venue, slot.id, f"p{n}@example.com", f"Person {n}") for n in range(4)]
    late, _ = await service.book(bar, bar_slot.id, "Bar Guest", "bar@example.com", 1)
    await service.cancel_for_staff(made[1].id)
    key = await make_key(service, [venue], [BOOKINGS_READ])
    path = f"/api/v1/venues/{venue.slug}/bookings?date={slot.local_date}"
    seen, cursor = [], None
    while True:
        page = await (
            await call(client, key, "GET", path + "&limit=2" + (f"&cursor={cursor}" if cursor else ""))
        ).get_json()
        seen += page["bookings"]
        if not (cursor := page["next_cursor"]):
            break
        assert len(page["bookings"]) == 2
    assert [b["reference"] for b in seen] == [b.reference for b in made] + [late.reference]
    assert seen[0]["name"] == "Person 0" and seen[0]["contact"] == "p0@example.com" and seen[4]["resource"] == "bar"
    confirmed = await (await call(client, key, "GET", path + "&status=confirmed")).get_json()
    assert made[1].reference not in [b["reference"] for b in confirmed["bookings"]] and len(confirmed["bookings"]) == 4
    at_bar = await (await call(client, key, "GET", path + "&resource=bar")).get_json()
    assert [b["reference"] for b in at_bar["bookings"]] == [late.reference] and at_bar["next_cursor"] is None
    for wrong in ("&cursor=bm9wZQ", "&cursor=%25%25", "&status=maybe", "&limit=0", "&limit=201"):
        assert (await call(client, key, "GET", path + wrong)).status_code == 400, wrong
    assert (await call(client, key, "GET", path + "&resource=nowhere")).status_code == 404


async def test_a_booking_by_reference_to_a_key_with_its_contact_or_to_its_token_without(client, service, venue, slot):
    booking = await booked(service, venue, slot.id)
    key = await make_key(service, [venue], [BOOKINGS_READ])
    path = f"/api/v1/bookings/{booking.reference}"
    answer = await call(client, key, "GET", path)
    keyed = await answer.get_json()
    assert answer.headers["Cache-Control"] == "no-store"
    assert keyed["contact"] == "ana@example.com" and keyed["name"] == "Ana Silva" and keyed["status"] == "confirmed"
    held = await client.get(f"{path}?token={booking.cancel_token}")
    assert held.status_code == 200 and await held.get_json() == {k: v for k, v in keyed.items() if k != "contact"}
    assert (await client.get(f"{path}?token=wrong")).status_code == 403
    assert (await client.get(path)).status_code == 401
    assert (await call(client, key, "GET", "/api/v1/bookings/NOSUCHRF")).status_code == 404


async def test_attendance_is_marked_as_the_board_marks_it(admin, client, service, store, venue, slot):
    booking = await booked(service, venue, slot.id)
    key = await make_key(service, [venue], [ATTENDANCE_WRITE], name="Ward till")
    await store.add_webhook(venue.id, "http://127.0.0.1:9/hook", "whsec_test", datetime.now(UTC))
    path = f"/api/v1/bookings/{booking.reference}/attendance"
    marked = await call(client, key, "POST", path, {"status": "no_show"})
    assert marked.status_code == 200 and (await marked.get_json())["attendance"] == "no_show"
    [told] = [json.loads(m.body) for m in await store.outbox(venue.id) if m.event == "booking.no_show"]
    assert told["actor"] == {"type": "api", "name": "Ward till"}  # a webhook says the key did it
    assert (await store.booking(booking.reference))[0].attendance == "no_show"
    board = await text(await client.get(f"/admin/venues/{venue.slug}/board/{slot.local_date}"))
    assert f'<li id="booking-{booking.id}" class="confirmed no_show"' in board
    assert (await call(client, key, "POST", path, {"status": "late"})).status_code == 422
    await service.cancel_for_staff(booking.id)
    cancelled = await call(client, key, "POST", path, {"status": "checked_in"})
    assert cancelled.status_code == 409 and (await cancelled.get_json())["code"] == "booking_cancelled"


async def test_webhooks_are_managed_with_a_key_as_on_the_staff_page(admin, client, service, store, venue):
    key = await make_key(service, [venue], [WEBHOOKS_MANAGE])
    path = f"/api/v1/venues/{venue.slug}/webhooks"
    added = await call(client, key, "POST", path, {"url": "http://127.0.0.1:9/hook"})
    hook = await added.get_json()
    assert added.status_code == 201 and hook["secret"].startswith("whsec_")
    assert [h.url for h in await store.webhooks(venue.id)] == ["http://127.0.0.1:9/hook"]
    assert "http://127.0.0.1:9/hook" in await text(await client.get("/admin/webhooks/"))
    assert await (await call(client, key, "GET", path)).get_json() == [
        {k: hook[k] for k in ("id", "url", "created_at")}
    ]
    bad = await call(client, key, "POST", path, {"url": "ftp://x", "secret": "short"})
    assert bad.status_code == 422 and set((await bad.get_json())["fields"]) == {"url", "secret"}
    assert (await call(client, key, "DELETE", f"{path}?id={hook['id']}")).status_code == 200
    assert await store.webhooks(venue.id) == [] and await (await call(client, key, "GET", path)).get_json() == []
    assert (await call(client, key, "DELETE", f"{path}?id={hook['id']}")).status_code == 404


async def test_a_keyed_booking_is_staffs_and_may_go_over_the_limit(client, service, clinic, tomorrow, store):
    slots = await store.slots_for_day(clinic.resources[0].id, tomorrow)
    body = {"slot_id": slots[0].id, "name": "Li Wei", "contact": "+44 20 7946 0111"}
    writer = await make_key(service, [clinic], [BOOKINGS_WRITE])
    reader = await make_key(service, [clinic], [BOOKINGS_READ])
    assert (await call(client, None, "POST", "/api/v1/bookings", body)).status_code == 201
    again = {**body, "slot_id": slots[1].id}
    refused = await call(client, writer, "POST", "/api/v1/bookings", again)
    assert refused.status_code == 409 and (await refused.get_json())["code"] == "limit_reached"
    over = {**again, "override_limit": True}
    assert (await call(client, None, "POST", "/api/v1/bookings", over)).status_code == 401
    assert (await call(client, reader, "POST", "/api/v1/bookings", over)).status_code == 403
    assert (
        await call(client, writer, "POST", "/api/v1/bookings", {**over, "override_limit": "yes"})
    ).status_code == 422
    assert (await call(client, writer, "POST", "/api/v1/bookings", over)).status_code == 201


async def test_calls_are_counted_per_key_not_per_address(app, client, service, venue, tomorrow):
    app.config.update(API_KEY_CALLS_PER_MINUTE=2, BOOKINGS_PER_MINUTE=1)
    first, second = await make_key(service, [venue], name="one"), await make_key(service, [venue], name="two")
    path = f"/api/v1/venues/{venue.slug}/webhooks"
    assert [(await call(client, first, "GET", path)).status_code for _ in range(2)] == [200, 200]
    refused = await call(client, first, "GET", path)
    assert refused.status_code == 429 and int(refused.headers["Retry-After"]) >= 1
    assert (await refused.get_json())["code"] == "too_many_requests"
    slot_id = (await service.store.slots_for_day(venue.resources[0].id, tomorrow))[0].id
    for n in range(2):  # two bookings with a key: past the address's rate of one, within the key's two calls
        body = {"slot_id": slot_id, "name": "Kai", "contact": f"k{n}@example.com"}
        assert (await call(client, second, "POST", "/api/v1/bookings", body)).status_code == 201


async def test_an_idempotency_key_belongs_to_the_api_key_that_sent_it(client, service, venue, slot):
    first, second = await make_key(service, [venue], name="one"), await make_key(service, [venue], name="two")
    body = {"slot_id": slot.id, "name": "Kai", "contact": "kai@example.com"}
    retry = {"Idempotency-Key": "order-4711-abc"}
    made = await call(client, first, "POST", "/api/v1/bookings", body, **retry)
    again = await call(client, first, "POST", "/api/v1/bookings", body, **retry)
    assert made.status_code == again.status_code == 201
    assert (await made.get_json())["reference"] == (await again.get_json())["reference"]
    for other in (second, None):  # another key, or the same address without a key: not theirs
        taken = await call(client, other, "POST", "/api/v1/bookings", body, **retry)
        assert taken.status_code == 422 and (await taken.get_json())["code"] == "idempotency_mismatch"


async def test_create_api_key_prints_a_key_that_works(app, client, store, venue, tomorrow):
    args = ["create-api-key", "Kiosk", "--venue", venue.slug, "--scope", BOOKINGS_READ, "--scope", ATTENDANCE_WRITE]
    result = await asyncio.to_thread(app.test_cli_runner().invoke, args=args)
    assert result.exit_code == 0, result.output
    key = re.search(r"sk_[A-Za-z0-9_-]{43}", result.output)[0]
    [made] = await store.api_keys()
    assert made.scopes == {BOOKINGS_READ, ATTENDANCE_WRITE} and made.venues == {venue.id} and made.created_by == "cli"
    path = f"/api/v1/venues/{venue.slug}/bookings?date={tomorrow}"
    assert (await call(client, key, "GET", path)).status_code == 200
    for wrong in (["--venue", "nowhere", "--scope", BOOKINGS_READ], ["--venue", venue.slug, "--scope", "all"]):
        failed = await asyncio.to_thread(app.test_cli_runner().invoke, args=["create-api-key", "X", *wrong])
        assert failed.exit_code != 0
    assert len(await store.api_keys()) == 1


async def test_refusals_and_the_page_speak_chinese(admin, client, service, venue, tomorrow):
    key = await make_key(service, [venue], [BOOKINGS_READ])
    chinese = {"Accept-Language": "zh-CN,zh;q=0.9"}
    refused = await call(client, key, "GET", f"/api/v1/venues/{venue.slug}/webhooks", **chinese)
    assert await refused.get_json() == {"error": "此 API 密钥没有 webhooks:manage 权限。", "code": "insufficient_scope"}
    page = await text(await client.get("/admin/api-keys/", headers=chinese))
    assert "API 密钥" in page and "吊销" in page and "读取场所的预约，包括姓名和联系方式" in page
