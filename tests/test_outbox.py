"""Webhooks through the outbox: written in the booking's transaction, POSTed after commit, signed, retried."""

from __future__ import annotations

import asyncio
import email
import hashlib
import hmac
import ipaddress
import json
import sqlite3
import ssl
import time
from datetime import UTC, datetime, timedelta
from datetime import time as dt_time
from email import policy
from zoneinfo import ZoneInfo

import httpcore
import icalendar
import pytest

from delivery.webhooks import PinnedBackend, Undelivered, public
from tests.support.helpers import csrf_token, self_signed
from tests.support.live_server import LiveServer
from tests.support.receiver import Inbox, Receiver, documented_receiver, settled, smtp_server

SECRET = "whsec_test-secret-of-the-venue"
VENUE, RESOURCE, ZONE = "harbour-kitchen", "terrace", "Europe/London"  # the demo's


@pytest.fixture
def app_config():
    return {"WEBHOOKS_ALLOW_PRIVATE": True, "OUTBOX_RETRY_SECONDS": 0.2}


@pytest.fixture
def receiver():
    found = Receiver()
    yield found
    found.close()


@pytest.fixture
async def hook(store, venue, receiver):
    return await store.add_webhook(venue.id, receiver.url, SECRET, venue_now())


def venue_now():
    return datetime.now(UTC)


async def book(client, slot_id, contact="ana@example.com", party_size=2, **headers):
    response = await client.post(
        "/api/v1/bookings",
        json={"slot_id": slot_id, "name": "Ana Silva", "contact": contact, "party_size": party_size},
        headers=headers,
    )
    assert response.status_code == 201, await response.get_data()
    return await response.get_json()


async def test_a_booking_is_posted_signed_once_it_is_committed(client, store, slot, hook, receiver):
    made = await book(client, slot.id)
    ((headers, body),) = await receiver.wait_for(1)
    expected = "sha256=" + hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()
    assert hmac.compare_digest(headers["X-Slotcast-Signature-Legacy"], expected)  # deprecated, for one release
    assert documented_receiver()(body, headers["X-Slotcast-Signature"], SECRET)
    assert headers["Content-Type"] == "application/json" and headers["X-Slotcast-Event"] == "booking.created"
    event = json.loads(body)
    assert set(event) == {"id", "type", "api_version", "created_at", "sequence", "actor", "data"}
    assert (event["type"], event["api_version"], event["sequence"]) == ("booking.created", "1", 1)
    assert headers["X-Slotcast-Delivery"].startswith(event["id"])
    data = event["data"]
    assert (data["reference"], data["slot_id"], data["party_size"]) == (made["reference"], slot.id, 2)
    assert (data["venue"], data["resource"], data["status"]) == ("test-bistro", "tables", "confirmed")
    assert made["cancel_token"] not in body.decode()  # the booker's secret stays theirs
    [sent] = await settled(store)
    assert (sent.state, sent.attempts, sent.delivery) == ("sent", 1, headers["X-Slotcast-Delivery"])


async def test_the_documented_receiver_accepts_a_delivery_only_fresh_and_untouched(client, slot, hook, receiver):
    await book(client, slot.id)
    ((headers, body),) = await receiver.wait_for(1)
    verified, header = documented_receiver(), headers["X-Slotcast-Signature"]
    stamp = int(header.split(",")[0].removeprefix("t="))
    assert abs(stamp - time.time()) < 5 and verified(body, header, SECRET, now=stamp + 299)
    assert not verified(body, header, SECRET, now=stamp + 301)  # older than 5 minutes: a replay
    assert not verified(body.replace(b"Ana", b"Bob"), header, SECRET)
    assert not verified(body, header, "whsec_another-venue-secret")
    old_form = f"t={stamp},v1=" + hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()
    assert not verified(body, old_form, SECRET)  # the timestamp is part of what is signed


