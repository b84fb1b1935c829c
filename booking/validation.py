"""What a form or a JSON body may hold: field -> problem code, worded by the views."""

from __future__ import annotations

import re
from datetime import time
from zoneinfo import available_timezones

from .contacts import (
    clean_text,
    known_country,
    looks_like_contact,
    looks_like_phone,
    mixes_scripts,
    unreadable,
    valid_phone,
)
from .model import ADDRESS_MAX, CONTACT_MAX, KINDS, NAME_MAX

SLUG = re.compile(r"[a-z0-9][a-z0-9-]{0,39}")  # a venue's or a resource's name in URLs
# Whole-number settings: field -> (lowest, highest).
BOUNDS = {
    "per_person_limit": (0, 50),
    "max_party": (1, 100),
    "horizon_days": (1, 365),
    "min_notice_minutes": (0, 10080),
    "release_days_before": (0, 365),
    "draw_entry_hours": (1, 720),
}
RELEASE_MODES = ("race", "draw")  # first come, first served at the release; or a draw (抽签) at it


def booking_problems(name: str, contact: str, party_size: object, max_party: int, country: str = "") -> dict[str, str]:
    """Field -> problem code for a booking request at a venue of `country` (its phone numbers'); empty when it
    is acceptable."""
    problems = {}
    name = clean_text(name)
    if not name:
        problems["name"] = "required"
    elif len(name) > NAME_MAX:
        problems["name"] = "too_long"
    elif unreadable(name):
        problems["name"] = "invalid"
    if problem := contact_problem(contact, country):
        problems["contact"] = problem
    if not isinstance(party_size, int) or isinstance(party_size, bool):
        problems["party_size"] = "not_a_number"
    elif party_size < 1:
        problems["party_size"] = "too_small"
    elif party_size > max_party:
        problems["party_size"] = "too_large"
    return problems


def contact_problem(contact: str, country: str = "") -> str | None:
    """'required', 'too_long', 'invalid' (neither an e-mail address nor a phone number), 'invalid_phone' (a phone
    number that is no valid one where it is placed), 'mixed_scripts' (an e-mail address mixing look-alike
    alphabets), or None when the contact is fine."""
    contact = clean_text(contact)
    if not contact:
        return "required"
    if len(contact) > CONTACT_MAX:
        return "too_long"
    if not looks_like_contact(contact):
        return "invalid"
    if "@" in contact:
        local, _, domain = contact.rpartition("@")
        return "mixed_scripts" if any(mixes_scripts(part) for part in (local, *domain.split("."))) else None
    return None if valid_phone(contact, country) else "invalid_phone"


def detail_problems(address: str, phone: str, name_zh: str, country: str = "") -> dict[str, str]:
    """Field -> problem code for a venue's address, phone, Chinese name and country (each may be empty)."""
    problems = {}
    for key, text, most in (("address", address, ADDRESS_MAX), ("name_zh", name_zh, NAME_MAX)):
        if problem := text_problem(text, most):
            problems[key] = problem
    phone = clean_text(phone)
    if phone and not looks_like_phone(phone):
        problems["phone"] = "invalid"
    if country and not known_country(country):
        problems["country"] = "invalid"
    return problems


def text_problem(text: str, most: int) -> str | None:
    """'too_long' or 'invalid' (control characters, nothing readable) for optional plain text; None when fine."""
    text = clean_text(text)
    if len(text) > most:
        return "too_long"
    return "invalid" if text and unreadable(text) else None


def parse_party_size(raw: object) -> int | None:
    """An int from a form or JSON value, or None when it is not a whole number."""
    if isinstance(raw, bool):
        return None
    if isinstance(raw, int):
        return raw
    if isinstance(raw, str) and re.fullmatch(r"-?[0-9]{1,6}", raw.strip()):
        return int(raw.strip())
    return None


def venue_problems(
    slug: str,
    name: str,
    kind: str,
    timezone: str,
    per_person_limit: int | None,
    address: str = "",
    phone: str = "",
    name_zh: str = "",
    country: str = "",
) -> dict[str, str]:
    """Field -> problem code for a venue as the admin form gives it."""
    problems = detail_problems(address, phone, name_zh, country) | name_problems(slug, name)
    problems |= number_problems({"per_person_limit": per_person_limit})
    if kind not in KINDS:
        problems["kind"] = "invalid"
    if timezone not in available_timezones():
        problems["timezone"] = "invalid"
    return problems


def resource_problems(
    slug: str,
    name: str,
    name_zh: str,
    numbers: dict[str, int | None],
    release_days: int | None,
    release_time: time | None,
    release_days_given: bool,
    release_mode: str = "race",
) -> dict[str, str]:
    """Field -> problem code for a resource's settings; a release needs both its days before and its time, or neither,
    and is a race or a draw."""
    problems = name_problems(slug, name) | number_problems(numbers)
    if release_mode not in RELEASE_MODES:
        problems["release_mode"] = "invalid"
    if problem := text_problem(name_zh, NAME_MAX):
        problems["name_zh"] = problem
    if release_days_given and (release_days is None or number_problems({"release_days_before": release_days})):
        problems["release_days_before"] = "out_of_range"
    elif (release_days is None) != (release_time is None):
        problems["release_time"] = "incomplete"
    return problems


def name_problems(slug: str, name: str) -> dict[str, str]:
    """A slug and a name, as venues and resources have them."""
    problems = {}
    if not SLUG.fullmatch(slug):
        problems["slug"] = "invalid"
    if not name:
        problems["name"] = "required"
    elif len(name) > NAME_MAX:
        problems["name"] = "too_long"
    return problems


def number_problems(numbers: dict[str, int | None]) -> dict[str, str]:
    """'out_of_range' for each whole-number setting that is missing or outside its BOUNDS."""
    return {
        field: "out_of_range"
        for field, value in numbers.items()
        if value is None or not BOUNDS[field][0] <= value <= BOUNDS[field][1]
    }
