"""Text messages (SMS) to people: what each one says (short, in their language, in at most two parts), how many
parts a text takes, and its sending through a Twilio-compatible Messages API."""

from __future__ import annotations

import ssl
import unicodedata
from collections.abc import Callable
from functools import cache
from urllib.parse import unquote, urlsplit, urlunsplit

import httpx

from booking.contacts import e164
from booking.model import ticket_label
from booking.outbox import CANCELLED, CREATED, NOT_DRAWN, OFFERED, REMINDER, RESCHEDULED
from web import i18n
from web.i18n import N_, local_time, ngettext, short_date, short_when, shown_name
from web.i18n import gettext as _
from web.links import public_url

from .told import Told
from .webhooks import Undelivered

MAX_PARTS = 2  # every text fits in two parts: the name and the venue's are shortened when it would not
SMS_TIMEOUT = 30  # seconds, for the provider's answer
# GSM 03.38: the default alphabet (a septet each) and its extension table (an escape and a septet: two each).
GSM7 = (
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
GSM7_EXTENDED = "\f^{}\\[~]|€"
FULL_WIDTH = ("。", "：", "，", "；")  # punctuation that carries its own space
# (septets or UTF-16 units alone in one part, per part of a longer text)
GSM7_SIZES, UCS2_SIZES = (160, 153), (70, 67)
SAYS = {
    CREATED: N_("%(venue)s: %(name)s, you are booked for %(when)s."),
    RESCHEDULED: N_("%(venue)s: %(name)s, your booking has moved to %(when)s."),
    CANCELLED: N_("%(venue)s: %(name)s, your booking for %(when)s is cancelled."),
    REMINDER: N_("%(venue)s: %(name)s, a reminder: you are booked for %(when)s."),
    OFFERED: N_("%(venue)s: %(name)s, a place is free for %(when)s and held for you until %(until)s."),
    NOT_DRAWN: N_("%(venue)s: %(name)s, you were not drawn for %(day)s."),
}
DRAWN = N_("%(venue)s: %(name)s, you were drawn and are booked for %(when)s.")
WAITING = N_("%(venue)s: %(name)s, you were not drawn; you are number %(position)s on the waitlist for %(when)s.")


class Refused(Undelivered):
    """The provider refused the message for good (a 4xx answer other than 429): it is not tried again."""


def is_gsm7(text: str) -> bool:
    """Whether the text can be sent in the GSM 7-bit alphabet (with its extension table)."""
    return all(c in GSM7 or c in GSM7_EXTENDED for c in text)


def segments(text: str) -> int:
    """How many parts a text takes: GSM-7 when it can be written so (160 septets alone, 153 per part; ^{}\\[~]|€
    and form feed take two), else UCS-2 (70 UTF-16 units alone, 67 per part; a character outside the BMP takes
    two). A character is never split between parts."""
    if is_gsm7(text):
        sizes, (alone, each) = [2 if c in GSM7_EXTENDED else 1 for c in text], GSM7_SIZES
    else:
        sizes, (alone, each) = [2 if ord(c) > 0xFFFF else 1 for c in text], UCS2_SIZES
    if sum(sizes) <= alone:
        return 1
    parts, used = 1, 0
    for size in sizes:
        if used + size > each:
            parts, used = parts + 1, 0
        used += size
    return parts


def gsm7(text: str) -> str:
    """The text in the GSM-7 alphabet as near as it goes: a letter outside it by its base letter where that is in it
    (Zoë: Zoe), any other left out."""
    near = (c if is_gsm7(c) else unicodedata.normalize("NFKD", c)[0] for c in text)
    return " ".join("".join(c for c in near if is_gsm7(c)).split())


def fitted(say: Callable[[str, str], str], name: str, venue: str, nameless: str) -> str:
    """say(name, venue) in at most MAX_PARTS parts: when it is longer, words that are GSM-7 get the name and venue in
    GSM-7 too (twice the room; `nameless` for a name left with no letter), then the longer of the two is shortened
    a character at a time (marked: '.' in a GSM-7 text, '…' in another), down to a letter of the name and three of
    the venue's."""
    text = say(name, venue)
    if segments(text) <= MAX_PARTS:
        return text
    if is_gsm7(say("", "")) and not is_gsm7(text):
        name, venue = gsm7(name) or nameless, gsm7(venue) or venue
        text = say(name, venue)
    mark = "." if is_gsm7(text) else "…"
    short_name, short_venue = name, venue
    while segments(text) > MAX_PARTS and (len(short_name) > 1 or len(short_venue) > 3):
        if len(short_name) > 1 and (len(short_name) >= len(short_venue) or len(short_venue) <= 3):
            short_name = short_name[:-1].rstrip()
        else:
            short_venue = short_venue[:-1].rstrip()
        text = say(
            short_name + mark if short_name != name else name, short_venue + mark if short_venue != venue else venue
        )
    return text


def text(told: Told) -> str:
    """What the text for `told` says, in its holder's language, in at most MAX_PARTS parts (with a public address
    of a usual length: see docs/operating.md); needs an app context (its link)."""
    with i18n.use(told.locale if told.locale in i18n.LOCALES else i18n.DEFAULT):
        wording, values, more = _words(told)
        return fitted(
            lambda name, venue: joined([_(wording, name=name, venue=venue, **values), *more]),
            told.name,
            shown_name(told.venue),
            _("Hello"),
        )


def joined(sentences: list[str]) -> str:
    """Sentences one after another: a space between them, none after a full-width stop (Chinese)."""
    return "".join(s if not i or sentences[i - 1].endswith(FULL_WIDTH) else " " + s for i, s in enumerate(sentences))


def _words(told: Told) -> tuple[str, dict, list[str]]:
    """The wording, its values, and what follows it (details, the link) for `told`, in the current locale."""
    zone = told.venue.timezone
    when = told.slot and short_when(told.slot.starts_at, zone)
    if told.event == NOT_DRAWN:
        link = _("Your entry: %(link)s", link=_link("draws.entry", told.entry))
        waiting = told.outcome.waiting
        if waiting and waiting.status == "waiting" and told.outcome.position:
            return WAITING, dict(when=when, position=told.outcome.position), [link]
        return SAYS[NOT_DRAWN], dict(day=short_date(told.draw.local_date)), [link]
    if told.event == OFFERED:
        until = local_time(told.offer.offered_until, zone)
        link = _("Take it up: %(link)s", link=_link("waitlist.entry", told.offer))
        return SAYS[OFFERED], dict(when=when, until=until), [link]
    if told.event == CANCELLED:  # nothing left to manage: no link (as in the e-mail)
        return SAYS[CANCELLED], dict(when=when), []
    booking, venue = told.booking, told.venue
    if venue.gives_tickets and booking.ticket:
        ticket = ticket_label(venue.ticket_letter(told.slot.resource_id), booking.ticket)
        detail = _("Ticket %(ticket)s.", ticket=ticket)
    else:
        detail = ngettext("%(num)s person.", "%(num)s people.", booking.party_size)
    wording = DRAWN if told.event == CREATED and told.entry else SAYS[told.event]
    return wording, dict(when=when), [detail, _("See or cancel: %(link)s", link=_link("public.booking", booking))]


def _link(endpoint: str, held) -> str:
    """The holder's own page of a booking, waitlist or draw entry: with its secret."""
    return public_url(endpoint, reference=held.reference, token=held.cancel_token)


def recipient(told: Told) -> str | None:
    """The holder's phone number in E.164, placed with the venue's country; None: no number to text."""
    return e164(told.contact, told.venue.country)


@cache
def tls() -> ssl.SSLContext:
    """The system's trust store, loaded once (a context per message would load it each time)."""
    return ssl.create_default_context()


async def send(to: str, body: str, url: str, sender: str) -> str:
    """POST the text to the provider's <url>/Messages.json (form fields To, From, Body; HTTP basic auth with the
    URL's user and password): the sid it answers 201 with. Raises Undelivered for a 429 or a 5xx (tried again
    later) and Refused for another answer (the provider's error kept)."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError("an SMS URL is https://ACCOUNT:TOKEN@host/…/Accounts/ACCOUNT")
    netloc = parts.hostname if ":" not in parts.hostname else f"[{parts.hostname}]"
    base = urlunsplit((parts.scheme, netloc + (f":{parts.port}" if parts.port else ""), parts.path.rstrip("/"), "", ""))
    auth = (unquote(parts.username or ""), unquote(parts.password or ""))
    async with httpx.AsyncClient(timeout=SMS_TIMEOUT, verify=tls()) as http:
        answer = await http.post(f"{base}/Messages.json", data={"To": to, "From": sender, "Body": body}, auth=auth)
    if answer.status_code == 429 or answer.status_code >= 500:
        raise Undelivered(f"HTTP {answer.status_code}")
    if not 200 <= answer.status_code < 300:
        raise Refused(f"HTTP {answer.status_code}: {_said(answer)}")
    return str(_json(answer).get("sid", ""))  # taken: never sent again, with a sid or without


def _json(answer: httpx.Response) -> dict:
    try:
        found = answer.json()
    except ValueError:
        return {}
    return found if isinstance(found, dict) else {}


def _said(answer: httpx.Response) -> str:
    """The provider's reason for a refusal: its JSON's code and message (Twilio's), else the start of its body."""
    found = _json(answer)
    if "message" in found:
        return " ".join(str(found[k]) for k in ("code", "message") if found.get(k) is not None)
    return answer.text[:200]
