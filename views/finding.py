"""JSON API v1 for finding times: a venue's days for a party, and a resource's next time (or next release)."""

from __future__ import annotations

import re
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from quart import Blueprint, abort, jsonify, make_response, request

from booking.availability import MAX_DAYS, DayOutlook
from booking.model import CLOSED, FULL, NOT_YET, OPEN, PAST, Resource, Slot, Venue
from web.i18n import gettext as _
from web.runtime import now, store

from .api import error
from .lookups import parse_day, party_choices, resource_or_404, venue_or_404, whole_number
from .openapi import contract
from .openapi_schemas import MOMENT

bp = Blueprint("finding", __name__, url_prefix="/api/v1/venues/<venue>")

# day_outlook's words as the API says them (the day page's strip shows the same, in its own words)
OUTLOOKS = {OPEN: "available", FULL: "full", CLOSED: "closed", NOT_YET: "not_open_yet", PAST: "past"}
DATE_TIME = re.compile(MOMENT)  # RFC 3339 with its offset, as the contract documents `after`


def stamp(moment: datetime | None, venue: Venue) -> str | None:
    """A moment in the venue's time zone, ISO 8601 (None stays None)."""
    return moment and moment.astimezone(ZoneInfo(venue.timezone)).isoformat()


def time_json(slot: Slot, venue: Venue) -> dict:
    """A time a party may book: the slot to book, when it starts and ends, and its places left."""
    return {"slot_id": slot.id, "start": stamp(slot.starts_at, venue), "end": stamp(slot.ends_at, venue),
            "remaining": slot.remaining}  # fmt: skip


def day_json(day: DayOutlook, venue: Venue) -> dict:
    return {
        "date": day.day.isoformat(),
        "outlook": OUTLOOKS[day.outlook],
        "opens_at": stamp(day.opens_at, venue),
        "times": [time_json(s, venue) for s in day.times],
    }


async def asked_party(largest: int) -> int:
    """`?party=` (1 without it): a 400 unless a whole number from 1, a 422 over `largest`."""
    raw = request.args.get("party")
    if raw is None:
        return 1
    party = whole_number(raw, 3)
    if party is None or party < 1:
        abort(400, _("Give the party as a whole number of people, 1 or more."))
    if party > largest:
        abort(
            await make_response(
                error(422, "invalid", _("Some fields are not valid."), fields={"party": party_choices(largest)})
            )
        )
    return party


async def asked_days() -> tuple[date, date]:
    """`?from=` and `?to=` (the one day without it): 400 unless dates, 422 backwards or over MAX_DAYS."""
    if "from" not in request.args:
        abort(400, _("Add ?from=YYYY-MM-DD."))
    first = parse_day(request.args["from"])
    last = parse_day(request.args["to"]) if "to" in request.args else first
    if last < first:
        problem = {"to": _("Give a day on or after ?from.")}
        abort(await make_response(error(422, "invalid", _("Some fields are not valid."), fields=problem)))
    if last - first >= timedelta(days=MAX_DAYS):
        asked = _("Ask for %(n)s days at most at a time.", n=MAX_DAYS)
        abort(await make_response(error(422, "too_many_days", asked, most=MAX_DAYS)))
    return first, last


@bp.get("/availability")
@contract(
    parameters=("from", "to", "party", "resource_query"),
    ok={200: "Availability"},
    errors={422: ("invalid", "too_many_days")},
)
async def availability(venue: str):
    """Each resource's days from ?from to ?to (YYYY-MM-DD, venue-local, 31 days at most; ?to defaults to ?from) for
    a party of ?party (default 1): the day's outlook, as the day page says it — `available`, `full`, `closed`,
    `past` or `not_open_yet` (with `opens_at`) — and the times with room for the party that can be booked now.
    ?resource= names one resource; without it, every resource that takes the party. 422 `too_many_days` beyond 31
    days, `invalid` for ?to before ?from or a party no resource takes."""
    found = await venue_or_404(venue)
    if "resource" in request.args:
        resources: tuple[Resource, ...] = (resource_or_404(found, request.args["resource"]),)
    else:
        resources = found.open_resources
    party = await asked_party(max((r.max_party for r in resources), default=1))
    first, last = await asked_days()
    taking = tuple(r for r in resources if r.max_party >= party)
    answered = await store().availability(found, taking, first, last, party, now())
    return jsonify(
        venue=found.slug,
        time_zone=found.timezone,
        party=party,
        resources=[{"slug": r.slug, "days": [day_json(d, found) for d in days]} for r, days in answered],
    )


def asked_after() -> datetime:
    """`?after=` (now without it): an RFC 3339 date-time with its offset, else a 400."""
    raw = request.args.get("after")
    if raw is None:
        return now()
    if DATE_TIME.fullmatch(raw):
        try:
            return datetime.fromisoformat(raw.upper())
        except ValueError:
            pass
    abort(400, _("“%(text)s” is not a date and time. Use the form 2030-06-01T18:00:00+01:00.", text=raw[:40]))


@bp.get("/resources/<resource>/next-available")
@contract(parameters=("party", "after"), ok={200: "NextAvailable"}, errors={422: ("invalid",)})
async def next_available(venue: str, resource: str):
    """The first time from now (or from ?after, an RFC 3339 date-time) that a party of ?party (default 1) can book
    now: `available` with the time; else the next day released with room for it, `not_open_yet` with that day and
    its `opens_at`; else `none`. 422 `invalid` for a party the resource does not take."""
    found = await venue_or_404(venue)
    res = resource_or_404(found, resource)
    party, after = await asked_party(res.max_party), asked_after()
    answer = await store().next_available(found, res, party, after, now())
    status = "available" if answer.slot else "not_open_yet" if answer.opens_at else "none"
    return jsonify(
        status=status,
        time=answer.slot and time_json(answer.slot, found),
        date=answer.day and answer.day.isoformat(),
        opens_at=stamp(answer.opens_at, found),
    )