async def test_moves_cancellations_and_offers_are_told_in_order(client, store, venue, tomorrow, hook, receiver):
    bar = await store.slots_for_day(venue.resource("bar").id, tomorrow)
    made = await book(client, bar[0].id, party_size=1)
    await book(client, bar[0].id, contact="bo@example.com", party_size=1)  # the bar's 2 seats: full
    waiting = await client.post(
        "/api/v1/waitlist", json={"slot_id": bar[0].id, "name": "Wen", "contact": "wen@example.com"}
    )
    assert waiting.status_code == 201
    moved = await client.post(
        f"/api/v1/bookings/{made['reference']}/reschedule",
        json={"slot_id": bar[1].id, "cancel_token": made["cancel_token"]},
    )
    assert moved.status_code == 200
    cancelled = await client.post(
        f"/api/v1/bookings/{made['reference']}/cancel", json={"cancel_token": made["cancel_token"]}
    )
    assert cancelled.status_code == 200
    await receiver.wait_for(6)
    told = sorted(receiver.events(), key=lambda e: e["created_at"])  # the move and its offer: one transaction
    events = [e for e in told if e["type"] != "waitlist.joined"]
    assert [e["type"] for e in told].count("waitlist.joined") == 1
    assert [e["type"] for e in events[:2] + events[4:]] == ["booking.created", "booking.created", "booking.cancelled"]
    by_type = {e["type"]: e["data"] for e in events}
    offered, rescheduled = by_type["waitlist.offered"], by_type["booking.rescheduled"]
    assert offered["slot_id"] == bar[0].id and offered["offered_until"] and offered["reference"] != made["reference"]
    assert (rescheduled["previous_slot_id"], rescheduled["slot_id"]) == (bar[0].id, bar[1].id)
    assert len({e["id"] for e in events}) == 5


async def test_a_refused_or_replayed_booking_queues_nothing(client, store, venue, tomorrow, hook, receiver):
    bar = (await store.slots_for_day(venue.resource("bar").id, tomorrow))[0]
    for _ in range(2):  # the same booking, answered again
        await book(client, bar.id, party_size=1, **{"Idempotency-Key": "same-key-twice"})
    await book(client, bar.id, contact="bo@example.com", party_size=1)
    full = await client.post("/api/v1/bookings", json={"slot_id": bar.id, "name": "Late", "contact": "l@example.com"})
    assert full.status_code == 409
    await receiver.wait_for(1)
    await receiver.wait_for(2)
    assert [m.event for m in await settled(store)] == ["booking.created", "booking.created"]


async def test_a_failed_delivery_is_tried_again_with_the_same_bytes(client, store, venue, slot):
    flaky = Receiver(500, 503)
    try:
        await store.add_webhook(venue.id, flaky.url, SECRET, venue_now())
        await book(client, slot.id)
        received = await flaky.wait_for(3)
        assert len({body for _h, body in received}) == 1
        assert len({h["X-Slotcast-Delivery"] for h, _b in received}) == 1
        [delivered] = await settled(store)
        assert (delivered.state, delivered.attempts, delivered.last_error) == ("sent", 3, None)
    finally:
        flaky.close()


async def test_staff_see_a_failing_endpoint_and_its_last_error(admin, client, store, slot, venue):
    down = Receiver(500, 500, 500, 500, 500, 500, 500, 500)
    try:
        await store.add_webhook(venue.id, down.url, SECRET, venue_now())
        await book(client, slot.id)
        await down.wait_for(2)
        page = (await (await admin.get("/admin/webhooks/")).get_data()).decode()
        assert down.url in page and "booking.created" in page and "HTTP 500" in page
        assert SECRET not in page  # the list shows the start of a secret, never all of it
    finally:
        down.close()


