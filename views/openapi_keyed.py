"""The contract's schemas and parameters for the operations an API key opens (views/integrations.py), added to the
document's on import: openapi.py keeps the public API's, and is long enough."""

from __future__ import annotations

from booking.model import MAX_ID

from .openapi_schemas import COUNT, PARAMETERS, PARTY, REFERENCE, SCHEMAS, SLOT_ID, STAMP, TEXT, closed

STATUS = {"enum": ["confirmed", "cancelled"]}
ATTENDANCE = {"enum": ["checked_in", "no_show"]}
WHO = dict(
    reference=REFERENCE,
    venue={"type": "string", "description": "The venue's slug."},
    resource={"type": "string", "description": "The resource's slug."},
    slot_id=SLOT_ID,
    start=STAMP,
    end=STAMP,
    name=TEXT,
    party_size=PARTY,
    status=STATUS,
    attendance={"oneOf": [{"type": "null"}, ATTENDANCE], "description": "Marked at the venue (or with a key)."},
    ticket={"type": ["integer", "null"], "description": "Its number in the day's line, where the line is used."},
)
BOOKING = closed(
    list(WHO),
    **WHO,
    contact={"type": "string", "description": "Only to an API key with bookings:read: never to a token holder."},
)
WEBHOOK = dict(
    id={"type": "integer", "minimum": 1, "maximum": MAX_ID},
    url={"type": "string", "format": "uri"},
    created_at=STAMP,
)

SCHEMAS.update(
    {
        "BookingRecord": BOOKING,
        "BookingPage": closed(
            ["bookings", "next_cursor"],
            bookings={"type": "array", "items": BOOKING},
            next_cursor={
                "type": ["string", "null"],
                "description": "Send it as ?cursor= (with the same query) for the next page; null on the last.",
            },
        ),
        "AttendanceRequest": {
            "type": "object",
            "required": ["status"],
            "properties": {"status": ATTENDANCE},
        },
        "Attendance": closed(
            ["reference", "status", "attendance"], reference=REFERENCE, status=STATUS, attendance=ATTENDANCE
        ),
        "Webhook": closed(list(WEBHOOK), **WEBHOOK),
        "Webhooks": {"type": "array", "items": closed(list(WEBHOOK), **WEBHOOK)},
        "WebhookRequest": {
            "type": "object",
            "required": ["url"],
            "properties": {
                "url": {"type": "string", "format": "uri", "examples": ["https://hooks.example.com/slotcast"]},
                "secret": {
                    "type": "string",
                    "minLength": 16,
                    "maxLength": 200,
                    "description": "To sign each delivery; leave it out to have one made (answered once).",
                },
            },
        },
        "WebhookCreated": closed([*WEBHOOK, "secret"], **WEBHOOK, secret={"type": "string", "description": "Keep it."}),
    }
)
SCHEMAS["BookingRequest"]["properties"]["override_limit"] = {
    "type": "boolean",
    "default": False,
    "description": "With an API key (bookings:write): book over the venue's per-person limit, as staff may. "
    "Without a key: 401.",
}

PARAMETERS.update(
    {
        # The day spelt out by the pattern, as a path's day is: with `format` alone to make it a date, a generator
        # throws away most of what it makes, and with a key's header to make as well it gives up.
        "day_query": PARAMETERS["day"]
        | {"name": "date", "in": "query", "required": True, "description": PARAMETERS["date"]["description"]},
        # A plain string: a generator filling it with another field's values (a waitlist's "waiting") would filter
        # out most of what it makes for an enum.
        "status": {
            "in": "query",
            "description": "Only bookings with this status: `confirmed` or `cancelled` (else 400).",
            "schema": {"type": "string", "examples": ["confirmed"]},
        },
        "resource_filter": {
            "name": "resource",
            "in": "query",
            "description": "Only this resource's bookings (its slug; an unknown one is a 404).",
            "schema": {"type": "string", "minLength": 1},
        },
        "cursor": {
            "in": "query",
            "description": "The `next_cursor` of the page before (opaque; a made-up one is a 400).",
            "schema": {"type": "string"},
        },
        "limit": {
            "in": "query",
            "description": "Bookings per page: 1 to 200, 50 unless given.",
            "schema": COUNT | {"minimum": 1, "maximum": 200},
        },
        "booking_token": {
            "name": "token",
            "in": "query",
            "description": "Without an API key: the booking's cancel_token (its record then comes without the contact).",
            "schema": {"type": "string"},
        },
        "hook": {
            "name": "id",
            "in": "query",
            "required": True,
            "description": "The webhook's id, as GET …/webhooks lists it.",
            "schema": {"type": "integer", "minimum": 1, "maximum": MAX_ID},
        },
    }
)
