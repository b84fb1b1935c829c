"""Public pages: venues, a resource's day, the booking form, confirmation and cancel."""

from __future__ import annotations

import re
import secrets
from datetime import UTC, date, datetime, timedelta

from quart import Blueprint, abort, redirect, render_template, request, url_for

from booking import schedule, service, topics
from booking.model import (
    MAX_ID, Forbidden, NotFound, Resource, Slot, SlotFull, SlotUnavailable, Venue, called_recently, parse_party_size,
    waiting_line,
)

from . import messages
from .events import EVENTS, fragment, stream
from .i18n import gettext as _
from .services import hub, parse_day, store

bp = Blueprint("public", __name__)

IDEMPOTENCY_KEY = re.compile(r"[A-Za-z0-9_-]{8,64}")


async def venue_or_404(slug: str, include_archived: bool = False) -> Venue:
    venue = await store().venue(slug)
    if venue is None or (venue.archived and not include_archived):
        abort(404, _("There is no venue called “%(slug)s”.", slug=slug[:60]))
    return venue


def resource_or_404(venue: Venue, slug: str) -> Resource:
    resource = venue.resource(slug)
    if resource is None or resource.archived:
        abort(404, _("%(venue)s has nothing called “%(slug)s”.", venue=venue.name, slug=slug[:60]))
    return resource


async def slot_or_404(slot_id: int) -> tuple[Slot, Venue, Resource]:
    slot = await store().slot(slot_id) if 0 < slot_id <= MAX_ID else None  # JSON ints have no bound
    venue = slot and await store().venue_of_resource(slot.resource_id)
    if not slot or not venue:
        abort(404, _("That slot does not exist."))
    return slot, venue, venue.resource(slot.resource_id)


async def public_slot_or_404(slot_id: int) -> tuple[Slot, Venue, Resource]:
    """A slot the public may see and book: neither its venue nor its resource is archived."""
    slot, venue, resource = await slot_or_404(slot_id)
    if venue.archived or resource.archived:
        abort(404, _("That slot does not exist."))
    return slot, venue, resource


def bookable_from(resource: Resource) -> datetime:
    """The earliest start a booking made now may have."""
    return datetime.now(UTC) + timedelta(minutes=resource.min_notice_minutes)


async def day_context(venue: Venue, resource: Resource, day: date) -> dict:
    """What `_slot_table.html` needs: the page and every SSE render use this."""
    slots = await store().slots_for_day(resource.id, day)
    return dict(venue=venue, resource=resource, day=day, slots=slots, bookable_from=bookable_from(resource))


@fragment("day", "_slot_table.html", event=lambda *_: EVENTS.SLOTS)
async def day_topic_context(resource_id: str, day: str) -> dict:
    """`_slot_table.html`'s context for a day topic."""
    venue = await store().venue_of_resource(int(resource_id))
    resource = venue.resource(int(resource_id))
    return await day_context(venue, resource, date.fromisoformat(day))


@fragment("slot", "_slot_status.html", event=lambda *_: EVENTS.SLOT_STATUS)
async def slot_topic_context(slot_id: str) -> dict:
    """`_slot_status.html`'s context for a slot topic."""
    slot, venue, resource = await slot_or_404(int(slot_id))
    return dict(slot=slot, venue=venue, resource=resource, bookable_from=bookable_from(resource))


@fragment("ticket", "_ticket.html", event=lambda *_: EVENTS.TICKET)
async def ticket_context(resource_id: str, day: str, booking_id: str) -> dict:
    """A booking's place in its day's line: its ticket, who is called, how many wait before it."""
    booking, slot = await store().booking_by_id(int(booking_id))
    venue = await store().venue_of_resource(slot.resource_id)
    entries = [e for e in await store().bookings_on(venue.id, slot.local_date) if e[1].resource_id == slot.resource_id]
    line = [b.id for b, _s in waiting_line(entries)]
    return dict(booking=booking, letter=venue.ticket_letter(slot.resource_id), calls=called_recently(entries, 1),
                ahead=line.index(booking.id) if booking.id in line else None)


@bp.get("/")
async def index():
    """Every venue."""
    return await render_template("index.html", venues=await store().venues())


@bp.get("/book/<venue>")
async def venue(venue: str):
    """A venue's resources."""
    found = await venue_or_404(venue)
    return await render_template("venue.html", venue=found, today=schedule.local_today(found.timezone))


@bp.get("/book/<venue>/<resource>")
async def pick_day(venue: str, resource: str):
    """The date picker's target: on to the day view (today without a date)."""
    found = await venue_or_404(venue)
    resource_or_404(found, resource)
    day = request.args.get("date") or schedule.local_today(found.timezone).isoformat()
    return redirect(url_for("public.day", venue=venue, resource=resource, day=parse_day(day).isoformat()))


