"""The API a venue's own systems call with an API key (`Authorization: Bearer sk_…`), within the key's venues and
scopes: a day's bookings with names and contacts, one booking, attendance, and the venue's webhook endpoints."""

from __future__ import annotations

import base64
import binascii
import re
import secrets

from quart import Blueprint, abort, jsonify, request

from booking.errors import NotFound
from booking.keys import ATTENDANCE_WRITE, BOOKINGS_READ, WEBHOOKS_MANAGE
from booking.model import Booking, Slot, Venue
from web.i18n import gettext as _
from web.runtime import service, store

from . import openapi_keyed  # noqa: F401  (the schemas of the operations below join the document)
from .api import error, json_object, refuse_cross_site_writes, text
from .bearer import caller, require
from .errors import not_found, refused
from .lookups import parse_day, resource_or_404, venue_or_404, whole_number
from .openapi import contract
from .webhooks import url_problem

bp = Blueprint("integrations", __name__, url_prefix="/api/v1")
bp.before_request(refuse_cross_site_writes)


@bp.after_request
async def never_stored(response):
    """Names and contacts, webhook secrets: no cache keeps what a key was answered."""
    response.headers["Cache-Control"] = "no-store"
    return response


PAGE, PAGE_MAX = 50, 200
STATUSES = ("confirmed", "cancelled")
MARKS = ("checked_in", "no_show")
CURSOR = re.compile(r"([0-9]{1,12})\.([0-9]{1,19})")


def booking_json(booking: Booking, slot: Slot, venue: Venue, contact: bool) -> dict:
    """A booking as the venue's systems see it (with the contact only for a key that reads bookings)."""
    found = {
        "reference": booking.reference,
        "venue": venue.slug,
        "resource": venue.resource(slot.resource_id).slug,
        "slot_id": slot.id,
        "start": slot.starts_at.isoformat(),
        "end": slot.ends_at.isoformat(),
        "name": booking.name,
        "party_size": booking.party_size,
        "status": booking.status,
        "attendance": booking.attendance,
        "ticket": booking.ticket,
    }
    return found | {"contact": booking.contact} if contact else found


def place(entry: tuple[Booking, Slot]) -> tuple[int, int]:
    """Where a booking is in a day's pages: by its slot's start, then the order it was made in."""
    booking, slot = entry
    return int(slot.starts_at.timestamp()), booking.id


def cursor_of(entry: tuple[Booking, Slot]) -> str:
    return base64.urlsafe_b64encode("{}.{}".format(*place(entry)).encode()).decode().rstrip("=")


def after_cursor(raw: str | None) -> tuple[int, int] | None:
    """The place a cursor names (None: from the start), or a 400 for one this API did not give."""
    if raw is None:
        return None
    try:
        found = CURSOR.fullmatch(base64.urlsafe_b64decode(raw + "=" * (-len(raw) % 4)).decode())
    except (binascii.Error, UnicodeDecodeError, ValueError):
        found = None
    if not found:
        abort(400, _("That cursor is not one this API gave: send the next_cursor of the page before."))
    return int(found[1]), int(found[2])


def page_size() -> int:
    size = whole_number(request.args.get("limit", str(PAGE)), 3)
    if size is None or not 1 <= size <= PAGE_MAX:
        abort(400, _("limit is a whole number from 1 to %(max)s.", max=PAGE_MAX))
    return size


@bp.get("/venues/<venue>/bookings")
@contract(
    parameters=("day_query", "status", "resource_filter", "cursor", "limit"),
    ok={200: "BookingPage"},
    scopes=(BOOKINGS_READ,),
)
async def venue_bookings(venue: str):
    """A venue's bookings on ?date=YYYY-MM-DD (venue-local) with names and contacts, by time, a page at a time:
    ?status= and ?resource= narrow them; ?cursor= is the page before's next_cursor."""
    require(BOOKINGS_READ)
    found = await venue_or_404(venue)
    require(BOOKINGS_READ, found.id)
    if "date" not in request.args:
        abort(400, _("Add ?date=YYYY-MM-DD."))
    day, status, size = parse_day(request.args["date"]), request.args.get("status"), page_size()
    if status not in (None, *STATUSES):
        abort(400, _("status is confirmed or cancelled."))
    resource = resource_or_404(found, request.args["resource"]) if "resource" in request.args else None
    after = after_cursor(request.args.get("cursor"))
    entries = sorted(
        (
            (b, s)
            for b, s in await store().bookings_on(found.id, day)
            if status in (None, b.status) and (resource is None or s.resource_id == resource.id)
        ),
        key=place,
    )
    if after:
        entries = [e for e in entries if place(e) > after]
    page = entries[:size]
    return jsonify(
        bookings=[booking_json(b, s, found, contact=True) for b, s in page],
        next_cursor=cursor_of(page[-1]) if len(entries) > size else None,
    )


