"""The kiosk: a wall display per venue, fed by one SSE connection (a clock and a panel per resource)."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from quart import Blueprint, render_template

from booking import schedule, topics
from booking.model import called_recently

from .events import EVENTS, fragment, stream
from .public import venue_or_404
from .services import store

bp = Blueprint("kiosk", __name__)


@bp.get("/kiosk/<venue>")
async def kiosk(venue: str):
    """The full-screen display: today's date and time, and every resource's remaining places and calls."""
    found = await venue_or_404(venue)
    panels = [await panel_context(str(r.id)) for r in found.open_resources]
    return await render_template("kiosk.html", panels=panels, **await clock_context(str(found.id)))


@bp.get("/kiosk/<venue>/events")
async def kiosk_stream(venue: str):
    """One stream for the whole display: the clock, and one named event per resource."""
    found = await venue_or_404(venue)
    return await stream(topics.clock(found.id), *(topics.panel(r.id) for r in found.open_resources))


@fragment("clock", "_kiosk_clock.html", event=lambda *_: EVENTS.CLOCK)
async def clock_context(venue_id: str) -> dict:
    """Today's date and the time, where the venue is."""
    venue = await store().venue_by_id(int(venue_id))
    return dict(venue=venue, now=datetime.now(UTC).astimezone(ZoneInfo(venue.timezone)))


@fragment("panel", "_kiosk_panel.html", event=EVENTS.panel)
async def panel_context(resource_id: str) -> dict:
    """A resource's panel: current and next slot, places left today (余号), tickets called."""
    venue = await store().venue_of_resource(int(resource_id))
    resource = venue.resource(int(resource_id))
    now = datetime.now(UTC)
    today = schedule.local_today(venue.timezone, now)
    ahead = [s for s in await store().slots_for_day(resource.id, today) if s.ends_at > now and not s.closed]
    current = ahead[0] if ahead and ahead[0].starts_at <= now else None
    coming = [s for s in ahead if s is not current][:1]
    entries = [e for e in await store().bookings_on(venue.id, today) if e[1].resource_id == resource.id]
    return dict(venue=venue, resource=resource, current=current, next=coming[0] if coming else None,
                left_today=sum(s.remaining for s in ahead), open_today=bool(ahead), calls=called_recently(entries),
                letter=venue.ticket_letter(resource.id))
