"""A booking as an iCalendar file (RFC 5545): downloaded from its page, attached to its e-mails.

The event keeps one UID for the booking's life. Each move raises its SEQUENCE, and once the booking is cancelled
its file cancels the event (METHOD:CANCEL, STATUS:CANCELLED, RFC 5546): a calendar that holds the event updates
it or takes it away instead of keeping a stale one.
"""

from __future__ import annotations

from datetime import timedelta
from email.utils import parseaddr
from zoneinfo import ZoneInfo

import icalendar
from quart import current_app

from booking.model import Booking, Resource, Slot, Venue, ticket_label
from web.i18n import gettext as _
from web.i18n import shown_name
from web.links import public_url, site
from web.runtime import now

PUBLISH, CANCEL = "PUBLISH", "CANCEL"


def method(booking: Booking) -> str:
    """The file's iTIP method: add the event ("publish": nothing to answer), or cancel it once the booking is."""
    return CANCEL if booking.status == "cancelled" else PUBLISH


def calendar(booking: Booking, slot: Slot, venue: Venue, resource: Resource) -> bytes:
    """One event in the venue's time zone (with its VTIMEZONE), under a UID that stays the same for the booking."""
    zone, cancelled = ZoneInfo(venue.timezone), booking.status == "cancelled"
    link = None if cancelled else public_url("public.booking", reference=booking.reference, token=booking.cancel_token)
    event = icalendar.Event.new(
        uid=f"{booking.reference}@{site()}",
        stamp=now(),
        created=booking.created_at,
        sequence=booking.moves + cancelled,  # the cancellation is the event's last change, after its last move
        start=slot.starts_at.astimezone(zone),
        end=slot.ends_at.astimezone(zone),
        status="CANCELLED" if cancelled else "CONFIRMED",
        organizer=organizer(venue),
        summary=f"{shown_name(venue)} · {shown_name(resource)}",
        description=description(booking, slot, venue, link),
        location=", ".join(part for part in (shown_name(venue), venue.address) if part),
        url=link,
    )
    cal = icalendar.Calendar()
    cal.add("prodid", "-//Slotcast//Booking//EN")
    cal.add("version", "2.0")
    cal.add("method", method(booking))
    cal.add_component(event)
    # The zone's rules around the booking only: a short VTIMEZONE that still covers any change of offset near it.
    day = slot.local_date
    cal.add_missing_timezones(first_date=day - timedelta(days=366), last_date=day + timedelta(days=366))
    return cal.to_ical()


def description(booking: Booking, slot: Slot, venue: Venue, link: str | None) -> str:
    """The event's text: the reference, a queue's ticket, the places, and the booking's link (none once cancelled)."""
    lines = [_("Booking cancelled")] if link is None else []
    lines.append(_("Reference: %(ref)s", ref=booking.reference))
    if booking.ticket and venue.gives_tickets:
        lines.append(
            _("Ticket: %(ticket)s", ticket=ticket_label(venue.ticket_letter(slot.resource_id), booking.ticket))
        )
    lines.append(_("Places: %(n)s", n=booking.party_size))
    if link:
        lines.append(_("See or cancel this booking: %(link)s", link=link))
    return "\n".join(lines)


def organizer(venue: Venue) -> icalendar.vCalAddress | None:
    """Who the event is from (RFC 5546 asks for one): the venue, at the address its e-mails come from, if any."""
    address = parseaddr(str(current_app.config.get("MAIL_FROM") or ""))[1]
    return icalendar.vCalAddress.new(address, cn=shown_name(venue)) if "@" in address else None
