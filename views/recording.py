"""What staff do goes into the audit trail: a POST once it went through (after the request, as the view noted
it), an export when it is made, a view of people's names once per session and venue-day. An entry keeps ids, never
a booked person's name or contact (views/audit.py reads those from the booking when the trail is shown)."""

from __future__ import annotations

from datetime import date

from quart import g, request, session

from booking.model import Venue
from web.clients import client_address
from web.runtime import service

from .auth import staff

SEEN_KEPT = 20  # venue-days a session remembers having recorded a view of (older ones are recorded again)


def note(**about) -> None:
    """What this request's entry says beyond the defaults: action (the endpoint's name), subject (the path),
    venue_id, day, booking_id, slot_id, last_date."""
    g.audit_note = {**g.get("audit_note", {}), **about}


async def record_action(response):
    """After a staff POST that went through: its entry, as the view noted it."""
    if request.method == "POST" and response.status_code < 400:
        await record(**g.get("audit_note", {}))
    return response


async def record(
    action: str | None = None, subject: str | None = None, venue_id: int | None = None, day: date | None = None, **about
) -> None:
    """Keep this request's entry now: who, from where, what (the endpoint's name unless given), about what."""
    await service().record(
        staff(),
        client_address(),
        action or request.endpoint.rpartition(".")[2],
        request.path if subject is None else subject,
        venue_id,
        day,
        **about,
    )


async def record_view(action: str, venue: Venue, day: date) -> None:
    """A page showing people's names (the board, the day's list): kept once per session and venue-day."""
    key = f"{action}:{venue.id}:{day.isoformat()}"
    seen = session.get("audit_seen", [])
    if key not in seen:
        session["audit_seen"] = [*seen[-(SEEN_KEPT - 1) :], key]
        await record(action, "", venue.id, day)
