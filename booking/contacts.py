"""People's names and contacts: as stored, as compared for per-person rules, and whether one is an e-mail address."""

from __future__ import annotations

import re
import unicodedata
from email.errors import HeaderParseError
from email.headerregistry import Address


def clean_text(text: str) -> str:
    """A name or contact as stored: Unicode NFC, without surrounding space."""
    return unicodedata.normalize("NFC", text or "").strip()


ZERO_WIDTH_JOINER = "\u200d"  # keeps emoji sequences (families, flags of professions) whole
EMAIL = re.compile(r"[^@\s]{1,64}@[^@\s.]+(\.[^@\s.]+)+")
PHONE = re.compile(r"\+?[0-9(][0-9 ().-]{3,30}")


def unreadable(text: str) -> bool:
    """True for text with control or format characters (bidi overrides, zero-width spaces), or nothing visible."""
    if any(unicodedata.category(c) in ("Cc", "Cf", "Cs", "Co", "Cn") and c != ZERO_WIDTH_JOINER for c in text):
        return True
    return not any(unicodedata.category(c)[0] in "LNS" for c in text)


def looks_like_contact(contact: str) -> bool:
    """True for something shaped like an e-mail address or a phone number (5 to 20 digits)."""
    if unreadable(contact):
        return False
    if "@" in contact:
        return bool(EMAIL.fullmatch(contact))
    return looks_like_phone(contact)


def looks_like_phone(text: str) -> bool:
    """True for something shaped like a phone number: digits, spaces, ( ) . - and a leading +; 5 to 20 digits."""
    return bool(PHONE.fullmatch(text)) and 5 <= sum(c.isdigit() for c in text) <= 20


def contact_key(contact: str) -> str:
    """A contact as the per-person limit compares it: an e-mail address lower-cased, a phone number's digits."""
    contact = clean_text(contact)
    if "@" in contact:
        return contact.lower()
    return ("+" if contact.startswith("+") else "") + "".join(c for c in contact if c.isdigit())


def email_address(contact: str) -> Address | None:
    """The contact as the one e-mail address it names (its domain in ASCII), or None: it is not an e-mail address.
    The one rule for "does this contact get e-mail"."""
    contact = clean_text(contact)
    if "@" not in contact or not looks_like_contact(contact):
        return None
    try:
        parsed = Address(addr_spec=contact)
        if parsed.addr_spec != contact:  # '"a"@x.org' or 'a(note)@x.org': another address than the one typed
            return None
        return Address("", parsed.username, parsed.domain.encode("idna").decode("ascii"))
    except (ValueError, HeaderParseError):  # email's defects and the idna codec's errors are ValueErrors
        return None
