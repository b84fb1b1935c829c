"""Links that leave the site (a copied link, a calendar's, an e-mail's), and the site's name in the ids it hands out.

A link that leaves is absolute: on SLOTCAST_PUBLIC_URL when set, else on the address `python app.py` listens on,
else (an app nobody told where it listens: the tests', or one under another ASGI server) on http://localhost.
It is never built from a request's Host header, which the client chooses.
"""

from __future__ import annotations

import hmac
import ipaddress
import socket

from quart import current_app, url_for

NOWHERE = "http://localhost"  # where links point when neither the public nor the listening address is known
WILDCARDS = ("", "0.0.0.0", "::")


def base_url() -> str:
    """The address links are built on, without a trailing slash."""
    config = current_app.config  # LISTEN_URL: set by app.serve() from its bind, not a setting
    return (config.get("PUBLIC_URL") or config.get("LISTEN_URL") or NOWHERE).rstrip("/")


def public_url(endpoint: str, **values) -> str:
    """A link meant to be kept or shared: absolute, on base_url()."""
    return base_url() + url_for(endpoint, _external=False, **values)  # a path: outside a request Quart gives more


def listen_url(bind: str, tls: bool) -> str | None:
    """The base of links to a server bound to `bind` ('host:port', '[v6]:port'); None for a Unix socket or a file
    descriptor. A wildcard bind is reached at this machine's address on its network."""
    if bind.startswith(("unix:", "fd://")):
        return None
    host, _, port = bind.rpartition(":")
    host = host.strip("[]")
    if host in WILDCARDS:
        host = this_machine()
    try:
        host = f"[{host}]" if ipaddress.ip_address(host).version == 6 else host
    except ValueError:  # a name
        pass
    scheme, default = ("https", "443") if tls else ("http", "80")
    return f"{scheme}://{host}" + ("" if port in ("", default) else f":{port}")


def this_machine() -> str:
    """This machine's address on its network: the one a packet out would leave from (nothing is sent), else its name."""
    try:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
            probe.connect(("192.0.2.1", 9))  # TEST-NET-1: connecting a UDP socket only chooses the route
            return probe.getsockname()[0]
    except OSError:  # no network at all
        return socket.getfqdn()


def site() -> str:
    """This site in calendar UIDs and Message-IDs: a name derived from the app's secret, so that setting or changing
    SLOTCAST_PUBLIC_URL never changes an event's UID (calendars would hold the booking twice)."""
    digest = hmac.new(str(current_app.config["SECRET_KEY"]).encode(), b"calendar uid", "sha256").hexdigest()
    return f"{digest[:16]}.slotcast"
