"""The audit trail people can read: who did what, on which venue and day, from where, in the venue's own time
(UTC for entries about no venue), the action in words; filtered by venue, day, person and action, and as CSV for
owners and managers (a manager: its venues only). Nothing in the app edits or deletes an entry."""

from __future__ import annotations

from dataclasses import dataclass
from zoneinfo import ZoneInfo

from quart import Blueprint, abort, render_template, request

from booking.access import OWNER
from booking.model import AuditEntry, Venue
from web.i18n import gettext as _
from web.i18n import shown_name
from web.runtime import store

from . import permissions
from .audit_words import WORDS, describe, label
from .auth import require_staff
from .exports import csv_file
from .lookups import parse_day, venue_or_404
from .recording import record

bp = Blueprint("audit", __name__, url_prefix="/admin")
bp.before_request(require_staff)

PAGE_ROWS, CSV_ROWS = 200, 10_000  # the newest entries a page shows, and a CSV file holds


@dataclass(frozen=True)
class Line:
    """An entry as a person reads it."""

    when: str
    zone: str
    actor: str
    address: str
    what: str
    action: str
    venue: str
    days: str


async def asked() -> tuple[dict, dict]:
    """The filters of the query string (a 404 for a venue not found, a 400 for a day or action not known), and
    the store's query: a manager's never reaches past its venues, an owner's takes in entries of no venue too."""
    args = request.args
    venue = await venue_or_404(args["venue"], include_archived=True) if args.get("venue") else None
    day = parse_day(args["day"]) if args.get("day") else None
    action = args.get("action") or None
    if action is not None and action not in WORDS:
        abort(400, _("Unknown action."))
    actor = args.get("person", "").strip()[:100] or None
    if venue is not None:
        venues = [venue.id]
    elif permissions.current().role == OWNER:
        venues = None
    else:
        venues = [v.id for v in await permissions.own_venues(include_archived=True)]
    return dict(venue=venue, day=day, person=actor, action=action), dict(
        venues=venues, day=day, actor=actor, action=action
    )


async def readable(entries: list[AuditEntry]) -> list[Line]:
    """Entries in words, each in its venue's time zone, with the bookings and slots they were about as they are
    now (an erased person's name is gone from the booking, and so from here)."""
    venues: dict[int, Venue] = {v.id: v for v in await store().venues(include_archived=True)}
    bookings, slots = await store().audit_places(
        [e.booking_id for e in entries if e.booking_id], [e.slot_id for e in entries if e.slot_id]
    )
    lines = []
    for entry in entries:
        venue = venues.get(entry.venue_id) if entry.venue_id else None
        zone = venue.timezone if venue else "UTC"
        days = " – ".join(d.isoformat() for d in (entry.local_date, entry.last_date) if d)
        lines.append(
            Line(
                when=entry.at.astimezone(ZoneInfo(zone)).strftime("%Y-%m-%d %H:%M:%S"),
                zone=zone,
                actor=entry.actor,
                address=entry.address,
                what=describe(entry, venue, bookings.get(entry.booking_id), slots.get(entry.slot_id)),
                action=entry.action,
                venue=shown_name(venue) if venue else "",
                days=days,
            )
        )
    return lines


@bp.get("/audit")
async def trail():
    """The newest entries first, as the filters narrow them."""
    filters, query = await asked()
    lines = await readable(await store().audit_trail(**query, limit=PAGE_ROWS))
    own = await permissions.own_venues(include_archived=True)
    return await render_template(
        "admin/audit.html",
        lines=lines,
        venues=own,
        actors=await store().audit_actors(query["venues"]),
        actions=[(a, label(a)) for a in WORDS],  # as the words table groups them
        page_rows=PAGE_ROWS,
        **filters,
    )


@bp.get("/audit.csv")
async def trail_csv():
    """The entries the filters pick, as a CSV file in the request's language; the export is itself kept."""
    filters, query = await asked()
    lines = await readable(await store().audit_trail(**query, limit=CSV_ROWS))
    venue, day = filters["venue"], filters["day"]
    await record("export_audit", "", venue.id if venue else None, day)
    header = [_("When"), _("Time zone"), _("Who"), _("From"), _("What"), _("Action"), _("Venue"), _("Date")]
    rows = [[ln.when, ln.zone, ln.actor, ln.address, ln.what, ln.action, ln.venue, ln.days] for ln in lines]
    name = "-".join(["audit", *([venue.slug] if venue else []), *([day.isoformat()] if day else [])])
    return csv_file(f"{name}.csv", header, rows)
