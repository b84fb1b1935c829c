"""The JSON API's schemas, parameters, error answers and links, once: views/openapi.py builds the document from
these and from each view's `@contract`."""

from __future__ import annotations

from booking.availability import MAX_DAYS
from booking.contacts import CONTACT_PATTERN, INVISIBLE
from booking.model import KINDS, MAX_ID, REFERENCE_ALPHABET, REFERENCE_LENGTH
from booking.validation import BOUNDS


def ref(name: str, kind: str = "schemas") -> dict:
    """A reference to a component."""
    return {"$ref": f"#/components/{kind}/{name}"}


def closed(required: list[str], **properties) -> dict:
    """An object with exactly these properties: a field added to an answer without its schema fails the tests."""
    return {"type": "object", "required": required, "properties": properties, "additionalProperties": False}


TEXT, COUNT, STAMP = {"type": "string"}, {"type": "integer", "minimum": 0}, {"type": "string", "format": "date-time"}
SLOT_ID = {
    "type": "integer",
    "minimum": 1,
    "maximum": MAX_ID,
    "examples": [1],
    "description": "A slot's `id`, as …/slots lists it.",
}
PARTY = {
    "type": "integer",
    "minimum": 1,
    "maximum": BOUNDS["max_party"][1],  # no resource takes more
    "default": 1,
    "description": "Places, 1 to the resource's largest party (else 422 `invalid`).",
}
KEY = {"type": "string", "pattern": "^[A-Za-z0-9_-]{8,64}$"}
REFERENCE = {
    "type": "string",
    "pattern": f"^[{REFERENCE_ALPHABET}]{{{REFERENCE_LENGTH}}}$",
    "examples": ["K7QX2M9P"],
    "description": "A booking's or waitlist entry's reference.",
}
NAMED = {"type": "string", "minLength": 1, "pattern": "^[^\\x00]*$"}  # what an address names: a NUL in it is a 400
PERSON = {
    "name": {
        "type": "string",
        "minLength": 1,
        "maxLength": 100,
        "pattern": f"^[^{INVISIBLE}]+$",
        "examples": ["Ana Silva"],
        "description": "Readable text (no control characters); else 422 `invalid` with `fields`.",
    },
    "contact": {
        "type": "string",
        "minLength": 1,
        "maxLength": 200,
        "pattern": CONTACT_PATTERN,
        "examples": ["ana@example.com"],
        "description": "An e-mail address (one alphabet) or a phone number (5 to 20 digits), valid where it"
        " can be placed: with its country code, or at a venue with a country; else 422"
        " `invalid`. The pattern is its shape (space around it is dropped); within it, a phone number that is"
        " no valid one, letters of scripts that do not mix or no letter or digit at all are a 422 too. One"
        " person to the per-person limit however it is written.",
    },
    "party_size": PARTY,
}
HOLDER = {
    "type": "object",
    "required": ["cancel_token"],
    "properties": {
        "cancel_token": {
            "type": "string",
            "description": "The secret the booking or entry was created with (else 403).",
        }
    },
}