async def test_staff_add_and_remove_an_endpoint(admin, store, venue, receiver):
    token = await csrf_token(admin, "/admin/webhooks/")
    added = await admin.post(
        "/admin/webhooks/", form={"csrf_token": token, "venue": str(venue.id), "url": receiver.url, "secret": ""}
    )
    assert added.status_code == 201
    [hook] = await store.webhooks(venue.id)
    assert hook.url == receiver.url and hook.secret.startswith("whsec_") and len(hook.secret) > 30
    assert hook.secret in (await added.get_data()).decode()  # shown once, to be copied
    removed = await admin.post(f"/admin/webhooks/{hook.id}/remove", form={"csrf_token": token})
    assert removed.status_code == 303 and await store.webhooks(venue.id) == []
    gone = await admin.post(f"/admin/webhooks/{hook.id}/remove", form={"csrf_token": token})
    assert gone.status_code == 404


@pytest.mark.parametrize(
    "url",
    [
        "ftp://example.org/hook",
        "javascript:alert(1)",
        "https://",
        "example.org/hook",
        "https://example.org/" + "x" * 2000,
    ],
)
async def test_staff_are_told_what_address_will_do(admin, store, venue, url):
    token = await csrf_token(admin, "/admin/webhooks/")
    refused = await admin.post("/admin/webhooks/", form={"csrf_token": token, "venue": str(venue.id), "url": url})
    assert refused.status_code == 422 and "https://" in (await refused.get_data()).decode()
    assert await store.webhooks() == []


async def test_a_short_secret_or_no_venue_is_refused(admin, store, venue, receiver):
    token = await csrf_token(admin, "/admin/webhooks/")
    short = await admin.post(
        "/admin/webhooks/", form={"csrf_token": token, "venue": str(venue.id), "url": receiver.url, "secret": "short"}
    )
    nowhere = await admin.post("/admin/webhooks/", form={"csrf_token": token, "venue": "999", "url": receiver.url})
    assert (short.status_code, nowhere.status_code) == (422, 422) and await store.webhooks() == []


async def test_webhooks_are_staff_only(stranger, venue):
    assert (await stranger.get("/admin/webhooks/")).status_code in (302, 303)
    refused = await stranger.post("/admin/webhooks/", form={"venue": str(venue.id), "url": "https://example.org"})
    assert refused.status_code in (302, 303, 400, 403)


class TestPrivateAddresses:
    @pytest.fixture
    def app_config(self):
        return {"OUTBOX_RETRY_SECONDS": 0.2}

    async def test_staff_cannot_register_a_private_address(self, admin, store, venue):
        token = await csrf_token(admin, "/admin/webhooks/")
        for url in (
            "http://127.0.0.1:9/hook",
            "http://localhost/hook",
            "http://10.1.2.3/hook",
            "http://[::1]/hook",
            "http://169.254.169.254/latest/meta-data",
            "http://[::127.0.0.1]:9/hook",
            "http://[::ffff:10.1.2.3]/hook",
            "http://[2002:a9fe:a9fe::1]/latest/meta-data",
        ):
            refused = await admin.post(
                "/admin/webhooks/", form={"csrf_token": token, "venue": str(venue.id), "url": url}
            )
            assert refused.status_code == 422, url
            assert "private" in (await refused.get_data()).decode()
        assert await store.webhooks() == []

    async def test_a_delivery_to_a_private_address_is_refused_and_said(self, client, store, venue, slot, receiver):
        await store.add_webhook(venue.id, receiver.url, SECRET, venue_now())  # e.g. its name now points inside
        await book(client, slot.id)
        for _ in range(200):
            [message] = await store.outbox()
            if message.last_error:
                break
            await asyncio.sleep(0.02)
        assert message.state == "pending" and "private address" in message.last_error
        assert receiver.received == []


# Each way an IPv6 address carries an IPv4 one, with a private IPv4 (refused) and a public one (allowed).
CARRIED = {
    "mapped": "::ffff:{}",
    "compatible": "::{}",
    "translated": "::ffff:0:{}",
    "NAT64": "64:ff9b::{}",
    "6to4": "2002:{}::1",
    "ISATAP": "2a00:1450:4001::5efe:{}",
}


def carrying(scheme: str, ipv4: str) -> str:
    v4 = ipaddress.IPv4Address(ipv4)
    if scheme == "6to4":
        return CARRIED[scheme].format(f"{int(v4) >> 16:x}:{int(v4) & 0xFFFF:x}")
    return str(ipaddress.IPv6Address(CARRIED[scheme].format(ipv4)))


