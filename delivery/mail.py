"""E-mail to a booking's holder: the message for a booking event (text, HTML and the .ics), and its sending by SMTP."""

from __future__ import annotations

import secrets
from email.header import Header
from email.headerregistry import Address, BaseHeader, UniqueAddressHeader
from email.message import EmailMessage
from email.utils import format_datetime
from urllib.parse import unquote, urlsplit

import aiosmtplib
from quart import render_template

from booking.contacts import clean_text, email_address
from booking.model import Booking, Resource, Slot, Venue, WaitlistEntry, ticket_label
from booking.outbox import CANCELLED, CREATED, OFFERED, REMINDER, RESCHEDULED
from web import i18n
from web.i18n import N_, local_time, short_when, shown_name
from web.i18n import gettext as _
from web.links import public_url, site
from web.runtime import now

from .calendar import calendar, method
from .told import Told

# Per event and venue kind (None: any other kind): the subject, and the first line as the confirmation page words it.
WORDING = {
    CREATED: {
        "restaurant": (N_("Booked: %(venue)s, %(when)s"), N_("Your table is reserved")),
        "clinic": (N_("Ticket booked: %(venue)s, %(when)s"), N_("Your ticket is booked")),  # 挂号
        None: (N_("Booked: %(venue)s, %(when)s"), N_("You are booked")),
    },
    RESCHEDULED: {None: (N_("Moved: %(venue)s, %(when)s"), N_("Your booking has a new time"))},
    CANCELLED: {None: (N_("Cancelled: %(venue)s, %(when)s"), N_("Booking cancelled"))},
    REMINDER: {None: (N_("Reminder: %(venue)s, %(when)s"), N_("A reminder of your booking"))},
    OFFERED: {None: (N_("A place is free: %(venue)s, %(when)s"), N_("A place is held for you"))},  # the waitlist's
}
SMTP_TIMEOUT = 30  # seconds, for the connection and for each command


def recipient(contact: str, name: str = "") -> Address | None:
    """The contact as the one address a To: header carries, named, or None: not an e-mail address."""
    address = email_address(contact)
    return address and Address(clean_text(name), address.username, address.domain)


class To(UniqueAddressHeader, BaseHeader):
    """A To header whose display names read as they were typed: one that is not plain ASCII is encoded from its
    literal text (RFC 2047). The e-mail package folds a name from its parse of `str(address)`, where a typed
    `=?utf-8?q?…?=` is decoded already, and writes that out as the encoded-word a mail reader decodes again."""

    def fold(self, *, policy) -> str:
        if all(a.display_name.isascii() and "=?" not in a.display_name for a in self.addresses):
            return super().fold(policy=policy)
        named = (
            f"{Header(a.display_name, 'utf-8', header_name=self.name).encode(linesep=policy.linesep)} <{a.addr_spec}>"
            if a.display_name
            else a.addr_spec
            for a in self.addresses
        )
        return f"{self.name}: {', '.join(named)}{policy.linesep}"


def is_email(contact: str) -> bool:
    """Whether a booking's contact is an e-mail address that compose() can send to."""
    return recipient(contact) is not None


async def compose(
    event: str, booking: Booking, slot: Slot, venue: Venue, resource: Resource, *, locale: str, sender: str
) -> EmailMessage:
    """The e-mail for `event` about this booking, in `locale`, with its calendar file (which cancels the event once
    the booking is cancelled); needs a running app's context."""
    if event not in WORDING or event == OFFERED:
        raise ValueError(f"no e-mail for the event {event!r} of a booking")
    to = recipient(booking.contact, booking.name)
    if to is None:
        raise ValueError(f"booking {booking.reference} has no e-mail address")
    with i18n.use(locale if locale in i18n.LOCALES else i18n.DEFAULT):
        link = public_url("public.booking", reference=booking.reference, token=booking.cancel_token)
        when = short_when(slot.starts_at, venue.timezone)
        by_kind = WORDING[event]
        wording, heading = by_kind.get(venue.kind, by_kind[None])
        subject = _(wording, venue=shown_name(venue), when=when)
        context = dict(
            subject=subject,
            heading=_(heading),
            booking=booking,
            slot=slot,
            venue=venue,
            resource=resource,
            cancelled=event == CANCELLED,
            link=None if event == CANCELLED else link,
            # a clinic's or a barber's ticket, as the confirmation page shows it (a table has none to show)
            ticket=venue.gives_tickets and ticket_label(venue.ticket_letter(slot.resource_id), booking.ticket),
        )
        text = await render_template("mail/booking.txt", **context)
        html = await render_template("mail/booking.html", **context)
        ics = calendar(booking, slot, venue, resource)
        language = i18n.html_lang()
    message = message_of(subject, sender, to, text, html)
    # The message becomes multipart/mixed: the alternative parts, then the file.
    message.add_attachment(
        ics,
        maintype="text",
        subtype="calendar",
        filename=f"booking-{booking.reference}.ics",
        params={"charset": "utf-8", "method": method(booking)},
    )
    message["Content-Language"] = language  # after the parts: making a multipart moves Content-* headers into them
    return message


