"""Public pages: venues, a resource's day, the booking form, confirmation and cancel."""

from __future__ import annotations

import base64
import hmac
import secrets
from datetime import date, timedelta
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

from quart import (
    Blueprint,
    abort,
    current_app,
    redirect,
    render_template,
    request,
    url_for,
)

from booking import topics
from booking.availability import by_day
from booking.errors import LimitReached, NotOpenYet, SlotFull, SlotUnavailable
from booking.model import (
    CLOSED,
    FULL,
    NOT_YET,
    OPEN,
    PAST,
    Resource,
    Slot,
    Venue,
    called_recently,
    countdown,
    day_opens_at,
    day_outlook,
    horizon,
    local_today,
    next_bookable,
    next_midnight,
    opens_at,
    place_in_line,
    slot_state,
    state_changes_at,
    valid_until,
)
from booking.service import Invalid
from live.render import fragment
from live.wire import EVENTS
from middleware import csrf
from web.clients import check_booking_rate
from web.i18n import current as current_locale
from web.i18n import gettext as _
from web.runtime import now, service, store

from . import messages
from .errors import about
from .fragments import htmx_asked, htmx_swap, inline
from .lookups import (
    booking_with_token,
    chosen_party,
    parse_day,
    parse_party,
    public_slot_or_404,
    resource_or_404,
    shown_party,
    venue_or_404,
)

bp = Blueprint("public", __name__)


def form_key() -> str:
    """An idempotency key for one load of the booking form, signed for this session: 16 hex digits + 22."""
    token = secrets.token_hex(8)
    return token + key_signature(token)


def key_signature(token: str) -> str:
    digest = hmac.new(current_app.config["SECRET_KEY"].encode(), f"{token}:{csrf.secret()}".encode(), "sha256")
    return base64.urlsafe_b64encode(digest.digest()[:16]).decode().rstrip("=")


def issued_key(sent: str) -> str | None:
    """The form's key as stored (scoped to the form), if this server issued it to this session; else a 400."""
    if not sent:
        return None
    if len(sent) != 38 or not hmac.compare_digest(key_signature(sent[:16]), sent[16:]):
        abort(400, _("This form has expired. Please go back, reload the page and try again."))
    return f"form:{sent[:16]}"


# -- fragments: the same contexts for the page, the htmx answer and the SSE message


def slot_states(venue: Venue, resource: Resource, slots: list[Slot], day: date | None = None) -> dict:
    """Each slot's state for the public now, when the next of them opens (放号) with its countdown, and until when
    all that holds. Given `day` (to be opened, with no slots yet), when that day opens."""
    at = now()
    states = {s.id: slot_state(s, resource, venue.timezone, at) for s in slots}
    opening = min((opens_at(s, resource, venue.timezone) for s in slots if states[s.id] == NOT_YET), default=None)
    if day is not None and not slots and (moment := day_opens_at(day, resource, venue.timezone)) > at:
        opening = moment
    return dict(
        states=states,
        opens=opening and opening.astimezone(ZoneInfo(venue.timezone)),
        countdown=opening and messages.countdown(opening, at),
        valid_until=valid_until(
            opening and countdown(opening, at)[2], *(state_changes_at(s, resource, venue.timezone, at) for s in slots)
        ),
    )


async def day_context(venue: Venue, resource: Resource, day: date, party: int = 1) -> dict:
    """What `_slot_table.html` needs: the day's slots as a party of `party` may book them, those begun apart, and
    when the day opens if it is still to (its slots not made yet, too)."""
    slots, at = await store().slots_for_day(resource.id, day), now()
    begun = [s for s in slots if s.starts_at < at]  # closed ones too: whatever began folds away
    to_open = day_outlook(slots, resource, venue.timezone, at, party, day) == NOT_YET
    return dict(
        venue=venue,
        resource=resource,
        day=day,
        party=party,
        slots=[s for s in slots if s not in begun],
        begun=begun,
        tel=tel_uri(venue.phone),
        **slot_states(venue, resource, slots, day if to_open else None),
    )


STRIP_DAYS = 14  # the date strip's length, when the horizon is as long


