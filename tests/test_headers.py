"""The security headers on every kind of response: pages, fragments, the API, streams, static files, errors."""

from __future__ import annotations

from urllib.parse import urlsplit

import pytest

from app import create_app
from tests.support.helpers import (
    board_url,
    csrf_token,
    public_booking,
    read_until,
    text,
)

CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; "
    "form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
)


def assert_secured(response, private: bool = False) -> None:
    """The headers every response carries on an app without TLS; no-store where tokens or staff data show."""
    headers = response.headers
    assert headers.get("Content-Security-Policy") == CSP
    assert headers.get("X-Content-Type-Options") == "nosniff"
    assert headers.get("Referrer-Policy") == "no-referrer"
    assert "Strict-Transport-Security" not in headers  # no TLS configured
    assert (headers.get("Cache-Control") == "no-store") is private, headers.get("Cache-Control")


def varies_on_language(response) -> bool:
    return "accept-language" in {v.strip().lower() for v in response.headers.get("Vary", "").split(",")}


async def stream_headers(client, path: str, needle: bytes = b"data: "):
    """The headers of an SSE stream, read once its first event has come."""
    async with client.request(path) as connection:
        await read_until(connection, needle)
        headers = connection.headers
        await connection.disconnect()
    return headers


async def booked(app, slot) -> str:
    """A public booking's confirmation path, with its secret token."""
    location = urlsplit((await public_booking(app, slot.id)).headers["Location"])
    return f"{location.path}?{location.query}"


async def test_page(client, tomorrow):
    response = await client.get(f"/book/test-bistro/tables/{tomorrow}")
    assert response.status_code == 200
    assert_secured(response)
    assert varies_on_language(response)


async def test_vary_keeps_what_was_there(client):
    response = await client.get("/", headers={"Accept-Language": "zh-CN"})
    assert response.status_code == 200
    assert varies_on_language(response)
    assert "Cookie" in response.headers["Vary"]  # the session's own Vary is kept


async def test_htmx_fragment(client, slot):
    form = {
        "csrf_token": await csrf_token(client, f"/slots/{slot.id}/book"),
        "name": "",
        "contact": "12345",
        "party_size": "1",
    }
    response = await client.post(f"/slots/{slot.id}/book", form=form, headers={"HX-Request": "true"})
    assert response.status_code == 422
    assert (await text(response)).strip().startswith('<form id="booking-form"')
    assert_secured(response)
    assert varies_on_language(response)


async def test_json_api(client):
    response = await client.get("/api/v1/venues")
    assert response.status_code == 200 and response.mimetype == "application/json"
    assert_secured(response)


async def test_event_stream(client, slot):
    headers = await stream_headers(client, f"/events/slot/{slot.id}")
    assert headers["Content-Type"] == "text/event-stream"
    assert headers.get("Content-Security-Policy") == CSP
    assert headers.get("X-Content-Type-Options") == "nosniff"
    assert headers.get("Referrer-Policy") == "no-referrer"
    assert headers["Cache-Control"] == "no-cache"  # a public stream keeps the SSE rules' header
    assert "accept-language" in headers.get("Vary", "").lower()


async def test_static_file_stays_cacheable(client):
    response = await client.get("/static/app.css")
    assert response.status_code == 200
    assert_secured(response)
    assert "no-store" not in response.headers.get("Cache-Control", "")


async def test_not_found_page_and_json(client):
    page = await client.get("/no-such-page")
    assert page.status_code == 404 and page.mimetype == "text/html"
    assert_secured(page)
    assert varies_on_language(page)
    api = await client.get("/api/v1/no-such-thing")
    assert api.status_code == 404 and api.mimetype == "application/json"
    assert_secured(api)


async def test_server_error_page(app, client):
    async def boom():
        raise RuntimeError("boom")

    app.add_url_rule("/boom", "boom", boom)
    response = await client.get("/boom")
    assert response.status_code == 500
    assert_secured(response)


async def test_confirmation_and_cancel_pages_are_never_stored(app, client, slot):
    confirmation = await booked(app, slot)
    response = await client.get(confirmation)
    assert response.status_code == 200
    assert_secured(response, private=True)
    reference, query = confirmation.split("?")
    response = await client.get(f"{reference}/cancel?{query}")
    assert response.status_code == 200
    assert_secured(response, private=True)
    headers = await stream_headers(client, f"{reference}/events?{query}")
    assert headers["Content-Type"] == "text/event-stream"
    assert headers["Cache-Control"] == "no-store"
    assert headers.get("Referrer-Policy") == "no-referrer"


async def test_admin_pages_are_never_stored(admin, client, venue, tomorrow):
    response = await admin.get("/admin/")
    assert response.status_code == 200
    assert_secured(response, private=True)
    assert_secured(await admin.get(board_url(tomorrow)), private=True)
    headers = await stream_headers(admin, f"/admin/events/board/{venue.id}/{tomorrow}")
    assert headers["Content-Type"] == "text/event-stream"
    assert headers["Cache-Control"] == "no-store"


async def test_login_page_is_never_stored(client):
    assert_secured(await client.get("/admin/login"), private=True)


async def test_method_not_allowed_says_what_is_allowed(client):
    page = await client.post("/")
    assert page.status_code == 405 and page.mimetype == "text/html"
    assert set(page.headers.get("Allow", "").split(", ")) >= {"GET", "HEAD"} and "POST" not in page.headers["Allow"]
    api = await client.get("/api/v1/bookings")
    assert api.status_code == 405 and api.mimetype == "application/json"
    assert "POST" in api.headers.get("Allow", "").split(", ") and "GET" not in api.headers["Allow"]
    assert_secured(page)
    assert_secured(api)


@pytest.mark.parametrize(
    "config, hsts",
    [
        ({"PUBLIC_URL": "https://book.example"}, True),
        ({"CERTFILE": "cert.pem", "KEYFILE": "key.pem"}, True),
        ({"CERTFILE": "cert.pem"}, False),
        ({"PUBLIC_URL": "http://book.example"}, False),
    ],
)
async def test_hsts_only_when_https_is_configured(tmp_path, clock, config, hsts):
    app = create_app(
        {"DATABASE_URL": f"sqlite:///{tmp_path}/test.db", "SECRET_KEY": "test", "TESTING": True, **config}, clock=clock
    )
    async with app.test_app():
        client = app.test_client()
        for path in ("/", "/static/app.css", "/api/v1/venues", "/no-such-page"):
            response = await client.get(path)
            assert response.headers.get("Content-Security-Policy") == CSP
            assert response.headers.get("Strict-Transport-Security") == ("max-age=31536000" if hsts else None), path
