"""What a message to a person (an e-mail, a text) is about, read as it stands when it is sent — or nothing, when
there is nothing left to say. The outbox row holds ids only: names, contacts and times are read here."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime

from booking.draw import BOOKED, Draw, DrawEntry, Outcome
from booking.model import Booking, Slot, Venue, WaitlistEntry
from booking.outbox import CANCELLED, NOT_DRAWN, OFFERED, REMINDER, Message


@dataclass(frozen=True)
class Told:
    """A person's message as it is to be said: the event, who (name, contact, language), where and what about."""

    event: str
    name: str
    contact: str
    locale: str
    venue: Venue
    slot: Slot | None  # the booked, offered or waited-for slot (none for an entry not drawn at all)
    booking: Booking | None = None
    offer: WaitlistEntry | None = None  # the waitlist entry an offer holds places for
    entry: DrawEntry | None = None  # a draw's entry: its winner's booking, or one not drawn
    draw: Draw | None = None
    outcome: Outcome | None = None


async def told(store, message: Message, now: datetime) -> Told | None:
    """What `message` tells, or None: the booking was cancelled (or moved, for a reminder) since, the offer was taken
    up, left or ran out, the entry was withdrawn, or the person was erased."""
    about = json.loads(message.body)
    if message.event == NOT_DRAWN:
        return await _not_drawn(store, about["draw_entry"])
    if message.event == OFFERED:
        return await _offer(store, message.waitlist_id, now)
    found = message.booking_id and await store.booking_by_id(message.booking_id)
    if not found or not found[0].contact:
        return None
    booking, slot = found
    if message.event != CANCELLED and booking.status != "confirmed":
        return None  # cancelled since: its own notice went out
    if message.event == REMINDER and slot.id != about["slot_id"]:
        return None  # moved since: its own notice went out
    entry = about.get("draw_entry") and await store.draw_entry(about["draw_entry"])
    venue = await store.venue_of_resource(slot.resource_id)
    return Told(
        message.event, booking.name, booking.contact, booking.locale, venue, slot, booking, entry=entry and entry[0]
    )


async def _offer(store, waitlist_id: int | None, now: datetime) -> Told | None:
    found = waitlist_id and await store.waitlist_entry_by_id(waitlist_id)
    if not found or found[0].status != "offered" or found[0].offered_until <= now or not found[0].contact:
        return None
    offer, slot, _position = found
    venue = await store.venue_of_resource(slot.resource_id)
    return Told(OFFERED, offer.name, offer.contact, offer.locale, venue, slot, offer=offer)


async def _not_drawn(store, reference: str) -> Told | None:
    found = await store.draw_entry(reference)
    if not found or found[0].status == BOOKED or not found[0].contact:
        return None
    entry, draw, outcome = found
    venue = await store.venue_of_resource(draw.resource_id)
    return Told(
        NOT_DRAWN, entry.name, entry.contact, entry.locale, venue, outcome.slot, None, None, entry, draw, outcome
    )