SCHEMAS = {
    "Error": closed(
        ["error", "code"],
        error={"type": "string", "description": "A sentence for a person, in the request's language."},
        code={"type": "string", "description": "What happened, for a program."},
        fields={"type": "object", "additionalProperties": TEXT, "description": "422 `invalid`: field -> problem."},
        opens_at={**STAMP, "description": "409 `not_open_yet`: when the public may book the slot."},
        limit={"type": "integer", "description": "409 `limit_reached`: bookings a person may hold that day."},
        reference=REFERENCE | {"description": "409 `booking_cancelled`: the booking the key made."},
        most={"type": "integer", "description": "422 `too_many_days`: the days one call may ask for."},
    ),
    "Venues": {
        "type": "array",
        "items": closed(
            ["slug", "name", "name_zh", "kind", "timezone", "address", "phone", "resources"],
            slug=TEXT,
            name=TEXT,
            name_zh=TEXT,
            kind={"enum": list(KINDS)},
            timezone={"type": "string", "description": "IANA zone: every time of its slots is local to it."},
            address=TEXT,
            phone=TEXT,
            resources={
                "type": "array",
                "items": closed(["slug", "name", "name_zh"], slug=TEXT, name=TEXT, name_zh=TEXT),
            },
        ),
    },
    "Day": closed(
        ["date", "slots"],
        date={"type": "string", "format": "date"},
        slots={
            "type": "array",
            "items": closed(
                ["id", "start", "end", "capacity", "booked", "remaining", "opens_at"],
                id=SLOT_ID | {"description": "The slot's id."},
                start=STAMP,
                end=STAMP,
                capacity=COUNT,
                booked=COUNT,
                remaining=COUNT,
                opens_at={
                    "type": ["string", "null"],
                    "format": "date-time",
                    "description": "When the public may book it, while that is to come; else null.",
                },
            ),
        },
    ),
    # Open API 3.1 describes an event stream's events one at a time: {event, data} as an EventSource sees them.
    "DayEvent": {
        "oneOf": [
            closed(
                ["event", "data"],
                event={"const": "slots"},
                data={
                    "type": "string",
                    "contentMediaType": "application/json",
                    "contentSchema": ref("Day"),
                    "description": "One line of JSON: the object GET …/slots answers.",
                },
                retry={"type": "integer", "description": "On the first event: reconnect after this many ms."},
            ),
            closed(["event", "data"], event={"const": "close"}, data={"const": ""}),
        ],
        "description": "`slots`: the day now, then after every change; `close`: the server is shutting down.",
    },
    "BookingRequest": {
        "type": "object",
        "required": ["slot_id", "name", "contact"],
        "properties": {
            "slot_id": SLOT_ID,
            **PERSON,
            "idempotency_key": KEY | {"description": "As the Idempotency-Key header (which wins when both are sent)."},
        },
    },
    "Booking": closed(
        ["reference", "cancel_token", "slot_id", "party_size", "status", "start", "end", "time_zone"],
        reference=REFERENCE,
        cancel_token={"type": "string", "description": "Keep it: it cancels and moves the booking."},
        slot_id=SLOT_ID,
        party_size=PARTY,
        status={"const": "confirmed"},
        start=STAMP | {"description": "When the booked time starts, in the venue's time zone."},
        end=STAMP,
        time_zone={"type": "string", "description": "The venue's IANA time zone."},
    ),
    "HolderRequest": HOLDER,
    "CancelRequest": {
        "type": "object",
        "required": ["cancel_token"],
        "properties": {
            **HOLDER["properties"],
            "reason": {
                "type": "string",
                "maxLength": 200,
                "description": "Why, in the booker's words (told to the venue's webhooks as data.reason).",
            },
        },
    },
    "BookingState": closed(
        ["reference", "slot_id", "party_size", "status"],
        reference=REFERENCE,
        slot_id=SLOT_ID,
        party_size=PARTY,
        status={"enum": ["confirmed", "cancelled"]},
    ),
    "RescheduleRequest": {
        "type": "object",
        "required": ["cancel_token", "slot_id"],
        "properties": {**HOLDER["properties"], "slot_id": SLOT_ID},
    },
    "Rescheduled": closed(
        ["reference", "slot_id", "start", "end", "party_size", "status"],
        reference=REFERENCE,
        slot_id=SLOT_ID,
        start=STAMP,
        end=STAMP,
        party_size=PARTY,
        status={"const": "confirmed"},
    ),
    "WaitlistRequest": {
        "type": "object",
        "required": ["slot_id", "name", "contact"],
        "properties": {"slot_id": SLOT_ID, **PERSON},
    },
    "OpenAPI": {
        "type": "object",
        "required": ["openapi", "info", "paths"],
        "properties": {"openapi": {"const": "3.1.0"}},
    },
    "Page": TEXT,
}
ENTRY = dict(
    reference=REFERENCE,
    slot_id=SLOT_ID,
    party_size=PARTY,
    status={"enum": ["waiting", "offered", "booked", "expired", "left"]},
    position={"type": ["integer", "null"], "minimum": 1, "description": "Place in line while waiting."},
    expires_at={
        "type": ["string", "null"],
        "format": "date-time",
        "description": "While offered: until when the held places wait to be accepted.",
    },
    booking=REFERENCE
    | {"type": ["string", "null"], "description": "Once booked: the reference of the booking it became."},
)
SCHEMAS["WaitlistEntry"] = closed(list(ENTRY), **ENTRY)
SCHEMAS["WaitlistJoined"] = closed([*ENTRY, "cancel_token"], **ENTRY, cancel_token=HOLDER["properties"]["cancel_token"])

