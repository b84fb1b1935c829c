"""What a form or a JSON body may hold: field -> problem code, worded by the views."""

from __future__ import annotations

import re

from .contacts import clean_text, looks_like_contact, looks_like_phone, unreadable
from .model import ADDRESS_MAX, CONTACT_MAX, NAME_MAX


def booking_problems(name: str, contact: str, party_size: object, max_party: int) -> dict[str, str]:
    """Field -> problem code for a booking request; empty when it is acceptable."""
    problems = {}
    name, contact = clean_text(name), clean_text(contact)
    if not name:
        problems["name"] = "required"
    elif len(name) > NAME_MAX:
        problems["name"] = "too_long"
    elif unreadable(name):
        problems["name"] = "invalid"
    if not contact:
        problems["contact"] = "required"
    elif len(contact) > CONTACT_MAX:
        problems["contact"] = "too_long"
    elif not looks_like_contact(contact):
        problems["contact"] = "invalid"
    if not isinstance(party_size, int) or isinstance(party_size, bool):
        problems["party_size"] = "not_a_number"
    elif party_size < 1:
        problems["party_size"] = "too_small"
    elif party_size > max_party:
        problems["party_size"] = "too_large"
    return problems


def venue_problems(address: str, phone: str, name_zh: str) -> dict[str, str]:
    """Field -> problem code for a venue's address, phone and Chinese name (each may be empty)."""
    problems = {}
    for key, text, most in (("address", address, ADDRESS_MAX), ("name_zh", name_zh, NAME_MAX)):
        if problem := text_problem(text, most):
            problems[key] = problem
    phone = clean_text(phone)
    if phone and not looks_like_phone(phone):
        problems["phone"] = "invalid"
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
