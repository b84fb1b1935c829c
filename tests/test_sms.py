"""Text messages (SMS): the parts a text takes, what each kind says in both languages (two parts at most), and their
delivery through the outbox to a real Twilio-compatible endpoint (tests.support.sms_provider) over HTTP."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime, timedelta

import pytest

from app import create_app
from booking.draw import Draw, DrawEntry, Outcome
from booking.model import NAME_MAX, Booking, Resource, Slot, Venue, WaitlistEntry
from booking.outbox import CANCELLED, CREATED, NOT_DRAWN, OFFERED, REMINDER, RESCHEDULED
from delivery import sms
from delivery.told import Told

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