async def strip_context(venue: Venue, resource: Resource, day: date, party: int = 1) -> dict:
    """What `_date_strip.html` needs: up to two weeks' outlooks for the party around `day`; what `day` is for the
    party, and unless it has room or is still to open (its table says when), the next slot with room after it.
    (The strip, not the table: a change on any day of the resource renders every strip again.)"""
    at = now()
    today = local_today(venue.timezone, at)
    # From the day before the one shown (a phone shows the strip's start), within today … the horizon.
    end = today + timedelta(days=resource.horizon_days)
    first = min(max(today, day - timedelta(days=1)), max(today, end - timedelta(days=STRIP_DAYS - 1)))
    dates = [first + timedelta(days=n) for n in range(min((end - first).days + 1, STRIP_DAYS))]
    slots = await store().slots_between(resource.id, dates[0], dates[-1])
    grouped = by_day(slots)
    outlooks = [(d, day_outlook(grouped.get(d, []), resource, venue.timezone, at, party, d)) for d in dates]
    seen = grouped.get(day, []) if dates[0] <= day <= dates[-1] else await store().slots_for_day(resource.id, day)
    outlook, next_free = day_outlook(seen, resource, venue.timezone, at, party, day), None
    if outlook in (FULL, CLOSED, PAST):  # never backwards in time, never to a day not open yet
        candidates = await store().free_slots_after(resource.id, max(day, today - timedelta(days=1)), party)
        next_free = next_bookable(candidates, resource, venue.timezone, at, party)
    return dict(
        venue=venue,
        resource=resource,
        day=day,
        today=today,
        party=party,
        outlooks=outlooks,
        outlook=outlook,
        next_free=next_free,
        valid_until=valid_until(
            next_midnight(venue.timezone, at),
            *(state_changes_at(s, resource, venue.timezone, at) for s in (*slots, *([next_free] if next_free else ()))),
        ),
    )


def slot_context(slot: Slot, venue: Venue, resource: Resource) -> dict:
    """What `_slot_status.html` needs."""
    return dict(slot=slot, venue=venue, resource=resource, **slot_states(venue, resource, [slot]))


async def ticket_context(venue: Venue, booking, slot: Slot) -> dict:
    """What `_ticket.html` needs: the ticket, who is called, how many wait before it."""
    entries = await store().bookings_of(slot.resource_id, slot.local_date)
    return dict(
        booking=booking,
        letter=venue.ticket_letter(slot.resource_id),
        calls=called_recently(entries, 1),
        ahead=place_in_line(entries, booking.id),
    )


@fragment(topics.day, "_slot_table.html", event=lambda *_: EVENTS.SLOTS)
async def day_topic(resource_id: int, day: date, party: int) -> dict:
    venue = await store().venue_of_resource(resource_id)
    return await day_context(venue, venue.resource(resource_id), day, party)


@fragment(topics.days, "_date_strip.html", event=lambda *_: EVENTS.DAYS)
async def strip_topic(resource_id: int, day: date, party: int) -> dict:
    venue = await store().venue_of_resource(resource_id)
    return await strip_context(venue, venue.resource(resource_id), day, party)


@fragment(topics.slot, "_slot_status.html", event=lambda *_: EVENTS.SLOT_STATUS)
async def slot_topic(resource_id: int, slot_id: int) -> dict:
    venue = await store().venue_of_resource(resource_id)
    return slot_context(await store().slot(slot_id), venue, venue.resource(resource_id))


@fragment(topics.ticket, "_ticket.html", event=lambda *_: EVENTS.TICKET)
async def ticket_topic(resource_id: int, day: date, booking_id: int) -> dict:
    booking, slot = await store().booking_by_id(booking_id)
    return await ticket_context(await store().venue_of_resource(resource_id), booking, slot)


# -- pages


@bp.get("/")
async def index():
    """Every venue."""
    return await render_template("index.html", venues=await store().venues())


@bp.get("/book/<venue>")
async def venue(venue: str):
    """A venue: where and when (address, phone, map, opening hours) and its resources."""
    found = await venue_or_404(venue)
    return await render_template(
        "venue.html",
        venue=found,
        today=local_today(found.timezone, now()),
        tel=tel_uri(found.phone),
        map_url=map_url(found.address),
    )


def tel_uri(phone: str) -> str | None:
    """A phone number as a tel: link (RFC 3966 keeps the digits and a leading +; an international number's
    "(0)" is dialled only at home), or None without one."""
    if not phone:
        return None
    dialled = phone.replace("(0)", "") if phone.startswith("+") else phone
    return "tel:" + "".join(c for c in dialled if c.isdigit() or c == "+")


def map_url(address: str) -> str | None:
    """An OpenStreetMap search for the address, or None without one."""
    return "https://www.openstreetmap.org/search?" + urlencode({"query": address}) if address else None


@bp.get("/book/<venue>/<resource>")
async def pick_day(venue: str, resource: str):
    """The date picker's target: on to the day view (today without a date)."""
    found = await venue_or_404(venue)
    res = resource_or_404(found, resource)
    day = request.args.get("date") or local_today(found.timezone, now()).isoformat()
    return redirect(
        url_for(
            "public.day",
            venue=venue,
            resource=resource,
            day=parse_day(day).isoformat(),
            party=shown_party(chosen_party(res)),
        )
    )


@bp.get("/book/<venue>/<resource>/<day>")
async def day(venue: str, resource: str, day: str):
    """A resource's slots on one day for a party (`?party=`), with the coming days' outlook, live."""
    found = await venue_or_404(venue)
    res = resource_or_404(found, resource)
    on, party = parse_day(day), chosen_party(res)
    table = await day_context(found, res, on, party)
    context = dict(
        today=local_today(found.timezone, now()),
        horizon=horizon(res, found.timezone, now()),
        prev_day=on - timedelta(days=1),
        next_day=on + timedelta(days=1),
        table=await inline("_slot_table.html", table),
        strip=await inline("_date_strip.html", await strip_context(found, res, on, party)),
    )
    return await render_template("day.html", **context, venue=found, resource=res, day=on, party=party)


