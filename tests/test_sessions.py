"""Sessions: pages have the signed cookie's session; the JSON API has none (it carries no cookie's authority)."""

from __future__ import annotations

from quart import session
from quart.sessions import NullSession


async def test_api_calls_open_no_session(app):
    async with app.test_request_context("/api/v1/bookings", method="POST"):
        assert isinstance(session._get_current_object(), NullSession)
    async with app.test_request_context("/admin/login"):
        assert not isinstance(session._get_current_object(), NullSession)


async def test_a_staff_cookie_on_an_api_call_is_neither_read_nor_set(client, store):
    await client.get("/admin/login")  # a page's session: its cookie comes back on the API call
    response = await client.get("/api/v1/venues")
    assert response.status_code == 200
    assert "Set-Cookie" not in response.headers
    assert "cookie" not in response.headers.get("Vary", "").lower()
