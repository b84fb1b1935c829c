"""JSON API v1 for the draw (抽签): a day's draw for anyone to check, and entering, following and withdrawing."""

from __future__ import annotations

from datetime import date, datetime
from zoneinfo import ZoneInfo

from quart import Blueprint, abort, jsonify, request

from booking.draw import (
    DRAW,
    DRAWN,
    OPEN,
    UPCOMING,
    AlreadyEntered,
    Draw,
    DrawClosed,
    DrawEntry,
    NotADraw,
    Outcome,
)
from booking.draw import window as draw_window
from booking.model import Resource, Venue
from booking.service import Invalid
from web.clients import check_booking_rate
from web.i18n import current
from web.i18n import gettext as _
from web.runtime import now, service, store

from . import messages
from .api import error, json_object, refuse_cross_site_writes, text
from .draws import refusal_words, status_context
from .errors import about, not_found, refused
from .lookups import parse_day, resource_or_404, venue_or_404
from .openapi import contract
from .openapi_schemas import DRAW_ENTRY_LINKS

bp = Blueprint("draws_api", __name__, url_prefix="/api/v1/draws")
bp.before_request(refuse_cross_site_writes)


async def draw_day(venue: str, resource: str, day: str) -> tuple[Venue, Resource, date]:
    """The venue, resource and day an address names (404 / 400 when they are not)."""
    found = await venue_or_404(venue)
    return found, resource_or_404(found, resource), parse_day(day)


def stamp(moment: datetime | None, venue: Venue) -> str | None:
    return moment and moment.astimezone(ZoneInfo(venue.timezone)).isoformat()


@bp.get("/<venue>/<resource>/<day>")
@contract(ok={200: "Draw"})
async def draw(venue: str, resource: str, day: str):
    """A day's draw, for anyone to check: its status, places and entries, when entries open and close, the seed's
    sha256 (committed when entries open), and once drawn the seed and each entry's number, rank and outcome — never a
    name or a contact. 404 for a day not released by draw."""
    found, res, on = await draw_day(venue, resource, day)
    status = await status_context(found, res, on)
    drawn, stage = status["draw"], status["stage"]
    if drawn is None and (res.release_mode != DRAW or stage not in (UPCOMING, OPEN)):
        abort(404, _("%(resource)s has no draw on %(day)s.", resource=res.name, day=on.isoformat()))
    if drawn is None and stage == OPEN:
        drawn = await service().open_draw(res, on)  # its entries are open: its seed is committed from now on
    results = await store().draw_results(drawn.id) if stage == DRAWN else []
    opens, closes = draw_window(res, on, found.timezone)
    return jsonify(
        status=stage,
        places=drawn.places if stage == DRAWN else status["leftover"],
        entries=drawn.entered if drawn else 0,
        opens_at=stamp(opens, found),
        closes_at=stamp(closes, found),
        seed_sha256=drawn and drawn.seed_sha256,
        seed=drawn and drawn.revealed_seed,
        results=[
            {"number": n, "rank": rank, "outcome": outcome, "slot_start": stamp(start, found)}
            for n, rank, outcome, start in results
        ],
    )


@bp.post("/<venue>/<resource>/<day>/entries")
@contract(
    body="DrawEntryRequest",
    ok={201: "DrawEntered"},
    links={201: DRAW_ENTRY_LINKS},
    errors={409: ("draw_closed", "limit_reached", "not_a_draw"), 422: ("invalid",), 429: ()},
)
async def enter_draw(venue: str, resource: str, day: str):
    """Enter a day's draw with up to three preferred slot ids, in order: 201 {reference, number, cancel_token,
    status}; 409 draw_closed (entries not open), limit_reached (one entry per person), not_a_draw; 422 invalid."""
    found, res, on = await draw_day(venue, resource, day)
    body = await json_object()
    await check_booking_rate()
    try:
        entry, _draw = await service().enter_draw(
            found,
            res,
            on,
            text(body, "name"),
            text(body, "contact"),
            body.get("party_size", 1),
            body.get("preferences"),
            current(),
        )
    except Invalid as invalid:
        return error(
            422,
            "invalid",
            _("Some fields are not valid."),
            fields=messages.problem_messages(invalid.problems, res.max_party),
        )
    except (DrawClosed, NotADraw, AlreadyEntered) as refusal:
        extra = {"opens_at": stamp(refusal.opens, found)} if isinstance(refusal, DrawClosed) else {}
        return error(409, refusal.code, refusal_words(refusal, found), **extra)
    return jsonify(
        reference=entry.reference, number=entry.number, cancel_token=entry.cancel_token, status=entry.status
    ), 201


async def held_entry(venue: str, resource: str, day: str, reference: str) -> tuple[DrawEntry, Draw, Outcome, Venue]:
    """The entry of this day's draw with this reference (404 when there is none)."""
    found, res, on = await draw_day(venue, resource, day)
    held = await store().draw_entry(reference)
    if held is None or (held[1].resource_id, held[1].local_date) != (res.id, on):
        not_found("draw_entry", reference)
    return *held, found


def entry_json(entry: DrawEntry, outcome: Outcome, venue: Venue) -> dict:
    """An entry as its holder follows it: its number, rank and status, and the booking or waitlist entry it became
    (both managed with the entry's own cancel_token)."""
    booking = waiting = None
    if outcome.booking and entry.status == "booked":
        booking = {
            "reference": outcome.booking.reference,
            "slot_id": outcome.slot.id,
            "start": stamp(outcome.slot.starts_at, venue),
            "ticket": outcome.booking.ticket,
            "status": outcome.booking.status,
        }
    if outcome.waiting:
        waiting = {
            "reference": outcome.waiting.reference,
            "slot_id": outcome.slot.id,
            "start": stamp(outcome.slot.starts_at, venue),
            "status": outcome.waiting.status,
            "position": outcome.position,
        }
    return {
        "reference": entry.reference,
        "number": entry.number,
        "rank": entry.rank,
        "status": entry.status,
        "party_size": entry.party_size,
        "preferences": list(entry.preferences),
        "booking": booking,
        "waitlist": waiting,
    }


@bp.get("/<venue>/<resource>/<day>/entries/<reference>")
@contract(parameters=("token",), ok={200: "DrawEntry"}, errors={403: ()})
async def draw_entry(venue: str, resource: str, day: str, reference: str):
    """An entry (`?token=` its cancel_token): entered, withdrawn, then booked, waitlisted or none, with its rank."""
    entry, _draw, outcome, found = await held_entry(venue, resource, day, reference)
    if not entry.token_matches(request.args.get("token", "")):
        refused("draw_entry", reference)
    return jsonify(entry_json(entry, outcome, found))


@bp.post("/<venue>/<resource>/<day>/entries/<reference>/withdraw")
@contract(body="HolderRequest", ok={200: "DrawEntry"}, errors={409: ("draw_closed",)})
async def withdraw_entry(venue: str, resource: str, day: str, reference: str):
    """Withdraw an entry with its cancel_token while entries are open: 200; 409 draw_closed once they have closed."""
    _entry, _draw, _outcome, found = await held_entry(venue, resource, day, reference)
    token = text(await json_object(), "cancel_token")
    with about("draw_entry", reference):
        try:
            entry = await service().withdraw_entry(reference, token)
        except DrawClosed as closed:
            return error(409, closed.code, messages.draw_closed(closed.opens, closed.closes, found.timezone, now()))
    return jsonify(entry_json(entry, Outcome(), found))
