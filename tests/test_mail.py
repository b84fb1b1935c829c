"""E-mail to a booking's holder: each event's message in both languages, and its delivery to a real SMTP server."""

from __future__ import annotations

import email
import re
import ssl
from datetime import UTC, datetime, time, timedelta
from email import policy
from zoneinfo import ZoneInfo

import aiosmtplib
import icalendar
import pytest
from aiosmtpd.smtp import AuthResult
from babel.dates import format_date

from booking.model import OpeningRule, local_today
from delivery import mail
from tests.support.helpers import CONTACT, self_signed
from tests.support.live_server import free_port
from tests.support.receiver import Inbox, smtp_server

BASE = "https://book.example.org"
SENDER = "Slotcast <bookings@example.org>"
EMAIL = "ana.silva@example.org"
EVENTS = (mail.CREATED, mail.RESCHEDULED, mail.CANCELLED, mail.REMINDER)
MESSAGE_ID = re.compile(r"<[^<>@\s]+@[0-9a-f]{16}\.slotcast>")  # the site's name, whatever its public address


@pytest.fixture
def app_config():
    return {"PUBLIC_URL": BASE, "MAIL_FROM": SENDER}


@pytest.fixture
async def bistro(store, service, slot):
    """Ana's booking of 2 places at the test bistro tomorrow 08:00 (UTC), and someone else's in the same slot."""
    venue = await store.venue("test-bistro")
    resource = venue.resource("tables")
    await service.book(resource, slot.id, "Bo Other", "bo.other@example.net", 1)
    booking, slot = await service.book(resource, slot.id, "Ana Silva", EMAIL, 2)
    return booking, slot, venue, resource


@pytest.fixture
async def harbour_clinic(store, service, clock):
    """张伟's ticket at a clinic in Shanghai with Chinese names, tomorrow 09:00 there."""
    venue_id = await store.add_venue(
        "harbour-clinic", "Harbour Clinic", "clinic", "Asia/Shanghai", address="1 Harbour Road", name_zh="海港诊所"
    )
    rules = [OpeningRule(d, time(8), time(17), 60, 5) for d in range(7)]
    await store.add_resource(venue_id, "dr-li", "Dr Li", rules, name_zh="李医生")
    await store.extend_slots(clock.now())
    venue = await store.venue("harbour-clinic")
    resource = venue.resource("dr-li")
    day = local_today(venue.timezone) + timedelta(days=1)
    slot = next(
        s
        for s in await store.slots_for_day(resource.id, day)
        if s.starts_at.astimezone(ZoneInfo(venue.timezone)).hour == 9
    )
    booking, slot = await service.book(resource, slot.id, "张伟", "zhang.wei@example.cn", 1)
    return booking, slot, venue, resource


async def compose(app, event: str, found: tuple, locale: str = "en"):
    async with app.app_context():
        return await mail.compose(event, *found, locale=locale, sender=SENDER)


def manage_link(booking) -> str:
    return f"{BASE}/bookings/{booking.reference}?token={booking.cancel_token}"


def parts(message) -> tuple[str, str, list]:
    """The text part, the HTML part and the attachments."""
    text = message.get_body(("plain",)).get_content()
    html = message.get_body(("html",)).get_content()
    return text, html, list(message.iter_attachments())


def ics_event(attachment) -> icalendar.Event:
    """The one event of an attached .ics."""
    [event] = icalendar.Calendar.from_ical(attachment.get_payload(decode=True)).walk("VEVENT")
    return event


# -- compose