async def booking_or_404(reference: str) -> tuple[Booking, Slot, Venue]:
    found = await store().booking(reference)
    if found is None:
        not_found("booking", reference)
    booking, slot = found
    return booking, slot, await store().venue_of_resource(slot.resource_id)


@bp.get("/bookings/<reference>")
@contract(parameters=("booking_token",), ok={200: "BookingRecord"}, scopes=(BOOKINGS_READ,), key_optional=True)
async def booking(reference: str):
    """A booking: with an API key (bookings:read on its venue) with its contact; without one, to the holder of its
    cancel_token (?token=), without it."""
    holder = caller() is None and "token" in request.args
    if not holder:
        require(BOOKINGS_READ)
    booking, slot, venue = await booking_or_404(reference)
    if holder:
        if not booking.token_matches(request.args["token"]):
            refused("booking", reference)
    else:
        require(BOOKINGS_READ, venue.id)
    return jsonify(booking_json(booking, slot, venue, contact=not holder))


@bp.post("/bookings/<reference>/attendance")
@contract(
    body="AttendanceRequest",
    ok={200: "Attendance"},
    errors={409: ("booking_cancelled",), 422: ("invalid",)},
    scopes=(ATTENDANCE_WRITE,),
)
async def mark_attendance(reference: str):
    """Mark a booking checked in or no-show, as the staff board does: 200; 409 booking_cancelled."""
    require(ATTENDANCE_WRITE)
    booking, _slot, venue = await booking_or_404(reference)
    require(ATTENDANCE_WRITE, venue.id)
    mark = (await json_object()).get("status")
    if mark not in MARKS:
        return error(422, "invalid", _("Some fields are not valid."), fields={"status": _("checked_in or no_show.")})
    try:
        booking, _slot = await service().mark(booking.id, mark)
    except NotFound:
        return error(409, "booking_cancelled", _("That booking is cancelled."))
    return jsonify(reference=booking.reference, status=booking.status, attendance=booking.attendance)


def hook_json(hook) -> dict:
    return {"id": hook.id, "url": hook.url, "created_at": hook.created_at.isoformat()}


async def keyed_venue(venue: str) -> Venue:
    """The venue of a webhooks call, which the key must manage webhooks of."""
    require(WEBHOOKS_MANAGE)
    found = await venue_or_404(venue)
    require(WEBHOOKS_MANAGE, found.id)
    return found


@bp.get("/venues/<venue>/webhooks")
@contract(ok={200: "Webhooks"}, scopes=(WEBHOOKS_MANAGE,))
async def webhooks(venue: str):
    """The venue's webhook endpoints (their secrets are shown once, when added)."""
    found = await keyed_venue(venue)
    return jsonify([hook_json(h) for h in await store().webhooks(found.id)])


@bp.post("/venues/<venue>/webhooks")
@contract(body="WebhookRequest", ok={201: "WebhookCreated"}, errors={422: ("invalid",)}, scopes=(WEBHOOKS_MANAGE,))
async def add_webhook(venue: str):
    """Add an endpoint: every event of the venue is POSTed to it, signed with its secret: 201 (the secret, once)."""
    found = await keyed_venue(venue)
    body = await json_object()
    url, secret = text(body, "url").strip(), body.get("secret", "")
    problems = {}
    if problem := await url_problem(url):
        problems["url"] = problem
    if not isinstance(secret, str) or secret and not 16 <= len(secret) <= 200:
        problems["secret"] = _("A secret has 16 to 200 characters (leave it empty to have one made).")
    if problems:
        return error(422, "invalid", _("Some fields are not valid."), fields=problems)
    secret = secret or "whsec_" + secrets.token_urlsafe(24)
    hook_id = await service().add_webhook(found.id, url, secret)
    hook = next(h for h in await store().webhooks(found.id) if h.id == hook_id)
    return jsonify(hook_json(hook) | {"secret": secret}), 201


@bp.delete("/venues/<venue>/webhooks")
@contract(parameters=("hook",), ok={200: "Webhook"}, scopes=(WEBHOOKS_MANAGE,))
async def remove_webhook(venue: str):
    """Stop sending to the endpoint ?id= (its deliveries stay on record): 200 with the endpoint; 404."""
    found = await keyed_venue(venue)
    hook_id = whole_number(request.args.get("id", ""), 18)
    hook = next((h for h in await store().webhooks(found.id) if h.id == hook_id), None)
    if hook is None:
        not_found("webhook")
    try:
        await service().remove_webhook(hook.id)
    except NotFound:  # removed by another call meanwhile
        not_found("webhook")
    return jsonify(hook_json(hook))
