"""The draw (抽签) as people see it: the day page's draw panel and entry form, an entry's own live page, withdrawing;
the live fragments (a day's draw, one entry, staff's entries then results) and the board's draw panel."""

from __future__ import annotations

from datetime import date, datetime
from zoneinfo import ZoneInfo

from markupsafe import Markup
from quart import Blueprint, redirect, render_template, request, url_for

from booking import topics
from booking.draw import (
    DRAWN,
    OPEN,
    PREFERENCES,
    UPCOMING,
    AlreadyEntered,
    Draw,
    DrawClosed,
    DrawEntry,
    NotADraw,
    Outcome,
    open_places,
    phase,
    time_left,
    window,
)
from booking.model import Resource, Venue, countdown
from booking.service import Invalid
from live.render import fragment
from live.wire import EVENTS
from middleware.csrf import token as csrf_token
from web.clients import check_booking_rate
from web.i18n import current as current_locale
from web.i18n import gettext as _
from web.runtime import now, service, store

from . import messages
from .errors import about, not_found, refused
from .fragments import htmx_asked, inline
from .lookups import parse_day, parse_party, resource_or_404, venue_or_404, whole_number

bp = Blueprint("draws", __name__)

PREFERENCE_FIELDS = tuple(f"preference_{n}" for n in range(1, PREFERENCES + 1))
BOARD_ROWS = 200  # entries a staff board shows (all of them are in the CSV)


@bp.app_template_filter("number")
def number(value: int) -> str:
    """1234 as the current locale writes it: '1,234'."""
    return messages.format_number(value)


# -- contexts: the same for the page, the htmx answer and the SSE message


async def status_context(venue: Venue, resource: Resource, day: date) -> dict:
    """What `_draw_status.html` needs: where the day's draw stands, entries and places, the countdown to the next
    step, and until when all that holds."""
    at, zone = now(), ZoneInfo(venue.timezone)
    draw = await store().draw(resource.id, day)
    stage = phase(resource, day, venue.timezone, at, draw)
    opens, closes = window(resource, day, venue.timezone)
    free = sum(open_places(await store().slots_for_day(resource.id, day), max(at, closes)).values())
    places = draw.places if stage == DRAWN else free
    moment = {UPCOMING: opens, OPEN: closes}.get(stage)
    return dict(
        venue=venue,
        resource=resource,
        day=day,
        draw=draw,
        stage=stage,
        opens=opens.astimezone(zone),
        closes=closes.astimezone(zone),
        countdown=moment and messages.draw_countdown(moment, at),
        count=messages.entries_for_places(draw.entered if draw else 0, places or 0),
        leftover=free,
        valid_until=moment and recount_at(moment, at),
    )


def recount_at(until: datetime, now: datetime) -> datetime:
    """When a draw's countdown to `until` shows another value (the hub renders it again then)."""
    far = time_left(until, now)
    return far[1] if far else countdown(until, now)[2]


def entry_context(entry: DrawEntry, draw: Draw, outcome: Outcome, venue: Venue, resource: Resource) -> dict:
    """What `_draw_entry.html` needs: the entry's number, then its result; until when that holds (an offer's end
    while it is offered). Not the draw's instant: at the instant the page's draw status, one render for every page,
    hides what only open entries offer (app.css), and 5,000 open entry pages are not 5,000 renders then."""
    stage = phase(resource, draw.local_date, venue.timezone, now(), draw)
    offered = outcome.waiting is not None and outcome.waiting.status == "offered"
    return dict(
        entry=entry,
        draw=draw,
        outcome=outcome,
        venue=venue,
        resource=resource,
        stage=stage,
        letter=venue.ticket_letter(resource.id),
        valid_until=outcome.waiting.offered_until if offered else None,
    )


async def board_context(venue: Venue, resource: Resource, day: date) -> dict:
    """What `_draw_board.html` needs: the newest entries while entries are open, then the results in rank order
    (names and contacts: staff only)."""
    draw = await store().draw(resource.id, day)
    stage = phase(resource, day, venue.timezone, now(), draw)
    entries = await store().draw_entries(draw.id, BOARD_ROWS, newest_first=stage != DRAWN) if draw else []
    times = {s.id: s for s in await store().slots_for_day(resource.id, day)}
    return dict(venue=venue, resource=resource, day=day, draw=draw, stage=stage, entries=entries, times=times)


@fragment(topics.draw, "_draw_status.html", event=lambda *_: EVENTS.DRAW)
async def draw_topic(resource_id: int, day: date) -> dict:
    venue = await store().venue_of_resource(resource_id)
    return await status_context(venue, venue.resource(resource_id), day)


@fragment(topics.entry, "_draw_entry.html", event=lambda *_: EVENTS.DRAW_ENTRY)
async def entry_topic(resource_id: int, day: date, entry_id: int) -> dict:
    entry, draw, outcome = await store().draw_entry_by_id(entry_id)
    venue = await store().venue_of_resource(resource_id)
    return entry_context(entry, draw, outcome, venue, venue.resource(resource_id))


@fragment(topics.entries, "_draw_board.html", event=lambda resource_id, _day: EVENTS.entries(resource_id))
async def entries_topic(resource_id: int, day: date) -> dict:
    venue = await store().venue_of_resource(resource_id)
    return await board_context(venue, venue.resource(resource_id), day)


