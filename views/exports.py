"""Exports for the desk (staff only): a day's or a date range's bookings as CSV, and a printable day list; each
kept in the audit trail (who, which venue, which days)."""

from __future__ import annotations

import csv
import io
from datetime import date, datetime

from quart import Blueprint, Response, abort, render_template, request

from booking.model import Booking, Slot, Venue, bookings_by_slot, ticket_label
from web.i18n import N_, local_time
from web.i18n import gettext as _
from web.runtime import store

from .auth import require_staff
from .errors import not_found
from .lookups import parse_day, venue_or_404
from .recording import record, record_view

bp = Blueprint("exports", __name__, url_prefix="/admin")
bp.before_request(require_staff)

MAX_DAYS = 92  # a quarter at most in one range CSV
ATTENDANCE = {"checked_in": N_("checked in"), "no_show": N_("no-show")}
RISKY = ("=", "+", "-", "@", "\t", "\r")  # a spreadsheet reads a cell starting so as a formula


@bp.get("/venues/<venue>/bookings/<day>.csv")
async def day_csv(venue: str, day: str):
    """A day's bookings, cancelled too, as a CSV file."""
    found, on = await venue_or_404(venue, include_archived=True), parse_day(day)
    rows = [booking_row(found, booking, slot) for booking, slot in await store().bookings_on(found.id, on)]
    await record("export_day", "", found.id, on)
    return csv_file(f"{found.slug}-{on.isoformat()}.csv", header(), rows)


@bp.get("/venues/<venue>/bookings.csv")
async def range_csv(venue: str):
    """The bookings of the days ?from=…&to=… (both included, at most MAX_DAYS) as a CSV file."""
    found = await venue_or_404(venue, include_archived=True)
    first, last = day_range(request.args.get("from", ""), request.args.get("to", ""))
    entries = await store().bookings_between(found.id, first, last)
    rows = [[slot.local_date.isoformat(), *booking_row(found, booking, slot)] for booking, slot in entries]
    await record("export_range", "", found.id, first, last_date=last)
    return csv_file(f"{found.slug}-{first.isoformat()}-to-{last.isoformat()}.csv", [_("Date"), *header()], rows)


@bp.get("/venues/<venue>/board/<day>/print")
async def day_list(venue: str, day: str):
    """A day's confirmed bookings of every open resource, laid out for paper (its names seen: kept in the audit
    trail once per session and venue-day)."""
    found, on = await venue_or_404(venue, include_archived=True), parse_day(day)
    await record_view("print_list", found, on)
    resources = []
    for resource in found.open_resources:
        entries = [(b, s) for b, s in await store().bookings_of(resource.id, on) if b.status == "confirmed"]
        resources.append(
            (
                resource,
                await store().slots_for_day(resource.id, on),
                bookings_by_slot(entries),
                found.ticket_letter(resource.id),
            )
        )
    return await render_template("admin/day_list.html", venue=found, day=on, resources=resources)


@bp.get("/venues/<venue>/draws/<resource>/<day>.csv")
async def draw_csv(venue: str, resource: str, day: str):
    """A day's draw (抽签): every entry, in rank order once drawn, with what it came to, as a CSV file (no entry
    but the header when the day has no draw)."""
    found, on = await venue_or_404(venue, include_archived=True), parse_day(day)
    res = found.resource(resource)
    if res is None:
        not_found("resource")
    draw = await store().draw(res.id, on)
    times = {s.id: local_time(s.starts_at, found.timezone) for s in await store().slots_for_day(res.id, on)}
    rows = [
        [
            e.rank or "",
            e.number,
            e.reference,
            e.name,
            e.contact,
            e.party_size,
            " ".join(times.get(p, "?") for p in e.preferences),
            e.status,
            times.get(e.drawn_slot, ""),
        ]
        for e in (await store().draw_entries(draw.id) if draw else [])
    ]
    await record("export_draw", res.slug, found.id, on)
    return csv_file(
        f"{found.slug}-{res.slug}-{on.isoformat()}-draw.csv",
        [
            _("Rank"),
            _("Entry"),
            _("Reference"),
            _("Name"),
            _("Contact"),
            _("Party"),
            _("Preferred times"),
            _("Status"),
            _("Time"),
        ],
        rows,
    )


def day_range(first_text: str, last_text: str) -> tuple[date, date]:
    """The first and last day of a range from the query, or a 400 that says what was wrong."""
    if not first_text or not last_text:
        abort(400, _("Give the first and the last day: ?from=YYYY-MM-DD&to=YYYY-MM-DD."))
    first, last = parse_day(first_text), parse_day(last_text)
    if last < first:
        abort(400, _("The last day comes before the first."))
    if (last - first).days + 1 > MAX_DAYS:
        abort(400, _("At most %(n)s days in one file.", n=MAX_DAYS))
    return first, last


def header() -> list[str]:
    """The columns of a booking row, in the request's language."""
    return [
        _("Time"),
        _("Resource"),
        _("Ticket"),
        _("Reference"),
        _("Name"),
        _("Contact"),
        _("Party"),
        _("Status"),
        _("Attendance"),
        _("Called at"),
        _("Called to"),
        _("Re-queued at"),
    ]


def booking_row(venue: Venue, booking: Booking, slot: Slot) -> list[object]:
    """A booking's cells, in header() order: what was booked, then what happened at the desk."""
    resource = venue.resource(slot.resource_id)

    def clock(moment: datetime | None) -> str:
        return local_time(moment, venue.timezone) if moment else ""

    return [
        local_time(slot.starts_at, venue.timezone),
        resource.name if resource else "",
        ticket_label(venue.ticket_letter(slot.resource_id), booking.ticket),
        booking.reference,
        booking.name,
        booking.contact,
        booking.party_size,
        _("confirmed") if booking.status == "confirmed" else _("cancelled"),
        _(ATTENDANCE[booking.attendance]) if booking.attendance in ATTENDANCE else "",
        clock(booking.called_at),
        booking.called_to or "",
        clock(booking.requeued_at),
    ]


def cell(value: object) -> object:
    """A cell a spreadsheet shows as text: one that could start a formula gets a leading apostrophe."""
    return "'" + value if isinstance(value, str) and value.startswith(RISKY) else value


def csv_file(filename: str, header: list[str], rows: list[list[object]]) -> Response:
    """A CSV download in UTF-8 with a BOM, so Excel reads Chinese names right."""
    text = io.StringIO()
    writer = csv.writer(text)
    writer.writerow([cell(v) for v in header])
    writer.writerows([cell(v) for v in row] for row in rows)
    return Response(
        text.getvalue().encode("utf-8-sig"),
        content_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )
