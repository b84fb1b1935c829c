"""The web layer: blueprints, templates' helpers, locale, CSRF and error pages."""

from __future__ import annotations

from pathlib import Path

from quart import Quart, current_app, g, request
from quart.utils import encode_headers

from booking.model import running_low, ticket_label
from live.wire import EVENTS
from middleware import csrf, encoding, headers
from middleware.admission import Admission
from middleware.handover import Handover
from middleware.known_full import ENDPOINT, PATH, Answer, KnownFull
from web import i18n, observe
from web.links import public_url
from web.sessions import PagesOnlySessions

from . import (
    admin,
    api,
    api_keys,
    assets,
    audit,
    auth,
    bearer,
    draws,
    draws_api,
    errors,
    exports,
    finding,
    integrations,
    kiosk,
    manage,
    openapi,
    ops,
    public,
    staff,
    streams,
    waitlist,
    webhooks,
)
from .lookups import IdConverter, refuse_nul, shown_party
from .messages import kind_label, word


def init_app(app: Quart) -> None:
    """Wire the views into the app."""
    app.url_map.converters["id"] = IdConverter
    app.session_interface = PagesOnlySessions()
    app.jinja_env.add_extension("jinja2.ext.i18n")
    # A block tag's line leaves no blank line behind: fewer bytes in every fragment sent to every page.
    app.jinja_env.trim_blocks = app.jinja_env.lstrip_blocks = True
    app.jinja_env.install_gettext_callables(
        lambda s: i18n.translations(i18n.current()).gettext(s),
        lambda s, p, n: i18n.translations(i18n.current()).ngettext(s, p, n),
        newstyle=True,
    )
    app.jinja_env.globals.update(
        csrf_token=csrf.token,
        locales=i18n.LOCALES,
        locale=i18n.current,
        html_lang=i18n.html_lang,
        this_page_in=i18n.this_page_in,
        events=EVENTS,
        shown_party=shown_party,
        ticket_label=ticket_label,
        kind_label=kind_label,
        public_url=public_url,
        word=word,
    )
    app.jinja_env.filters.update(
        local_time=i18n.local_time,
        long_date=i18n.long_date,
        shown_name=i18n.shown_name,
        opening_hours=i18n.opening_hours,
        short_date=i18n.short_date,
        short_when=i18n.short_when,
        running_low=running_low,
    )
    observe.init_app(app)
    assets.init_app(app, Path(__file__).resolve().parent.parent / "static")
    for module in (
        public,
        waitlist,
        draws,
        streams,
        api,
        draws_api,
        finding,
        integrations,
        kiosk,
        auth,
        admin,
        audit,
        ops,
        exports,
        manage,
        webhooks,
        staff,
        api_keys,
    ):
        app.register_blueprint(module.bp)
    app.register_blueprint(staff.links)  # the one-time password links: no login
    app.register_blueprint(openapi.bp)  # the API's contract (/api/v1/openapi.json) and its docs
    app.before_request(auth.act_as_guest)
    app.before_request(choose_locale)
    app.before_request(refuse_nul)
    app.before_request(csrf.protect)
    app.before_request(bearer.identify)  # an API call with a key is the key's (401 for a key not standing)
    app.after_request(encoding.tag_and_pack)  # the first registered runs last: on the finished answer
    app.after_request(remember_locale)
    app.after_request(headers.secure)
    errors.init_app(app)
    # A bounded number of requests inside Quart at once; an event stream, once its headers are out, runs outside.
    # A booking at a slot known to be full is refused before it waits for its turn.
    known_full = KnownFull(app, slot_full_answer)
    app.asgi_app = Handover(Admission(app.asgi_app, app.config, observe.PROBES, before_turn=known_full))


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


async def slot_full_answer(locale: str) -> Answer:
    """The API's slot_full refusal (views.api.slot_full) in `locale`, with the headers the app adds to it: what
    middleware.known_full sends (in an app context)."""
    with i18n.use(locale):
        response, status = api.slot_full()
    response.headers.update(headers.security_headers(current_app.config, PATH, ENDPOINT))
    return status, encode_headers(response.headers), await response.get_data()