@pytest.mark.parametrize("locale", ["en", "zh_CN"])
@pytest.mark.parametrize("event", EVENTS)
async def test_every_event_is_text_and_html_with_the_ics(app, service, bistro, event, locale):
    booking, slot, venue, resource = bistro
    if event == mail.CANCELLED:
        booking, slot = await service.cancel(booking.reference, booking.cancel_token)
    message = await compose(app, event, (booking, slot, venue, resource), locale)
    shape = ["multipart/mixed", "multipart/alternative", "text/plain", "text/html", "text/calendar"]
    assert [part.get_content_type() for part in message.walk()] == shape
    assert message["From"] == SENDER and message["To"] == f"Ana Silva <{EMAIL}>"
    assert MESSAGE_ID.fullmatch(message["Message-ID"])
    assert abs(message["Date"].datetime - datetime.now(UTC)) < timedelta(minutes=1)
    assert message["Content-Language"] == locale.replace("_", "-")
    assert message["Auto-Submitted"] == "auto-generated"
    assert "Test Bistro" in message["Subject"] and message["Subject"].endswith(" 08:00")
    text, html, attachments = parts(message)
    assert booking.reference in text and booking.reference in html
    assert f'<html lang="{locale.replace("_", "-")}">' in html
    # Semantic HTML and nothing fetched: no image, style or script, and the one link is the booking's own.
    assert not re.search(r"<(img|style|script|link|iframe)\b|\sstyle=", html)
    links = re.findall(r'(?:href|src)="([^"]*)"', html)
    [ics] = attachments
    assert ics.get_content_type() == "text/calendar" and ics.get_filename() == f"booking-{booking.reference}.ics"
    assert ics_event(ics).start == slot.starts_at and ics_event(ics)["UID"].startswith(f"{booking.reference}@")
    assert ics_event(ics)["ORGANIZER"] == "mailto:bookings@example.org"  # RFC 5546 wants one, to cancel too
    if event == mail.CANCELLED:  # the file takes the event off the calendar; the token is in nothing sent
        assert links == [] and booking.cancel_token not in message.as_string()
        assert ics.get_param("method") == "CANCEL" and ics_event(ics)["STATUS"] == "CANCELLED"
        return
    assert links == [manage_link(booking)] and manage_link(booking) in text
    assert ics.get_param("method") == "PUBLISH" and ics_event(ics)["STATUS"] == "CONFIRMED"


async def test_a_new_booking_in_english(app, bistro):
    booking, slot, venue, resource = bistro
    message = await compose(app, mail.CREATED, bistro)
    day = slot.local_date
    assert message["Subject"] == f"Booked: Test Bistro, {day:%a} {day.day} {day:%b} 08:00"
    text, html, [ics] = parts(message)
    assert text.splitlines()[:4] == [
        "Your table is reserved",
        "",
        "Test Bistro · Tables",
        f"{format_date(day, 'full', locale='en')} 08:00–09:00",
    ]
    assert f"Reference: {booking.reference}\nPlaces: 2\n" in text
    assert "Ticket" not in text  # a table has no ticket to show, as on the confirmation page
    assert f"See or cancel this booking: {manage_link(booking)}" in text
    assert "<h1>Your table is reserved</h1>" in html
    assert f"<dt>Reference</dt><dd>{booking.reference}</dd>" in html and "<dt>Places</dt><dd>2</dd>" in html
    assert f'<a href="{manage_link(booking)}">Your link to this booking</a>' in html
    assert f"See or cancel this booking: {manage_link(booking)}" in ics_event(ics)["DESCRIPTION"]
    # This one booking's data only: not the other booker's in the same slot.
    raw = message.as_string()
    assert "Bo Other" not in raw and "bo.other" not in raw


async def test_a_clinic_ticket_in_chinese(app, harbour_clinic):
    booking, slot, venue, resource = harbour_clinic
    message = await compose(app, mail.CREATED, harbour_clinic, "zh_CN")
    day = slot.local_date
    assert "海港诊所" in message["Subject"] and f"{day.month}月{day.day}日" in message["Subject"]
    assert message["Subject"].endswith(" 09:00")  # Shanghai's time, not UTC's
    assert message["To"].addresses[0].display_name == "张伟"
    text, html, [ics] = parts(message)
    assert text.splitlines()[:5] == [
        "挂号成功",
        "",
        "海港诊所 · 李医生",
        "1 Harbour Road",
        f"{format_date(day, 'full', locale='zh_CN')} 09:00–10:00",
    ]
    assert f"预约编号：{booking.reference}\n号码：A001\n名额：1\n" in text
    assert f"查看或取消此预约：{manage_link(booking)}" in text
    assert "<h1>挂号成功</h1>" in html and "<dt>号码</dt><dd>A001</dd>" in html and "<br>1 Harbour Road" in html
    event = ics_event(ics)
    assert event.start.tzinfo.key == "Asia/Shanghai" and event.start.hour == 9
    assert "预约编号" in event["DESCRIPTION"] and event["SUMMARY"] == "海港诊所 · 李医生"


async def test_a_move_sends_the_new_time_under_the_sites_calendar_uid(app, client, store, service, bistro):
    booking, slot, venue, resource = bistro
    later = (await store.slots_for_day(resource.id, slot.local_date))[2]
    booking, moved = await service.reschedule(booking.reference, booking.cancel_token, later.id)
    message = await compose(app, mail.RESCHEDULED, (booking, moved, venue, resource))
    assert message["Subject"].startswith("Moved: Test Bistro, ") and message["Subject"].endswith(" 10:00")
    text, html, [ics] = parts(message)
    assert text.startswith("Your booking has a new time\n") and "10:00–11:00" in text and "08:00" not in text
    response = await client.get(f"/bookings/{booking.reference}/calendar.ics?token={booking.cancel_token}")
    [site_event] = icalendar.Calendar.from_ical(await response.get_data()).walk("VEVENT")
    assert ics_event(ics)["UID"] == site_event["UID"]  # a calendar updates the event instead of adding another
    assert ics_event(ics)["SEQUENCE"] == site_event["SEQUENCE"] == 1  # ... as this is its newer version
    assert ics_event(ics).start == moved.starts_at == site_event.start


