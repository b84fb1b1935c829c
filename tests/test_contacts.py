"""Contacts: one rule for what is an e-mail address, used both to queue a mail and to send it."""

from __future__ import annotations

import re
import unicodedata
from datetime import UTC, datetime, time, timedelta

import jsonschema_rs
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from booking.contacts import CONTACT_PATTERN, email_address
from booking.model import OpeningRule, local_today
from booking.outbox import Notices
from booking.store import open_store
from booking.validation import contact_problem
from delivery.mail import recipient

NOW = datetime.now(UTC)


@pytest.mark.parametrize("contact", ["ann@example.com", " Ann@Bücher.example "])
def test_an_e_mail_address_is_one(contact):
    address = email_address(contact)
    assert address is not None and address.domain.isascii()
    assert recipient(contact, "Ann").display_name == "Ann"


@pytest.mark.parametrize("contact", ['"ann"@example.com', "ann(note)@example.com", "+86 138 0013 8000", "ann@"])
def test_what_mail_cannot_reach_is_not_an_e_mail_address(contact):
    assert email_address(contact) is None
    assert recipient(contact) is None


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
async def store(request, tmp_path):
    url = f"sqlite:///{tmp_path}/c.db" if request.param == "sqlite" else request.getfixturevalue("pg_url")
    store = open_store(url, tmp_path, notices=Notices(mail=True))
    await store.open()
    yield store
    await store.close()


async def test_a_booking_queues_mail_only_for_a_contact_mail_can_reach(store):
    venue_id = await store.add_venue("v", "Venue", "restaurant", "UTC")
    rid = await store.add_resource(venue_id, "r", "Room", [OpeningRule(d, time(9), time(12), 60, 10) for d in range(7)])
    await store.extend_slots(NOW)
    slot = (await store.slots_for_day(rid, local_today("UTC") + timedelta(days=2)))[0]  # its reminder still to come
    await store.book(slot.id, "Ann", "ann(note)@example.com", 1, NOW)
    assert [m for m in await store.outbox() if m.kind == "email"] == []
    await store.book(slot.id, "Bo", "bo@example.com", 1, NOW)
    assert sorted(m.event for m in await store.outbox() if m.kind == "email") == ["booking.created", "booking.reminder"]


# Whatever a contact is made of: the shapes' characters, what strip() drops, controls, format characters, letters of
# several scripts.
PIECES = "0123456789+() .-@aZé中ж\t\x85\u2000\u3000\x00\x1f\u200b\u200d\ufeff"
SCHEMA_PATTERN = jsonschema_rs.validator_for({"type": "string", "pattern": CONTACT_PATTERN})


@settings(max_examples=200, deadline=None, database=None)  # no .hypothesis/ in the repo
@given(st.text(PIECES, max_size=30) | st.sampled_from(["+44 20 7946 0000", " a@b.cn ", "(0) 1234-5", "+8613800138000"]))
def test_every_contact_the_rules_accept_matches_the_contracts_pattern(contact):
    """The API's contract documents CONTACT_PATTERN: it refuses nothing the rules accept, in Python and in the
    JSON Schema validator's own regex engine alike."""
    matches = re.fullmatch(CONTACT_PATTERN, contact) is not None
    assert SCHEMA_PATTERN.is_valid(contact) == matches
    if contact_problem(contact) is None:
        assert matches
    if any(unicodedata.category(c) in ("Cc", "Cf") and c != "\u200d" for c in contact.strip()):
        assert not matches  # what the rules never accept, the pattern refuses too
