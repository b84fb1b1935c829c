"""JSON API v1 for integrations: venues, slots, bookings."""

from __future__ import annotations

import json
import re
from dataclasses import replace
from datetime import date
from zoneinfo import ZoneInfo

from quart import Blueprint, abort, jsonify, make_response, request
from werkzeug.exceptions import NotFound as NoSuchThing

from booking import topics
from booking.errors import (
    IdempotencyMismatch,
    LimitReached,
    NotFound,
    NotMovable,
    NotOpenYet,
    OfferGone,
    OtherResource,
    SlotAvailable,
    SlotFull,
    SlotUnavailable,
)
from booking.keys import BOOKINGS_WRITE
from booking.model import NOT_YET, Resource, Slot, Venue, opens_at, slot_state, state_changes_at, valid_until
from booking.outbox import acting, current_actor
from booking.service import Invalid
from live.render import fragment
from live.streams import stream
from live.wire import EVENTS
from web.clients import caller_scope, check_booking_rate
from web.i18n import DEFAULT, current, set_current
from web.i18n import gettext as _
from web.runtime import now, service, store

from . import bearer, messages
from .errors import about, not_found, refused
from .lookups import bookable_slot_or_404, parse_day, public_slot_or_404, resource_or_404, venue_or_404
from .openapi import contract
from .openapi_schemas import BOOKING_LINKS, ENTRY_LINKS, REFUSALS

bp = Blueprint("api", __name__, url_prefix="/api/v1")

REASON_MAX = 200  # a cancellation's reason, as webhooks tell it
IDEMPOTENCY_KEY = re.compile(r"[A-Za-z0-9_-]{8,64}")


def slot_json(slot: Slot, venue: Venue, resource: Resource) -> dict:
    """A slot for integrators; `opens_at` is when the public may book it, while that is still to come (else null)."""
    zone, at = ZoneInfo(venue.timezone), now()
    opens = (
        opens_at(slot, resource, venue.timezone) if slot_state(slot, resource, venue.timezone, at) == NOT_YET else None
    )
    return {
        "id": slot.id,
        "start": slot.starts_at.isoformat(),
        "end": slot.ends_at.isoformat(),
        "capacity": slot.capacity,
        "booked": slot.booked,
        "remaining": slot.remaining,
        "opens_at": opens and opens.astimezone(zone).isoformat(),
    }


def error(status: int, code: str, message: str, **extra):
    return jsonify(error=message, code=code, **extra), status


@bp.before_request
async def refuse_cross_site_writes():
    """A state-changing call must be JSON from an integration, not a form another site makes a browser send."""
    if request.method == "POST":
        if request.headers.get("Sec-Fetch-Site") == "cross-site":
            abort(403, _("Calls from another site's pages are refused."))
        if request.mimetype != "application/json":
            abort(415, _("Send the body as application/json."))


async def json_object() -> dict:
    """The request's JSON object, or a 400 that says what to send."""
    try:
        body = json.loads(await request.get_data())
    except (UnicodeDecodeError, ValueError):
        body = None
    if not isinstance(body, dict):
        abort(400, _("Send a JSON object."))
    return body


@bp.get("/venues")
@contract(ok={200: "Venues"})
async def venues():
    """Every venue with its resources."""
    return jsonify(
        [
            {
                "slug": v.slug,
                "name": v.name,
                "name_zh": v.name_zh,
                "kind": v.kind,
                "timezone": v.timezone,
                "address": v.address,
                "phone": v.phone,
                "resources": [{"slug": r.slug, "name": r.name, "name_zh": r.name_zh} for r in v.open_resources],
            }
            for v in await store().venues()
        ]
    )


@bp.get("/venues/<venue>/resources/<resource>/slots")
@contract(parameters=("date",), ok={200: "Day"})
async def slots(venue: str, resource: str):
    """A resource's slots on ?date=YYYY-MM-DD (venue-local)."""
    found = await venue_or_404(venue)
    res = resource_or_404(found, resource)
    if "date" not in request.args:
        abort(400, _("Add ?date=YYYY-MM-DD."))
    day = parse_day(request.args["date"])
    return jsonify(day_json(found, res, day, await store().slots_for_day(res.id, day)))


