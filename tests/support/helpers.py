"""Helpers for tests: forms with CSRF tokens, staff login, SSE reading, a clinic where it is midday."""

from __future__ import annotations

import asyncio
import re
import subprocess
from datetime import UTC, datetime, timedelta
from functools import cache
from zoneinfo import ZoneInfo

import pytest
from werkzeug.security import generate_password_hash

from booking.clock import ManualClock
from booking.model import local_today

PASSWORD = "pw"
NAME, CONTACT = "Zhang Wei", "+86 138 0013 8000"  # personal data: staff screens only


async def csrf_token(client, path: str) -> str:
    """Load a page with a form so the session has a CSRF token, and return it."""
    await client.get(path)
    async with client.session_transaction() as session:
        return session.get("csrf_token") or ""


@cache
def password_hash() -> str:
    """PASSWORD as the store keeps it, in a form quick to check: the app's own, deliberately slow hash
    (test_auth checks it) would cost every staff test a tenth of a second of a core."""
    return generate_password_hash(PASSWORD, method="pbkdf2:sha256:1000")


async def log_in(client, password: str = PASSWORD, username: str = "admin", next: str | None = None):
    """Post the login form as a browser would (with the session's CSRF token)."""
    form = {"csrf_token": await csrf_token(client, "/admin/login"), "username": username, "password": password}
    if next is not None:
        form["next"] = next
    return await client.post("/admin/login", form=form)


async def session_token(client) -> str:
    """The CSRF token of the client's session (made by any page with a form)."""
    async with client.session_transaction() as session:
        return session.get("csrf_token") or ""


async def act(client, path: str, htmx: bool = False, token: str | None = None, **fields):
    """A staff action: a form POST with the session's token (or the one given)."""
    form = {"csrf_token": await session_token(client) if token is None else token, **fields}
    return await client.post(path, form=form, headers={"HX-Request": "true"} if htmx else {})


async def text(response) -> str:
    return await response.get_data(as_text=True)


async def read_until(connection, needle: bytes, timeout: float = 2.0) -> bytes:
    """Everything received on a stream until `needle` shows up."""
    seen = b""
    while needle not in seen:
        seen += await asyncio.wait_for(connection.receive(), timeout)
    return seen


async def streams_closed(hub) -> None:
    """A tiny wait until the streams the test opened have unsubscribed."""
    for _ in range(50):
        if hub.count() == 0:
            return
        await asyncio.sleep(0.01)


def events_in(chunk: bytes | str) -> list[str]:
    """The event names in a chunk of an SSE stream, in order."""
    return re.findall(r"^event: (\S+)$", chunk.decode() if isinstance(chunk, bytes) else chunk, re.M)


def data_of(chunk: bytes) -> str:
    """A chunk of an SSE stream with the `data: ` prefixes taken off: the fragments' HTML as sent."""
    return re.sub(r"^data: ", "", chunk.decode(), flags=re.M)


async def public_booking(
    app, slot_id: int, name: str = "Ann Public", contact: str = "ann@example.com", party_size: str = "1"
):
    """Book as a member of the public would, from a client of its own."""
    public = app.test_client()
    await public.get(f"/slots/{slot_id}/book")
    token = await csrf_token(public, "/admin/login")  # a session token even when the slot page is a 404
    form = {"csrf_token": token, "name": name, "contact": contact, "party_size": party_size}
    return await public.post(f"/slots/{slot_id}/book", form=form)


def midday_zone() -> str:
    """A fixed-offset time zone where it is now between 12:00 and 13:00."""
    offset = 12 - datetime.now(UTC).hour  # local = UTC + offset; Etc/GMT-5 is UTC+5
    return "Etc/GMT" if offset == 0 else f"Etc/GMT{-offset:+d}"


def clinic_today(clinic):
    return local_today(clinic.timezone)


async def clinic_slot(store, clinic, hour: int, resource: str = "dr-li"):
    """Today's slot of a clinic resource that starts at `hour` (clinic time)."""
    slots = await store.slots_for_day(clinic.resource(resource).id, clinic_today(clinic))
    return next(s for s in slots if s.starts_at.astimezone(ZoneInfo(clinic.timezone)).hour == hour)


async def booked_earlier(store, hub, slot, name: str = "Early Patient"):
    """A booking in a slot of today as if made an hour before it began (for a session under way or past)."""
    booking, slot = await store.book(slot.id, name, "12345", 1, slot.starts_at - timedelta(hours=1), for_staff=True)
    return booking


def board_url(day, venue: str = "test-bistro") -> str:
    return f"/admin/venues/{venue}/board/{day.isoformat()}"


def resource_form(resource, schedule_text: str, **changes) -> dict:
    """The edit form of a resource as it stands, with a new schedule text and other changes."""
    return {
        "name": resource.name,
        "max_party": str(resource.max_party),
        "horizon_days": str(resource.horizon_days),
        "min_notice_minutes": str(resource.min_notice_minutes),
        "schedule": schedule_text,
        "name_zh": resource.name_zh,
        **changes,
    }


async def tables_of(store):
    return (await store.venue("test-bistro")).resource("tables")


def clock_at(start: datetime):
    """A test module's `clock` fixture: the app's time stands at `start` until the test moves it."""

    @pytest.fixture
    def clock():
        return ManualClock(start)

    return clock


def self_signed(folder, name: str, alt: str) -> tuple:
    """A self-signed certificate for `name` (valid a day; `alt` its subjectAltName, e.g. 'IP:127.0.0.1'), and its key."""
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(key), "-out", str(cert)]
        + ["-days", "1", "-subj", f"/CN={name}", "-addext", f"subjectAltName={alt}"],
        check=True,
        capture_output=True,
    )
    return cert, key