# The draw (抽签): docs/draw.md says how to check one from GET …/draws/{venue}/{resource}/{day}.
MAYBE_STAMP, NUMBER = {"type": ["string", "null"], "format": "date-time"}, {"type": "integer", "minimum": 1}
HEX64 = {"type": ["string", "null"], "pattern": "^[0-9a-f]{64}$"}
DRAWN_ENTRY = dict(
    reference=REFERENCE,
    number=NUMBER | {"description": "The entry's public number: its order of entry."},
    rank={"type": ["integer", "null"], "minimum": 1, "description": "Its place in the draw's order, once drawn."},
    status={"enum": ["entered", "withdrawn", "booked", "waitlisted", "none"]},
    party_size=PARTY,
    preferences={"type": "array", "items": SLOT_ID, "description": "The preferred slots, first first."},
    booking={
        "oneOf": [
            {"type": "null"},
            closed(
                ["reference", "slot_id", "start", "ticket", "status"],
                reference=REFERENCE,
                slot_id=SLOT_ID,
                start=STAMP,
                ticket={"type": ["integer", "null"]},
                status={"enum": ["confirmed", "cancelled"]},
            ),
        ],
        "description": "What the draw booked (its cancel_token is the entry's).",
    },
    waitlist={
        "oneOf": [
            {"type": "null"},
            closed(
                ["reference", "slot_id", "start", "status", "position"],
                reference=REFERENCE,
                slot_id=SLOT_ID,
                start=STAMP,
                status=ENTRY["status"],
                position=ENTRY["position"],
            ),
        ],
        "description": "The waitlist entry of one not drawn (its cancel_token is the entry's): POST …/waitlist/…",
    },
)
SCHEMAS.update(
    {
        "Draw": closed(
            ["status", "places", "entries", "opens_at", "closes_at", "seed_sha256", "seed", "results"],
            status={
                "enum": ["upcoming", "open", "closed", "drawn"],
                "description": "upcoming (entries not open), open, closed (the draw is being made) or drawn.",
            },
            places=COUNT | {"description": "Free places: now, or when it was drawn."},
            entries=COUNT | {"description": "Entries standing (withdrawn ones not counted)."},
            opens_at=STAMP,
            closes_at=STAMP | {"description": "When entries close and the draw is made."},
            seed_sha256=HEX64 | {"description": "sha256 of the secret seed, published when entries open."},
            seed=HEX64 | {"description": "The seed's 32 bytes in hex, revealed once drawn."},
            results={
                "type": "array",
                "items": closed(
                    ["number", "rank", "outcome", "slot_start"],
                    number=NUMBER,
                    rank=NUMBER,
                    outcome={"enum": ["booked", "waitlisted", "none"]},
                    slot_start=MAYBE_STAMP | {"description": "The time it was booked or waitlisted for."},
                ),
                "description": "Once drawn: every entry in rank order, without names.",
            },
        ),
        "DrawEntryRequest": {
            "type": "object",
            "required": ["name", "contact", "preferences"],
            "properties": {
                **PERSON,
                "preferences": {
                    "type": "array",
                    "items": SLOT_ID,
                    "minItems": 1,
                    "maxItems": 3,
                    "description": "Up to three slot ids of that day, in order (else 422 `invalid`).",
                },
            },
        },
        "DrawEntered": closed(
            ["reference", "number", "cancel_token", "status"],
            reference=REFERENCE,
            number=DRAWN_ENTRY["number"],
            cancel_token=HOLDER["properties"]["cancel_token"],
            status={"const": "entered"},
        ),
        "DrawEntry": closed(list(DRAWN_ENTRY), **DRAWN_ENTRY),
    }
)

# Finding times: a venue's days for a party, and a resource's next time.
TIME = closed(
    ["slot_id", "start", "end", "remaining"],
    slot_id=SLOT_ID,
    start=STAMP,
    end=STAMP,
    remaining=COUNT | {"description": "Places left (the party fits)."},
)
MAYBE_DATE = {"type": ["string", "null"], "format": "date"}
SCHEMAS.update(
    {
        "Availability": closed(
            ["venue", "time_zone", "party", "resources"],
            venue=TEXT,
            time_zone={"type": "string", "description": "The venue's IANA time zone: every time is local to it."},
            party=PARTY,
            resources={
                "type": "array",
                "items": closed(
                    ["slug", "days"],
                    slug=TEXT,
                    days={
                        "type": "array",
                        "maxItems": MAX_DAYS,
                        "items": closed(
                            ["date", "outlook", "opens_at", "times"],
                            date={"type": "string", "format": "date"},
                            outlook={
                                "enum": ["available", "full", "closed", "past", "not_open_yet"],
                                "description": "As the day page says it: a time has room for the party "
                                "(`available`), times can be booked but none has room (`full`), it does not open "
                                "(`closed`), its times are over (`past`), or it is still to open (`not_open_yet`).",
                            },
                            opens_at=MAYBE_STAMP | {"description": "`not_open_yet`: when the public may book it."},
                            times={
                                "type": "array",
                                "items": TIME,
                                "description": "The times the party can book now, in order.",
                            },
                        ),
                    },
                ),
            },
        ),
        "NextAvailable": closed(
            ["status", "time", "date", "opens_at"],
            status={
                "enum": ["available", "not_open_yet", "none"],
                "description": "`available`: `time` can be booked now; `not_open_yet`: nothing can, and `date` is "
                "the next day released with room for the party, at `opens_at`; `none`: neither (within a month).",
            },
            time={"oneOf": [{"type": "null"}, TIME]},
            date=MAYBE_DATE,
            opens_at=MAYBE_STAMP,
        ),
    }
)