def day_json(venue: Venue, resource: Resource, day: date, slots: list[Slot]) -> dict:
    """A resource's day for integrators: the date and its slots."""
    return {"date": day.isoformat(), "slots": [slot_json(s, venue, resource) for s in slots]}


@fragment(topics.slots_json, "_slots.json", event=lambda *_: EVENTS.SLOTS)
async def slots_json_topic(resource_id: int, day: date) -> dict:
    venue = await store().venue_of_resource(resource_id)
    resource, slots, at = venue.resource(resource_id), await store().slots_for_day(resource_id, day), now()
    # Until the next state change the clock alone makes: an opens_at turns null at the release.
    return dict(
        body=day_json(venue, resource, day, slots),
        valid_until=valid_until(*(state_changes_at(s, resource, venue.timezone, at) for s in slots)),
    )


@bp.get("/venues/<venue>/resources/<resource>/slots/stream")
@contract(parameters=("date",), ok={200: ("text/event-stream", "DayEvent")})
async def slots_stream(venue: str, resource: str):
    """The day's slots as JSON, live (text/event-stream): an `event: slots` with the day's state, then one after
    every change; `data` is the object GET …/slots answers. Rendered once per change for every subscriber."""
    found = await venue_or_404(venue)
    res = resource_or_404(found, resource)
    if "date" not in request.args:
        abort(400, _("Add ?date=YYYY-MM-DD."))
    day = parse_day(request.args["date"])
    set_current(DEFAULT)  # JSON has no language: one render for everyone
    return await stream(topics.slots_json(res.id, day))


async def requested_slot(body: dict, find=public_slot_or_404) -> tuple[Slot | None, Venue, Resource]:
    """The public slot a booking or waitlist request names (422 unless slot_id is a whole number), within the
    client's booking rate (429); `find` finds it (or 404s)."""
    slot_id = body.get("slot_id")
    if not isinstance(slot_id, int) or isinstance(slot_id, bool):
        abort(
            await make_response(
                error(
                    422,
                    "invalid",
                    _("Some fields are not valid."),
                    fields=messages.problem_messages({"slot_id": "not_a_number"}),
                )
            )
        )
    found = await find(slot_id)
    await check_booking_rate()
    return found


def booking_json(booking, slot: Slot, venue: Venue) -> dict:
    """A booking as the API answers its holder: with the cancel_token that manages it, and its time where the
    venue is."""
    zone = ZoneInfo(venue.timezone)
    return dict(
        reference=booking.reference,
        cancel_token=booking.cancel_token,
        slot_id=booking.slot_id,
        party_size=booking.party_size,
        status=booking.status,
        start=slot.starts_at.astimezone(zone).isoformat(),
        end=slot.ends_at.astimezone(zone).isoformat(),
        time_zone=venue.timezone,
    )


def text(body: dict, field: str) -> str:
    """A text field of a JSON body ('' when it is missing or not a string)."""
    value = body.get(field)
    return value if isinstance(value, str) else ""