@pytest.mark.parametrize("scheme", CARRIED)
@pytest.mark.parametrize("ipv4", ["127.0.0.1", "10.1.2.3", "169.254.169.254", "192.168.0.1", "100.64.0.1", "0.0.0.0"])
def test_an_ipv6_address_that_carries_a_private_ipv4_is_refused(scheme, ipv4):
    assert not public(ipaddress.ip_address(carrying(scheme, ipv4)))


@pytest.mark.parametrize(
    "address",
    [
        "64:ff9b:1::a01:203",  # RFC 8215 local-use NAT64: where the IPv4 sits is the operator's choice
        "2001:0:4136:e378:8000:63bf:f5ff:fffe",  # Teredo: its (obfuscated) client is 10.0.0.1
        "2001:0:a00:1:8000:63bf:3fff:fdd2",  # Teredo: its server is 10.0.0.1
        "224.0.0.251",
        "ff02::fb",
    ],
)
def test_other_ways_onto_a_private_network_are_refused(address):
    assert not public(ipaddress.ip_address(address))


@pytest.mark.parametrize(
    "address", ["8.8.8.8", "2606:4700:4700::1111", carrying("NAT64", "8.8.8.8"), carrying("ISATAP", "8.8.8.8")]
)
def test_public_addresses_are_allowed(address):
    assert public(ipaddress.ip_address(address))


def answering(*answers: list[str]):
    """A resolver that gives each of `answers` in turn (a name rebound between two lookups), and the names asked."""
    asked = []

    async def resolve(host: str, port: int) -> list[str]:
        asked.append(host)
        return answers[len(asked) - 1]

    return resolve, asked


async def test_a_webhook_goes_to_the_address_that_was_checked(receiver):
    """The name answers 127.0.0.1, then 127.0.0.2: the POST goes where the first answer pointed (looked up once) and
    says the name in Host; the next connection is checked on its own answer. 127.0.0.1 plays a public address."""
    resolve, asked = answering(["127.0.0.1"], ["127.0.0.2"])
    url = f"http://hooks.example.test:{receiver.port}/hooks/slotcast"
    async with httpcore.AsyncConnectionPool(
        network_backend=PinnedBackend(lambda ip: str(ip) == "127.0.0.1", resolve)
    ) as pool:
        assert (await pool.request("POST", url, content=b"{}")).status == 200
        assert asked == ["hooks.example.test"]
        [(headers, body)] = receiver.received
        assert headers["Host"] == f"hooks.example.test:{receiver.port}" and body == b"{}"
        with pytest.raises(Undelivered, match=r"private address \(127\.0\.0\.2\)"):
            await pool.request("POST", url, content=b"{}")  # the receiver answered HTTP/1.0: a new connection
    assert len(receiver.received) == 1


@pytest.fixture
def named_certificate(tmp_path):
    """A self-signed certificate (and its key) for the name hooks.example.test."""
    return self_signed(tmp_path, "hooks.example.test", "DNS:hooks.example.test")


async def test_a_pinned_tls_connection_names_the_host(named_certificate):
    """Over HTTPS the host's name goes in SNI and is what the certificate is checked against, not the address."""
    cert, key = named_certificate
    serving, named = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH), []
    serving.load_cert_chain(cert, key)
    serving.sni_callback = lambda sock, name, context: named.append(name)

    async def answer(reader, writer):
        await reader.readuntil(b"\r\n\r\n")
        await reader.readexactly(2)
        writer.write(b"HTTP/1.1 204 No Content\r\nConnection: close\r\n\r\n")
        await writer.drain()
        writer.close()

    server = await asyncio.start_server(answer, "127.0.0.1", 0, ssl=serving)
    port = server.sockets[0].getsockname()[1]
    resolve, _asked = answering(["127.0.0.1"])
    trusting = ssl.create_default_context(cafile=str(cert))
    async with (
        server,
        httpcore.AsyncConnectionPool(
            ssl_context=trusting, network_backend=PinnedBackend(lambda ip: True, resolve)
        ) as pool,
    ):
        response = await pool.request("POST", f"https://hooks.example.test:{port}/hook", content=b"{}")
    assert response.status == 204 and named == ["hooks.example.test"]


