"""The web layer: blueprints, templates' helpers, locale, CSRF and error pages."""

from __future__ import annotations

from pathlib import Path

from quart import Quart, current_app, g, jsonify, render_template, request
from werkzeug.exceptions import HTTPException

from booking.model import running_low, ticket_label
from live.wire import EVENTS
from middleware import csrf, headers
from middleware.admission import Admission
from middleware.handover import Handover
from web import i18n, observe
from web.clients import public_url
from web.i18n import N_

from . import (
    admin,
    api,
    assets,
    auth,
    exports,
    kiosk,
    manage,
    openapi,
    ops,
    public,
    streams,
    waitlist,
    webhooks,
)
from .lookups import IdConverter, refuse_nul, shown_party
from .messages import kind_label


def init_app(app: Quart) -> None:
    """Wire the views into the app."""
    app.url_map.converters["id"] = IdConverter
    app.jinja_env.add_extension("jinja2.ext.i18n")
    # A block tag's line leaves no blank line behind: fewer bytes in every fragment sent to every page.
    app.jinja_env.trim_blocks = app.jinja_env.lstrip_blocks = True
    app.jinja_env.install_gettext_callables(
        lambda s: i18n.translations(i18n.current()).gettext(s),
        lambda s, p, n: i18n.translations(i18n.current()).ngettext(s, p, n),
        newstyle=True,
    )
    app.jinja_env.globals.update(
        csrf_token=csrf.token, locales=i18n.LOCALES, locale=i18n.current, html_lang=i18n.html_lang,
        this_page_in=i18n.this_page_in,
        events=EVENTS, shown_party=shown_party, ticket_label=ticket_label, kind_label=kind_label,
        public_url=public_url,
    )
    app.jinja_env.filters.update(local_time=i18n.local_time, long_date=i18n.long_date, shown_name=i18n.shown_name,
                                 opening_hours=i18n.opening_hours, short_date=i18n.short_date,
                                 running_low=running_low)
    observe.init_app(app)
    assets.init_app(app, Path(__file__).resolve().parent.parent / "static")
    for module in (public, waitlist, streams, api, kiosk, auth, admin, ops, exports, manage, webhooks):
        app.register_blueprint(module.bp)
    app.register_blueprint(openapi.bp)  # the API's contract (/api/v1/openapi.json) and its docs
    app.before_request(choose_locale)
    app.before_request(refuse_nul)
    app.before_request(csrf.protect)
    app.after_request(remember_locale)
    app.after_request(headers.secure)
    app.register_error_handler(HTTPException, http_error)
    app.register_error_handler(Exception, unexpected_error)
    # A bounded number of requests inside Quart at once; an event stream, once its headers are out, runs outside.
    app.asgi_app = Handover(Admission(app.asgi_app, app.config, observe.PROBES))


async def choose_locale() -> None:
    """Pick the request's locale."""
    asked = request.args.get("lang")
    i18n.set_current(i18n.negotiate(asked, request.cookies.get("lang"), request.headers.get("Accept-Language", "")))
    g.lang_asked = asked in i18n.LOCALES


async def remember_locale(response):
    """Keep a locale chosen with the switch."""
    if g.get("lang_asked"):
        response.set_cookie("lang", i18n.current(), max_age=365 * 86400, samesite="Lax")
    return response


def wants_json() -> bool:
    return request.path.startswith("/api/")


async def http_error(error: HTTPException):
    """A clear message: a JSON error for the API, a page otherwise (or the response the view aborted with)."""
    if error.response is not None:
        return error.response
    custom = error.description != type(error).description  # abort(code, message) was given a message
    message = error.description if custom else i18n.gettext(DEFAULT_MESSAGES.get(error.code, "Something went wrong."))
    # This new response keeps what the error's own would say: a 405's Allow, a 429's Retry-After.
    kept = {k: v for k, v in error.get_headers() if k in ("Allow", "Retry-After")}
    if wants_json():
        return jsonify(error=message, code=CODES.get(error.code, "error")), error.code, kept
    return await render_template("error.html", status=error.code, message=message), error.code, kept


async def unexpected_error(error: Exception):
    """Never an HTML traceback: log it and say sorry."""
    current_app.logger.exception("unexpected error", exc_info=error)
    message = i18n.gettext("Something went wrong on our side. Please try again.")
    if wants_json():
        return jsonify(error=message, code="server_error"), 500
    return await render_template("error.html", status=500, message=message), 500


CODES = {400: "bad_request", 403: "forbidden", 404: "not_found", 405: "method_not_allowed",
         409: "conflict", 413: "too_large", 415: "unsupported_media_type", 422: "invalid", 429: "too_many_requests"}
DEFAULT_MESSAGES = {
    400: N_("The request could not be understood."),
    403: N_("You are not allowed to do that."),
    404: N_("There is nothing at this address."),
    405: N_("That action is not possible here."),
    413: N_("That request is too large."),
    429: N_("Too many requests. Please wait a moment and try again."),
}
