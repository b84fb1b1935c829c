"""Every page's event stream (the JSON API's own is in api.py): who may watch which topics."""

from __future__ import annotations

from datetime import date

from quart import Blueprint, abort, request, session

from booking import topics
from booking.draw import DRAW
from live.streams import stream
from web.runtime import hub, store

from .auth import require_staff, staff
from .draws import entry_with_token as draw_entry_with_token
from .errors import not_found
from .lookups import (
    booking_with_token,
    entry_with_token,
    parse_day,
    party_choices,
    venue_or_404,
    whole_number,
)

bp = Blueprint("streams", __name__)


@bp.get("/events/day/<id:resource_id>/<day>")
async def day_stream(resource_id: int, day: str):
    """A resource-day's slot table for a party (`?party=`) and its date strip, now and after every change."""
    return await stream(*await day_topics(resource_id, parse_day(day)))


@bp.get("/events/draw/<id:resource_id>/<day>")
async def draw_day_stream(resource_id: int, day: str):
    """A draw's day page: the slot table and date strip for a party (`?party=`), and the draw (抽签)."""
    on = parse_day(day)
    return await stream(*await day_topics(resource_id, on), topics.draw(resource_id, on))


async def day_topics(resource_id: int, on: date) -> tuple[str, str]:
    """The slot table's and date strip's topics for the party asked (`?party=`), or a 404 / 400."""
    party = whole_number(request.args.get("party", "1"), 3)
    table = topics.day(resource_id, on, party or 0)
    # A watched topic was checked when its first stream opened; the query was ~20% of opening 10,000 (py-spy).
    if not party or not hub().count(table):
        venue = await store().venue_of_resource(resource_id)
        if venue is None:
            not_found("resource")
        largest = venue.resource(resource_id).max_party
        if not party or party > largest:
            abort(400, party_choices(largest))
    return table, topics.days(resource_id, on, party)


@bp.get("/events/slot/<id:slot_id>")
async def slot_stream(slot_id: int):
    """One slot's remaining places, now and after every change."""
    slot = await store().slot(slot_id)
    if slot is None:
        not_found("slot")
    return await stream(topics.slot(slot.resource_id, slot_id))


@bp.get("/kiosk/<venue>/events")
async def kiosk_stream(venue: str):
    """One stream for the whole display: the clock, and one named event per resource."""
    found = await venue_or_404(venue)
    return await stream(topics.clock(found.id), *(topics.panel(r.id) for r in found.open_resources))


@bp.get("/bookings/<reference>/events")
async def ticket_stream(reference: str):
    """The holder's ticket, live: 'N ahead of you', and the call when it comes."""
    context = await booking_with_token(reference, request.args.get("token", ""))
    booking, slot = context["booking"], context["slot"]
    return await stream(topics.ticket(slot.resource_id, slot.local_date, booking.id))


@bp.get("/waitlist/<reference>/events")
async def entry_stream(reference: str):
    """The holder's entry, live."""
    context = await entry_with_token(reference, request.args.get("token", ""))
    entry, slot = context["entry"], context["slot"]
    return await stream(topics.waiting(slot.resource_id, slot.local_date, entry.id))


@bp.get("/draws/<reference>/events")
async def draw_entry_stream(reference: str):
    """The holder's draw entry, live: its number, then its result the moment the draw is made; and the draw."""
    held = await draw_entry_with_token(reference, request.args.get("token", ""))
    r, on = held["draw"].resource_id, held["draw"].local_date
    return await stream(topics.entry(r, on, held["entry"].id), topics.draw(r, on))


@bp.get("/admin/events/board/<id:venue_id>/<day>")
async def board_stream(venue_id: int, day: str):
    """The board's stream: one named event per resource (staff only: it carries names)."""
    refused = await require_staff()
    if refused is not None:
        return refused
    on = parse_day(day)
    venue = await store().venue_by_id(venue_id)
    if venue is None:
        abort(404)
    return await stream(
        *(topics.board(r.id, on) for r in venue.open_resources),
        *(topics.entries(r.id, on) for r in venue.open_resources if r.release_mode == DRAW),
        guard=session_lasts(),
    )


def session_lasts():
    """Whether this request's staff session still holds: a logout, a new password or a new role or venues (each
    a new session version) end the stream that carries names."""
    the_store, name, version = store(), staff(), session.get("version")

    async def holds() -> bool:
        return await the_store.staff_session_version(name) == version

    return holds
