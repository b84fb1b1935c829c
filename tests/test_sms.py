"""Text messages (SMS): the parts a text takes, what each kind says in both languages (two parts at most), and their
delivery through the outbox to a real Twilio-compatible endpoint (tests.support.sms_provider) over HTTP."""

from __future__ import annotations

import asyncio
import email
from dataclasses import replace
from datetime import UTC, date, datetime, time, timedelta
from email import policy
from zoneinfo import ZoneInfo

import pytest

from app import create_app
from booking.clock import ManualClock
from booking.draw import Draw, DrawEntry, Outcome
from booking.model import NAME_MAX, Booking, OpeningRule, Resource, Slot, Venue, WaitlistEntry, local_today
from booking.outbox import CANCELLED, CREATED, NOT_DRAWN, OFFERED, REMINDER, RESCHEDULED
from delivery import sms
from delivery.sender import Sender
from delivery.told import Told
from tests.support.receiver import Inbox, smtp_server
from tests.support.sms_provider import TOKEN as PROVIDER_TOKEN
from tests.support.sms_provider import MessagesApi

BASE = "https://book.example.org"
TOKEN = "Tk0123456789abcdefghij_-"  # as long as every secret (token_urlsafe(18)): 24 characters

# -- the parts a text takes


@pytest.mark.parametrize(
    ("text", "parts"),
    [
        ("", 1),
        ("a" * 160, 1),
        ("a" * 161, 2),
        ("a" * 306, 2),
        ("a" * 307, 3),
        ("€" * 80, 1),  # an extension character takes two septets
        ("€" * 81, 2),
        ("a" + "€" * 76, 1),  # 153 septets, but alone in one part (160)
        ("a" * 152 + "€" + "a" * 7, 2),  # 161 septets: the € is not split, so 152 + 9
        ("a" * 152 + "€" + "a" * 152, 3),  # 152 | € + 151 | 1
        ("@£$¥èéùìòÇØøÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ!¤¡ÄÖÑÜ§¿äöñüà", 1),  # the GSM alphabet's own letters
        ("海" * 70, 1),
        ("海" * 71, 2),
        ("海" * 134, 2),
        ("海" * 135, 3),
        ("a" * 69 + "ë", 1),  # one letter outside GSM-7: the whole text is UCS-2
        ("a" * 70 + "ë", 2),
        ("🙂" * 35, 1),  # outside the BMP: two UTF-16 units each
        ("🙂" * 36, 2),
        ("a" * 66 + "🙂" + "a" * 66, 3),  # 134 units, but the pair is not split: 66 | 🙂 + 65 | 1
    ],
)
def test_segments(text, parts):
    assert sms.segments(text) == parts


# -- what each kind says


CLINIC = Venue(
    1,
    "harbour-clinic",
    "Harbour Clinic",
    "clinic",
    "Asia/Shanghai",
    (Resource(5, 1, "dr-li", "Dr Li", name_zh="李医生"),),
    name_zh="海港诊所",
    country="CN",
)
BISTRO = Venue(2, "test-bistro", "Test Bistro", "restaurant", "Europe/London", (Resource(6, 2, "tables", "Tables"),))
START = datetime(2030, 6, 3, 1, 0, tzinfo=UTC)  # Monday 09:00 in Shanghai, 02:00 in London
SLOT = Slot(9, 5, START, START + timedelta(hours=1), date(2030, 6, 3), 5, 1)
BOOKING = Booking(1, "K7QX2M9P", 9, "Zhang Wei", "138 0013 8000", 1, "confirmed", START, cancel_token=TOKEN, ticket=7)
HOLD = datetime(2030, 6, 2, 4, 10, tzinfo=UTC)  # 12:10 in Shanghai, 05:10 in London
OFFER = WaitlistEntry(2, "W4RT8KQZ", 9, "Zhang Wei", "138 0013 8000", 1, "offered", START, TOKEN, HOLD)
DRAW = Draw(3, 5, date(2030, 6, 3), "00" * 32, "ab" * 32, "drawn", 12, 12, START - timedelta(days=2))
ENTRY = DrawEntry(4, 3, 12, "D3NT9YXA", "Zhang Wei", "138 0013 8000", 1, 9, "none", START, cancel_token=TOKEN)
WAITING = replace(OFFER, status="waiting", offered_until=None)


