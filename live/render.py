"""How the hub renders a topic: each topic kind's fragment, rendered once per change and locale in the app."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime

from quart import Quart, render_template, url_for

from booking import topics
from booking.hub import Render
from web import i18n
from web.runtime import RENDER_AT

from .wire import encode

# Topic kind's name -> (event name from the topic's arguments, fragment template, async context from the arguments).
# A context may hold `valid_until`: the moment the clock alone would change the fragment.
FRAGMENTS: dict[str, tuple[Callable[..., str], str, Callable[..., Awaitable[dict]]]] = {}


def fragment(kind: topics.Kind, template: str, event: Callable[..., str]):
    """Register how a kind of topic is rendered: decorate the function that builds its context."""

    def register(context):
        FRAGMENTS[kind.name] = (event, template, context)
        return context

    return register


def renderer(app: Quart):
    """The hub's render function: topic + locale + version -> the SSE message, and until when it holds."""

    async def render(topic: str, locale: str, version: int, at: datetime | None = None) -> Render:
        kind, args = topics.parse(topic)
        event, template, context = FRAGMENTS[kind.name]
        moment = RENDER_AT.set(at)  # a render made ahead: now() is the moment it is for
        try:
            async with app.app_context():
                with i18n.use(locale):
                    values = await context(*args)
                    html = await render_template(template, url_for=path_for, **values)
        finally:
            RENDER_AT.reset(moment)
        return Render(encode(event(*args), html.strip()), values.get("valid_until"))

    return render


def path_for(endpoint: str, **values) -> str:
    """url_for for the hub's renders: a path. Outside a request Quart's url_for defaults to an absolute URL on
    the placeholder host (http://localhost/...), which would break every link in a fragment sent over SSE."""
    values.setdefault("_external", False)
    return url_for(endpoint, **values)
