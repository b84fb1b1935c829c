"""The security headers every response carries: pages, fragments, the API, streams, static files and errors."""

from __future__ import annotations

from quart import current_app, request

# No inline script or style, no eval: htmx runs with includeIndicatorStyles and allowEval off (templates/layout.html).
CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; "
    "form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
)
# /api/v1/docs alone: the vendored RapiDoc component sets inline styles (attributes and <style>) and shows data: icons.
API_DOCS_CSP = CSP.replace("style-src 'self'", "style-src 'self' 'unsafe-inline'").replace(
    "img-src 'self'", "img-src 'self' data:"
)
PRIVATE = ("/bookings/", "/admin/")  # secret tokens in the URL, or staff data: never stored by a cache
LOCALISED = ("text/html", "text/event-stream")  # rendered in the request's language


async def secure(response):
    """Add the security headers (and Vary on the language) to any response."""
    response.headers.update(security_headers(current_app.config, request.path, request.endpoint))
    if response.mimetype in LOCALISED:
        response.vary.add("Accept-Language")
    return response


def security_headers(config, path: str, endpoint: str | None) -> dict[str, str]:
    """The security headers of an answer to `path` (`endpoint` the view that answers it)."""
    headers = {
        "Content-Security-Policy": API_DOCS_CSP if endpoint == "openapi.docs" else CSP,
        "X-Content-Type-Options": "nosniff",
        "Referrer-Policy": "no-referrer",
    }
    if path.startswith(PRIVATE):
        headers["Cache-Control"] = "no-store"
    if served_over_https(config):
        headers["Strict-Transport-Security"] = "max-age=31536000"
    return headers


def served_over_https(config) -> bool:
    """Whether the app serves HTTPS itself (CERTFILE and KEYFILE) or is published at an https:// address."""
    own_tls = bool(config.get("CERTFILE") and config.get("KEYFILE"))
    return own_tls or (config.get("PUBLIC_URL") or "").startswith("https://")
