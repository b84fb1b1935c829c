"""The kiosk: a wall display per venue, fed by one SSE connection (a clock and a panel per resource)."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from quart import Blueprint, render_template

from booking import topics
from booking.model import (
    Resource,
    Slot,
    Venue,
    call_news_until,
    called_recently,
    local_today,
    next_midnight,
    next_waiting,
    now_and_next,
    valid_until,
)
from live.render import fragment
from live.wire import EVENTS
from web.runtime import now, store

from .fragments import inline
from .lookups import venue_or_404

bp = Blueprint("kiosk", __name__)

REOPENS_WITHIN_DAYS = 14  # how far ahead a panel looks for the next session once today's are over


@bp.get("/kiosk/<venue>")
async def kiosk(venue: str):
    """The full-screen display: today's date and time, and every resource's remaining places and calls."""
    found = await venue_or_404(venue)
    panels = [(r, await inline("_kiosk_panel.html", await panel_context(found, r))) for r in found.open_resources]
    return await render_template("kiosk.html", panels=panels, **clock_context(found))


def clock_context(venue: Venue) -> dict:
    """Today's date and the time where the venue is, until the next minute."""
    at = now().astimezone(ZoneInfo(venue.timezone))
    return dict(venue=venue, now=at, valid_until=at.replace(second=0, microsecond=0) + timedelta(minutes=1))


async def panel_context(venue: Venue, resource: Resource) -> dict:
    """A resource's panel: current and next slot, places left today (余号), tickets called and waiting (numbers
    only), and once today's sessions are over the next day's first one. The same for every viewer."""
    at = now()
    today = local_today(venue.timezone, at)
    current, coming, ahead = now_and_next(await store().slots_for_day(resource.id, today), at)
    entries = await store().bookings_of(resource.id, today)
    calls = called_recently(entries)
    news_until = call_news_until(calls, at)  # the latest call is announced until then (CSS plays it from its age)
    news_age_ms = max(at - calls[0][0].called_at, timedelta()) // timedelta(milliseconds=1) if news_until else None
    return dict(
        venue=venue,
        resource=resource,
        current=current,
        next=coming,
        left_today=sum(s.remaining for s in ahead),
        open_today=bool(ahead),
        calls=calls,
        news_age_ms=news_age_ms,
        waiting=next_waiting(entries),
        reopens=None if ahead else await next_session(resource, today, at),
        letter=venue.ticket_letter(resource.id),
        valid_until=valid_until(
            next_midnight(venue.timezone, at), coming and coming.starts_at, *(s.ends_at for s in ahead[:1]), news_until
        ),
    )


async def next_session(resource: Resource, today: date, at: datetime) -> Slot | None:
    """The first open session after today (on the next day that has one, up to REOPENS_WITHIN_DAYS ahead)."""
    for ahead in range(1, REOPENS_WITHIN_DAYS + 1):
        _current, first, _rest = now_and_next(await store().slots_for_day(resource.id, today + timedelta(ahead)), at)
        if first:
            return first
    return None


@fragment(topics.clock, "_kiosk_clock.html", event=lambda *_: EVENTS.CLOCK)
async def clock_topic(venue_id: int) -> dict:
    return clock_context(await store().venue_by_id(venue_id))


@fragment(topics.panel, "_kiosk_panel.html", event=EVENTS.panel)
async def panel_topic(resource_id: int) -> dict:
    venue = await store().venue_of_resource(resource_id)
    return await panel_context(venue, venue.resource(resource_id))