@bp.app_template_global()
async def draw_panel(venue: Venue, resource: Resource, day: date) -> Markup:
    """The day page's draw: its live status, with the entry form (for this request) until entries close; nothing
    for a day that had no draw."""
    status = await status_context(venue, resource, day)
    if status["draw"] is None and status["stage"] not in (UPCOMING, OPEN):
        return Markup()
    return await inline(
        "_draw_panel.html",
        dict(
            await form_context(venue, resource, day),
            stage=status["stage"],
            status_html=await inline("_draw_status.html", status),
        ),
    )


@bp.app_template_global()
async def draw_board(venue: Venue, resource: Resource, day: date) -> Markup:
    """The staff board's draw of a resource-day (the board page checked the staff member)."""
    return await inline("_draw_board.html", await board_context(venue, resource, day))


async def form_context(
    venue: Venue,
    resource: Resource,
    day: date,
    form: dict | None = None,
    problems: dict | None = None,
    notice: str | None = None,
) -> dict:
    """What `_draw_form.html` needs: the times a draw may give, and what was typed and what was wrong with it."""
    day_slots, closes = await store().slots_for_day(resource.id, day), window(resource, day, venue.timezone)[1]
    slots = [s for s in day_slots if s.id in open_places(day_slots, closes)]
    return dict(
        venue=venue, resource=resource, day=day, slots=slots, form=form or {}, problems=problems or {}, notice=notice
    )


# -- entering, following, withdrawing


@bp.get("/book/<venue>/<resource>/<day>/draw")
async def draw_form(venue: str, resource: str, day: str):
    """The form to enter a day's draw, on a page of its own (the day page shows it too)."""
    found = await venue_or_404(venue)
    res = resource_or_404(found, resource)
    return await render_draw_form(found, res, parse_day(day))


async def render_draw_form(venue: Venue, resource: Resource, day: date, status: int = 200, **context):
    """The draw's form page, with what was typed and what went wrong."""
    page = await status_context(venue, resource, day) | await form_context(venue, resource, day, **context)
    return await render_template("draw_form.html", **page), status


@bp.post("/book/<venue>/<resource>/<day>/draw")
async def enter_draw(venue: str, resource: str, day: str):
    """Enter the day's draw; then the entry's own live page (or the form again, saying what went wrong)."""
    found = await venue_or_404(venue)
    res = resource_or_404(found, resource)
    on = parse_day(day)
    await check_booking_rate()
    form = await request.form
    fields = {name: form.get(name, "") for name in ("name", "contact", "party_size", *PREFERENCE_FIELDS)}
    chosen = [fields[f] for f in PREFERENCE_FIELDS] if fields[PREFERENCE_FIELDS[0]] else []
    preferences = [whole_number(p, 19) if whole_number(p, 19) is not None else p for p in chosen if p]
    try:
        entry, _draw = await service().enter_draw(
            found,
            res,
            on,
            fields["name"],
            fields["contact"],
            parse_party(fields["party_size"], res),
            preferences,
            current_locale(),
        )
    except Invalid as invalid:
        return await render_draw_form(
            found, res, on, 422, form=fields, problems=messages.problem_messages(invalid.problems, res.max_party)
        )
    except (DrawClosed, NotADraw, AlreadyEntered) as refusal:
        return await render_draw_form(found, res, on, 409, form=fields, notice=refusal_words(refusal, found))
    return redirect(url_for("draws.entry", reference=entry.reference, token=entry.cancel_token), 303)


def refusal_words(refusal: Exception, venue: Venue) -> str:
    """What a refused entry says."""
    if isinstance(refusal, DrawClosed):
        return messages.draw_closed(refusal.opens, refusal.closes, venue.timezone, now())
    return messages.already_entered() if isinstance(refusal, AlreadyEntered) else messages.not_a_draw()


async def entry_with_token(reference: str, token: str) -> dict:
    """A draw entry its holder opens with the secret from their link: entry, draw, outcome, venue and resource."""
    found = await store().draw_entry(reference)
    if found is None:
        not_found("draw_entry", reference)
    entry, draw, outcome = found
    if not entry.token_matches(token):
        refused("draw_entry", entry.reference)
    venue = await store().venue_of_resource(draw.resource_id)
    return dict(entry=entry, draw=draw, outcome=outcome, venue=venue, resource=venue.resource(draw.resource_id))


@bp.get("/draws/<reference>")
async def entry(reference: str):
    """The holder's page: their number, then their result the moment the draw is made, live."""
    token = request.args.get("token", "")
    held = await entry_with_token(reference, token)
    venue, resource, draw = held["venue"], held["resource"], held["draw"]
    slots = {s.id: s for s in await store().slots_for_day(resource.id, draw.local_date)}
    preferred = [slots[p] for p in held["entry"].preferences if p in slots]
    page = await status_context(venue, resource, draw.local_date) | entry_context(**held)
    return await render_template("draw_entry.html", token=token, csrf=csrf_token(), preferred=preferred, **page)


@bp.post("/draws/<reference>/withdraw")
async def withdraw(reference: str):
    """Withdraw the entry while entries are open."""
    token = (await request.form).get("token", "")
    with about("draw_entry", reference):
        try:
            await service().withdraw_entry(reference, token)
        except DrawClosed:
            return await render_template(
                "error.html",
                status=409,
                message=_("Entries to this draw have closed: the entry can no longer be withdrawn."),
            ), 409
    url = url_for("draws.entry", reference=reference, token=token)
    if htmx_asked():  # the entry's own stream swaps the form away as the answer comes: htmx would not push the URL
        return "", 200, {"HX-Redirect": url}
    return redirect(url, 303)
