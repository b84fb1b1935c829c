"""People's names and contacts: as stored, as compared for per-person rules, and whether one is an e-mail address."""

from __future__ import annotations

import re
import unicodedata
from email.errors import HeaderParseError
from email.headerregistry import Address
from functools import cache
from importlib import resources

import phonenumbers


def clean_text(text: str) -> str:
    """A name or contact as stored: Unicode NFC, without surrounding space."""
    return unicodedata.normalize("NFC", text or "").strip()


ZERO_WIDTH_JOINER = "\u200d"  # keeps emoji sequences (families, flags of professions) whole
EMAIL = re.compile(r"[^@\s]{1,64}@[^@\s.]+(\.[^@\s.]+)+")
PHONE = re.compile(r"\+?[0-9(][0-9 ().-]{3,30}")
# The two shapes as a JSON Schema pattern (ECMA-262 and Python alike) for the API's contract: what str.strip() takes
# away around them spelled out, and no control or format character inside (unreadable() refuses those). Every
# contact the rules accept matches it (a phone number's 5 to 20 digits too); one that matches may still be refused (a
# phone number over 31 characters or no valid one, letters of scripts that do not mix, no letter or digit at all).
SPACE = r"\t-\r\x1c- \x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000"
INVISIBLE = r"\x00-\x1f\x7f-\x9f\xad\u200b\u200c\u200e\u200f\u202a-\u202e\u2060-\u2064\ufeff"
CONTACT_PATTERN = (
    rf"^[{SPACE}]*(?:[^@{SPACE}{INVISIBLE}]{{1,64}}@[^@.{SPACE}{INVISIBLE}]+(?:\.[^@.{SPACE}{INVISIBLE}]+)+"
    rf"|\+?(?:[0-9]|\([ ().-]*[0-9])[ ().-]*(?:[0-9][ ().-]*){{4,19}})[{SPACE}]*$"
)
GMAIL = ("gmail.com", "googlemail.com")  # one mailbox whatever the dots in its name
# Scripts that may share one name (Unicode TS 39, "highly restrictive"): Latin with Chinese, Japanese or Korean
# writing; any other mix (Latin and Cyrillic look-alikes) is refused.
SCRIPT_MIXES = ({"LATIN", "CJK", "HIRAGANA", "KATAKANA"}, {"LATIN", "CJK", "BOPOMOFO"}, {"LATIN", "CJK", "HANGUL"})


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


def contact_key(contact: str, country: str = "") -> str:
    """A contact as per-person rules compare it, at a venue whose phone numbers are of `country` (ISO 3166
    alpha-2; '' for none): an e-mail address as email_key, a phone number in E.164 — or its digits when it
    cannot be placed (no country code, and no country to place it in) or is no valid number."""
    contact = clean_text(contact)
    if "@" in contact:
        return email_key(contact)
    return e164(contact, country) or ("+" if contact.startswith("+") else "") + "".join(
        c for c in contact if c.isdigit()
    )


def email_key(contact: str) -> str:
    """An e-mail address as one mailbox: NFKC and case-folded, without a +tag, the domain in ASCII, and for
    Gmail without the dots it ignores."""
    text = unicodedata.normalize("NFKC", unicodedata.normalize("NFKC", contact).casefold()).strip()
    local, _, domain = text.rpartition("@")
    local, domain = local.split("+", 1)[0], ascii_domain(domain)
    if domain in GMAIL:
        local, domain = local.replace(".", ""), GMAIL[0]
    return f"{local}@{domain}"


def ascii_domain(domain: str) -> str:
    """A domain name in ASCII (IDNA), or as it is when it has none."""
    try:
        return domain.encode("idna").decode("ascii")
    except UnicodeError:
        return domain


def phone_number(text: str, country: str = "") -> phonenumbers.PhoneNumber | None:
    """The valid phone number `text` writes, read as a number of `country` unless it has its country code (+ or
    00); None when it is none, or cannot be placed (no country code and no country)."""
    text = clean_text(text)
    if not country and text.startswith("00"):  # the international prefix of most countries
        text = "+" + text[2:]
    if not (country or text.startswith("+")):
        return None
    try:
        number = phonenumbers.parse(text, country.upper() or None)
    except phonenumbers.NumberParseException:
        return None
    return number if phonenumbers.is_valid_number(number) else None


def e164(text: str, country: str = "") -> str | None:
    """The valid phone number `text` writes, in E.164 (+8613800138000), placed as phone_number places it; None when
    it is none."""
    number = phone_number(text, country)
    return number and phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def valid_phone(text: str, country: str = "") -> bool:
    """False for a phone number that can be placed (a country code, or a venue's country) and is no valid number;
    a number that cannot be placed has only its shape to go by (looks_like_phone)."""
    placed = bool(country) or clean_text(text).startswith(("+", "00"))
    return not placed or phone_number(text, country) is not None


def known_country(code: str) -> bool:
    """True for an ISO 3166 alpha-2 code whose phone numbers are known (e.g. CN, GB, US)."""
    return code.upper() in phonenumbers.SUPPORTED_REGIONS


@cache
def country_of_zone(timezone: str) -> str:
    """The country a time zone is in (Asia/Shanghai: CN), from the time zone database; '' when none is known."""
    try:
        table = resources.files("tzdata").joinpath("zoneinfo/zone.tab").read_text(encoding="utf-8")
    except (ModuleNotFoundError, OSError):
        return ""
    rows = (line.split("\t") for line in table.splitlines() if line and not line.startswith("#"))
    return next((row[0] for row in rows if len(row) > 2 and row[2] == timezone), "")


def mixes_scripts(text: str) -> bool:
    """True for letters of scripts that do not belong together (Latin with Cyrillic or Greek, …), after NFKC."""
    scripts = {script(c) for c in unicodedata.normalize("NFKC", text) if unicodedata.category(c).startswith("L")}
    return len(scripts) > 1 and not any(scripts <= mix for mix in SCRIPT_MIXES)


def script(letter: str) -> str:
    """A letter's script as its Unicode name begins: LATIN, CYRILLIC, CJK, HIRAGANA, …"""
    name = unicodedata.name(letter, "")
    if name.startswith(("KATAKANA-HIRAGANA", "IDEOGRAPHIC")):  # ー (both kana), 々 (Han)
        return "KATAKANA" if name.startswith("KATAKANA") else "CJK"
    return name.split(" ")[0]


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
