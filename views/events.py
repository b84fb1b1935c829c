"""The SSE endpoints, and how the hub renders each topic (once per change and locale)."""

from __future__ import annotations

from types import SimpleNamespace

from quart import Blueprint, Quart, abort, current_app, make_response, render_template, url_for

from booking import topics
from booking.hub import CLOSE_EVENT, retry

from . import i18n, public
from .i18n import gettext as _
from .services import hub, parse_day, store

bp = Blueprint("events", __name__)

# Event names, used verbatim by the templates' sse-swap attributes.
EVENTS = SimpleNamespace(SLOTS="slots", SLOT_STATUS="slot-status", CLOSE=CLOSE_EVENT)

HEADERS = {"Content-Type": "text/event-stream", "Cache-Control": "no-cache", "X-Accel-Buffering": "no"}


@bp.get("/events/day/<id:resource_id>/<day>")
async def day_stream(resource_id: int, day: str):
    """A resource-day's slot table, now and after every change."""
    on = parse_day(day)
    if await store().venue_of_resource(resource_id) is None:
        abort(404, _("That resource does not exist."))
    return await stream(topics.day(resource_id, on))


@bp.get("/events/slot/<id:slot_id>")
async def slot_stream(slot_id: int):
    """One slot's remaining places, now and after every change."""
    if await store().slot(slot_id) is None:
        abort(404, _("That slot does not exist."))
    return await stream(topics.slot(slot_id))


async def stream(*names: str):
    """An event stream on these topics: the current state first, then every change."""
    the_hub, locale = hub(), i18n.current()
    prelude = retry(current_app.config["SSE_RETRY_MS"])

    async def body():
        sub = the_hub.subscribe(names, locale)  # inside the generator, so `finally` always runs
        try:
            yield prelude + b"".join([await the_hub.current(name, locale) for name in names])
            async for chunk in sub.messages():
                yield chunk
        finally:
            the_hub.unsubscribe(sub)

    response = await make_response(body(), 200, HEADERS)
    response.timeout = None  # Quart's response timeout would cut the stream
    return response


def renderer(app: Quart):
    """The hub's render function: topic + locale -> (event name, fragment HTML)."""
    fragments = {
        "day": (EVENTS.SLOTS, "_slot_table.html", public.day_topic_context),
        "slot": (EVENTS.SLOT_STATUS, "_slot_status.html", public.slot_topic_context),
    }

    async def render(topic: str, locale: str) -> tuple[str, str]:
        kind, args = topics.parse(topic)
        event, template, context = fragments[kind]
        async with app.app_context():
            with i18n.use(locale):
                return event, await render_template(template, url_for=path_for, **await context(*args))

    return render


def path_for(endpoint: str, **values) -> str:
    """url_for for the hub's renders: a path. Outside a request Quart's url_for defaults to an absolute URL on
    the placeholder host (http://localhost/...), which would break every link in a fragment sent over SSE."""
    values.setdefault("_external", False)
    return url_for(endpoint, **values)