PARAMETERS = {
    "venue": {"in": "path", "description": "A venue's slug.", "schema": NAMED | {"examples": ["harbour-kitchen"]}},
    "resource": {"in": "path", "description": "A resource's slug.", "schema": NAMED | {"examples": ["terrace"]}},
    "reference": {"in": "path", "description": REFERENCE["description"], "schema": NAMED | {"examples": ["K7QX2M9P"]}},
    # Dates from 2000 to 2199: a calendar date (format) whose year the pattern bounds.
    "date": {
        "in": "query",
        "required": True,
        "description": "The venue-local day, YYYY-MM-DD.",
        "schema": {"type": "string", "format": "date", "pattern": "^2[01][0-9]{2}-", "examples": ["2030-06-01"]},
    },
    # A path's day, 2000 to 2199: the pattern spells the calendar out (a generator then seldom makes a date the
    # format refuses, 29 February of a common year only).
    "day": {
        "in": "path",
        "description": "The venue-local day, YYYY-MM-DD.",
        "schema": {
            "type": "string",
            "format": "date",
            "examples": ["2030-06-01"],
            "pattern": "^2[01][0-9]{2}-((0[13578]|1[02])-(0[1-9]|[12][0-9]|3[01])|(0[469]|11)-(0[1-9]|[12][0-9]|30)"
            "|02-(0[1-9]|1[0-9]|2[0-9]))$",
        },
    },
    "token": {"in": "query", "required": True, "description": "The entry's cancel_token.", "schema": NAMED},
    "Idempotency-Key": {
        "in": "header",
        "schema": KEY,
        "description": (
            "Books once: the same key with the same request from the same caller answers with the same booking (201); "
            "with another request 422 `idempotency_mismatch`; once that booking is cancelled 409 `booking_cancelled`. "
            "Empty: 422. A key belongs to the caller who first sent it: the same key from another caller is 422 "
            "`idempotency_mismatch`, whatever its body, and never answers with the booking. The caller is the client's "
            "address (an IPv4 address, or an IPv6 /64): retry from the network the first request came from, and pick "
            "keys no other client would (a UUID). Send one: after a 503 `outcome_unknown` (the connection to the "
            "database broke as the booking was saved) or a lost answer, the same request with the same key is safe to "
            "send again, and answers with the booking if it was made."
        ),
    },
}
# Finding times: the days asked for, the party, one resource (a query's `resource`), a moment to look from.
CALENDAR = (  # 2000 to 2199, the calendar spelled out (29 February of a common year aside): few values to filter
    "2[01][0-9]{2}-((0[13578]|1[02])-(0[1-9]|[12][0-9]|3[01])|(0[469]|11)-(0[1-9]|[12][0-9]|30)|02-(0[1-9]|1[0-9]|2[0-9]))"
)
MOMENT = f"^{CALENDAR}[Tt]([01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9](\\.[0-9]{{1,6}})?([Zz]|[+-]([01][0-9]|2[0-3]):[0-5][0-9])$"
DAY_QUERY = {"type": "string", "format": "date", "pattern": f"^{CALENDAR}$", "examples": ["2030-06-01"]}
PARAMETERS.update(
    {
        "from": {"in": "query", "required": True, "description": "The first venue-local day.", "schema": DAY_QUERY},
        "to": {
            "in": "query",
            "description": f"The last venue-local day (default: `from`); {MAX_DAYS} days at most from `from` on.",
            "schema": DAY_QUERY,
        },
        "party": {
            "in": "query",
            "description": "Places wanted at once: 1 (default) to the resource's largest party (else 422 `invalid`).",
            "schema": {"type": "integer", "minimum": 1, "maximum": 999, "default": 1},
        },
        "resource_query": {
            "name": "resource",
            "in": "query",
            "description": "One resource's slug (default: every resource that takes the party).",
            "schema": NAMED | {"examples": ["terrace"]},
        },
        "after": {
            "in": "query",
            "description": "Look from this moment on (default: now), RFC 3339 with its offset.",
            "schema": {
                "type": "string",
                "format": "date-time",
                "pattern": MOMENT,
                "examples": ["2030-06-01T18:00:00+01:00"],
            },
        },
    }
)

