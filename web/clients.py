"""Who a request comes from (through proxies only when they are trusted), how often it books, what it accepts."""

from __future__ import annotations

import ipaddress
import math
from datetime import timedelta
from functools import cache, lru_cache

from quart import current_app, g, request
from werkzeug.exceptions import TooManyRequests

from .i18n import gettext
from .runtime import service

BOOKING_WINDOW = timedelta(minutes=1)  # SLOTCAST_BOOKINGS_PER_MINUTE's
COUNTED = "slotcast.booking_counted"  # an ASGI scope's key: this booking attempt was counted before the app


@lru_cache(maxsize=4096)
def counted_as(address: str) -> str:
    """An address as a client is counted: an IPv4-mapped IPv6 address is its IPv4 address (a socket bound to `[::]`
    hands every IPv4 client over as ::ffff:a.b.c.d); anything else as it came."""
    try:
        mapped = ipaddress.IPv6Address(address).ipv4_mapped
    except ValueError:
        return address
    return str(mapped) if mapped else address


@cache
def proxies_in(setting: str) -> frozenset[str]:
    """The addresses SLOTCAST_TRUSTED_PROXIES lists: our own proxies', comma-separated (none by default; read once
    per setting, not per request)."""
    return frozenset(counted_as(p.strip()) for p in setting.split(",") if p.strip())


def client_address() -> str:
    """The request's client address (see address_of)."""
    return address_of(request.remote_addr or "?", request.headers.get("X-Forwarded-For", ""), current_app.config)


def address_of(peer: str, forwarded_for: str, config) -> str:
    """The client's address: the peer's, or, when the peer is a trusted proxy, the last address it was handed
    by someone it does not trust (X-Forwarded-For lists each hop; anything left of that is the client's say)."""
    peer, trusted = counted_as(peer), proxies_in(str(config.get("TRUSTED_PROXIES") or ""))
    if peer not in trusted:
        return peer
    hops = [counted_as(h.strip()) for h in forwarded_for.split(",") if h.strip()]
    for hop in reversed(hops):
        if hop not in trusted:
            return hop
    return peer


def client_group() -> str:
    """The client for per-client caps: its IPv4 address, or its /64 for IPv6 (one household or phone has many)."""
    return group_of(client_address())


@lru_cache(maxsize=4096)
def group_of(address: str) -> str:
    """An address's client group (see client_group)."""
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return address
    return str(ipaddress.ip_network(f"{ip}/64", strict=False)) if ip.version == 6 else address


def caller_scope() -> str:
    """Who an API call comes from, as far as its idempotency key goes: `key:<id>` for a call with an API key,
    `addr:<client group>` for an anonymous caller."""
    key = g.get("api_key")
    return f"key:{key.id}" if key else f"addr:{client_group()}"


async def count_booking(service, group: str) -> tuple[int, timedelta]:
    """Count a booking attempt from a client group: (attempts in its minute, time left of that minute)."""
    [counted] = await service.count_attempt([f"book:{group}"], BOOKING_WINDOW)
    return counted


async def check_booking_rate() -> None:
    """Count a booking attempt from this client (an IPv6 client by its /64); 429 with Retry-After past
    SLOTCAST_BOOKINGS_PER_MINUTE. A call with an API key is counted per key instead (check_key_rate). An attempt
    counted before it entered the app (middleware.known_full, in the scope's COUNTED) is not counted again."""
    limit = int(current_app.config["BOOKINGS_PER_MINUTE"])
    if limit and not g.get("api_key"):
        counted = request.scope.get(COUNTED) or await count_booking(service(), client_group())
        refuse_past(counted, limit, gettext("Too many bookings from your network. Please try again in a minute."))


async def check_key_rate(key_id: int) -> None:
    """Count a call made with an API key; 429 with Retry-After past SLOTCAST_API_KEY_CALLS_PER_MINUTE."""
    limit = int(current_app.config["API_KEY_CALLS_PER_MINUTE"])
    if limit:
        [counted] = await service().count_attempt([f"key:{key_id}"], timedelta(minutes=1))
        message = gettext("Too many calls with this API key. Please wait a moment and try again.")
        refuse_past(counted, limit, message)


def refuse_past(counted: tuple[int, timedelta], limit: int, message: str) -> None:
    """429 with Retry-After when the attempts counted (in the database, shared by every process) pass `limit`."""
    attempts, left = counted
    if attempts > limit:
        wait = max(math.ceil(left.total_seconds()), 1)  # Retry-After takes no fraction
        raise TooManyRequests(message, retry_after=wait)


def accepts_gzip() -> bool:
    """Whether the client takes a gzip-encoded response."""
    return request.accept_encodings.quality("gzip") > 0
