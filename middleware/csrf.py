"""CSRF protection: one secret per session, a hidden field in every form, checked on every POST.

A page carries the secret masked afresh each time (a random pad, then pad XOR secret), so a compressed page that
also reflects what a visitor typed never shows the same token bytes twice: nothing for a BREACH-style guess to
measure. The unmasked secret is accepted too (it never appears in any page)."""

from __future__ import annotations

import base64
import binascii
import hmac
import secrets

from quart import abort, request, session

from web.i18n import gettext as _

FIELD = "csrf_token"
HEADER = "X-CSRF-Token"


def secret() -> str:
    """This session's CSRF secret (made on first use): never put in a page as it is."""
    if FIELD not in session:
        session[FIELD] = secrets.token_urlsafe(24)
    return session[FIELD]


def token() -> str:
    """This session's CSRF token for a page: its secret, masked anew for this use."""
    secret_bytes = secret().encode()
    pad = secrets.token_bytes(len(secret_bytes))
    return base64.urlsafe_b64encode(pad + bytes(p ^ s for p, s in zip(pad, secret_bytes, strict=True))).decode()


def unmasked(sent: str) -> str:
    """The secret a token sent stands for: a masked one unmasked, else as sent."""
    try:
        raw = base64.urlsafe_b64decode(sent.encode("ascii"))
    except (ValueError, binascii.Error):
        return sent
    half = len(raw) // 2
    if len(sent) <= 32 or len(raw) != 2 * half:  # the secret itself: 32 characters
        return sent
    return bytes(p ^ s for p, s in zip(raw[:half], raw[half:], strict=True)).decode("latin-1")


async def protect() -> None:
    """Refuse a form POST whose token is missing or wrong (the JSON API carries no cookies' authority)."""
    if request.method != "POST" or request.path.startswith("/api/") or request.url_rule is None:
        return  # no form to check, or no such page (a 404/405 follows)
    # Forms in fragments shared over SSE carry no token; htmx sends it from the page's hx-headers instead.
    sent = unmasked((await request.form).get(FIELD) or request.headers.get(HEADER, "")).encode("utf-8", "replace")
    if not sent or not hmac.compare_digest(sent, session.get(FIELD, "").encode()):
        abort(400, _("This form has expired. Please go back, reload the page and try again."))
