"""How the hub renders a topic: each topic kind's fragment, rendered once per change and locale in the app."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import datetime

from quart import Quart, url_for

from booking import topics
from booking.batches import Batches, Raised
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
    """The hub's render function: topic + locale + version -> the SSE message, and until when it holds. Renders
    asked for together (a draw's 5,000 entrant pages, a family of tickets) are made in one pass: one app context,
    one template context, their contexts built side by side (their reads batch), then each fragment in turn."""

    async def render_all(asked: list[tuple[str, str, datetime | None]]) -> list[Render | Raised]:
        made: dict[tuple[str, str, datetime | None], Render | Raised] = {}
        for locale, at in dict.fromkeys((locale, at) for _topic, locale, at in asked):
            names = list(dict.fromkeys(topic for topic, lc, when in asked if (lc, when) == (locale, at)))
            for name, render in zip(names, await render_many(app, names, locale, at), strict=True):
                made[name, locale, at] = render
        return [made[key] for key in asked]

    batches = Batches(render_all, inline=True)  # a render alone (a day's table at a release) is made at once

    async def render(topic: str, locale: str, version: int, at: datetime | None = None) -> Render:
        return await batches.add((topic, locale, at))

    return render


async def render_many(app: Quart, names: list[str], locale: str, at: datetime | None) -> list[Render | Raised]:
    """Each topic's message in `locale` (as at `at`, for a render made ahead), or the error that stopped it."""
    moment = RENDER_AT.set(at)  # a render made ahead: now() is the moment it is for
    try:
        async with app.app_context() as ctx:
            with i18n.use(locale):
                base = {"url_for": path_for}
                await app.update_template_context(ctx, base)
                asked = [(args, FRAGMENTS[kind.name]) for kind, args in map(topics.parse, names)]
                values = await asyncio.gather(
                    *(context(*args) for args, (_e, _t, context) in asked), return_exceptions=True
                )
                made: list[Render | Raised] = []
                for (args, (event, template, _c)), value in zip(asked, values, strict=True):
                    if isinstance(value, Exception):  # this topic's context failed: the others go out
                        made.append(Raised(value))
                        continue
                    try:
                        html = await app.jinja_env.get_template(template).render_async({**base, **value})
                    except Exception as error:  # and so does a failed render
                        made.append(Raised(error))
                        continue
                    made.append(Render(encode(event(*args), html.strip()), value.get("valid_until")))
                return made
    finally:
        RENDER_AT.reset(moment)


def path_for(endpoint: str, **values) -> str:
    """url_for for the hub's renders: a path. Outside a request Quart's url_for defaults to an absolute URL on
    the placeholder host (http://localhost/...), which would break every link in a fragment sent over SSE."""
    values.setdefault("_external", False)
    return url_for(endpoint, **values)
