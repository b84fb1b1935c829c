"""A booking its holder keeps: find it, add it to (or take it off) a calendar, move it to another time."""

from __future__ import annotations

import hashlib
import hmac
import re
from datetime import datetime, timedelta

from quart import (
    Blueprint,
    Response,
    abort,
    redirect,
    render_template,
    request,
    url_for,
)

from booking.contacts import contact_key
from booking.errors import BookingError, NotMovable, NotOpenYet, OtherResource, SlotFull, SlotUnavailable
from booking.model import GONE, MAX_ID, NOT_YET, Slot, local_today, movable, opens_at, slot_state
from delivery.calendar import calendar
from web.clients import client_group
from web.i18n import gettext as _
from web.runtime import now, service, store

from . import messages
from .errors import not_found
from .lookups import booking_with_token, parse_day, whole_number

bp = Blueprint("manage", __name__)

# Guesses at "find my booking", counted in the database like the login's: per client (an IPv6 /64 is one client),
# per reference, and per client at a reference, so neither many references from one network nor many networks at
# one reference get far. Past PER_REFERENCE tries at a reference, a client that has tried it already waits; one new
# to it (its owner, most likely) waits only past PER_REFERENCE_FOR_NEWCOMERS: strangers' guesses alone do not lock
# the owner out, and a crowd of strangers still gets no more than that many guesses at one booking in a window.
PER_CLIENT, PER_REFERENCE, PER_REFERENCE_FOR_NEWCOMERS, WINDOW = 20, 5, 30, timedelta(minutes=10)


# -- add to a calendar


@bp.get("/bookings/<reference>/calendar.ics")
async def calendar_file(reference: str):
    """The booking as an iCalendar file (RFC 5545) to add to a calendar; a cancelled booking's file cancels it."""
    found = await booking_with_token(reference, request.args.get("token", ""))
    return Response(
        calendar(**found),
        content_type="text/calendar; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="booking-{found["booking"].reference}.ics"'},
    )


@bp.get("/bookings/find")
async def find_form():
    """Find a booking by its reference and the contact given when booking."""
    return await render_find()


async def render_find(
    status: int = 200,
    form: dict | None = None,
    problems: dict | None = None,
    error: str | None = None,
    headers: dict | None = None,
):
    """The find page, with what was sent and what went wrong (boosted forms swap it in whole)."""
    page = await render_template("find.html", form=form or {}, problems=problems or {}, error=error)
    return page, status, headers or {}


def normal_reference(text: str) -> str:
    """A reference as stored: upper case, without the spaces a person may type into it."""
    return re.sub(r"\s+", "", text).upper()


def refused_for(counts: list[tuple[int, timedelta]]) -> list[timedelta]:
    """How long each limit a find attempt is past still holds (none: it goes on), from its counts: by the client, at
    the reference, by the client at the reference (this attempt included in each)."""
    (by_client, client_left), (at_reference, reference_left), (own, _own_left) = counts
    bar = PER_REFERENCE if own > 1 else PER_REFERENCE_FOR_NEWCOMERS
    past = ((client_left, by_client > PER_CLIENT), (reference_left, at_reference > bar))
    return [left for left, over in past if over]


