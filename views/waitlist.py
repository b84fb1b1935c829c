"""The waitlist (候补): join a full slot, follow your place live, take up a freed place or leave."""

from __future__ import annotations

from datetime import date

from quart import Blueprint, abort, redirect, render_template, request, url_for

from booking import topics
from booking.errors import LimitReached, NotOpenYet, OfferGone, SlotAvailable, SlotUnavailable
from booking.model import WaitlistEntry, countdown
from booking.service import Invalid
from live.render import fragment
from live.wire import EVENTS
from middleware.csrf import token as csrf_token
from web.clients import check_booking_rate
from web.i18n import current as current_locale
from web.i18n import gettext as _
from web.runtime import now, service, store

from . import messages
from .errors import about
from .fragments import htmx_asked
from .lookups import entry_with_token, parse_party, public_slot_or_404
from .public import render_form

bp = Blueprint("waitlist", __name__)


async def waiting_context(entry: WaitlistEntry, slot, position, venue, **_rest) -> dict:
    """What `_waiting.html` needs: the entry, its place, its offer with the hold counted down, and the booking it
    became."""
    booking = entry.booking_id and (await store().booking_by_id(entry.booking_id))[0]
    offered, at = entry.status == "offered", now()
    return dict(
        entry=entry,
        slot=slot,
        position=position,
        venue=venue,
        booking=booking,
        hold=offered and messages.countdown(entry.offered_until, at, left=True),
        valid_until=countdown(entry.offered_until, at)[2] if offered else None,
    )


@fragment(topics.waiting, "_waiting.html", event=lambda *_: EVENTS.WAITING)
async def waiting_topic(resource_id: int, day: date, entry_id: int) -> dict:
    found = await store().waitlist_entry_by_id(entry_id)
    entry, slot, position = found
    return await waiting_context(entry, slot, position, await store().venue_of_resource(resource_id))


@bp.post("/slots/<id:slot_id>/waitlist")
async def join(slot_id: int):
    """Join a full slot's waitlist; then the entry's own live page."""
    slot, venue, resource = await public_slot_or_404(slot_id)
    await check_booking_rate()
    form = await request.form
    fields = {name: form.get(name, "") for name in ("name", "contact", "party_size")}
    try:
        entry, _position = await service().join_waitlist(
            resource,
            slot.id,
            fields["name"],
            fields["contact"],
            parse_party(fields["party_size"], resource),
            current_locale(),
        )
    except Invalid as invalid:
        return await render_form(
            slot,
            venue,
            resource,
            status=422,
            wait_form=fields,
            wait_problems=messages.problem_messages(invalid.problems, resource.max_party),
        )
    except (SlotAvailable, SlotUnavailable, NotOpenYet, LimitReached) as refused:
        return await render_form(
            await store().slot(slot.id),
            venue,
            resource,
            status=409,
            wait_form=fields,
            notice=messages.refusal(refused, venue.timezone, resource),
            alternatives=None,
        )
    return redirect(url_for("waitlist.entry", reference=entry.reference, token=entry.cancel_token), 303)


@bp.get("/waitlist/<reference>")
async def entry(reference: str):
    """The holder's page: their place in line, live, and the offer when a place frees."""
    token = request.args.get("token", "")
    context = await entry_with_token(reference, token)
    return await render_template(
        "waitlist.html", token=token, csrf=csrf_token(), **{**context, **await waiting_context(**context)}
    )


@bp.post("/waitlist/<reference>/accept")
async def accept(reference: str):
    """Take up the offered place: on to the booking's confirmation."""
    token = (await request.form).get("token", "")
    with about("entry", reference):
        try:
            booking, _slot = await service().accept_offer(reference, token, current_locale())
        except OfferGone:
            abort(409, _("This offer is no longer open: it expired or was taken up."))
    url = url_for("public.booking", reference=booking.reference, token=booking.cancel_token)
    if htmx_asked():  # the entry's own stream swaps the form away as the answer comes: htmx would not push the URL
        return "", 200, {"HX-Redirect": url}
    return redirect(url, 303)


@bp.post("/waitlist/<reference>/leave")
async def leave(reference: str):
    """Stop waiting; a place held for you passes on."""
    token = (await request.form).get("token", "")
    with about("entry", reference):
        await service().leave_waitlist(reference, token)
    return redirect(url_for("waitlist.entry", reference=reference, token=token), 303)