async def compose_offer(
    offer: WaitlistEntry, slot: Slot, venue: Venue, resource: Resource, *, locale: str, sender: str
) -> EmailMessage:
    """The e-mail telling a waitlist entry that a place is held for it, until when (the venue's time) and where
    to take it up, in `locale`; needs a running app's context."""
    to = recipient(offer.contact, offer.name)
    if to is None:
        raise ValueError(f"waitlist entry {offer.reference} has no e-mail address")
    with i18n.use(locale if locale in i18n.LOCALES else i18n.DEFAULT):
        wording, heading = WORDING[OFFERED][None]
        subject = _(wording, venue=shown_name(venue), when=short_when(slot.starts_at, venue.timezone))
        context = dict(
            subject=subject,
            heading=_(heading),
            offer=offer,
            slot=slot,
            venue=venue,
            resource=resource,
            until=local_time(offer.offered_until, venue.timezone),
            link=public_url("waitlist.entry", reference=offer.reference, token=offer.cancel_token),
        )
        text = await render_template("mail/offer.txt", **context)
        html = await render_template("mail/offer.html", **context)
        message = message_of(subject, sender, to, text, html)
        message["Content-Language"] = i18n.html_lang()
    return message


async def compose_told(told: Told, *, sender: str) -> EmailMessage:
    """The e-mail for what the outbox tells a person: an offer's, or a booking event's."""
    resource = told.venue.resource(told.slot.resource_id)
    if told.offer:
        return await compose_offer(told.offer, told.slot, told.venue, resource, locale=told.locale, sender=sender)
    return await compose(told.event, told.booking, told.slot, told.venue, resource, locale=told.locale, sender=sender)


def message_of(subject: str, sender: str, to: Address, text: str, html: str) -> EmailMessage:
    """An e-mail of text and HTML (alternatives) from the site to one address."""
    message = EmailMessage()
    message["Subject"] = subject
    message["From"] = sender
    message["To"] = To("To", to)
    message["Date"] = format_datetime(now())
    # On the site's name, not the public address's (that may be set later); short enough not to be folded.
    message["Message-ID"] = f"<{secrets.token_hex(12)}@{site()}>"
    message["Auto-Submitted"] = "auto-generated"  # RFC 3834: no out-of-office replies to this
    message.set_content(text)
    message.add_alternative(html, subtype="html")
    return message


async def send(message: EmailMessage, smtp_url: str) -> None:
    """Hand the message to an SMTP server (smtp://[user:pass@]host[:port] or smtps://…); raises if it is not taken."""
    url = urlsplit(smtp_url)
    if url.scheme not in ("smtp", "smtps") or not url.hostname:
        raise ValueError("an SMTP URL is smtp://[user:password@]host[:port] or smtps://…")
    implicit_tls = url.scheme == "smtps"
    await aiosmtplib.send(
        message,
        hostname=url.hostname,
        port=url.port or (465 if implicit_tls else 25),
        username=unquote(url.username) if url.username else None,
        password=unquote(url.password) if url.password else None,
        use_tls=implicit_tls,
        start_tls=False if implicit_tls else None,  # None: STARTTLS if the server offers it
        timeout=SMTP_TIMEOUT,
    )