def told(kind: str, locale: str, venue: Venue = CLINIC, name: str = "Zhang Wei", **more) -> Told:
    """A message of `kind` about a booking at `venue` (its slot in the venue's first resource), as the sender reads it."""
    slot = replace(SLOT, resource_id=venue.resources[0].id)
    booking = replace(BOOKING, name=name, locale=locale)
    if kind == OFFERED:
        return Told(OFFERED, name, OFFER.contact, locale, venue, slot, offer=OFFER)
    if kind in (NOT_DRAWN, "waitlisted"):
        outcome = Outcome(slot=slot, waiting=WAITING, position=3) if kind == "waitlisted" else Outcome()
        entry = replace(ENTRY, status="waitlisted" if kind == "waitlisted" else "none")
        return Told(NOT_DRAWN, name, ENTRY.contact, locale, venue, outcome.slot, None, None, entry, DRAW, outcome)
    return Told(kind, name, booking.contact, locale, venue, slot, booking, **more)


EVERY_KIND = [CREATED, "drawn", RESCHEDULED, CANCELLED, REMINDER, OFFERED, NOT_DRAWN, "waitlisted"]


def text_of(kind: str, locale: str, venue: Venue = CLINIC, name: str = "Zhang Wei") -> str:
    """The text of a kind ('drawn': a draw's winner's confirmation; 'waitlisted': not drawn, left waiting)."""
    if kind == "drawn":
        return sms.text(told(CREATED, locale, venue, name, entry=ENTRY))
    return sms.text(told(kind, locale, venue, name))


@pytest.fixture(scope="module")
def linking():
    """An app that is never started, for its links (on BASE)."""
    return create_app({"PUBLIC_URL": BASE, "SECRET_KEY": "test", "TESTING": True})


BOOKED = f"{BASE}/bookings/K7QX2M9P?token={TOKEN}"
WAITLIST = f"{BASE}/waitlist/W4RT8KQZ?token={TOKEN}"
DRAWN = f"{BASE}/draws/D3NT9YXA?token={TOKEN}"
AT_THE_CLINIC = {  # (English, its parts), (Chinese, its parts)
    CREATED: (
        (f"Harbour Clinic: Zhang Wei, you are booked for Mon 3 Jun 09:00. Ticket A007. See or cancel: {BOOKED}", 2),
        (f"海港诊所：Zhang Wei，您已预约 6月3日周一 09:00。号码 A007。查看或取消：{BOOKED}", 2),
    ),
    "drawn": (
        (
            "Harbour Clinic: Zhang Wei, you were drawn and are booked for Mon 3 Jun 09:00. Ticket A007."
            f" See or cancel: {BOOKED}",
            2,
        ),
        (f"海港诊所：Zhang Wei，您已中签，预约 6月3日周一 09:00。号码 A007。查看或取消：{BOOKED}", 2),
    ),
    RESCHEDULED: (
        (
            f"Harbour Clinic: Zhang Wei, your booking has moved to Mon 3 Jun 09:00. Ticket A007. See or cancel: {BOOKED}",
            2,
        ),
        (f"海港诊所：Zhang Wei，您的预约已改到 6月3日周一 09:00。号码 A007。查看或取消：{BOOKED}", 2),
    ),
    CANCELLED: (  # nothing left to manage: no link, as in the e-mail
        ("Harbour Clinic: Zhang Wei, your booking for Mon 3 Jun 09:00 is cancelled.", 1),
        ("海港诊所：Zhang Wei，您 6月3日周一 09:00 的预约已取消。", 1),
    ),
    REMINDER: (
        (
            "Harbour Clinic: Zhang Wei, a reminder: you are booked for Mon 3 Jun 09:00. Ticket A007."
            f" See or cancel: {BOOKED}",
            2,
        ),
        (f"海港诊所：Zhang Wei，提醒您：您已预约 6月3日周一 09:00。号码 A007。查看或取消：{BOOKED}", 2),
    ),
    OFFERED: (  # held until 12:10 in Shanghai (04:10 UTC)
        (
            "Harbour Clinic: Zhang Wei, a place is free for Mon 3 Jun 09:00 and held for you until 12:10."
            f" Take it up: {WAITLIST}",
            2,
        ),
        (f"海港诊所：Zhang Wei，6月3日周一 09:00 有空位，为您保留到 12:10。确认预约：{WAITLIST}", 2),
    ),
    NOT_DRAWN: (
        (f"Harbour Clinic: Zhang Wei, you were not drawn for Mon 3 Jun. Your entry: {DRAWN}", 1),
        (f"海港诊所：Zhang Wei，6月3日周一 的抽签您未中签。查看报名：{DRAWN}", 2),
    ),
    "waitlisted": (
        (
            "Harbour Clinic: Zhang Wei, you were not drawn; you are number 3 on the waitlist for Mon 3 Jun 09:00."
            f" Your entry: {DRAWN}",
            2,
        ),
        (f"海港诊所：Zhang Wei，您未中签，现为 6月3日周一 09:00 的候补第 3 位。查看报名：{DRAWN}", 2),
    ),
}