@bp.get("/book/<venue>/<resource>/<day>")
async def day(venue: str, resource: str, day: str):
    """A resource's slots on one day, live."""
    found = await venue_or_404(venue)
    res = resource_or_404(found, resource)
    on = parse_day(day)
    today = schedule.local_today(found.timezone)
    return await render_template(
        "day.html", today=today, horizon=today + timedelta(days=res.horizon_days),
        prev_day=on - timedelta(days=1), next_day=on + timedelta(days=1), **await day_context(found, res, on))


@bp.get("/slots/<id:slot_id>/book")
async def booking_form(slot_id: int):
    """The booking form for one slot, with its live remaining count."""
    slot, venue, resource = await public_slot_or_404(slot_id)
    return await render_form(slot, venue, resource)


async def render_form(slot, venue, resource, *, status=200, form=None, problems=None, notice=None,
                      alternatives=(), idempotency_key=None):
    """The form page, or just the form when htmx asked (it swaps it in place)."""
    context = dict(
        slot=slot, venue=venue, resource=resource, form=form or {}, problems=problems or {}, notice=notice,
        alternatives=alternatives, bookable_from=bookable_from(resource),
        idempotency_key=idempotency_key or secrets.token_urlsafe(16),
    )
    if request.headers.get("HX-Request") and request.method == "POST":
        body = await render_template("_booking_form.html", **context)
        return body, status, {"HX-Retarget": "#booking-form", "HX-Reswap": "outerHTML"}
    return await render_template("book.html", **context), status


@bp.post("/slots/<id:slot_id>/book")
async def create_booking(slot_id: int):
    """Book, then show the confirmation; or the form again with what went wrong."""
    slot, venue, resource = await public_slot_or_404(slot_id)
    form = await request.form
    key = form.get("idempotency_key", "")
    key = key if IDEMPOTENCY_KEY.fullmatch(key) else None
    fields = {name: form.get(name, "") for name in ("name", "contact", "party_size")}
    party_size = parse_party(fields["party_size"], resource)
    try:
        booking, _slot = await service.book(store(), hub(), resource, slot.id, fields["name"], fields["contact"],
                                            party_size, idempotency_key=key)
    except service.Invalid as invalid:
        return await render_form(slot, venue, resource, status=422, form=fields, idempotency_key=key,
                                 problems=messages.problem_messages(invalid.problems, resource.max_party))
    except (SlotFull, SlotUnavailable) as refused:
        latest = await store().slot(slot.id)
        nearby = await store().free_slots_near(latest, max(party_size or 1, 1), datetime.now(UTC))
        notice = messages.slot_full() if isinstance(refused, SlotFull) else messages.slot_unavailable()
        return await render_form(latest, venue, resource, status=409, form=fields, notice=notice,
                                 alternatives=nearby, idempotency_key=key)
    return redirect(url_for("public.booking", reference=booking.reference, token=booking.cancel_token), 303)


def parse_party(raw: str, resource: Resource) -> object:
    """A form's party size: the only choice when there is one, else the number sent."""
    if resource.max_party == 1 and not raw:
        return 1
    size = parse_party_size(raw)
    return raw if size is None else size


async def booking_with_token(reference: str, token: str):
    found = await store().booking(reference)
    if found is None:
        abort(404, _("There is no booking with reference %(ref)s.", ref=reference[:20]))
    booking, slot = found
    if not booking.token_matches(token):
        abort(403, _("This link is not valid for booking %(ref)s.", ref=booking.reference))
    venue = await store().venue_of_resource(slot.resource_id)
    resource = venue.resource(slot.resource_id)
    return dict(booking=booking, slot=slot, venue=venue, resource=resource)


@bp.get("/bookings/<reference>")
async def booking(reference: str):
    """The confirmation: reference, time, ticket with its live place in line, and the secret cancel link."""
    context = await booking_with_token(reference, request.args.get("token", ""))
    slot = context["slot"]
    ticket = await ticket_context(str(slot.resource_id), slot.local_date.isoformat(), str(context["booking"].id))
    return await render_template("confirmation.html", token=request.args["token"], **{**ticket, **context})


@bp.get("/bookings/<reference>/events")
async def ticket_stream(reference: str):
    """The holder's ticket, live: 'N ahead of you', and the call when it comes."""
    context = await booking_with_token(reference, request.args.get("token", ""))
    booking, slot = context["booking"], context["slot"]
    return await stream(topics.ticket(slot.resource_id, slot.local_date, booking.id))


@bp.get("/bookings/<reference>/cancel")
async def cancel_form(reference: str):
    """Ask before cancelling."""
    context = await booking_with_token(reference, request.args.get("token", ""))
    return await render_template("cancel.html", **context)


@bp.post("/bookings/<reference>/cancel")
async def cancel_booking(reference: str):
    """Cancel; the places go back and every open page shows it."""
    token = (await request.form).get("token", "")
    try:
        booking, _slot = await service.cancel(store(), hub(), reference, token)
    except NotFound:
        abort(404, _("There is no booking with reference %(ref)s.", ref=reference[:20]))
    except Forbidden:
        abort(403, _("This link is not valid for booking %(ref)s.", ref=reference[:20]))
    return redirect(url_for("public.booking", reference=booking.reference, token=token), 303)
