"""The staff back office: venues and schedules, the live day board, bookings and the queue."""

from __future__ import annotations

import re
from datetime import date, time, timedelta
from zoneinfo import ZoneInfo

from quart import (
    Blueprint,
    abort,
    redirect,
    render_template,
    request,
    session,
    url_for,
)

from booking import rules_text, topics
from booking.contacts import clean_text, country_of_zone, looks_like_contact
from booking.errors import CapacityConflict, Duplicate, LimitReached, NotFound, SlotFull, SlotUnavailable
from booking.model import (
    KINDS,
    VENUE_DETAILS,
    Resource,
    Venue,
    booking_matches,
    bookings_by_slot,
    called_recently,
    local_today,
    slot_state,
    state_changes_at,
    valid_until,
    waiting_line,
)
from booking.service import Invalid
from booking.validation import resource_problems, venue_problems
from live.render import fragment
from live.wire import EVENTS
from middleware.csrf import token as csrf_token
from web.clients import client_address
from web.i18n import current as current_locale
from web.i18n import gettext as _
from web.runtime import now, service, store

from . import messages, permissions
from .auth import require_staff, staff
from .errors import not_found
from .fragments import htmx_asked, htmx_swap, inline
from .lookups import (
    booking_or_404,
    parse_day,
    parse_party,
    resource_by_id_or_404,
    slot_or_404,
    venue_or_404,
    whole_number,
)
from .recording import note, record_action, record_view

bp = Blueprint("admin", __name__, url_prefix="/admin")
bp.before_request(require_staff)


bp.after_request(record_action)  # every staff action that went through: who, what, on which venue and day


# -- the day board


async def board_context(venue: Venue, resource: Resource, day: date) -> dict:
    """One resource's slots on a day with their bookings: names and contacts, so staff only."""
    at = now()
    slots = await store().slots_for_day(resource.id, day)
    entries = await store().bookings_of(resource.id, day)
    return dict(
        venue=venue,
        resource=resource,
        day=day,
        slots=slots,
        by_slot=bookings_by_slot(entries),
        waitlist=await store().waitlist_counts(resource.id, day),
        states={s.id: slot_state(s, resource, venue.timezone, at, for_staff=True) for s in slots},
        valid_until=valid_until(*(state_changes_at(s, resource, venue.timezone, at, True) for s in slots)),
        waiting=len(waiting_line(entries)),
        calls=called_recently(entries, 1),
        letter=venue.ticket_letter(resource.id),
    )


@fragment(topics.board, "_board.html", event=lambda resource_id, _day: EVENTS.board(resource_id))
async def board_topic(resource_id: int, day: date) -> dict:
    venue = await store().venue_of_resource(resource_id)
    return await board_context(venue, venue.resource(resource_id), day)


@bp.get("/")
async def index():
    """Every venue the account has, archived ones too."""
    return await render_template("admin/index.html", venues=await permissions.own_venues(include_archived=True))


@bp.get("/venues/<venue>/board")
async def today_board(venue: str):
    """Today's board."""
    found = await venue_or_404(venue)
    return redirect(url_for("admin.board", venue=venue, day=local_today(found.timezone, now()).isoformat()))


@bp.get("/venues/<venue>/board/<day>")
async def board(venue: str, day: str):
    """A venue's day: every resource's slots and bookings, live; ?q= finds its bookings by name, phone or reference.
    Its names were seen: kept in the audit trail once per session and venue-day (the search never is)."""
    found, on = await venue_or_404(venue), parse_day(day)
    await record_view("view_board", found, on)
    return await board_page(found, on, query=request.args.get("q", "").strip()[:100])


def for_this_clerk() -> dict:
    """What a board rendered for one request adds to the shared render: the form token and the remembered counter."""
    return dict(csrf=csrf_token(), counter=session.get("counter", ""))


async def board_page(venue: Venue, day: date, notice: str | None = None, status: int = 200, query: str = ""):
    """The board page: every open resource's board, each live on its own named event; search results above them
    (a snapshot of this request, not live: the live boards are rendered once for every viewer)."""
    contexts = [(r, await board_context(venue, r, day)) for r in venue.open_resources]
    boards = [(r, await inline("_board.html", dict(context, **for_this_clerk()))) for r, context in contexts]
    found = [
        (r, slot, booking, context["letter"])
        for r, context in contexts
        for slot in context["slots"]
        for booking in context["by_slot"].get(slot.id, [])
        if booking_matches(booking, query)
    ]
    return await render_template(
        "admin/board.html",
        venue=venue,
        day=day,
        boards=boards,
        notice=notice,
        csrf=csrf_token(),
        prev_day=day - timedelta(days=1),
        next_day=day + timedelta(days=1),
        query=query,
        found=found,
    ), status