@pytest.mark.parametrize("kind", EVERY_KIND)
async def test_every_kind_in_both_languages_with_its_parts(linking, kind):
    async with linking.app_context():
        for locale, (expected, parts) in zip(("en", "zh_CN"), AT_THE_CLINIC[kind], strict=True):
            said = text_of(kind, locale)
            assert (said, sms.segments(said)) == (expected, parts)
            at_a_restaurant = text_of(kind, locale, BISTRO)  # its party size where a clinic has its ticket
            assert sms.segments(at_a_restaurant) <= 2
            if kind in (CREATED, "drawn", RESCHEDULED, REMINDER):
                assert ("1 person." if locale == "en" else "1 人。") in at_a_restaurant


LONG_NAME = ("Maximilian Alexander Featherstonehaugh-Montgomery of Glenfiddich, Kincardine and the Western Isles " * 2)[
    :NAME_MAX
].strip()  # as long as a name may be
LONG_VENUE = replace(
    CLINIC,
    name="The Royal Harbour Hospital Outpatient Clinic, Dispensary and Pharmacy of Traditional and Western Medicine",
    name_zh="皇家海港医院门诊部与中西医结合药房",
)


@pytest.mark.parametrize("locale", ["en", "zh_CN"])
@pytest.mark.parametrize("kind", EVERY_KIND)
async def test_a_long_name_and_venue_are_shortened_to_fit_in_two_parts(linking, kind, locale):
    async with linking.app_context():
        for name in (LONG_NAME, "Zoë " + LONG_NAME[:80], "张" * NAME_MAX):
            said = text_of(kind, locale, LONG_VENUE, name)
            venue = LONG_VENUE.name if locale == "en" else LONG_VENUE.name_zh
            assert said.startswith(venue[:3])
            if kind == CANCELLED:  # no link: short enough, or nearly
                assert sms.segments(said) <= 2
                continue
            assert sms.segments(said) == 2 and name not in said  # cut just enough
            assert said.endswith(f"?token={TOKEN}")  # the link whole
            if locale == "en":  # the name in GSM-7 (twice the room), or a greeting when it has no letter there
                assert sms.is_gsm7(said)
                assert ("Zoe Max" if name.startswith("Zoë") else "Hello" if name[0] == "张" else "Max") in said
            else:
                assert name[0] in said and "…" in said


def test_a_text_that_cannot_fit_is_cut_no_further_than_a_letter_and_three():
    said = sms.fitted(lambda name, venue: f"{venue}: {name} " + "x" * 400, "Ana Silva", "Test Bistro", "Hello")
    assert said.startswith("Tes.: A. x") and sms.segments(said) == 3  # sent so: better long than not at all


# -- through the outbox, to a real Messages endpoint over HTTP


FROM = "+15005550006"


@pytest.fixture
def provider():
    found = MessagesApi()
    yield found
    found.close()


@pytest.fixture
def inbox():
    found = Inbox()
    with smtp_server(found) as server:
        found.port = server.port
        yield found


@pytest.fixture
def app_config(provider, inbox):
    return {
        "SMS_URL": provider.url,
        "SMS_FROM": FROM,
        "SMTP_URL": f"smtp://127.0.0.1:{inbox.port}",
        "MAIL_FROM": "Slotcast <bookings@example.org>",
        "PUBLIC_URL": BASE,
        "OUTBOX_RETRY_SECONDS": 0.2,
    }