@bp.get("/slots/<id:slot_id>/book")
async def booking_form(slot_id: int):
    """The booking form for one slot, with its live remaining count (and the party size chosen, `?party=`)."""
    slot, venue, resource = await public_slot_or_404(slot_id)
    party = chosen_party(resource)
    bookable = slot_state(slot, resource, venue.timezone, now()) in (OPEN, NOT_YET)
    return await render_form(
        slot,
        venue,
        resource,
        form={"party_size": party} if party > 1 else None,
        party=party,
        alternatives=() if bookable else await store().free_slots_near(slot, party, now()),
    )


async def render_form(
    slot,
    venue,
    resource,
    *,
    status=200,
    form=None,
    problems=None,
    notice=None,
    party=1,
    alternatives=(),
    idempotency_key=None,
    wait_form=None,
    wait_problems=None,
):
    """The form page, or just the booking form when htmx posted it (swapped in place). A slot that cannot be booked
    has no booking form: the nearest times with room for the party instead, and when it is full, its waitlist."""
    context = dict(
        slot_context(slot, venue, resource),
        form=form or {},
        problems=problems or {},
        notice=notice,
        party=party,
        alternatives=alternatives,
        idempotency_key=idempotency_key or form_key(),
        wait_form=wait_form or {},
        wait_problems=wait_problems or {},
    )
    if htmx_asked() and request.method == "POST":
        if wait_problems:  # the waitlist's own form, with its problems by its fields
            return await htmx_swap("_waitlist_form.html", context, "waitlist", status)
        return await htmx_swap("_booking_form.html", context, "booking-form", status)
    return await render_template("book.html", **context), status


@bp.post("/slots/<id:slot_id>/book")
async def create_booking(slot_id: int):
    """Book, then show the confirmation; or the form again with what went wrong."""
    slot, venue, resource = await public_slot_or_404(slot_id)
    await check_booking_rate()
    form = await request.form
    sent = form.get("idempotency_key", "")
    key = issued_key(sent)
    fields = {name: form.get(name, "") for name in ("name", "contact", "party_size")}
    party_size = parse_party(fields["party_size"], resource)
    try:
        booking, _slot = await service().book(
            resource,
            slot.id,
            fields["name"],
            fields["contact"],
            party_size,
            idempotency_key=key,
            locale=current_locale(),
        )
    except Invalid as invalid:
        return await render_form(
            slot,
            venue,
            resource,
            status=422,
            form=fields,
            idempotency_key=sent,
            problems=messages.problem_messages(invalid.problems, resource.max_party),
        )
    except (NotOpenYet, LimitReached) as refused:
        notice = (
            messages.limit_reached(refused.limit, resource)
            if isinstance(refused, LimitReached)
            else messages.not_open_yet(refused.opens_at, venue.timezone)
        )
        return await render_form(
            slot, venue, resource, status=409, form=fields, notice=notice, idempotency_key=sent, alternatives=None
        )
    except (SlotFull, SlotUnavailable) as refused:
        latest = await store().slot(slot.id)
        size = party_size if isinstance(party_size, int) and party_size > 0 else 1
        nearby = await store().free_slots_near(latest, size, now())
        if isinstance(refused, SlotUnavailable):
            notice = messages.slot_unavailable()
        elif latest.remaining:  # places left, but fewer than the party: not "just taken"
            notice = messages.too_few_places(latest.remaining, size)
        else:
            notice = messages.slot_full()
        return await render_form(
            latest,
            venue,
            resource,
            status=409,
            form=fields,
            notice=notice,
            party=size,
            alternatives=nearby,
            idempotency_key=sent,
        )
    return redirect(url_for("public.booking", reference=booking.reference, token=booking.cancel_token), 303)


@bp.get("/bookings/<reference>")
async def booking(reference: str):
    """The confirmation: reference, time, ticket with its live place in line, and the secret cancel link."""
    token = request.args.get("token", "")
    context = await booking_with_token(reference, token)
    ticket = await ticket_context(context["venue"], context["booking"], context["slot"])
    return await render_template("confirmation.html", token=token, **{**ticket, **context})


@bp.get("/bookings/<reference>/cancel")
async def cancel_form(reference: str):
    """Ask before cancelling."""
    return await render_template("cancel.html", **await booking_with_token(reference, request.args.get("token", "")))


@bp.post("/bookings/<reference>/cancel")
async def cancel_booking(reference: str):
    """Cancel; the places go back and every open page shows it."""
    token = (await request.form).get("token", "")
    with about("booking", reference):
        booking, _slot = await service().cancel(reference, token)
    return redirect(url_for("public.booking", reference=booking.reference, token=token), 303)