async def after_action(slot, notice: str | None = None, status: int = 200):
    """htmx gets the resource's fresh board; a plain form goes back to the board (or sees the problem)."""
    venue = await store().venue_of_resource(slot.resource_id)
    note(venue_id=venue.id, day=slot.local_date, slot_id=slot.id)
    if htmx_asked():
        context = await board_context(venue, venue.resource(slot.resource_id), slot.local_date)
        return await htmx_swap(
            "_board.html", dict(context, notice=notice, **for_this_clerk()), f"board-{slot.resource_id}", status
        )
    if notice:
        return await board_page(venue, slot.local_date, notice, status)
    url = url_for("admin.board", venue=venue.slug, day=slot.local_date.isoformat())
    return redirect(f"{url}#board-{slot.resource_id}", 303)


@bp.post("/slots/<id:slot_id>/closed")
async def close_slot(slot_id: int):
    """Close a slot to new bookings, or reopen it."""
    await slot_or_404(slot_id)
    closed = (await request.form).get("closed") == "1"
    note(action="close_slot" if closed else "reopen_slot")
    return await after_action(await service().close_slot(slot_id, closed))


@bp.post("/resources/<id:resource_id>/bookings")
async def create_booking(resource_id: int):
    """Book on behalf of a caller or a walk-in (up to the slot's end, no notice needed)."""
    form = await request.form
    slot_id = form.get("slot_id", "")
    slot, _venue, resource = await slot_or_404(whole_number(slot_id, 18) or 0)
    if resource.id != resource_id:
        not_found("slot")
    try:
        booking, slot = await service().book(
            resource,
            slot.id,
            form.get("name", ""),
            form.get("contact", ""),
            parse_party(form.get("party_size", "1"), resource),
            for_staff=True,
            over_limit=form.get("over_limit") == "1",
            locale=current_locale(),
        )
    except Invalid as invalid:
        problems = messages.problem_messages(invalid.problems, resource.max_party)
        return await after_action(slot, " ".join(problems.values()), 422)
    except SlotFull:
        return await after_action(slot, _("That slot has no room for that many places."), 409)
    except SlotUnavailable:
        return await after_action(slot, _("That slot is closed or over."), 409)
    except LimitReached as refused:
        return await after_action(
            slot,
            messages.limit_reached(refused.limit, resource) + " " + _("Tick “over the limit” to book all the same."),
            409,
        )
    note(booking_id=booking.id)
    return await after_action(slot)


@bp.post("/bookings/<id:booking_id>/cancel")
async def cancel_booking(booking_id: int):
    """Cancel a booking for a caller."""
    await booking_or_404(booking_id)
    note(booking_id=booking_id)
    _booking, slot = await service().cancel_for_staff(booking_id)
    return await after_action(slot)


MARKS = {"checked_in": "check_in", "no_show": "mark_no_show", None: "clear_attendance"}  # mark -> audit action


@bp.post("/bookings/<id:booking_id>/attendance")
async def mark_booking(booking_id: int):
    """Checked in, no-show, or clear the mark."""
    await booking_or_404(booking_id)
    value = (await request.form).get("attendance") or None
    if value not in (None, "checked_in", "no_show"):
        abort(400, _("Unknown attendance mark."))
    note(action=MARKS[value], booking_id=booking_id)
    return await after_booking_change(service().mark(booking_id, value))


@bp.post("/bookings/<id:booking_id>/call")
async def call_ticket(booking_id: int):
    """Call this ticket to the counter given."""
    await booking_or_404(booking_id)
    session["counter"] = counter = (await request.form).get("counter", "").strip()[:40] or session.get("counter", "")
    note(booking_id=booking_id, subject=counter)
    return await after_booking_change(service().call(booking_id, counter))


@bp.post("/bookings/<id:booking_id>/requeue")
async def requeue_ticket(booking_id: int):
    """Missed its turn (过号): back into the line."""
    await booking_or_404(booking_id)
    note(booking_id=booking_id)
    return await after_booking_change(service().requeue(booking_id))


async def after_booking_change(change):
    try:
        _booking, slot = await change
    except NotFound:
        abort(409, _("That booking is cancelled."))
    return await after_action(slot)