async def test_a_cancellation_and_a_reminder(app, service, bistro):
    booking, slot, venue, resource = bistro
    reminder = await compose(app, mail.REMINDER, bistro)
    assert reminder["Subject"].startswith("Reminder: Test Bistro, ")
    assert parts(reminder)[0].startswith("A reminder of your booking\n")
    cancelled = await service.cancel(booking.reference, booking.cancel_token)
    for locale, heading, sentence in [
        ("en", "Booking cancelled", f"Booking {booking.reference} is cancelled"),
        ("zh_CN", "预约已取消", f"预约 {booking.reference} 已取消"),
    ]:
        message = await compose(app, mail.CANCELLED, (*cancelled, venue, resource), locale)
        text, html, _attachments = parts(message)
        assert text.startswith(f"{heading}\n{sentence}") and f"<h1>{heading}</h1>" in html
        assert "Test Bistro · Tables" in text


async def test_an_internationalised_domain_is_addressed_in_ascii(app, store, service, slot):
    venue = await store.venue("test-bistro")
    booking, slot = await service.book(venue.resource("tables"), slot.id, "Ana", "ana@例子.中国", 1)
    message = await compose(app, mail.CREATED, (booking, slot, venue, venue.resource("tables")))
    assert message["To"].addresses[0].addr_spec == "ana@xn--fsqu00a.xn--fiqs8s"


async def test_what_cannot_be_composed(app, store, service, bistro, slot):
    with pytest.raises(ValueError, match="no e-mail for the event"):
        await compose(app, "booking.paid", bistro)
    venue = await store.venue("test-bistro")
    by_phone = await service.book(venue.resource("tables"), slot.id, "Zhang Wei", CONTACT, 1)
    with pytest.raises(ValueError, match="has no e-mail address"):
        await compose(app, mail.CREATED, (*by_phone, venue, venue.resource("tables")))


@pytest.mark.parametrize(
    "contact, expected",
    [
        ("ana.silva@example.org", True),
        ("Ana.Silva@Example.ORG", True),
        (" ana@example.org ", True),
        ("ana@例子.中国", True),
        ("+86 138 0013 8000", False),
        ("020 7946 0000", False),
        ("", False),
        ("ana@example", False),  # booking.model's rule: a domain with a dot
        ("a,b@example.org", False),
        ("ana@example.org,evil.example", False),
        ('"a"@example.org', False),
        ("张伟@example.org", False),  # a non-ASCII mailbox needs SMTPUTF8, which servers need not offer
    ],
)
def test_is_email(contact, expected):
    assert mail.is_email(contact) is expected


# -- send, to a real SMTP server (aiosmtpd on a loopback port)


def received(inbox: Inbox):
    """The one message the server got, parsed."""
    [envelope] = inbox.envelopes
    return envelope, email.message_from_bytes(envelope.original_content, policy=policy.default)


async def test_send_delivers_the_message(app, bistro):
    booking, slot, venue, resource = bistro
    message = await compose(app, mail.CREATED, bistro, "zh_CN")
    inbox = Inbox()
    with smtp_server(inbox) as server:
        await mail.send(message, f"smtp://127.0.0.1:{server.port}")
    envelope, got = received(inbox)
    assert envelope.mail_from == "bookings@example.org" and envelope.rcpt_tos == [EMAIL]
    for header in ("Subject", "From", "To", "Message-ID", "Date"):
        assert got[header] == message[header]
    text, html, [ics] = parts(got)
    sent_text, sent_html, [sent_ics] = parts(message)
    assert [part.replace("\r\n", "\n") for part in (text, html)] == [sent_text, sent_html]  # CRLF on the wire
    assert ics.get_payload(decode=True) == sent_ics.get_payload(decode=True)
    assert b"\r\nDTSTART" in ics.get_payload(decode=True)  # the file's own CRLF lines, kept by base64
    assert ics_event(ics).start == slot.starts_at