@pytest.fixture
async def harbour(store):
    """A clinic in Shanghai (its phone numbers: China's) with Chinese names; Dr Li's two sessions of 2 places in
    three days' time."""
    venue_id = await store.add_venue(
        "harbour-clinic", "Harbour Clinic", "clinic", "Asia/Shanghai", name_zh="海港诊所", country="CN"
    )
    rules = [OpeningRule(d, time(9), time(11), 60, 2) for d in range(7)]
    await store.add_resource(venue_id, "dr-li", "Dr Li", rules, max_party=2, horizon_days=5, name_zh="李医生")
    await store.extend_slots(datetime.now(UTC))
    venue = await store.venue("harbour-clinic")
    day = local_today(venue.timezone) + timedelta(days=3)
    return venue, await store.slots_for_day(venue.resource("dr-li").id, day)


async def api(client, path: str, body: dict, status: int = 200, **headers) -> dict:
    response = await client.post(f"/api/v1/{path}", json=body, headers=headers)
    assert response.status_code == status, await response.get_data()
    return await response.get_json()


async def book(client, slot_id: int, contact: str, name: str = "张伟", party_size: int = 1, **headers) -> dict:
    body = {"slot_id": slot_id, "name": name, "contact": contact, "party_size": party_size}
    return await api(client, "bookings", body, 201, **headers)


async def settled(store, count: int) -> list:
    """The outbox once `count` messages are in it and none is under way or due now (a reminder waits for its day)."""
    for _ in range(500):
        messages = await store.outbox()
        soon = datetime.now(UTC) + timedelta(seconds=1)
        if len(messages) >= count and not [
            m for m in messages if m.state == "pending" and (m.attempts or m.due_at < soon)
        ]:
            return messages
        await asyncio.sleep(0.02)
    raise AssertionError(f"not settled: {messages}")


def fits(message: dict) -> dict:
    """The message, once checked: from the configured sender, in two parts at most."""
    assert message["From"] == FROM and sms.segments(message["Body"]) <= 2, message
    return message


async def test_a_booking_by_phone_is_texted_moved_and_cancelled_in_its_language(
    client, store, harbour, provider, inbox
):
    venue, (nine, ten) = harbour
    made = await book(client, nine.id, "138 0013 8000", **{"Accept-Language": "zh-CN"})  # a number of China's
    link = f"{BASE}/bookings/{made['reference']}?token={made['cancel_token']}"
    [confirmed] = await provider.wait_for(1)
    assert fits(confirmed)["To"] == "+8613800138000"  # E.164, placed with the venue's country
    assert confirmed["Body"].startswith("海港诊所：张伟，您已预约 ") and confirmed["Body"].endswith(
        f"查看或取消：{link}"
    )
    assert "09:00。号码 A001。" in confirmed["Body"]  # Shanghai's time, the clinic's ticket
    await api(
        client, f"bookings/{made['reference']}/reschedule", {"slot_id": ten.id, "cancel_token": made["cancel_token"]}
    )
    await provider.wait_for(2)  # a move cancelled before its text goes out is not texted (the cancellation is)
    await api(client, f"bookings/{made['reference']}/cancel", {"cancel_token": made["cancel_token"]})
    *_, moved, cancelled = await provider.wait_for(3)
    assert "您的预约已改到" in fits(moved)["Body"] and "10:00" in moved["Body"] and moved["Body"].endswith(link)
    assert fits(cancelled)["Body"].endswith("10:00 的预约已取消。")  # nothing left to manage: no link
    messages = await settled(store, 5)
    assert {m.kind for m in messages} == {"sms"} and inbox.envelopes == []  # a phone number gets no e-mail
    states = sorted((m.event, m.state) for m in messages)
    assert states == [
        ("booking.cancelled", "sent"),
        ("booking.created", "sent"),
        ("booking.reminder", "pending"),  # each due a day before its time: the sender skips them then
        ("booking.reminder", "pending"),
        ("booking.rescheduled", "sent"),
    ]


async def test_the_reminder_is_texted_when_it_falls_due(app, client, store, harbour, provider):
    venue, (nine, _ten) = harbour
    made = await book(client, nine.id, "+44 7911 123456", name="Ana Silva")  # with its own country code
    await provider.wait_for(1)
    [reminder] = [m for m in await settled(store, 2) if m.event == "booking.reminder"]
    assert reminder.due_at == nine.starts_at - timedelta(hours=24)
    await Sender(app, store, ManualClock(reminder.due_at)).send_due()  # the app's sender, a day later
    [_confirmed, reminded] = await provider.wait_for(2)
    assert fits(reminded)["To"] == "+447911123456"
    assert reminded["Body"].startswith("Harbour Clinic: Ana Silva, a reminder: you are booked for ")
    assert reminded["Body"].endswith(f"/bookings/{made['reference']}?token={made['cancel_token']}")