@bp.post("/bookings/find")
async def find_booking():
    """On to the booking's own page when the reference and the contact belong together; the same refusal
    otherwise, whether the reference exists or not."""
    sent = await request.form
    form = {"reference": sent.get("reference", "")[:100], "contact": sent.get("contact", "")[:200]}
    reference, contact = normal_reference(form["reference"])[:20], form["contact"]
    problems = {}
    if not reference:
        problems["reference"] = _("Please enter your booking reference.")
    if not contact_key(contact):  # nothing a contact is made of: no letter, no digit
        problems["contact"] = messages.problem_messages({"contact": "required"})["contact"]
    if problems:
        return await render_find(422, form, problems)
    client = client_group()
    own = f"find:ref:{reference}:client:{client}"
    if blocked := refused_for(
        await service().count_attempt([f"find:client:{client}", f"find:ref:{reference}", own], WINDOW)
    ):
        wait = max(blocked).total_seconds()
        error = " ".join(
            [
                _("Too many failed attempts. Try again in %(minutes)s minutes.", minutes=int(wait // 60) + 1),
                _(
                    "Your link to this booking is in the confirmation message or e-mail you got when you "
                    "booked: it opens the booking without this form."
                ),
            ]
        )
        return await render_find(429, form, error=error, headers={"Retry-After": str(int(wait) + 1)})
    found = await store().booking(reference)
    booking = found and found[0]
    venue = found and await store().venue_of_resource(found[1].resource_id)
    country = venue.country if venue else ""  # compared as the booking's venue compares people
    wanted = contact_key(contact, country)
    kept = booking and contact_key(booking.contact, country)  # '' once its personal data is erased: it matches nothing
    # Digests of equal length, compared in constant time, and compared even when there is no such booking
    # (against a text no contact can be: a form's NUL is refused before any view runs).
    matches = hmac.compare_digest(
        hashlib.sha256(wanted.encode()).digest(), hashlib.sha256((kept or "\0").encode()).digest()
    )
    if not (matches and kept):
        return await render_find(404, form, error=_("We found no booking with that reference and contact."))
    await service().forget_attempts([own])  # found: this client has not failed at it
    return redirect(url_for("public.booking", reference=booking.reference, token=booking.cancel_token), 303)


# -- move to another time


@bp.get("/bookings/<reference>/reschedule")
async def reschedule_form(reference: str):
    """The booking's resource on a day (`?date=`, its own day without one): the times it could move to."""
    found = await booking_with_token(reference, request.args.get("token", ""))
    return await render_moves(found, request.args.get("date"))


async def render_moves(found: dict, day: str | None = None, status: int = 200, notice: str | None = None):
    """The page of times a booking could move to on one day, each with its places left and a link to confirm."""
    booking, slot, venue, resource = found["booking"], found["slot"], found["venue"], found["resource"]
    on, at = parse_day(day) if day else slot.local_date, now()
    today = local_today(venue.timezone, at)
    on = max(on, today)
    times = [
        s
        for s in await store().slots_for_day(resource.id, on)
        if s.id != slot.id and move_refusal(found, s, at) is None
    ]
    page = await render_template(
        "reschedule.html",
        **found,
        token=booking.cancel_token,
        day=on,
        times=times,
        movable=movable(booking, slot, at),
        notice=notice,
        today=today,
        prev_day=on - timedelta(days=1),
        next_day=on + timedelta(days=1),
    )
    return page, status


def move_refusal(found: dict, target: Slot, at: datetime) -> BookingError | None:
    """Why the booking cannot move to `target` now, as the move's transaction would refuse it (bar the per-person
    limit, which only that transaction counts); None when it can."""
    booking, slot, venue, resource = found["booking"], found["slot"], found["venue"], found["resource"]
    if not movable(booking, slot, at):
        return NotMovable(booking.reference)
    if target.resource_id != slot.resource_id:
        return OtherResource(target.id)
    state = slot_state(target, resource, venue.timezone, at)
    if state == NOT_YET:
        return NotOpenYet(opens_at(target, resource, venue.timezone))
    if state in GONE:
        return SlotUnavailable(target.id)
    return SlotFull(target.id) if target.remaining < booking.party_size else None


@bp.get("/bookings/<reference>/reschedule/<id:slot_id>")
async def reschedule_confirm(reference: str, slot_id: int):
    """Ask before moving: from the booking's time to this one, with the places left there; or the day's times
    again, with why it cannot move there."""
    token = request.args.get("token", "")
    found = await booking_with_token(reference, token)
    target = await store().slot(slot_id)
    if target is None:
        not_found("slot")
    if target.id == found["slot"].id:
        return redirect(url_for("manage.reschedule_form", reference=reference, token=token), 303)
    refused = move_refusal(found, target, now())
    if refused:
        day = target.local_date.isoformat() if target.resource_id == found["slot"].resource_id else None
        return await render_moves(
            found, day, 409, messages.refusal(refused, found["venue"].timezone, found["resource"])
        )
    return await render_template("reschedule_confirm.html", **found, token=token, target=target)


@bp.post("/bookings/<reference>/reschedule")
async def reschedule(reference: str):
    """Move the booking (one transaction: the new place is taken before the old one goes back); on to its page,
    which says where it moved from, or the day's times again with why it stayed where it was."""
    form = await request.form
    token = form.get("token", "")
    found = await booking_with_token(reference, token)
    slot_id = whole_number(form.get("slot_id", ""), 19)
    if not slot_id or slot_id > MAX_ID:
        abort(400, _("Choose a time."))
    try:
        await service().reschedule(found["booking"].reference, token, slot_id)
    except BookingError as refused:  # full, gone, not yet open, over the limit, not movable, another resource
        target = await store().slot(slot_id)
        day = target.local_date.isoformat() if target else None
        return await render_moves(
            await booking_with_token(reference, token),
            day,
            409,
            messages.refusal(refused, found["venue"].timezone, found["resource"]),
        )
    return redirect(url_for("public.booking", reference=found["booking"].reference, token=token), 303)
