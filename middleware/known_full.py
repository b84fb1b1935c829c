"""Known full: a JSON API booking at a slot the store knows to be full is refused before it enters the app."""

from __future__ import annotations

import json
import time
from collections.abc import Awaitable, Callable

from werkzeug.http import parse_options_header

from booking.errors import SlotFull
from booking.model import MAX_ID
from booking.outages import Unavailable
from web.clients import COUNTED, address_of, count_booking, group_of
from web.i18n import negotiate
from web.observe import request_id, request_line

PATH = "/api/v1/bookings"  # the JSON API's; the page's form (POST /book/…) goes through the app as before
ENDPOINT = "api.create_booking"
# A request that carries any of these goes on to the app: a key's replay, an API key's powers and limits, a
# language chosen with the lang cookie; a cross-site write is refused there.
PASSED_ON = (b"idempotency-key", b"authorization", b"cookie")

Answer = tuple[int, list[tuple[bytes, bytes]], bytes]  # status, headers, body


class KnownFull:
    """Before a booking's turn (middleware.admission): POST /api/v1/bookings, anonymous and without an idempotency
    key, its fields valid, at a slot the store keeps as full (booking.sql.kept: read full, no change heard since)
    with no room for the party, is answered 409 slot_full here, as the app would answer it (`refusal(locale)`:
    views.api.slot_full in that language, with the app's headers), and counted and logged as the app counts and
    logs a refusal. Anything else, or anything in doubt, goes on to the app unchanged."""

    def __init__(self, app, refusal: Callable[[str], Awaitable[Answer]]):
        self.app = app  # the Quart app: its config, and its runtime once it serves
        self.refusal = refusal
        self.answers: dict[str, Answer] = {}  # the refusal per language, made once

    async def __call__(self, scope, body: bytes | None, send) -> bool:
        """Whether it answered the request (else it goes on to the app as it came)."""
        began = time.perf_counter()
        running = self.app.extensions.get("slotcast")
        if running is None or scope["path"] != PATH or scope["method"] != "POST" or scope["query_string"]:
            return False
        headers = first_headers(scope)
        if not self.plain(headers, body) or (asked := booking_asked(body)) is None:
            return False
        if not await self.refuses(running, asked):
            return False
        uncounted = COUNTED not in scope
        if not await self.within_rate(scope, headers, running):
            return False
        if uncounted and COUNTED in scope and not await self.refuses(running, asked):
            return False  # a place came back while it was being counted: the app books it (counted once)
        running.service.observe(SlotFull.code)
        locale = negotiate(None, None, text(headers, b"accept-language"))
        rid = request_id(text(headers, b"x-request-id"))
        await self.answer(send, locale, rid)
        seconds = time.perf_counter() - began
        self.app.extensions["slotcast.metrics"].booking_seconds.observe(seconds)
        request_line(self.app.config, "POST", PATH, 409, seconds, rid)
        return True

    async def within_rate(self, scope, headers: dict[bytes, bytes], running) -> bool:
        """Count the attempt as the app counts a booking (SLOTCAST_BOOKINGS_PER_MINUTE, per client) and leave the
        count in the scope, so that the app counts it no more; False past the limit (the app answers 429) or when
        the count cannot be made (the app says why)."""
        limit = int(self.app.config["BOOKINGS_PER_MINUTE"])
        if not limit:
            return True
        if COUNTED in scope:  # counted before it waited its turn
            return scope[COUNTED][0] <= limit
        peer = (scope.get("client") or ["<local>"])[0]  # as Quart's request.remote_addr
        client = group_of(address_of(peer, text(headers, b"x-forwarded-for"), self.app.config))
        try:
            scope[COUNTED] = await count_booking(running.service, client)
        except Unavailable:
            return False
        return scope[COUNTED][0] <= limit

    def plain(self, headers: dict[bytes, bytes], body: bytes | None) -> bool:
        """Whether the request is a plain anonymous JSON call whose body came whole, within the app's size limit."""
        if body is None or len(body) > self.app.config["MAX_CONTENT_LENGTH"]:
            return False
        if any(name in headers for name in PASSED_ON) or headers.get(b"sec-fetch-site") == b"cross-site":
            return False
        mimetype, _options = parse_options_header(headers.get(b"content-type", b"").decode("latin-1"))
        return mimetype.lower() == "application/json"

    async def refuses(self, running, asked: tuple[int, str, str, int]) -> bool:
        """Whether the app would refuse this booking slot_full from what the store keeps, without reading."""
        slot_id, name, contact, party_size = asked
        slot = running.store.kept_slot(slot_id)
        try:
            venue = slot and await running.store.venue_of_resource(slot.resource_id)  # as kept, unless one changed
        except Unavailable:
            return False  # the app says why
        resource = venue and venue.resource(slot.resource_id)
        if not resource or venue.archived or resource.archived:
            return False
        return running.service.refuses_as_full(slot, venue, name, contact, party_size)

    async def answer(self, send, locale: str, rid: str) -> None:
        """Send the slot_full refusal in `locale`, with the request's id."""
        if locale not in self.answers:
            async with self.app.app_context():
                self.answers[locale] = await self.refusal(locale)
        status, headers, body = self.answers[locale]
        await send(
            {"type": "http.response.start", "status": status, "headers": [*headers, (b"x-request-id", rid.encode())]}
        )
        await send({"type": "http.response.body", "body": body, "more_body": False})


def text(headers: dict[bytes, bytes], name: bytes) -> str:
    """A header's value as the app reads it ('' when it is missing)."""
    return headers.get(name, b"").decode("latin-1")


def first_headers(scope) -> dict[bytes, bytes]:
    """The request's headers by name, each name's first value (as the app reads one)."""
    headers: dict[bytes, bytes] = {}
    for name, value in scope["headers"]:
        headers.setdefault(name.lower(), value)
    return headers


def booking_asked(body: bytes) -> tuple[int, str, str, int] | None:
    """(slot_id, name, contact, party_size) of a booking body the app would read as it stands: a JSON object with
    a whole-number slot_id, text name and contact, a whole-number party_size (1 when left out), no idempotency_key
    and no override_limit; else None (the app answers it, whatever it is)."""
    try:
        asked = json.loads(body)
    except (UnicodeDecodeError, ValueError):
        return None
    if not isinstance(asked, dict) or "idempotency_key" in asked or asked.get("override_limit", False) is not False:
        return None
    slot_id, name, contact, party_size = (asked.get(k) for k in ("slot_id", "name", "contact", "party_size"))
    party_size = 1 if "party_size" not in asked else party_size
    if not all(isinstance(n, int) and not isinstance(n, bool) for n in (slot_id, party_size)):
        return None
    if not (0 < slot_id <= MAX_ID and isinstance(name, str) and isinstance(contact, str)):
        return None
    return slot_id, name, contact, party_size