def hooked_and_booked(server: LiveServer, receiver: Receiver) -> tuple[sqlite3.Connection, dict]:
    """The live server's demo venue with the receiver as its webhook, and a booking made there (the API's answer)."""
    database = sqlite3.connect(server.folder / "slotcast.db")
    venue_id = database.execute("SELECT id FROM venues WHERE slug = ?", (VENUE,)).fetchone()[0]
    with database:
        database.execute(
            "INSERT INTO webhooks (venue_id, url, secret, created_at) VALUES (?, ?, ?, ?)",
            (venue_id, receiver.url, SECRET, "2026-01-01 00:00:00"),
        )
    day = (datetime.now(ZoneInfo(ZONE)).date() + timedelta(days=1)).isoformat()
    free = [
        s
        for s in server.get_json(f"/api/v1/venues/{VENUE}/resources/{RESOURCE}/slots?date={day}")["slots"]
        if s["remaining"] >= 2
    ]
    made = server.post_json(
        "/api/v1/bookings", {"slot_id": free[0]["id"], "name": "Kim", "contact": "k@example.com", "party_size": 2}
    )
    asyncio.run(receiver.wait_for(1))  # its POST is under way: the receiver holds it
    return database, made


def test_a_delivery_cut_short_by_kill_9_is_made_after_the_restart(tmp_path):
    """Committed, the POST under way, the server killed: the restarted server sends it (the same delivery)."""
    receiver = Receiver("hang")  # receives the first POST and never answers it
    server = LiveServer(tmp_path, WEBHOOKS_ALLOW_PRIVATE=1, OUTBOX_LEASE_SECONDS=1).start()
    try:
        database, made = hooked_and_booked(server, receiver)
        server.kill()
        server.start()
        asyncio.run(receiver.wait_for(2))
        (first, body), (again, body_again) = receiver.received
        assert body == body_again and json.loads(body)["data"]["reference"] == made["reference"]
        assert first["X-Slotcast-Delivery"] == again["X-Slotcast-Delivery"]  # a receiver can tell it saw it already
        for _ in range(250):
            state = database.execute("SELECT state, attempts FROM outbox").fetchall()
            if state == [("sent", 2)]:
                break
            time.sleep(0.02)
        assert state == [("sent", 2)]
    finally:
        server.kill()
        receiver.close()


def test_a_shutdown_does_not_wait_for_a_hanging_endpoint(tmp_path):
    """SIGTERM while a POST hangs: the server exits at once; the delivery stays claimed, to be made after a restart."""
    receiver = Receiver("hang")
    server = LiveServer(tmp_path, WEBHOOKS_ALLOW_PRIVATE=1, DRAIN_SECONDS=0).start()
    try:
        database, _made = hooked_and_booked(server, receiver)
        assert server.stop(timeout=5) < 3  # the POST would have waited up to 10 s for its answer
        assert database.execute("SELECT state, attempts FROM outbox").fetchall() == [("pending", 1)]
    finally:
        server.kill()
        receiver.close()