async def test_an_email_address_gets_mail_and_no_text(client, store, harbour, provider, inbox):
    venue, (nine, _ten) = harbour
    await book(client, nine.id, "ana@example.org", name="Ana Silva")
    messages = await settled(store, 2)
    assert {m.kind for m in messages} == {"email"} and len(inbox.envelopes) == 1, [
        (m.event, m.state, m.attempts, m.last_error) for m in messages
    ]
    assert provider.requests == []


async def test_a_waitlist_offer_is_texted_and_mailed_with_the_holds_end_in_the_venues_time(
    client, store, harbour, provider, inbox
):
    venue, (nine, _ten) = harbour
    made = await book(client, nine.id, "138 0013 8000", party_size=2)  # the session's 2 places
    await provider.wait_for(1)  # its confirmation (one cancelled before it goes out is not sent)
    waiting = {"slot_id": nine.id, "party_size": 1}
    by_phone = await api(
        client, "waitlist", {**waiting, "name": "李娜", "contact": "139 1234 5678"}, 201, **{"Accept-Language": "zh-CN"}
    )
    by_mail = await api(client, "waitlist", {**waiting, "name": "Ana Silva", "contact": "ana@example.org"}, 201)
    await api(client, f"bookings/{made['reference']}/cancel", {"cancel_token": made["cancel_token"]})
    texts = await provider.wait_for(3)
    [offer] = [m for m in texts if m["To"] == "+8613912345678"]  # the one who waits by phone: a text only
    entry, _slot, _position = await store.waitlist_entry(by_phone["reference"])
    until = entry.offered_until.astimezone(ZoneInfo("Asia/Shanghai")).strftime("%H:%M")
    link = f"{BASE}/waitlist/{by_phone['reference']}?token={by_phone['cancel_token']}"
    assert (
        fits(offer)["Body"].startswith("海港诊所：李娜，")
        and f"有空位，为您保留到 {until}。确认预约：{link}" in offer["Body"]
    )
    for _ in range(500):  # the one who waits by e-mail: a mail only
        if inbox.envelopes:
            break
        await asyncio.sleep(0.02)
    [envelope] = inbox.envelopes
    mailed = email.message_from_bytes(envelope.original_content, policy=policy.default)
    assert envelope.rcpt_tos == ["ana@example.org"] and mailed["Subject"].startswith(
        "A place is free: Harbour Clinic, "
    )
    text = mailed.get_body(("plain",)).get_content()
    assert f"It is held for you until {until};" in text
    assert f"{BASE}/waitlist/{by_mail['reference']}?token={by_mail['cancel_token']}" in text
    assert list(mailed.iter_attachments()) == []  # not booked yet: no calendar file
    kinds = {(m.kind, m.event) for m in await settled(store, 5) if m.event == "waitlist.offered"}
    assert kinds == {("sms", "waitlist.offered"), ("email", "waitlist.offered")}


@pytest.mark.parametrize("answers", [(429,), (500, 503)])
async def test_a_busy_or_failing_provider_is_tried_again_with_the_same_text(app, client, store, harbour, answers):
    flaky = MessagesApi(*answers)
    app.config["SMS_URL"] = flaky.url
    try:
        venue, (nine, _ten) = harbour
        await book(client, nine.id, "138 0013 8000")
        [taken] = await flaky.wait_for(1)
        assert len(flaky.requests) == len(answers) + 1
        assert {form["Body"] for _headers, form in flaky.requests} == {taken["Body"]}
        [texted] = [m for m in await settled(store, 2) if m.event == "booking.created"]
        assert (texted.state, texted.attempts, texted.last_error) == ("sent", len(answers) + 1, None)
    finally:
        flaky.close()


async def test_a_refusal_fails_the_message_with_the_providers_error(app, admin, store, harbour):
    refusing = MessagesApi(400)
    app.config["SMS_URL"] = refusing.url
    try:
        venue, (nine, _ten) = harbour
        await book(admin, nine.id, "138 0013 8000")
        [refused] = [m for m in await settled(store, 2) if m.event == "booking.created"]
        assert (refused.state, refused.attempts, refused.last_error) == ("failed", 1, "HTTP 400: 30400 Told to")
        await asyncio.sleep(0.3)  # the retry interval is 0.2 s: nothing more is tried
        assert len(refusing.requests) == 1 and refusing.messages == []
        page = (await (await admin.get("/admin/webhooks/")).get_data()).decode()  # staff see it, and why
        assert "<td>text message</td>" in page and "HTTP 400: 30400 Told to" in page
    finally:
        refusing.close()


