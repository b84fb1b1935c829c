"""Webhooks: the signature an endpoint checks, and the address filter that keeps them off private networks."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import ipaddress
import socket
from urllib.parse import urlsplit

from booking.outbox import Message, Webhook


class Undelivered(Exception):
    """A delivery that did not go through; its text is what staff see as the last error."""


def signature(secret: str, body: bytes) -> str:
    """X-Slotcast-Signature: the body's HMAC-SHA256 with the endpoint's secret."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


async def refuse_private(url: str) -> None:
    """Undelivered unless every address the URL's host has is a public one (no loopback, private, link-local)."""
    parts = urlsplit(url)
    try:
        found = await asyncio.get_running_loop().getaddrinfo(parts.hostname, parts.port or 80, type=socket.SOCK_STREAM)
    except OSError as error:
        raise Undelivered(f"{parts.hostname}: {error.strerror or error}") from None
    for *_, address in found:
        ip = ipaddress.ip_address(address[0].split("%")[0])
        if not ip.is_global:
            raise Undelivered(f"{parts.hostname} is a private address ({ip}): refused")


def webhook_headers(hook: Webhook, message: Message, body: bytes) -> dict[str, str]:
    return {"Content-Type": "application/json", "X-Slotcast-Event": message.event,
            "X-Slotcast-Delivery": message.delivery, "X-Slotcast-Signature": signature(hook.secret, body)}