@bp.post("/bookings")
@contract(
    body="BookingRequest",
    parameters=("Idempotency-Key",),
    ok={201: "Booking"},
    links={201: BOOKING_LINKS},
    errors={
        404: (),
        409: ("slot_full", *REFUSALS, "booking_cancelled"),
        422: ("invalid", "idempotency_mismatch"),
        429: (),
    },
    scopes=(BOOKINGS_WRITE,),
    key_optional=True,
)
async def create_booking():
    """Book places in a slot (once per Idempotency-Key): 201; 409 slot_full, …; 422 invalid; 404 unknown slot.
    With an API key (bookings:write) staff's booking for a caller, over the per-person limit with override_limit."""
    body = await json_object()
    slot, venue, resource = await requested_slot(body, bookable_slot_or_404)  # slot: None unless kept full
    for_staff, over_limit = bearer.booking_powers(body, venue.id)
    # Every key sent is checked, the header (which wins) and the body's, even a body's null.
    keys = [request.headers[k] for k in ("Idempotency-Key",) if k in request.headers]
    keys += [body["idempotency_key"]] if "idempotency_key" in body else []
    if not all(isinstance(k, str) and IDEMPOTENCY_KEY.fullmatch(k) for k in keys):  # the header wins; both are checked
        return error(422, "invalid", _("The idempotency key must be 8 to 64 letters, digits, - or _."))
    key = keys[0] if keys else None
    try:
        booking, booked = await service().book(
            resource,
            body["slot_id"],
            text(body, "name"),
            text(body, "contact"),
            body.get("party_size", 1),
            idempotency_key=key and f"api:{key}",
            for_staff=for_staff,
            over_limit=over_limit,
            locale=current(),  # the API's keys never reach the form's
            seen=slot and (slot, venue.timezone),
            caller=caller_scope(),
        )  # a key's booking goes back to its caller alone
    except Invalid as invalid:
        return error(
            422,
            "invalid",
            _("Some fields are not valid."),
            fields=messages.problem_messages(invalid.problems, resource.max_party),
        )
    except SlotFull:
        return slot_full()
    except SlotUnavailable:
        return error(409, "slot_unavailable", _("This slot can no longer be booked."))
    except NotOpenYet as refused:
        return error(
            409,
            "not_open_yet",
            messages.not_open_yet(refused.opens_at, venue.timezone),
            opens_at=refused.opens_at.astimezone(ZoneInfo(venue.timezone)).isoformat(),
        )
    except LimitReached as refused:
        return error(409, "limit_reached", messages.limit_reached(refused.limit, resource), limit=refused.limit)
    except IdempotencyMismatch:
        return error(
            422,
            "idempotency_mismatch",
            _("This idempotency key was used already, for another booking request or by another caller."),
        )
    except NotFound:
        not_found("slot")
    if booking.status == "cancelled":  # a replay of a request whose booking has been cancelled since
        return error(
            409,
            "booking_cancelled",
            _("That booking was made and has since been cancelled."),
            reference=booking.reference,
        )
    return jsonify(booking_json(booking, booked, venue)), 201


def slot_full():
    """409 slot_full: the slot has no room for that many places (middleware.known_full sends this answer too)."""
    return error(409, "slot_full", _("This slot has no room left for that many places."))


@bp.post("/bookings/<reference>/cancel")
@contract(body="CancelRequest", ok={200: "BookingState"})
async def cancel_booking(reference: str):
    """Cancel with the booking's cancel_token (and a reason, up to 200 characters, for the venue's webhooks): 200,
    403 wrong token, 404 unknown reference."""
    body = await json_object()
    reason = text(body, "reason").strip()[:REASON_MAX] or None
    with about("booking", reference), acting(replace(current_actor(), reason=reason)):
        booking, _slot = await service().cancel(reference, text(body, "cancel_token"))
    return jsonify(
        reference=booking.reference, slot_id=booking.slot_id, party_size=booking.party_size, status=booking.status
    )


@bp.post("/bookings/<reference>/reschedule")
@contract(
    body="RescheduleRequest",
    ok={200: "Rescheduled"},
    errors={409: ("slot_full", *REFUSALS, "not_movable"), 422: ("invalid", "other_resource"), 429: ()},
)
async def reschedule_booking(reference: str):
    """Move a booking to another slot of its resource with its cancel_token: 200 with the booking (same reference,
    new slot); 409 slot_full (it stays where it was), not_movable, …; 422 other_resource or no such slot; 403; 404."""
    body = await json_object()
    if await store().booking(reference) is None:  # the booking first: a move of an unknown one is a 404
        not_found("booking", reference)
    try:
        target, venue, resource = await requested_slot(body)
    except NoSuchThing:  # a 404 here says the booking is gone: a target slot that is not there is the body's problem
        return error(
            422, "invalid", _("Some fields are not valid."), fields={"slot_id": _("That slot does not exist.")}
        )
    with about("booking", reference):
        try:
            booking, slot = await service().reschedule(reference, text(body, "cancel_token"), target.id)
        except OtherResource as refused:
            return error(422, refused.code, messages.refusal(refused, venue.timezone, resource))
        except (SlotFull, SlotUnavailable, NotOpenYet, LimitReached, NotMovable) as refused:
            return error(409, refused.code, messages.refusal(refused, venue.timezone, resource))
    return jsonify(
        reference=booking.reference,
        slot_id=slot.id,
        start=slot.starts_at.isoformat(),
        end=slot.ends_at.isoformat(),
        party_size=booking.party_size,
        status=booking.status,
    )


