"""Staff make API keys for their venues' own systems (shown once, kept as a hash), see them in use, and revoke them."""

from __future__ import annotations

from quart import Blueprint, abort, redirect, render_template, request, url_for

from booking.access import OWNER
from booking.errors import NotFound
from booking.keys import ATTENDANCE_WRITE, BOOKINGS_READ, BOOKINGS_WRITE, SCOPES, SHOWN, WEBHOOKS_MANAGE, ApiKey
from booking.service import Invalid
from web.i18n import gettext as _
from web.runtime import service, store

from . import permissions, recording
from .auth import require_staff, staff
from .errors import not_found
from .lookups import whole_number

bp = Blueprint("api_keys", __name__, url_prefix="/admin/api-keys")
bp.before_request(require_staff)
bp.after_request(recording.record_action)  # making and revoking a key, as noted by the view

SCOPE_WORDS = {  # what each scope lets a key do, as the form says it
    BOOKINGS_READ: lambda: _("read the venues' bookings, with names and contacts"),
    BOOKINGS_WRITE: lambda: _("book as staff do for a caller (over the per-person limit when asked)"),
    ATTENDANCE_WRITE: lambda: _("mark bookings checked in or no-show"),
    WEBHOOKS_MANAGE: lambda: _("add and remove the venues' webhook endpoints"),
}
PROBLEMS = {
    "name": lambda: _("Give the key a name (up to 100 characters) that says what uses it."),
    "scopes": lambda: _("Choose at least one scope."),
    "venues": lambda: _("Choose at least one of your venues."),
}


def mine(key: ApiKey) -> bool:
    """Whether the logged-in account may see and revoke a key: an owner every key, a manager those of its venues."""
    account = permissions.current()
    return account.role == OWNER or key.venues <= account.venues


async def render(status: int = 200, problems: dict | None = None, form=None, created: str | None = None):
    venues = await permissions.own_venues()
    return await render_template(
        "admin/api_keys.html",
        keys=[k for k in await store().api_keys() if mine(k)],
        venues=venues,
        by_id={v.id: v for v in await store().venues(include_archived=True)},
        scopes=SCOPES,
        scope_words={scope: SCOPE_WORDS[scope]() for scope in SCOPES},
        problems=problems or {},
        form=form,
        created=created,
    ), status


def noted(action: str, name: str, prefix: str, venue_ids) -> None:
    """What the audit trail keeps of making or revoking a key: its name and prefix (and its venue, when one)."""
    recording.note(
        action=action, subject=f"{name} ({prefix}…)", venue_id=min(venue_ids) if len(venue_ids) == 1 else None
    )


@bp.get("/")
async def index():
    """The keys of the account's venues: prefix, scopes, venues, who made it and when it was last used."""
    return await render()


@bp.post("/")
async def create():
    """Make a key for some of the account's venues with some scopes: shown once, here."""
    form = await request.form
    own = {v.id for v in await permissions.own_venues()}
    chosen = {whole_number(v, 18) for v in form.getlist("venue")}
    if not chosen <= own:
        abort(403, _("Your account may not do this here."))
    scopes = frozenset(form.getlist("scope"))
    name = form.get("name", "").strip()
    try:
        key, _key_id = await service().create_api_key(name, scopes, frozenset(chosen), staff())
    except Invalid as invalid:
        problems = {field: PROBLEMS[field]() for field in invalid.problems}
        return await render(422, problems, form)
    noted("create_api_key", name, key[:SHOWN], chosen)
    return await render(201, created=key)


@bp.post("/<id:key_id>/revoke")
async def revoke(key_id: int):
    """Revoke a key: its next call is refused, in every process."""
    found = next((k for k in await store().api_keys() if k.id == key_id), None)
    if found is None:
        not_found("api_key")
    if not mine(found):
        abort(403, _("Your account may not do this here."))
    try:
        await service().revoke_api_key(found.id)
    except NotFound:  # revoked meanwhile
        not_found("api_key")
    noted("revoke_api_key", found.name, found.prefix, found.venues)
    return redirect(url_for("api_keys.index"), 303)