@bp.post("/resources/<id:resource_id>/call-next")
async def call_next(resource_id: int):
    """Call the next ticket waiting in today's line of a resource."""
    venue, _resource = await resource_by_id_or_404(resource_id)
    form = await request.form
    day = parse_day(form.get("day", ""))
    session["counter"] = counter = form.get("counter", "").strip()[:40] or session.get("counter", "")
    called = await service().call_next(resource_id, day, counter)
    if called is None:
        slots = await store().slots_for_day(resource_id, day)
        if not slots:
            return redirect(url_for("admin.board", venue=venue.slug, day=day.isoformat()), 303)
        return await after_action(slots[0], _("Nobody is waiting."), 409)
    note(booking_id=called[0].id, subject=counter)
    return await after_action(called[1])


# -- venues and resources


def venue_fields(form) -> tuple[dict, dict]:
    """The venue form's values, and field -> problem."""
    values = {
        k: form.get(k, "").strip() for k in ("slug", "name", "kind", "timezone", "per_person_limit", *VENUE_DETAILS)
    }
    values["country"] = values["country"].upper() or country_of_zone(values["timezone"])  # blank: the time zone's
    limit = whole_number(values["per_person_limit"] or "0")
    codes = venue_problems(
        values["slug"],
        values["name"],
        values["kind"],
        values["timezone"],
        limit,
        **{k: values[k] for k in VENUE_DETAILS},
    )
    return values, messages.problem_messages(codes, place=True)


@bp.route("/venues/new", methods=["GET", "POST"])
async def new_venue():
    """Create a venue."""
    values, problems = {"kind": "restaurant", "timezone": "UTC"}, {}
    if request.method == "POST":
        values, problems = venue_fields(await request.form)
        if not problems:
            try:
                venue_id = await service().add_venue(
                    values["slug"],
                    values["name"],
                    values["kind"],
                    values["timezone"],
                    int(values["per_person_limit"] or 0),
                    **{k: values[k] for k in VENUE_DETAILS},
                )
                note(venue_id=venue_id, subject=values["slug"])
                return redirect(url_for("admin.index"), 303)
            except Duplicate:
                problems["slug"] = _("That slug is taken.")
    return await render_template(
        "admin/venue_form.html", venue=None, values=values, problems=problems, kinds=KINDS
    ), 422 if problems else 200


@bp.route("/venues/<venue>/edit", methods=["GET", "POST"])
async def edit_venue(venue: str):
    """Change a venue's name, kind, time zone; archive it."""
    found = await venue_or_404(venue, include_archived=True)
    note(venue_id=found.id, subject=found.slug)
    values = dict(
        slug=found.slug,
        name=found.name,
        kind=found.kind,
        timezone=found.timezone,
        per_person_limit=str(found.per_person_limit),
        **{k: getattr(found, k) for k in VENUE_DETAILS},
    )
    problems = {}
    if request.method == "POST":
        form = await request.form
        values, problems = venue_fields({**form, "slug": found.slug})
        if not problems:
            await service().edit_venue(
                found,
                values["name"],
                values["kind"],
                values["timezone"],
                form.get("archived") == "1",
                int(values["per_person_limit"] or 0),
                **{k: values[k] for k in VENUE_DETAILS},
            )
            return redirect(url_for("admin.index"), 303)
    return await render_template(
        "admin/venue_form.html", venue=found, values=values, problems=problems, kinds=KINDS
    ), 422 if problems else 200


RESOURCE_FIELDS = (
    "slug",
    "name",
    "max_party",
    "horizon_days",
    "min_notice_minutes",
    "release_days_before",
    "release_time",
    "schedule",
    "name_zh",
    "release_mode",
    "draw_entry_hours",
)
NUMBERS = ("max_party", "horizon_days", "min_notice_minutes")


def resource_values(resource: Resource) -> dict:
    """The resource form filled in from a resource."""
    return dict(
        slug=resource.slug,
        name=resource.name,
        max_party=str(resource.max_party),
        horizon_days=str(resource.horizon_days),
        min_notice_minutes=str(resource.min_notice_minutes),
        release_days_before="" if resource.release_days_before is None else str(resource.release_days_before),
        release_time=resource.release_time.isoformat("minutes") if resource.release_time else "",
        schedule=rules_text.to_text(resource.rules, resource.exceptions),
        name_zh=resource.name_zh,
        release_mode=resource.release_mode,
        draw_entry_hours=str(resource.draw_entry_hours),
    )


