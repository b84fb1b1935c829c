"""Every staff endpoint's action, and the venue a staff request is about: booking/access.py decides the rest."""

from __future__ import annotations

from quart import abort, g, request

from booking import access
from booking.access import ACCOUNT, AUDIT, BOARD, EXPORT, HOME, KEYS, OWNERS, STAFF, VENUE, WEBHOOKS, Access
from booking.model import Venue
from web.i18n import gettext as _
from web.runtime import store

from .lookups import whole_number

# Every staff endpoint: what it does. One missing here is an owner's alone (and the URL-map test fails).
RULES = {
    "admin.index": HOME,
    "admin.today_board": BOARD,
    "admin.board": BOARD,
    "admin.close_slot": BOARD,
    "admin.create_booking": BOARD,
    "admin.cancel_booking": BOARD,
    "admin.mark_booking": BOARD,
    "admin.call_ticket": BOARD,
    "admin.requeue_ticket": BOARD,
    "admin.call_next": BOARD,
    "exports.day_csv": BOARD,
    "exports.day_list": BOARD,
    "exports.draw_csv": BOARD,
    "streams.board_stream": BOARD,
    "admin.edit_venue": VENUE,
    "admin.new_resource": VENUE,
    "admin.edit_resource": VENUE,
    "exports.range_csv": EXPORT,
    "webhooks.index": WEBHOOKS,
    "webhooks.add": WEBHOOKS,
    "webhooks.remove": WEBHOOKS,
    "api_keys.index": KEYS,
    "api_keys.create": KEYS,
    "api_keys.revoke": KEYS,
    "webhooks.choose_events": WEBHOOKS,
    "webhooks.send_test": WEBHOOKS,
    "webhooks.disable": WEBHOOKS,
    "webhooks.enable": WEBHOOKS,
    "webhooks.rotate": WEBHOOKS,
    "webhooks.resend": WEBHOOKS,
    "audit.trail": AUDIT,
    "audit.trail_csv": AUDIT,
    "staff.index": STAFF,  # views/staff.py narrows a manager's to the desk accounts of its venues
    "staff.create": STAFF,
    "staff.account": STAFF,
    "staff.change": STAFF,
    "staff.set_enabled": STAFF,
    "staff.password_link": STAFF,
    "staff.own_account": ACCOUNT,
    "staff.change_own_password": ACCOUNT,
    "admin.new_venue": OWNERS,
    "admin.erase_person": OWNERS,
}


def current() -> Access:
    """The logged-in account's role and venues (require_staff found them for this request)."""
    return g.access


async def own_venues(include_archived: bool = False) -> list[Venue]:
    """The venues the logged-in account has (an owner's: all of them)."""
    return [v for v in await store().venues(include_archived=include_archived) if current().sees(v.id)]


async def check(found: Access) -> None:
    """Before a staff request: a 403 unless the account may do this endpoint's action on its venue."""
    g.access = found
    action = RULES.get(request.endpoint or "", access.OWNERS)
    if found.role != access.OWNER and not found.may(action, await venue_asked()):
        abort(403, _("Your account may not do this here."))


async def venue_asked() -> int | None:
    """The id of the venue the request is about (None: none, or not found, which the view makes a 404)."""
    args, found = request.view_args or {}, None
    if "venue" in args:
        found = await store().venue(args["venue"])
    elif "venue_id" in args:
        return args["venue_id"]
    elif "resource_id" in args:
        found = await store().venue_of_resource(args["resource_id"])
    elif "slot_id" in args:
        slot = await store().slot(args["slot_id"])
        found = slot and await store().venue_of_resource(slot.resource_id)
    elif "booking_id" in args:
        pair = await store().booking_by_id(args["booking_id"])
        found = pair and await store().venue_of_resource(pair[1].resource_id)
    elif "hook_id" in args:
        hook_id = whole_number(args["hook_id"], 18)
        return next((h.venue_id for h in await store().webhooks() if h.id == hook_id), None)
    elif "message_id" in args:
        message = await store().message(whole_number(args["message_id"], 18) or 0)
        return message and message.venue_id
    elif request.args.get("venue"):
        found = await store().venue(request.args["venue"])
    elif request.method == "POST" and (chosen := whole_number((await request.form).get("venue", ""), 18)):
        return chosen
    return found.id if found else None
