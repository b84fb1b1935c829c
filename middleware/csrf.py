"""CSRF protection: one secret per session, a hidden field in every form, checked on every POST."""

from __future__ import annotations

import hmac
import secrets

from quart import abort, request, session

from web.i18n import gettext as _

FIELD = "csrf_token"
HEADER = "X-CSRF-Token"


def token() -> str:
    """This session's CSRF token (made on first use)."""
    if FIELD not in session:
        session[FIELD] = secrets.token_urlsafe(24)
    return session[FIELD]


async def protect() -> None:
    """Refuse a form POST whose token is missing or wrong (the JSON API carries no cookies' authority)."""
    if request.method != "POST" or request.path.startswith("/api/") or request.url_rule is None:
        return  # no form to check, or no such page (a 404/405 follows)
    # Forms in fragments shared over SSE carry no token; htmx sends it from the page's hx-headers instead.
    sent = ((await request.form).get(FIELD) or request.headers.get(HEADER, "")).encode()
    if not sent or not hmac.compare_digest(sent, session.get(FIELD, "").encode()):
        abort(400, _("This form has expired. Please go back, reload the page and try again."))