def resource_fields(form) -> tuple[dict, dict, dict, tuple]:
    """The resource form's values, field -> problem, the settings they make, and the parsed (rules, exceptions)."""
    values = {k: form.get(k, "").strip() for k in RESOURCE_FIELDS}
    settings = {"name": values["name"], "name_zh": clean_text(values["name_zh"])}
    settings |= {field: whole_number(values[field]) for field in NUMBERS}
    settings["release_days_before"] = whole_number(values["release_days_before"])
    settings["release_time"] = clock_time(values["release_time"])
    # A release by draw (抽签), and how long its entries stay open: first come, first served and 24 h when not given.
    settings["release_mode"] = values["release_mode"] or "race"
    settings["draw_entry_hours"] = whole_number(values["draw_entry_hours"] or "24")
    codes = resource_problems(
        values["slug"],
        values["name"],
        values["name_zh"],
        {f: settings[f] for f in (*NUMBERS, "draw_entry_hours")},
        settings["release_days_before"],
        settings["release_time"],
        bool(values["release_days_before"]),
        settings["release_mode"],
    )
    problems = messages.problem_messages(codes, place=True)
    parsed = ([], [])
    try:
        parsed = rules_text.parse(values["schedule"])
    except rules_text.RuleProblem as problem:
        problems["schedule"] = _(
            "Line %(line)s could not be read. Write for example: mon-fri 08:00-12:00 30 5", line=problem.line
        )
    return values, problems, settings, parsed


def clock_time(text: str) -> time | None:
    """An HH:MM time of day, or None."""
    return time(int(text[:2]), int(text[3:])) if re.fullmatch(r"([01][0-9]|2[0-3]):[0-5][0-9]", text) else None


@bp.route("/venues/<venue>/resources/new", methods=["GET", "POST"])
async def new_resource(venue: str):
    """Add something bookable to a venue, with its weekly rules."""
    found = await venue_or_404(venue, include_archived=True)
    values = dict(
        max_party="1",
        horizon_days="14",
        min_notice_minutes="0",
        schedule="mon-fri 09:00-17:00 30 1",
        release_mode="race",
        draw_entry_hours="24",
    )
    problems = {}
    if request.method == "POST":
        values, problems, settings, (rules, exceptions) = resource_fields(await request.form)
        if not problems:
            try:
                await service().add_resource(found, values["slug"], settings.pop("name"), rules, exceptions, **settings)
                note(venue_id=found.id, subject=values["slug"])
                return redirect(url_for("admin.index"), 303)
            except Duplicate:
                problems["slug"] = _("That slug is taken.")
    return await render_template(
        "admin/resource_form.html", venue=found, resource=None, values=values, problems=problems
    ), 422 if problems else 200


@bp.route("/resources/<id:resource_id>/edit", methods=["GET", "POST"])
async def edit_resource(resource_id: int):
    """Change a resource and its schedule; future slots follow at once, bookings stay."""
    venue, resource = await resource_by_id_or_404(resource_id)
    note(venue_id=venue.id, subject=resource.slug)
    values, problems, status = resource_values(resource), {}, 200
    if request.method == "POST":
        form = await request.form
        values, problems, settings, (rules, exceptions) = resource_fields({**form, "slug": resource.slug})
        status = 422
        if not problems:
            try:
                await service().edit_resource(
                    resource, rules, exceptions, archived=form.get("archived") == "1", **settings
                )
                return redirect(url_for("admin.index"), 303)
            except CapacityConflict as conflict:
                zone = ZoneInfo(venue.timezone)
                times = ", ".join(f"{s.local_date} {s.starts_at.astimezone(zone):%H:%M}" for s in conflict.slots[:5])
                problems["schedule"] = _(
                    "Refused: these slots hold more bookings than the new schedule allows: "
                    "%(times)s. Cancel or move those bookings first.",
                    times=times,
                )
                status = 409
    return await render_template(
        "admin/resource_form.html", venue=venue, resource=resource, values=values, problems=problems
    ), status


# -- erasure on request


@bp.route("/erase", methods=["GET", "POST"])
async def erase_person():
    """Erase one person's name and contact from every booking and waitlist entry, on their request."""
    erased, problem, field, contact = None, None, None, ""  # field: the one the problem is about
    if request.method == "POST":
        form = await request.form
        contact = form.get("contact", "").strip()[:200]
        if not looks_like_contact(contact):
            problem, field = _("That does not look like a phone number or an e-mail address."), "contact"
        elif form.get("confirm") != "1":
            problem, field = _("Tick the box to confirm: this cannot be undone."), "confirm"
        else:
            erased = await service().erase_person(contact, staff(), client_address())
    return await render_template(
        "admin/erase.html", erased=erased, problem=problem, field=field, contact=contact
    ), 422 if problem else 200
