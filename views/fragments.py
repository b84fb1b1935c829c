"""A fragment rendered for a page's body, or as the answer htmx swaps in (SSE renders are live/render.py's)."""

from __future__ import annotations

from markupsafe import Markup
from quart import render_template, request


def htmx_asked() -> bool:
    """Whether htmx sent this request (it swaps the answer into the page)."""
    return bool(request.headers.get("HX-Request"))


async def htmx_swap(template: str, context: dict, target: str, status: int = 200):
    """The fragment as htmx's answer, swapped over the element `#target` (whatever element asked). The address stays:
    a boosted form would push the POST's, which a reload or a bookmark could not GET."""
    body = await render_template(template, **context)
    return body, status, {"HX-Retarget": f"#{target}", "HX-Reswap": "outerHTML", "HX-Push-Url": "false"}


async def inline(template: str, context: dict) -> Markup:
    """The fragment, ready to stand in a page that shows several of it (a board per resource, a kiosk panel)."""
    return Markup(await render_template(template, **context))
