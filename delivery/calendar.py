"""A booking as an iCalendar file (RFC 5545): downloaded from its page, attached to its e-mails."""

from __future__ import annotations

import hmac
from datetime import timedelta
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

import icalendar
from quart import current_app

from booking.model import Booking, Resource, Slot, Venue, ticket_label
from web.i18n import gettext as _
from web.i18n import shown_name
from web.runtime import now


def calendar(booking: Booking, slot: Slot, venue: Venue, resource: Resource, link: str) -> bytes:
    """One event in the venue's time zone (with its VTIMEZONE), under a UID that stays the same for the booking."""
    zone = ZoneInfo(venue.timezone)
    lines = [_("Reference: %(ref)s", ref=booking.reference)]
    if booking.ticket:
        lines.append(_("Ticket: %(ticket)s", ticket=ticket_label(venue.ticket_letter(slot.resource_id),
                                                                  booking.ticket)))
    lines += [_("Places: %(n)s", n=booking.party_size), _("See or cancel this booking: %(link)s", link=link)]
    event = icalendar.Event.new(
        uid=f"{booking.reference}@{site()}", stamp=now(), created=booking.created_at,
        start=slot.starts_at.astimezone(zone), end=slot.ends_at.astimezone(zone), status="CONFIRMED",
        summary=f"{shown_name(venue)} · {shown_name(resource)}", description="\n".join(lines),
        location=", ".join(part for part in (shown_name(venue), venue.address) if part),
        url=link if urlsplit(link).scheme else None,  # a URL property is absolute: only with SLOTCAST_PUBLIC_URL
    )
    cal = icalendar.Calendar()
    cal.add("prodid", "-//Slotcast//Booking//EN")
    cal.add("version", "2.0")
    cal.add("method", "PUBLISH")  # "add this event", which calendars import (no invitation, nothing to answer)
    cal.add_component(event)
    # The zone's rules around the booking only: a short VTIMEZONE that still covers any change of offset near it.
    day = slot.local_date
    cal.add_missing_timezones(first_date=day - timedelta(days=366), last_date=day + timedelta(days=366))
    return cal.to_ical()


def site() -> str:
    """This site in a UID: the public address's host, else a name derived from the app's secret (stable too)."""
    host = urlsplit(current_app.config.get("PUBLIC_URL") or "").hostname
    if host:
        return host
    digest = hmac.new(str(current_app.config["SECRET_KEY"]).encode(), b"calendar uid", "sha256").hexdigest()
    return f"{digest[:16]}.slotcast"


# -- find my booking