class TestMail:
    """E-mail through the outbox to a real SMTP server: the confirmation, the notice, the reminder."""

    @pytest.fixture
    def inbox(self):
        found = Inbox()
        with smtp_server(found) as server:
            found.port = server.port
            yield found

    @pytest.fixture
    def app_config(self, inbox, database_url):  # the app's database made first: the app starts within the lead below
        # The reminder of tomorrow's 08:00 falls due five seconds from now (the booking must come before it).
        first = datetime.combine(datetime.now(UTC).date() + timedelta(days=1), dt_time(8), UTC)
        lead = (first - datetime.now(UTC) - timedelta(seconds=5)).total_seconds() / 3600
        return {
            "SMTP_URL": f"smtp://127.0.0.1:{inbox.port}",
            "MAIL_FROM": "Slotcast <bookings@example.org>",
            "PUBLIC_URL": "https://book.example.org",
            "MAIL_REMIND_HOURS": lead,
            "OUTBOX_RETRY_SECONDS": 0.2,
        }

    async def mails(self, inbox, count: int) -> list:
        for _ in range(1000):
            if len(inbox.envelopes) >= count:
                break
            await asyncio.sleep(0.02)
        return [email.message_from_bytes(e.original_content, policy=policy.default) for e in inbox.envelopes]

    async def test_a_booking_is_confirmed_reminded_and_its_cancellation_told_in_its_language(
        self, client, store, slot, inbox
    ):
        made = await book(client, slot.id, contact="ana@example.org", **{"Accept-Language": "zh-CN,zh;q=0.9"})
        confirmed, reminder = await self.mails(inbox, 2)
        assert [m["To"].addresses[0].addr_spec for m in (confirmed, reminder)] == ["ana@example.org"] * 2
        assert (confirmed["Content-Language"], reminder["Content-Language"]) == ("zh-CN", "zh-CN")
        link = f"https://book.example.org/bookings/{made['reference']}?token={made['cancel_token']}"
        assert link in confirmed.get_body(("plain",)).get_content()
        [attachment] = list(confirmed.iter_attachments())
        event = icalendar.Calendar.from_ical(attachment.get_content()).walk("VEVENT")[0]
        assert event.decoded("dtstart") == slot.starts_at
        cancelled = await client.post(
            f"/api/v1/bookings/{made['reference']}/cancel", json={"cancel_token": made["cancel_token"]}
        )
        assert cancelled.status_code == 200
        *_, notice = await self.mails(inbox, 3)
        assert made["reference"] in notice.get_body(("plain",)).get_content()
        [cancelling] = list(notice.iter_attachments())  # takes the event off the calendar it was added to
        assert cancelling.get_param("method") == "CANCEL"
        assert icalendar.Calendar.from_ical(cancelling.get_content()).walk("VEVENT")[0]["UID"] == event["UID"]
        # One Message-ID per delivery, on the site's name (not the public address's, which may be set later).
        site = event["UID"].split("@")[1]
        sent = {m.delivery for m in await store.outbox() if m.kind == "email"}  # all three: mailed (if not yet settled)
        assert {m["Message-ID"] for m in await self.mails(inbox, 3)} == {f"<{d}@{site}>" for d in sent}

    async def test_a_reminder_of_a_cancelled_booking_is_not_sent(self, client, store, slot, inbox):
        made = await book(client, slot.id, contact="bo@example.org")
        await self.mails(inbox, 1)  # the confirmation, before the booking is cancelled
        await client.post(f"/api/v1/bookings/{made['reference']}/cancel", json={"cancel_token": made["cancel_token"]})
        for _ in range(300):
            states = {m.event: m.state for m in await store.outbox()}
            if states.get("booking.reminder") != "pending":
                break
            await asyncio.sleep(0.02)
        assert states == {"booking.created": "sent", "booking.cancelled": "sent", "booking.reminder": "skipped"}
        assert len(inbox.envelopes) == 2

    async def test_a_phone_number_gets_no_mail(self, client, store, slot, inbox):
        await book(client, slot.id, contact="+44 20 7946 0000")
        assert await store.outbox() == [] and inbox.envelopes == []


@pytest.mark.parametrize(("headers", "words"), [({}, "Events:"), ({"Accept-Language": "zh-CN"}, "事件：")])
async def test_the_webhooks_page_names_every_event_an_endpoint_receives(admin, headers, words):
    page = (await (await admin.get("/admin/webhooks/", headers=headers)).get_data()).decode()
    listed = page[page.index(words) :].split("</p>")[0]
    assert all(
        f"<code>{event}</code>" in listed
        for event in ("booking.created", "booking.cancelled", "booking.rescheduled", "waitlist.offered")
    )
