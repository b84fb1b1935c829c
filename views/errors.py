"""Every error's answer: a JSON error under /api, the error page elsewhere, with the audience's wording."""

from __future__ import annotations

from contextlib import contextmanager
from typing import NoReturn

from quart import Quart, abort, current_app, jsonify, render_template, request
from werkzeug.datastructures import WWWAuthenticate
from werkzeug.exceptions import Forbidden as Refused
from werkzeug.exceptions import HTTPException, Unauthorized

from booking.errors import Forbidden, NotFound
from booking.outages import BUSY, DOWN, FULL, CommitUnknown, Unavailable
from web import i18n
from web.i18n import N_


def init_app(app: Quart) -> None:
    """Register the error handlers."""
    app.register_error_handler(HTTPException, http_error)
    app.register_error_handler(Unavailable, unavailable)
    app.register_error_handler(Exception, unexpected_error)


def wants_json() -> bool:
    return request.path.startswith("/api/")


async def http_error(error: HTTPException):
    """A clear message: a JSON error for the API, a page otherwise (or the response the view aborted with)."""
    if error.response is not None:
        return error.response
    custom = error.description != type(error).description  # abort(code, message) was given a message
    message = error.description if custom else i18n.gettext(DEFAULT_MESSAGES.get(error.code, "Something went wrong."))
    # This new response keeps what the error's own would say: a 405's Allow, a 429's Retry-After.
    kept = {k: v for k, v in error.get_headers() if k in ("Allow", "Retry-After", "WWW-Authenticate")}
    if wants_json():
        code = getattr(error, "api_code", None) or CODES.get(error.code, "error")
        return jsonify(error=message, code=code), error.code, kept
    return await render_template("error.html", status=error.code, message=message), error.code, kept


async def unavailable(error: Unavailable):
    """The database cannot serve now: 503 with Retry-After, saying why; when a change may have been saved all the
    same (CommitUnknown), saying so and how to check."""
    current_app.logger.warning("%s %s: database %s", request.method, request.path, error)
    if isinstance(error, CommitUnknown):
        message = i18n.gettext(UNKNOWN_TO_API if wants_json() else UNKNOWN_ON_PAGE)
    else:
        message = i18n.gettext(OUTAGES[error.reason])
    headers = {"Retry-After": str(error.retry_after)}
    if wants_json():
        return jsonify(error=message, code=error.code), 503, headers
    return await render_template("error.html", status=503, message=message), 503, headers


async def unexpected_error(error: Exception):
    """Never an HTML traceback: log it and say sorry."""
    current_app.logger.exception("unexpected error", exc_info=error)
    message = i18n.gettext("Something went wrong on our side. Please try again.")
    if wants_json():
        return jsonify(error=message, code="server_error"), 500
    return await render_template("error.html", status=500, message=message), 500


CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    413: "too_large",
    415: "unsupported_media_type",
    422: "invalid",
    429: "too_many_requests",
}
DEFAULT_MESSAGES = {
    400: N_("The request could not be understood."),
    403: N_("You are not allowed to do that."),
    404: N_("There is nothing at this address."),
    405: N_("That action is not possible here."),
    413: N_("That request is too large."),
    429: N_("Too many requests. Please wait a moment and try again."),
}


# What was not found, or whose secret was wrong: the words each audience reads (the API's callers hold a cancel_token,
# a page's visitor holds a link).
MISSING = {
    "booking": N_("There is no booking with reference %(ref)s."),
    "entry": N_("There is no waitlist entry %(ref)s."),
    "draw_entry": N_("There is no draw entry %(ref)s."),
    "slot": N_("That slot does not exist."),
    "resource": N_("That resource does not exist."),
    "webhook": N_("There is no such webhook."),
    "api_key": N_("There is no such API key."),
    "delivery": N_("There is no such delivery."),
}
REFUSED = {
    ("booking", "page"): N_("This link is not valid for booking %(ref)s."),
    ("booking", "api"): N_("That cancel token is not valid for this booking."),
    ("entry", "page"): N_("This link is not valid for waitlist entry %(ref)s."),
    ("entry", "api"): N_("That cancel token is not valid for this waitlist entry."),
    ("draw_entry", "page"): N_("This link is not valid for draw entry %(ref)s."),
    ("draw_entry", "api"): N_("That cancel token is not valid for this draw entry."),
}


def not_found(thing: str, ref: str = "") -> NoReturn:
    """404: there is no such `thing`."""
    abort(404, i18n.gettext(MISSING[thing], ref=ref[:20]))


def refused(thing: str, ref: str = "") -> NoReturn:
    """403: the secret given for this `thing` is not its own."""
    abort(403, i18n.gettext(REFUSED[thing, "api" if wants_json() else "page"], ref=ref[:20]))


def deny(status: int, code: str, message: str) -> NoReturn:
    """An API call refused for its key: 401 with a Bearer challenge (no key, or one that is not standing), or 403
    (the key may not do this, or not here), with `code` saying which."""
    error = Unauthorized(message, www_authenticate=WWWAuthenticate("bearer")) if status == 401 else Refused(message)
    error.api_code = code
    raise error


@contextmanager
def about(thing: str, ref: str = ""):
    """The domain's NotFound and Forbidden, raised about `thing`, as a 404 and a 403 in the audience's words."""
    try:
        yield
    except NotFound:
        not_found(thing, ref)
    except Forbidden:
        refused(thing, ref)


OUTAGES = {  # nothing was saved: the person can simply try again
    DOWN: N_(
        "The booking system cannot reach its database right now (it may be restarting). Nothing was saved: "
        "please try again in a few seconds."
    ),
    FULL: N_(
        "The booking system's storage is full, so nothing can be saved right now. Nothing was saved: please "
        "try again later."
    ),
    BUSY: N_("The booking system is too busy to save this right now. Nothing was saved: please try again in a moment."),
}
UNKNOWN_ON_PAGE = N_(
    "The connection to the database broke just as this was being saved, so it may have been saved. Please check "
    "before trying again: a booking made with an e-mail address is confirmed by e-mail, and the venue can find it by "
    "your name or phone. Going back and sending the same booking form again is safe: it never books twice."
)
UNKNOWN_TO_API = N_(
    "The connection to the database broke just as this was being saved, so it may have been saved. A booking sent "
    "again with the same Idempotency-Key is safe: it answers with the booking if it was made, and books it if not. "
    "Without a key, check before trying again."
)
