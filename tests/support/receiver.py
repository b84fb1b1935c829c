"""Real servers for the outbox's tests: an HTTP endpoint for webhooks, an SMTP server for e-mail."""

from __future__ import annotations

import asyncio
import json
import re
import threading
import time
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from aiosmtpd.controller import Controller

from tests.support.live_server import free_port


class Receiver:
    """An endpoint on 127.0.0.1: each POST is kept (headers, raw body), then answered with the next of `answers`
    (a status, or 'hang' to keep the connection open without a word), 200 once they run out."""

    def __init__(self, *answers: int | str):
        self.answers, self.received = list(answers), []
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}/hooks/slotcast"
        self.released = threading.Event()  # ends every hang
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers["Content-Length"]))
                receiver.received.append((dict(self.headers), body))
                answer = receiver.answers.pop(0) if receiver.answers else 200
                if answer == "hang":
                    receiver.released.wait(30)
                    return
                self.send_response(answer)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.released.set()
        self.server.shutdown()
        self.server.server_close()

    def events(self) -> list[dict]:
        return [json.loads(body) for _headers, body in self.received]

    async def wait_for(self, count: int, timeout: float = 10.0) -> list[tuple[dict, bytes]]:
        """The requests once `count` have arrived (fails after `timeout` seconds)."""
        deadline = time.monotonic() + timeout
        while len(self.received) < count:
            assert time.monotonic() < deadline, f"{len(self.received)} of {count} webhook requests arrived"
            await asyncio.sleep(0.02)
        return self.received


def documented_receiver():
    """`verified(body, header, secret, now=None)`: the receiver docs/api-and-streams.md shows integrators, as written
    there (the Python block after its `<!-- receiver -->` marker)."""
    page = (Path(__file__).resolve().parents[2] / "docs" / "api-and-streams.md").read_text()
    code = re.search(r"<!-- receiver -->\s*```python\n(.*?)```", page, re.DOTALL).group(1)
    namespace: dict = {}
    exec(compile(code, "docs/api-and-streams.md", "exec"), namespace)
    return namespace["verified"]


class Inbox:
    """An aiosmtpd handler that keeps every envelope it is given."""

    def __init__(self):
        self.envelopes = []

    async def handle_DATA(self, server, session, envelope):
        self.envelopes.append(envelope)
        return "250 OK"


@contextmanager
def smtp_server(handler, **options):
    """An SMTP server on a free loopback port, in a thread of its own."""
    server = Controller(handler, hostname="127.0.0.1", port=free_port(), **options)
    server.start()
    try:
        yield server
    finally:
        server.stop()


async def settled(store) -> list:
    """The outbox once nothing in it is waiting (a receiver has a request before its sender hears the answer)."""
    for _ in range(500):
        messages = await store.outbox()
        if all(m.state != "pending" for m in messages):
            return messages
        await asyncio.sleep(0.02)
    raise AssertionError(f"still pending: {messages}")
