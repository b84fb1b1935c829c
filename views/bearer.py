"""Who an API call comes from when it shows an API key (`Authorization: Bearer sk_…`), and what the key may do."""

from __future__ import annotations

from quart import abort, g, request

from booking.keys import BOOKINGS_WRITE, ApiKey
from booking.outbox import ACTOR, Actor
from web.clients import check_key_rate
from web.i18n import gettext as _
from web.runtime import service

from .errors import deny


async def identify() -> None:
    """Before every /api/ call: a key shown must be a standing key (else 401) within its rate (else 429); then the
    call is the key's (`g.api_key`). A call without one is anonymous, as before."""
    header = request.headers.get("Authorization")
    if header is None or not request.path.startswith("/api/"):
        return
    scheme, _space, key = header.strip().partition(" ")
    if scheme.lower() != "bearer" or not key.strip():
        deny(401, "unauthorized", _("Send the API key as “Authorization: Bearer sk_…”."))
    found = await service().api_key(key.strip())
    if found is None:
        deny(401, "unauthorized", _("This API key is not valid: it is unknown or was revoked."))
    g.api_key = found
    ACTOR.set(Actor("api", found.name))  # what it changes is told as this key's
    await check_key_rate(found.id)


def caller() -> ApiKey | None:
    """The call's API key (None: an anonymous call)."""
    return g.get("api_key")


def require(scope: str, venue_id: int | None = None) -> ApiKey:
    """The call's key, which must have the scope (on the venue, when given): else 401 without a key, 403."""
    key = caller()
    if key is None:
        deny(401, "unauthorized", _("This needs an API key: send “Authorization: Bearer sk_…”."))
    if scope not in key.scopes:
        deny(403, "insufficient_scope", _("This API key does not have the scope %(scope)s.", scope=scope))
    if venue_id is not None and venue_id not in key.venues:
        deny(403, "other_venue", _("This API key is not for this venue."))
    return key


def booking_powers(body: dict, venue_id: int) -> tuple[bool, bool]:
    """(for staff, over the limit) for a booking call: with a key (bookings:write on the venue) it books as staff
    book for a caller, over the per-person limit when `override_limit` is true; without one, as the public."""
    override = body.get("override_limit", False)
    if not isinstance(override, bool):
        abort(422, _("override_limit is true or false."))
    if caller() is None:
        if override:
            deny(401, "unauthorized", _("Only a call with an API key (bookings:write) may book over the limit."))
        return False, False
    require(BOOKINGS_WRITE, venue_id)
    return True, override