@pytest.mark.parametrize("name", ["=?utf-8?q?Eve=0D=0ABcc=3A?=", "张伟 =?utf-8?b?QmNjOg==?="])
async def test_a_name_that_reads_as_an_encoded_word_is_sent_as_typed(app, store, service, slot, name):
    """An RFC 2047 encoded-word typed into a name stays its text in the To header, never a line break or a Bcc."""
    venue = await store.venue("test-bistro")
    booking, slot = await service.book(venue.resource("tables"), slot.id, name, EMAIL, 1)
    message = await compose(app, mail.CREATED, (booking, slot, venue, venue.resource("tables")))
    inbox = Inbox()
    with smtp_server(inbox) as server:
        await mail.send(message, f"smtp://127.0.0.1:{server.port}")
    envelope, got = received(inbox)
    assert got["To"].addresses[0].display_name == name and got["To"].addresses[0].addr_spec == EMAIL
    assert "Bcc" not in got and envelope.rcpt_tos == [EMAIL]
    [to_line] = [line for line in envelope.original_content.split(b"\r\n") if line.startswith(b"To:")]
    assert name.encode() not in to_line  # written encoded: a reader decodes it once, to the text typed


@pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS")
async def test_send_logs_in_with_the_urls_percent_decoded_user_and_password(app, bistro):
    def authenticator(server, session, envelope, mechanism, auth_data):
        right = (auth_data.login, auth_data.password) == (b"ana@example.org", b"p@ss:w/rd")
        return AuthResult(success=right, handled=False)  # handled=False: the server answers 235 or 535

    message = await compose(app, mail.CREATED, bistro)
    inbox = Inbox()
    with smtp_server(inbox, auth_required=True, auth_require_tls=False, authenticator=authenticator) as server:
        with pytest.raises(aiosmtplib.SMTPSenderRefused):  # the server wants a login first
            await mail.send(message, f"smtp://127.0.0.1:{server.port}")
        with pytest.raises(aiosmtplib.SMTPAuthenticationError):
            await mail.send(message, f"smtp://ana%40example.org:wrong@127.0.0.1:{server.port}")
        await mail.send(message, f"smtp://ana%40example.org:p%40ss%3Aw%2Frd@127.0.0.1:{server.port}")
    assert received(inbox)[1]["Message-ID"] == message["Message-ID"]


@pytest.fixture
def certificate(tmp_path) -> tuple[str, ssl.SSLContext]:
    """A self-signed certificate for 127.0.0.1, and a server's TLS context with it."""
    cert, key = self_signed(tmp_path, "127.0.0.1", "IP:127.0.0.1")
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    return str(cert), context


async def test_send_uses_starttls_when_offered_and_checks_the_certificate(app, bistro, certificate, monkeypatch):
    cert, context = certificate
    message = await compose(app, mail.CREATED, bistro)
    inbox = Inbox()
    with smtp_server(inbox, tls_context=context, require_starttls=True) as server:
        with pytest.raises(ssl.SSLCertVerificationError):  # a certificate nobody vouches for
            await mail.send(message, f"smtp://127.0.0.1:{server.port}")
        monkeypatch.setenv("SSL_CERT_FILE", cert)  # trusted from here on (ssl's default context reads it)
        await mail.send(message, f"smtp://127.0.0.1:{server.port}")
    assert received(inbox)[1]["Message-ID"] == message["Message-ID"]


async def test_smtps_is_tls_from_the_start(app, bistro, certificate, monkeypatch):
    cert, context = certificate
    monkeypatch.setenv("SSL_CERT_FILE", cert)
    message = await compose(app, mail.CREATED, bistro)
    inbox = Inbox()
    with smtp_server(inbox, ssl_context=context) as server:  # a server that speaks only TLS
        await mail.send(message, f"smtps://127.0.0.1:{server.port}")
    assert received(inbox)[1]["Message-ID"] == message["Message-ID"]


async def test_send_raises_when_the_message_is_not_taken(app, bistro):
    class Refusing(Inbox):
        async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
            return "550 5.1.1 No such mailbox"

    message = await compose(app, mail.CREATED, bistro)
    with smtp_server(Refusing()) as server:
        with pytest.raises(aiosmtplib.SMTPRecipientsRefused):
            await mail.send(message, f"smtp://127.0.0.1:{server.port}")
    with pytest.raises(aiosmtplib.SMTPConnectError):  # nothing listens there
        await mail.send(message, f"smtp://127.0.0.1:{free_port()}")
    for url in ("http://127.0.0.1:25", "smtp://", "127.0.0.1:25"):
        with pytest.raises(ValueError):
            await mail.send(message, url)


def test_every_mailed_event_has_its_words():
    from booking.outbox import MAILED

    assert set(mail.WORDING) == set(MAILED)
