"""With SLOTCAST_CERTFILE and SLOTCAST_KEYFILE, `python app.py` serves TLS and offers HTTP/2 (ALPN)."""

from __future__ import annotations

import socket
import ssl

from tests.support.helpers import self_signed
from tests.support.live_server import LiveServer


def negotiated(port: int) -> str | None:
    """The protocol the server picks when a client offers h2 and http/1.1."""
    context = ssl.create_default_context()
    context.check_hostname, context.verify_mode = False, ssl.CERT_NONE  # a self-signed test certificate
    context.set_alpn_protocols(["h2", "http/1.1"])
    with socket.create_connection(("127.0.0.1", port), timeout=2) as raw:
        with context.wrap_socket(raw, server_hostname="localhost") as tls:
            return tls.selected_alpn_protocol()


def test_tls_serves_http2(tmp_path):
    cert, key = self_signed(tmp_path, "localhost", "DNS:localhost")
    server = LiveServer(tmp_path, {"SLOTCAST_CERTFILE": str(cert), "SLOTCAST_KEYFILE": str(key)}).start()  # over HTTPS
    try:
        assert negotiated(server.port) == "h2"
    finally:
        server.stop()