async def test_the_provider_is_called_with_the_urls_credentials(provider):
    assert await sms.send("+8613800138000", "Hi", provider.url, FROM)
    wrong = provider.url.replace(PROVIDER_TOKEN, "not-the-token")
    with pytest.raises(sms.Refused, match="HTTP 401: 20003 Authenticate"):
        await sms.send("+8613800138000", "Hi", wrong, FROM)
    headers, form = provider.requests[0]
    assert form == {"To": "+8613800138000", "From": FROM, "Body": "Hi"}
    assert PROVIDER_TOKEN not in str(headers.get("Host")) and len(provider.messages) == 1


async def test_a_draw_texts_each_entry_its_result(app, store, venue, provider):
    """Two by phone for the one place of a session: the winner is told it is booked, the other that it waits (its
    place in line); one for a session closed since is told it was not drawn; each in their language."""
    entering, instant = datetime(2030, 6, 2, 4, 40, tzinfo=UTC), datetime(2030, 6, 2, 8, 0, tzinfo=UTC)
    day = date(2030, 6, 3)  # released a day before, at 08:00 UTC, by draw
    rules = [OpeningRule(d, time(9), time(11), 60, 1) for d in range(7)]
    resource_id = await store.add_resource(
        venue.id,
        "expert",
        "Expert",
        rules,
        max_party=2,
        horizon_days=7,
        release_days_before=1,
        release_time=time(8),
        release_mode="draw",
        now=entering,
    )
    session, closed = await store.slots_for_day(resource_id, day)
    draw = await store.open_draw(resource_id, day, entering)
    people = {
        "+8613800138001": ("张伟", 1, "zh_CN"),
        "+447911123456": ("Ana Silva", 1, "en"),
        "+447400123456": ("Bo Later", 1, "en"),
    }
    entries = {
        number: (
            await store.enter_draw(
                resource_id,
                day,
                name,
                number,
                party,
                ((closed if name == "Bo Later" else session).id,),
                entering,
                locale,
            )
        )[0]
        for number, (name, party, locale) in people.items()
    }
    await store.set_slot_closed(closed.id, True, entering)
    await store.run_draw(draw.id, instant + timedelta(seconds=1))
    await Sender(app, store, ManualClock(instant + timedelta(seconds=2))).send_due()  # the app's sender, then
    told = {m["To"]: fits(m)["Body"] for m in await provider.wait_for(3)}
    drawn = {number: (await store.draw_entry(e.reference))[0].status for number, e in entries.items()}
    assert sorted(drawn.values()) == ["booked", "none", "waitlisted"] and drawn["+447400123456"] == "none"
    assert told["+447400123456"].startswith("Test Bistro: Bo Later, you were not drawn for Mon 3 Jun. Your entry: ")
    for number, status in drawn.items():
        link = f"{BASE}/draws/{entries[number].reference}?token={entries[number].cancel_token}"
        if status == "booked":
            booking, _slot = await store.booking_by_id(
                (await store.draw_entry(entries[number].reference))[0].booking_id
            )
            link = f"{BASE}/bookings/{booking.reference}?token={booking.cancel_token}"
        words = {
            ("booked", "en"): "Test Bistro: Ana Silva, you were drawn and are booked for Mon 3 Jun 09:00.",
            ("booked", "zh_CN"): "Test Bistro：张伟，您已中签，预约 6月3日周一 09:00。",
            (
                "waitlisted",
                "en",
            ): "Test Bistro: Ana Silva, you were not drawn; you are number 1 on the waitlist for Mon 3 Jun 09:00.",
            ("waitlisted", "zh_CN"): "Test Bistro：张伟，您未中签，现为 6月3日周一 09:00 的候补第 1 位。",
            ("none", "en"): "Test Bistro: Bo Later, you were not drawn for Mon 3 Jun.",
        }[status, people[number][2]]
        assert told[number].startswith(words) and told[number].endswith(link)
    deliveries = {m.delivery for m in await store.outbox()}
    assert await store.erase_person("+447400123456") == 1  # and the text of its result leaves the outbox with it
    assert deliveries - {m.delivery for m in await store.outbox()} == {f"sms_draw_{entries['+447400123456'].reference}"}
