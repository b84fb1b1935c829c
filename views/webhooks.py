"""Staff register webhook endpoints per venue, and see every delivery of the outbox with its last error."""

from __future__ import annotations

import secrets
from collections.abc import Awaitable, Callable
from urllib.parse import urlsplit

from quart import (
    Blueprint,
    current_app,
    redirect,
    render_template,
    request,
    url_for,
)

from booking.outbox import EVENTS, Webhook
from delivery.webhooks import Undelivered, refuse_private
from web.i18n import gettext as _
from web.runtime import service, store

from . import permissions
from .auth import require_staff
from .errors import about
from .lookups import whole_number
from .recording import note, record_action

bp = Blueprint("webhooks", __name__, url_prefix="/admin/webhooks")
bp.before_request(require_staff)
bp.after_request(record_action)
URL_MAX = 2000


async def url_problem(url: str) -> str | None:
    """Why staff cannot register this URL (None: they can): http(s) only, and no private address unless allowed."""
    parts = urlsplit(url)
    if len(url) > URL_MAX or parts.scheme not in ("http", "https") or not parts.hostname:
        return _("Enter a web address starting with https:// (or http://).")
    if current_app.config["WEBHOOKS_ALLOW_PRIVATE"]:
        return None
    try:  # checked again at every delivery: a name may point elsewhere later
        await refuse_private(url)
    except Undelivered:
        return _("That address is on a private network or this machine: webhooks go to public addresses only.")
    return None


async def render(status: int = 200, problem: str | None = None, form: dict | None = None, shown=None):
    """The page; `shown`: a secret to show once ({url, secret}, and `until` when it was rotated)."""
    venues, mine = await permissions.own_venues(), permissions.current().sees
    hooks = [h for h in await store().webhooks() if mine(h.venue_id)]
    return await render_template(
        "admin/webhooks.html",
        events=EVENTS,
        venues=venues,
        by_id={v.id: v for v in venues},
        hooks=hooks,
        failing=[h for h in hooks if h.paused == "failing"],
        deliveries=[d for d in await store().outbox() if mine(d.venue_id)],
        problem=problem,
        form=form or {},
        shown=shown,
    ), status


def new_secret() -> str:
    return "whsec_" + secrets.token_urlsafe(24)


def ticked_events(form) -> list[str] | None:
    """The events ticked on a form (None: none of them, which staff are told to fix)."""
    chosen = [e for e in form.getlist("events") if e in EVENTS]
    return chosen or None


@bp.get("/")
async def index():
    """Every venue's endpoints, and the newest deliveries (webhooks and e-mails) with their state."""
    return await render()


@bp.post("/")
async def add():
    """Register an endpoint: the events staff tick (all by default) are POSTed to it, signed with its secret."""
    form = await request.form
    venue = next((v for v in await permissions.own_venues() if str(v.id) == form.get("venue", "")), None)
    url, secret = form.get("url", "").strip(), form.get("secret", "").strip()
    fields = {"venue": form.get("venue", ""), "url": url[:URL_MAX]}
    if venue is None:
        return await render(422, _("Choose a venue."), fields)
    if problem := await url_problem(url):
        return await render(422, problem, fields)
    if secret and not 16 <= len(secret) <= 200:
        return await render(422, _("A secret has 16 to 200 characters (leave it empty to have one made)."), fields)
    events = ticked_events(form) if "events_listed" in form else list(EVENTS)  # the page's form lists them
    if events is None:
        return await render(422, _("Tick at least one event."), fields)
    secret = secret or new_secret()
    await service().add_webhook(venue.id, url, secret, events)
    note(action="add_webhook", venue_id=venue.id, subject=urlsplit(url).hostname)  # not its path: it may hold a key
    return await render(201, shown={"url": url, "secret": secret})


@bp.post("/<hook_id>/remove")
async def remove(hook_id: str):
    """Stop sending to an endpoint; its deliveries stay on record."""
    number = whole_number(hook_id, 18) or 0
    hook = next((h for h in await store().webhooks() if h.id == number), None)
    with about("webhook"):
        await service().remove_webhook(number)
    note(action="remove_webhook", venue_id=hook.venue_id, subject=urlsplit(hook.url).hostname)
    return redirect(url_for("webhooks.index"), 303)


async def changed(hook_id: str, action: str, change: Callable[[int], Awaitable]) -> Webhook:
    """Make `change` to an endpoint (a 404 when there is none), noted for the audit trail; the endpoint after it."""
    number = whole_number(hook_id, 18) or 0
    with about("webhook"):
        await change(number)
    hook = next(h for h in await store().webhooks() if h.id == number)
    note(action=action, venue_id=hook.venue_id, subject=urlsplit(hook.url).hostname)
    return hook


@bp.post("/<hook_id>/events")
async def choose_events(hook_id: str):
    """The events an endpoint takes from now on."""
    events = ticked_events(await request.form)
    if events is None:
        return await render(422, _("Tick at least one event."))
    await changed(hook_id, "webhook_events", lambda number: service().set_webhook_events(number, events))
    return redirect(url_for("webhooks.index"), 303)


@bp.post("/<hook_id>/test")
async def send_test(hook_id: str):
    """Send the endpoint a webhook.test event now (whatever events it takes, even while disabled)."""
    await changed(hook_id, "test_webhook", service().send_test_event)
    return redirect(url_for("webhooks.index"), 303)


@bp.post("/<hook_id>/disable")
async def disable(hook_id: str):
    """Stop sending to an endpoint for now: nothing new is queued for it, what is waiting is skipped."""
    await changed(hook_id, "disable_webhook", lambda number: service().pause_webhook(number, True))
    return redirect(url_for("webhooks.index"), 303)


@bp.post("/<hook_id>/enable")
async def enable(hook_id: str):
    """Send to an endpoint again (disabled by staff or after a day of failures)."""
    await changed(hook_id, "enable_webhook", lambda number: service().pause_webhook(number, False))
    return redirect(url_for("webhooks.index"), 303)


@bp.post("/<hook_id>/rotate")
async def rotate(hook_id: str):
    """A new secret, shown once; the old one still signs every delivery for a day (a second v1)."""
    secret = new_secret()
    hook = await changed(hook_id, "rotate_webhook_secret", lambda n: service().rotate_webhook_secret(n, secret))
    return await render(shown={"url": hook.url, "secret": secret, "until": hook.previous_until})


@bp.post("/deliveries/<message_id>/resend")
async def resend(message_id: str):
    """Send a webhook delivery again now: the same body and delivery id, signed anew."""
    number = whole_number(message_id, 18) or 0
    with about("delivery"):
        await service().resend_delivery(number)
    message = await store().message(number)
    note(action="resend_delivery", venue_id=message.venue_id, subject=f"{message.event} {message.delivery}")
    return redirect(url_for("webhooks.index"), 303)
