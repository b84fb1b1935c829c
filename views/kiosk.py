"""The kiosk: a wall display per venue, fed by one SSE connection (a clock and a panel per resource)."""

from __future__ import annotations

from datetime import timedelta
from zoneinfo import ZoneInfo

from quart import Blueprint, render_template

from booking import topics
from booking.model import Resource, Venue, called_recently, local_today, next_midnight, now_and_next, valid_until

from .events import EVENTS, fragment, stream
from .fragments import inline
from .lookups import venue_or_404
from .runtime import now, store

bp = Blueprint("kiosk", __name__)


@bp.get("/kiosk/<venue>")
async def kiosk(venue: str):
    """The full-screen display: today's date and time, and every resource's remaining places and calls."""
    found = await venue_or_404(venue)
    panels = [(r, await inline("_kiosk_panel.html", await panel_context(found, r))) for r in found.open_resources]
    return await render_template("kiosk.html", panels=panels, **clock_context(found))


@bp.get("/kiosk/<venue>/events")
async def kiosk_stream(venue: str):
    """One stream for the whole display: the clock, and one named event per resource."""
    found = await venue_or_404(venue)
    return await stream(topics.clock(found.id), *(topics.panel(r.id) for r in found.open_resources))


def clock_context(venue: Venue) -> dict:
    """Today's date and the time where the venue is, until the next minute."""
    at = now().astimezone(ZoneInfo(venue.timezone))
    return dict(venue=venue, now=at, valid_until=at.replace(second=0, microsecond=0) + timedelta(minutes=1))


async def panel_context(venue: Venue, resource: Resource) -> dict:
    """A resource's panel: current and next slot, places left today (余号), tickets called."""
    at = now()
    today = local_today(venue.timezone, at)
    current, coming, ahead = now_and_next(await store().slots_for_day(resource.id, today), at)
    entries = await store().bookings_of(resource.id, today)
    return dict(venue=venue, resource=resource, current=current, next=coming, left_today=sum(s.remaining for s in ahead),
                open_today=bool(ahead), calls=called_recently(entries), letter=venue.ticket_letter(resource.id),
                valid_until=valid_until(next_midnight(venue.timezone, at), coming and coming.starts_at,
                                        *(s.ends_at for s in ahead[:1])))


@fragment("clock", "_kiosk_clock.html", event=lambda *_: EVENTS.CLOCK)
async def clock_topic(venue_id: int) -> dict:
    return clock_context(await store().venue_by_id(venue_id))


@fragment("panel", "_kiosk_panel.html", event=EVENTS.panel)
async def panel_topic(resource_id: int) -> dict:
    venue = await store().venue_of_resource(resource_id)
    return await panel_context(venue, venue.resource(resource_id))