ERRORS = {  # status -> (what it means, the codes every operation with it may carry)
    400: (
        'The request is not understood: not a JSON object ("Send a JSON object."), a missing or bad parameter, '
        "a NUL character.",
        ("bad_request",),
    ),
    401: (
        "No API key, or one unknown or revoked (with `WWW-Authenticate: Bearer`).",
        ("unauthorized",),
    ),
    403: ("A POST a browser marks `Sec-Fetch-Site: cross-site`, or a wrong cancel_token.", ("forbidden",)),
    404: ("Nothing by that name or id.", ("not_found",)),
    409: ("Refused as things stand.", ()),
    413: ("The body is over 64 KiB.", ("too_large",)),
    415: ("A POST body that is not `Content-Type: application/json`.", ("unsupported_media_type",)),
    422: ("The request is well-formed but its content is not acceptable.", ()),
    429: ("Too many booking attempts from this address: wait `Retry-After` seconds.", ("too_many_requests",)),
    503: (
        "The database cannot serve now (unreachable, restarting, full, or busy past its lock timeout): nothing "
        "was saved; wait `Retry-After` seconds and try again. A change may also answer `outcome_unknown`: the "
        "connection broke as it was being saved, so it may have been made; a booking sent again with the same "
        "Idempotency-Key is safe.",
        ("unavailable",),
    ),
}
POST_ERRORS = (400, 403, 413, 415)
REFUSALS = ("slot_unavailable", "not_open_yet", "limit_reached")  # 409s of a booking, a move and a join alike

# Links: what a 201 opens, for people reading the docs and for schemathesis' stateful tests.
BY_REFERENCE = {"reference": "$response.body#/reference"}
HOLDING = {"requestBody": {"cancel_token": "$response.body#/cancel_token"}, "parameters": BY_REFERENCE}
BOOKING_LINKS = {
    "cancel": {"operationId": "cancel_booking", **HOLDING},
    "reschedule": {"operationId": "reschedule_booking", **HOLDING},
}
ENTRY_LINKS = {
    "status": {
        "operationId": "waitlist_entry",
        "parameters": {**BY_REFERENCE, "token": "$response.body#/cancel_token"},
    },
    "accept": {"operationId": "accept_offer", **HOLDING},
    "leave": {"operationId": "leave_waitlist", **HOLDING},
}
DRAW_PLACE = {"venue": "$request.path.venue", "resource": "$request.path.resource", "day": "$request.path.day"}
DRAW_ENTRY_LINKS = {
    "status": {
        "operationId": "draw_entry",
        "parameters": {**DRAW_PLACE, **BY_REFERENCE, "token": "$response.body#/cancel_token"},
    },
    "withdraw": {
        "operationId": "withdraw_entry",
        "parameters": {**DRAW_PLACE, **BY_REFERENCE},
        "requestBody": HOLDING["requestBody"],
    },
}
RETRY_AFTER = {"description": "Seconds to wait.", "schema": {"type": "integer", "minimum": 1}}

# API keys: `Authorization: Bearer sk_…`; an operation's security requirement lists the scopes it needs.
SECURITY = "apiKey"
BEARER = {
    "type": "http",
    "scheme": "bearer",
    "description": (
        "An API key (`sk_…`) made in the back office at /admin/api-keys (or with `create-api-key`), for some venues "
        "and scopes: `bookings:read`, `bookings:write`, `attendance:write`, `webhooks:manage`. Its calls are counted "
        "per key (429 past the limit), and an Idempotency-Key is its own. Without a key, or with one unknown or "
        "revoked: 401 `unauthorized`; outside its scopes 403 `insufficient_scope`, outside its venues 403 "
        "`other_venue`."
    ),
}
KEY_ERRORS = {401: ("unauthorized",), 403: ("insufficient_scope", "other_venue"), 429: ()}