def entry_json(entry, position, booking: str | None = None) -> dict:
    """A waitlist entry as its holder follows it; `booking`: the reference of the booking it became."""
    return {
        "reference": entry.reference,
        "slot_id": entry.slot_id,
        "party_size": entry.party_size,
        "status": entry.status,
        "position": position,
        "expires_at": entry.offered_until.isoformat() if entry.status == "offered" else None,
        "booking": booking,
    }


@bp.post("/waitlist")
@contract(
    body="WaitlistRequest",
    ok={201: "WaitlistJoined"},
    links={201: ENTRY_LINKS},
    errors={404: (), 409: ("slot_available", *REFUSALS), 422: ("invalid",), 429: ()},
)
async def join_waitlist():
    """Wait for a full slot: 201 {reference, position, cancel_token, status}; 409 slot_available when it has room."""
    body = await json_object()
    slot, venue, resource = await requested_slot(body)
    try:
        entry, position = await service().join_waitlist(
            resource,
            slot.id,
            text(body, "name"),
            text(body, "contact"),
            body.get("party_size", 1),
            current(),
        )
    except Invalid as invalid:
        return error(
            422,
            "invalid",
            _("Some fields are not valid."),
            fields=messages.problem_messages(invalid.problems, resource.max_party),
        )
    except (SlotAvailable, SlotUnavailable, NotOpenYet, LimitReached) as refused:
        return error(409, refused.code, messages.refusal(refused, venue.timezone, resource))
    return jsonify({**entry_json(entry, position), "cancel_token": entry.cancel_token}), 201


@bp.get("/waitlist/<reference>")
@contract(parameters=("token",), ok={200: "WaitlistEntry"}, errors={403: ()})
async def waitlist_entry(reference: str):
    """An entry's status and place (`?token=` its cancel_token): waiting, offered (until expires_at), booked, …"""
    found = await store().waitlist_entry(reference)
    if found is None:
        not_found("entry", reference)
    entry, _slot, position = found
    if not entry.token_matches(request.args.get("token", "")):
        refused("entry", reference)
    became = entry.booking_id and await store().booking_by_id(entry.booking_id)
    return jsonify(entry_json(entry, position, became[0].reference if became else None))


@bp.post("/waitlist/<reference>/accept")
@contract(body="HolderRequest", ok={201: "Booking"}, links={201: BOOKING_LINKS}, errors={409: ("offer_expired",)})
async def accept_offer(reference: str):
    """Take up an offer with the entry's cancel_token: 201 with the booking; 409 offer_expired."""
    token = text(await json_object(), "cancel_token")
    with about("entry", reference):
        try:
            booking, slot = await service().accept_offer(reference, token, current())
        except OfferGone:
            return error(409, "offer_expired", _("This offer is no longer open: it expired or was taken up."))
    return jsonify(booking_json(booking, slot, await store().venue_of_resource(slot.resource_id))), 201


@bp.post("/waitlist/<reference>/leave")
@contract(body="HolderRequest", ok={200: "WaitlistEntry"})
async def leave_waitlist(reference: str):
    """Stop waiting (a held place passes on): 200."""
    token = text(await json_object(), "cancel_token")
    with about("entry", reference):
        entry = await service().leave_waitlist(reference, token)
    return jsonify(entry_json(entry, None))
