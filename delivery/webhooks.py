"""Webhooks: the signature an endpoint checks, and the address filter that keeps them off private networks — checked
on the addresses a connection then goes to, never on an earlier answer of the name's resolver."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import ipaddress
import socket
from collections.abc import Awaitable, Callable
from datetime import datetime
from urllib.parse import urlsplit

import httpcore

from booking.outbox import Message, Webhook

Address = ipaddress.IPv4Address | ipaddress.IPv6Address
Resolver = Callable[[str, int], Awaitable[list[str]]]
NAT64 = ipaddress.ip_network("64:ff9b::/96")  # RFC 6052: the IPv4 address in the last 32 bits
LOCAL_NAT64 = ipaddress.ip_network("64:ff9b:1::/48")  # RFC 8215: the IPv4 address where its operator put it
COMPATIBLE = ipaddress.ip_network("::/96")  # deprecated IPv4-compatible addresses, ::a.b.c.d
TRANSLATED = ipaddress.ip_network("::ffff:0:0:0/96")  # RFC 2765 SIIT, ::ffff:0:a.b.c.d
ISATAP = 0x5EFE  # RFC 5214: an interface identifier 0000:5efe:a.b.c.d (or 0200:5efe:…)


class Undelivered(Exception):
    """A delivery that did not go through; its text is what staff see as the last error."""


def signature(secrets: list[str], body: bytes, stamp: int) -> str:
    """X-Slotcast-Signature: `t=<unix time>,v1=<hex HMAC-SHA256 of "<t>.<body>">`, one v1 per secret (two while a
    rotation's old secret still counts)."""
    signed = f"{stamp}.".encode() + body
    return ",".join(
        [f"t={stamp}", *(f"v1={hmac.new(s.encode(), signed, hashlib.sha256).hexdigest()}" for s in secrets)]
    )


def legacy_signature(secret: str, body: bytes) -> str:
    """X-Slotcast-Signature-Legacy (deprecated, for one release): `sha256=<hex HMAC-SHA256 of the body>`."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def carried_ipv4(ip: ipaddress.IPv6Address) -> list[ipaddress.IPv4Address]:
    """The IPv4 addresses an IPv6 address carries, by each scheme that can deliver to them (mapped, compatible,
    translated, NAT64, 6to4, Teredo's server and client, ISATAP)."""
    last32 = ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
    carried = [ip.ipv4_mapped, ip.sixtofour, *(ip.teredo or ())]
    if ip in COMPATIBLE or ip in TRANSLATED or ip in NAT64 or (int(ip) >> 32) & 0xFDFFFFFF == ISATAP:
        carried.append(last32)
    return [v4 for v4 in carried if v4 is not None]


def public(ip: Address) -> bool:
    """Whether a webhook may go to this address: a global unicast one, carrying no IPv4 address that is not."""
    if not ip.is_global or ip.is_multicast:
        return False
    return ip.version == 4 or (ip not in LOCAL_NAT64 and all(public(v4) for v4 in carried_ipv4(ip)))


async def resolve(host: str, port: int) -> list[str]:
    """The addresses a host name has (an address stands for itself), in the resolver's order."""
    found = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return list(dict.fromkeys(address[0] for *_, address in found))


async def checked_addresses(
    host: str, port: int, allowed: Callable[[Address], bool] = public, resolver: Resolver = resolve
) -> list[str]:
    """The host's addresses, resolved once: Undelivered unless every one of them is `allowed`."""
    try:
        addresses = await resolver(host, port)
    except OSError as error:
        raise Undelivered(f"{host}: {error.strerror or error}") from None
    if not addresses:
        raise Undelivered(f"{host}: no address")
    for address in addresses:
        ip = ipaddress.ip_address(address.split("%")[0])
        if not allowed(ip):
            raise Undelivered(f"{host} is a private address ({ip}): refused")
    return addresses


async def refuse_private(url: str) -> None:
    """Undelivered unless every address the URL's host has is a public one (no loopback, private, link-local)."""
    parts = urlsplit(url)
    await checked_addresses(parts.hostname, parts.port or 80)


class PinnedBackend(httpcore.AsyncNetworkBackend):
    """httpcore's connections, made only to the addresses checked a moment before (no second resolution in between
    that a name could answer differently); the URL keeps its host name, so TLS (SNI, the certificate) and `Host`
    name the host. `allowed` says which addresses pass (every one with SLOTCAST_WEBHOOKS_ALLOW_PRIVATE)."""

    def __init__(self, allowed: Callable[[Address], bool] = public, resolver: Resolver = resolve):
        self.allowed, self.resolver, self.network = allowed, resolver, httpcore.AnyIOBackend()

    async def connect_tcp(
        self, host: str, port: int, timeout: float | None = None, local_address: str | None = None, socket_options=None
    ) -> httpcore.AsyncNetworkStream:
        try:
            async with asyncio.timeout(timeout):
                addresses = await checked_addresses(host, port, self.allowed, self.resolver)
        except TimeoutError:
            raise httpcore.ConnectTimeout(f"{host}: no address in time") from None
        for address in addresses[:-1]:  # each in turn, as a resolver's answers are meant
            try:
                return await self.network.connect_tcp(address, port, timeout, local_address, socket_options)
            except httpcore.ConnectError:
                continue
        return await self.network.connect_tcp(addresses[-1], port, timeout, local_address, socket_options)

    async def connect_unix_socket(self, path: str, timeout: float | None = None, socket_options=None):
        raise Undelivered("webhooks go over TCP only")

    async def sleep(self, seconds: float) -> None:
        await self.network.sleep(seconds)


def webhook_headers(hook: Webhook, message: Message, body: bytes, now: datetime) -> dict[str, str]:
    """A delivery's headers, signed at `now` (each attempt anew) with the secrets the endpoint has then."""
    return {
        "Content-Type": "application/json",
        "X-Slotcast-Event": message.event,
        "X-Slotcast-Delivery": message.delivery,
        "X-Slotcast-Signature": signature(hook.secrets(now), body, int(now.timestamp())),
        "X-Slotcast-Signature-Legacy": legacy_signature(hook.secret, body),
    }
