"""Links that leave the site are absolute and work; the ids given to calendars and mail clients never change."""

from __future__ import annotations

import logging
import re
from datetime import UTC, datetime

import icalendar
import pytest

from app import create_app
from delivery import mail
from tests.support.helpers import text
from web.links import listen_url, this_machine

WARNING = "SLOTCAST_PUBLIC_URL is not set"


@pytest.mark.parametrize(
    "bind, tls, url",
    [
        ("127.0.0.1:8000", False, "http://127.0.0.1:8000"),
        ("[::1]:8443", True, "https://[::1]:8443"),
        ("book.example.org:443", True, "https://book.example.org"),
        ("localhost:80", False, "http://localhost"),
        ("unix:/run/slotcast.sock", False, None),
        ("fd://3", False, None),
    ],
)
def test_the_address_a_bind_is_reached_at(bind, tls, url):
    assert listen_url(bind, tls) == url


@pytest.mark.parametrize("bind", ["0.0.0.0:8000", "[::]:8000", ":8000"])
def test_a_wildcard_bind_is_reached_at_this_machines_address(bind):
    url = listen_url(bind, False)
    assert url == f"http://{this_machine()}:8000" and "0.0.0.0" not in url and "[::]" not in url


async def test_links_are_on_the_listening_address_without_a_public_one(app, client, store, service, venue, slot):
    app.config["LISTEN_URL"] = "http://192.0.2.7:8123"  # as `python app.py` sets it (serve())
    booking, slot = await service.book(venue.resource("tables"), slot.id, "Ana", "ana@example.org", 1)
    link = f"http://192.0.2.7:8123/bookings/{booking.reference}?token={booking.cancel_token}"
    page = await text(
        await client.get(
            f"/bookings/{booking.reference}?token={booking.cancel_token}", headers={"Host": "evil.example"}
        )
    )
    assert f'value="{link}"' in page and "evil.example" not in page
    ics = await (
        await client.get(f"/bookings/{booking.reference}/calendar.ics?token={booking.cancel_token}")
    ).get_data()
    assert icalendar.Calendar.from_ical(ics).walk("VEVENT")[0]["URL"] == link
    async with app.app_context():
        message = await mail.compose(
            mail.CREATED, booking, slot, venue, venue.resource("tables"), locale="en", sender="bookings@example.org"
        )
    assert link in message.get_body(("plain",)).get_content()
    app.config["PUBLIC_URL"] = "https://book.example.org"  # the public address wins once set
    page = await text(await client.get(f"/bookings/{booking.reference}?token={booking.cancel_token}"))
    assert f'value="https://book.example.org/bookings/{booking.reference}?token={booking.cancel_token}"' in page


async def test_setting_the_public_address_later_changes_no_uid_or_message_id(app, client, service, venue, slot):
    booking, slot = await service.book(venue.resource("tables"), slot.id, "Ana", "ana@example.org", 1)
    path = f"/bookings/{booking.reference}/calendar.ics?token={booking.cancel_token}"

    async def ids() -> tuple[str, str]:
        event = icalendar.Calendar.from_ical(await (await client.get(path)).get_data()).walk("VEVENT")[0]
        async with app.app_context():
            message = await mail.compose(
                mail.CREATED, booking, slot, venue, venue.resource("tables"), locale="en", sender="bookings@example.org"
            )
        return event["UID"], message["Message-ID"].split("@")[1]

    before = await ids()
    app.config["PUBLIC_URL"] = "https://book.example.org"
    assert await ids() == before
    assert re.fullmatch(rf"{booking.reference}@[0-9a-f]{{16}}\.slotcast", before[0])


@pytest.mark.parametrize(
    "config, webhook, warned",
    [
        ({"SMTP_URL": "smtp://127.0.0.1:1", "MAIL_FROM": "b@example.org"}, False, "e-mail"),
        ({}, True, "webhooks"),
        ({}, False, None),  # nothing leaves the site
        (
            {"SMTP_URL": "smtp://127.0.0.1:1", "MAIL_FROM": "b@example.org", "PUBLIC_URL": "https://b.example"},
            True,
            None,
        ),
        ({"SMTP_URL": "smtp://127.0.0.1:1", "MAIL_FROM": "b@example.org", "DEMO": True}, False, None),
    ],
)
async def test_the_server_warns_at_start_when_what_it_sends_links_nowhere(tmp_path, caplog, config, webhook, warned):
    settings = {"DATABASE_URL": f"sqlite:///{tmp_path}/w.db", "SECRET_KEY": "t", **config}
    if webhook:  # an endpoint registered before this start
        app = create_app({"DATABASE_URL": settings["DATABASE_URL"], "SECRET_KEY": "t"})
        async with app.test_app():
            store = app.extensions["slotcast"].store
            venue_id = await store.add_venue("v", "V", "barber", "UTC")
            await store.add_webhook(venue_id, "https://hooks.example.org/in", "s" * 16, datetime.now(UTC))
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="slotcast"):
        async with create_app(settings).test_app():
            pass
    said = [r.getMessage() for r in caplog.records if r.name == "slotcast" and WARNING in r.getMessage()]
    if warned is None:
        assert said == []
    else:
        [line] = said
        assert f"sends {warned}: links that leave the site point at http://localhost." in line
