"""Per-person rules through the API and the pages: one person however the contact is written, a number that is no
valid one refused with a message in the visitor's language, and /bookings/find comparing the same way."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta

import pytest

from booking.model import OpeningRule, local_today
from tests.support.helpers import act, csrf_token, text

HOURS = [OpeningRule(d, time(8), time(12), 60, 5) for d in range(7)]
INVALID_PHONE = "That is not a valid phone number: check its digits, and its country code if you wrote one."
INVALID_PHONE_ZH = "这不是有效的电话号码：请检查号码，如填写了国家或地区代码，也请一并检查。"


async def venue_with_slots(store, slug: str, country: str, timezone: str, limit: int = 1):
    """A venue of `country` allowing one person `limit` bookings a day; its first four slots the day after next."""
    venue_id = await store.add_venue(slug, slug.title(), "clinic", timezone, per_person_limit=limit, country=country)
    rid = await store.add_resource(venue_id, "desk", "Desk", HOURS, horizon_days=5)
    await store.extend_slots(datetime.now(UTC))
    return await store.slots_for_day(rid, local_today(timezone) + timedelta(days=2))


@pytest.fixture
async def clinic_slots(store):
    """A clinic in Shanghai (phone numbers of CN), one booking a day per person."""
    return await venue_with_slots(store, "shanghai-clinic", "CN", "Asia/Shanghai")


async def api_book(client, slot_id, contact, language="en"):
    return await client.post(
        "/api/v1/bookings",
        json={"slot_id": slot_id, "name": "Zhang Wei", "contact": contact},
        headers={"Accept-Language": language},
    )


async def test_a_phone_number_in_any_spelling_is_one_person(client, clinic_slots):
    assert (await api_book(client, clinic_slots[0].id, "13800138000")).status_code == 201
    for n, spelling in enumerate(("+8613800138000", "008613800138000", "013800138000", "+86 138 0013 8000")):
        refused = await api_book(client, clinic_slots[1 + n % 3].id, spelling)
        assert refused.status_code == 409, spelling
        assert (await refused.get_json())["code"] == "limit_reached"


@pytest.mark.parametrize("language, message", [("en", INVALID_PHONE), ("zh-CN", INVALID_PHONE_ZH)])
@pytest.mark.parametrize("spelling", ["0013800138000", "+13800138000", "12345"])
async def test_a_number_that_is_no_valid_one_is_422_saying_so(client, store, clinic_slots, spelling, language, message):
    refused = await api_book(client, clinic_slots[0].id, spelling, language)
    body = await refused.get_json()
    assert refused.status_code == 422 and body["code"] == "invalid"
    assert body["fields"] == {"contact": message}
    assert (await store.slot(clinic_slots[0].id)).booked == 0


async def test_the_booking_form_says_so_too_in_both_languages(app, client, clinic_slots):
    slot_id = clinic_slots[0].id
    for language, message in (("en", INVALID_PHONE), ("zh_CN", INVALID_PHONE_ZH)):
        visitor = app.test_client()
        await visitor.get(f"/?lang={language}")
        form = {
            "csrf_token": await csrf_token(visitor, f"/slots/{slot_id}/book"),
            "name": "王小明",
            "contact": "+13800138000",
            "party_size": "1",
        }
        refused = await visitor.post(f"/slots/{slot_id}/book", form=form)
        assert refused.status_code == 422 and message in await text(refused)


async def test_the_waitlist_refuses_it_as_well(client, clinic_slots):
    refused = await client.post(
        "/api/v1/waitlist", json={"slot_id": clinic_slots[0].id, "name": "Zhang Wei", "contact": "+13800138000"}
    )
    assert refused.status_code == 422 and (await refused.get_json())["fields"] == {"contact": INVALID_PHONE}


async def test_an_e_mail_address_in_any_spelling_is_one_person(client, clinic_slots):
    assert (await api_book(client, clinic_slots[0].id, "alice.smith@gmail.com")).status_code == 201
    for n, spelling in enumerate(
        ("Alice.Smith+2@gmail.com", "alicesmith@googlemail.com", "ａｌｉｃｅ.smith@gmail.com", "ALICE.SMITH@GMAIL.COM")
    ):
        refused = await api_book(client, clinic_slots[1 + n % 3].id, spelling)
        assert refused.status_code == 409, spelling


@pytest.mark.parametrize(
    "language, message",
    [
        ("en", "That e-mail address mixes letters of different alphabets"),
        ("zh-CN", "该电子邮箱混用了不同文字的字母"),
    ],
)
@pytest.mark.parametrize("contact", ["\u0430lice@example.com", "alice@ex\u0430mple.com", "p\u03b1ypal@example.com"])
async def test_an_e_mail_address_mixing_look_alike_alphabets_is_refused(
    client, clinic_slots, contact, language, message
):
    refused = await api_book(client, clinic_slots[0].id, contact, language)
    assert refused.status_code == 422 and message in (await refused.get_json())["fields"]["contact"]


async def test_one_alphabet_is_fine_in_any_script(client, clinic_slots):
    for n, contact in enumerate(("王小明@例子.中国", "иван@пример.рф", "wang王@example.com")):
        assert (await api_book(client, clinic_slots[n].id, contact)).status_code == 201, contact


async def test_waiting_for_a_full_slot_takes_the_days_allowance(client, store, clinic_slots):
    """The barber's case: a place in slot A's line and a booking in slot B would be two."""
    full = clinic_slots[0]
    for n in range(full.capacity):
        assert (await api_book(client, full.id, f"p{n}@example.com")).status_code == 201
    joined = await client.post(
        "/api/v1/waitlist", json={"slot_id": full.id, "name": "Zhang Wei", "contact": "13800138000"}
    )
    assert joined.status_code == 201
    refused = await api_book(client, clinic_slots[1].id, "+86 138 0013 8000")
    assert refused.status_code == 409 and (await refused.get_json())["code"] == "limit_reached"


# -- /bookings/find


async def find(client, reference, contact):
    form = {"csrf_token": await csrf_token(client, "/bookings/find"), "reference": reference, "contact": contact}
    return await client.post("/bookings/find", form=form)


@pytest.mark.parametrize("typed", ["442079460123", "020 7946 0123", "0044 20 7946 0123", "+44 (0)20 7946 0123"])
async def test_find_compares_phone_numbers_as_the_venue_does(client, store, typed):
    slots = await venue_with_slots(store, "london-clinic", "GB", "Europe/London")
    made = await (await api_book(client, slots[0].id, "+44 20 7946 0123")).get_json()
    found = await find(client, made["reference"], typed)
    assert found.status_code == 303
    assert found.headers["Location"] == f"/bookings/{made['reference']}?token={made['cancel_token']}"
    assert (await find(client, made["reference"], "020 7946 0124")).status_code == 404


async def test_find_compares_e_mail_addresses_as_the_venue_does(client, clinic_slots):
    made = await (await api_book(client, clinic_slots[0].id, "alice.smith@gmail.com")).get_json()
    assert (await find(client, made["reference"], "AliceSmith+x@googlemail.com")).status_code == 303


# -- the venue's country


async def test_staff_set_a_venues_country_and_a_blank_one_follows_the_time_zone(admin, store):
    form = {"slug": "east", "name": "East", "kind": "clinic", "timezone": "Asia/Shanghai"}
    assert (await act(admin, "/admin/venues/new", **form, country="")).status_code == 303
    assert (await store.venue("east")).country == "CN"
    edited = await act(admin, "/admin/venues/east/edit", **{**form, "timezone": "Asia/Hong_Kong"}, country="gb")
    assert edited.status_code == 303 and (await store.venue("east")).country == "GB"
    assert 'id="country" name="country" value="GB"' in await text(await admin.get("/admin/venues/east/edit"))
    refused = await act(admin, "/admin/venues/east/edit", **form, country="ZZ")
    assert refused.status_code == 422 and "Use a two-letter country code such as GB, CN or US." in await text(refused)
    assert (await store.venue("east")).country == "GB"


async def test_the_demo_venues_have_their_countries(tmp_path):
    from booking import demo
    from booking.store import open_store

    store = open_store(f"sqlite:///{tmp_path}/demo.db", tmp_path)
    await store.open()
    try:
        await demo.seed(store)
        assert {v.slug: v.country for v in await store.venues()} == {
            "harbour-kitchen": "GB",
            "riverside-clinic": "CN",
            "corner-barber": "US",
        }
    finally:
        await store.close()
