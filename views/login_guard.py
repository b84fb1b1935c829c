"""Who may try a staff password now (OWASP's device cookies): a browser that logged in before carries a signed
device cookie and is limited by its own failures only; every other client is limited per address and per name.
Password checks run in two lanes, so that a crowd of strangers' guesses is turned away before the hash and never
queues in front of a trusted device."""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import timedelta

from itsdangerous import BadData, URLSafeTimedSerializer
from quart import current_app, request

from middleware.headers import served_over_https
from web.clients import client_group
from web.i18n import gettext as _
from web.runtime import service

ATTEMPTS, WINDOW = 5, timedelta(minutes=5)  # failed logins allowed per device, per address and per name per window
DEVICE_LIFETIME = timedelta(days=365)  # how long a browser stays trusted after its last login
DEVICE_PATH = "/admin/login"  # the device cookie goes to the login only
BUSY_RETRY = 2  # seconds a login turned away from a full lane is told to wait (Retry-After)
# Each lane's password checks at once (each ~0.1 s of a core) and places (counting, waiting or checking). Strangers
# check one at a time, so that a crowd of them never holds more than one core (the event loop and trusted devices
# keep the rest), and have more places than ATTEMPTS, so that parallel guesses still meet the database's count.
STRANGERS, TRUSTED = (1, 6), (2, 8)


class Lane:
    """Password checks of one kind of client: `running` at once (on worker threads, off the event loop), and at
    most `admitted` logins admitted at once (counting, waiting or checking); past that a login is turned away
    before anything is counted or hashed."""

    def __init__(self, running: int, admitted: int):
        self.checks = asyncio.Semaphore(running)
        self.room, self.inside = admitted, 0

    def enter(self) -> bool:
        """Take a place if there is one (no await between the look and the taking: nothing else runs between)."""
        if self.inside >= self.room:
            return False
        self.inside += 1
        return True

    def leave(self) -> None:
        self.inside -= 1

    async def check(self, check: Callable[[], bool]) -> bool:
        """Run a password check in this lane."""
        async with self.checks:
            return await asyncio.to_thread(check)


def lanes() -> dict[bool, Lane]:
    """This app's lanes, by whether the client is a trusted device (one per app: an asyncio primitive keeps to one
    event loop)."""
    if "slotcast.login_lanes" not in current_app.extensions:
        current_app.extensions["slotcast.login_lanes"] = {False: Lane(*STRANGERS), True: Lane(*TRUSTED)}
    return current_app.extensions["slotcast.login_lanes"]


@dataclass
class Attempt:
    """A login let in (`lane` to check its password in, `keys` its attempt was counted under), or refused for
    `refusal` = (seconds to wait, the reason to show)."""

    lane: Lane | None = None
    keys: list[str] = field(default_factory=list)
    refusal: tuple[int, str] | None = None


def device_cookie() -> str:
    """The device cookie's name: `__Secure-` over HTTPS (the browser then keeps it from plain HTTP)."""
    return "__Secure-slotcast-device" if served_over_https(current_app.config) else "slotcast-device"


def signer() -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.secret_key, salt="slotcast login device")


def trusted_device(username: str) -> str | None:
    """The nonce of this browser's device cookie when it is signed by us, not too old and for this account; None
    for an untrusted client (no cookie, a forged or stale one, another account's)."""
    cookie = request.cookies.get(device_cookie())
    if not cookie:
        return None
    try:
        name, nonce = signer().loads(cookie, max_age=int(DEVICE_LIFETIME.total_seconds()))
    except (BadData, TypeError, ValueError):
        return None
    return nonce if isinstance(nonce, str) and name == username.lower() else None


def trust_device(response, username: str):
    """A successful login makes its browser a trusted device of that account (a new nonce each time)."""
    value = signer().dumps([username.lower(), secrets.token_urlsafe(16)])
    secure = served_over_https(current_app.config)
    response.set_cookie(
        device_cookie(),
        value,
        max_age=int(DEVICE_LIFETIME.total_seconds()),
        path=DEVICE_PATH,
        httponly=True,
        samesite="Lax",
        secure=secure,
    )
    return response


@asynccontextmanager
async def admitted(username: str) -> AsyncIterator[Attempt]:
    """Let a login in, or say why not: a full lane turns it away at once (not counted, not hashed); then its
    attempt is counted in the database, before the password is checked (parallel guesses and other processes
    count too): per device cookie for a trusted device, else per address (IPv6 by its /64) and per name."""
    device = trusted_device(username)
    lane = lanes()[device is not None]
    if not lane.enter():
        yield Attempt(refusal=(BUSY_RETRY, _("Many logins are being tried at once. Please try again in a moment.")))
        return
    try:
        keys = [f"device:{device}"] if device else [f"address:{client_group()}", f"name:{username.lower()}"]
        blocked = [left for attempts, left in await service().count_attempt(keys, WINDOW) if attempts > ATTEMPTS]
        if blocked:
            wait = max(blocked).total_seconds()
            error = _("Too many failed attempts. Try again in %(minutes)s minutes.", minutes=int(wait // 60) + 1)
            yield Attempt(keys=keys, refusal=(int(wait) + 1, error))
        else:
            yield Attempt(lane, keys)
    finally:
        lane.leave()
