"""What a URL or a form names, found or turned into a clear 404/400: ids, dates, venues, slots, bookings."""

from __future__ import annotations

import re
from datetime import date

from quart import abort, request
from werkzeug.routing import IntegerConverter

from booking.model import MAX_ID, Booking, Resource, Slot, Venue
from booking.validation import parse_party_size
from web.i18n import gettext as _
from web.i18n import shown_name
from web.runtime import store

from .errors import not_found, refused


class IdConverter(IntegerConverter):
    """A database id in a URL: 1 to 2**63 - 1, so a huge number is a 404, not an overflow."""

    regex = r"\d{1,19}"

    def __init__(self, map, *args, **kwargs):
        super().__init__(map, min=1, max=MAX_ID)


FIRST_DAY, LAST_DAY = date(2000, 1, 1), date(2199, 12, 31)  # a day page's neighbours stay valid dates


def parse_day(text: str) -> date:
    """A YYYY-MM-DD date from a URL or form, or a 400 that says what was wrong."""
    try:
        if len(text) == 10 and text[4] == text[7] == "-" and FIRST_DAY <= (day := date.fromisoformat(text)) <= LAST_DAY:
            return day
    except ValueError:
        pass
    abort(400, _("“%(text)s” is not a date. Use the form YYYY-MM-DD.", text=text[:40]))


def whole_number(text: str, digits: int = 6) -> int | None:
    """A non-negative whole number in ASCII digits (int() would take '²' or '٣'), else None."""
    return int(text) if re.fullmatch(rf"[0-9]{{1,{digits}}}", text or "") else None


async def refuse_nul() -> None:
    """Before every request: a NUL in the path, query or form is refused (PostgreSQL's text cannot hold it)."""
    values = [request.path, *request.args.values()]
    if request.method == "POST" and request.mimetype in ("application/x-www-form-urlencoded", "multipart/form-data"):
        values += (await request.form).values()
    if any("\x00" in v for v in values):
        abort(400, _("The request could not be understood."))


def parse_party(raw: str, resource: Resource) -> object:
    """A form's party size: the only choice when there is one, else the number sent (or the text, to refuse)."""
    if resource.max_party == 1 and not raw:
        return 1
    size = parse_party_size(raw)
    return raw if size is None else size


def chosen_party(resource: Resource) -> int:
    """The party size a page was asked for (`?party=`, 1 without it); a 400 unless the resource takes it."""
    raw = request.args.get("party", "")
    if not raw:
        return 1
    size = parse_party_size(raw)
    if size is None or not 1 <= size <= resource.max_party:
        abort(400, party_choices(resource.max_party))
    return size


def shown_party(party: int) -> int | None:
    """A party size as an address carries it (none for one person)."""
    return party if party > 1 else None


def party_choices(largest: int) -> str:
    """What a page says to a party size it cannot take."""
    if largest == 1:
        return _("This is booked for one person at a time.")
    return _("Choose a party of 1 to %(max)s people.", max=largest)


async def venue_or_404(slug: str, include_archived: bool = False) -> Venue:
    """The venue with this slug (archived ones for staff only)."""
    venue = await store().venue(slug)
    if venue is None or (venue.archived and not include_archived):
        abort(404, _("There is no venue called “%(slug)s”.", slug=slug[:60]))
    return venue


def resource_or_404(venue: Venue, slug: str) -> Resource:
    """A venue's resource the public can see."""
    resource = venue.resource(slug)
    if resource is None or resource.archived:
        abort(404, _("%(venue)s has nothing called “%(slug)s”.", venue=shown_name(venue), slug=slug[:60]))
    return resource


async def resource_by_id_or_404(resource_id: int) -> tuple[Venue, Resource]:
    """A resource by id, with its venue (staff pages)."""
    venue = await store().venue_of_resource(resource_id)
    if venue is None:
        not_found("resource")
    return venue, venue.resource(resource_id)


async def slot_or_404(slot_id: int) -> tuple[Slot, Venue, Resource]:
    """A slot with its venue and resource."""
    slot = await store().slot(slot_id) if 0 < slot_id <= MAX_ID else None  # JSON ints have no bound
    venue = slot and await store().venue_of_resource(slot.resource_id)
    if not slot or not venue:
        not_found("slot")
    return slot, venue, venue.resource(slot.resource_id)


async def public_slot_or_404(slot_id: int) -> tuple[Slot, Venue, Resource]:
    """A slot the public may see and book: neither its venue nor its resource is archived."""
    slot, venue, resource = await slot_or_404(slot_id)
    if venue.archived or resource.archived:
        not_found("slot")
    return slot, venue, resource


async def bookable_slot_or_404(slot_id: int) -> tuple[Slot | None, Venue, Resource]:
    """As public_slot_or_404, for a booking: a slot whose resource the store knows is not read first (its booking's
    transaction reads it, and checks it is that resource's): the slot only as kept full, else None."""
    resource_id = store().resource_of_slot(slot_id)
    if resource_id is None:
        return await public_slot_or_404(slot_id)
    venue = await store().venue_of_resource(resource_id)
    resource = venue and venue.resource(resource_id)
    if not resource or venue.archived or resource.archived:
        not_found("slot")
    return store().kept_slot(slot_id), venue, resource


async def booking_or_404(booking_id: int) -> tuple[Booking, Slot]:
    """A booking by id, with its slot (staff pages)."""
    found = await store().booking_by_id(booking_id)
    if found is None:
        abort(404, _("That booking does not exist."))
    return found


async def booking_with_token(reference: str, token: str) -> dict:
    """A booking its holder opens with the secret from their link: booking, slot, venue and resource."""
    found = await store().booking(reference)
    if found is None:
        not_found("booking", reference)
    booking, slot = found
    if not booking.token_matches(token):
        refused("booking", booking.reference)
    venue = await store().venue_of_resource(slot.resource_id)
    return dict(booking=booking, slot=slot, venue=venue, resource=venue.resource(slot.resource_id))


async def entry_with_token(reference: str, token: str) -> dict:
    """A waitlist entry its holder opens with the secret from their link, with its slot, venue and resource."""
    found = await store().waitlist_entry(reference)
    if found is None:
        not_found("entry", reference)
    entry, slot, position = found
    if not entry.token_matches(token):
        refused("entry", entry.reference)
    venue = await store().venue_of_resource(slot.resource_id)
    return dict(entry=entry, slot=slot, position=position, venue=venue, resource=venue.resource(slot.resource_id))
