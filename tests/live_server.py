"""A real Slotcast server for end-to-end tests: `python app.py` as a subprocess on a free loopback port."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    """A loopback port nobody listens on right now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class LiveServer:
    """`python app.py` with the demo venues on its own SQLite file; start(), then stop() with SIGTERM."""

    def __init__(self, folder: Path, env: dict[str, str] | None = None):
        self.folder = folder
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_path = folder / "server.log"
        self.env = {
            **os.environ,
            "HOST": "127.0.0.1",
            "PORT": str(self.port),
            "SLOTCAST_DATABASE_URL": f"sqlite:///{folder / 'slotcast.db'}",  # absolute: four slashes
            "SLOTCAST_DEMO": "1",
            "SLOTCAST_SECRET_KEY": "live-server-test-secret",  # keep instance/secret_key untouched
            "PYTHONUNBUFFERED": "1",
            **(env or {}),
        }
        self.process: subprocess.Popen | None = None

    def start(self, timeout: float = 15.0) -> LiveServer:
        """Start the server and wait until it answers."""
        log = self.log_path.open("wb")
        self.process = subprocess.Popen([sys.executable, "app.py"], cwd=ROOT, env=self.env,
                                        stdout=log, stderr=subprocess.STDOUT)
        log.close()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"the server exited with {self.process.returncode}:\n{self.log()}")
            try:
                with urllib.request.urlopen(self.url + "/api/v1/venues", timeout=1) as answer:
                    if answer.status == 200:
                        return self
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                time.sleep(0.05)
        self.process.kill()
        raise RuntimeError(f"the server did not answer within {timeout} s:\n{self.log()}")

    def stop(self, timeout: float = 5.0) -> float:
        """SIGTERM; the seconds it took to exit. Fails (and kills it) if it takes longer than `timeout`."""
        assert self.process is not None
        began = time.monotonic()
        self.process.send_signal(signal.SIGTERM)
        try:
            code = self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
            raise AssertionError(f"the server did not exit within {timeout} s of SIGTERM:\n{self.log()}") from None
        took = time.monotonic() - began
        assert code == 0, f"the server exited with {code} after SIGTERM:\n{self.log()}"
        return took

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")[-4000:] if self.log_path.exists() else ""

    # -- HTTP helpers

    def get_json(self, path: str):
        with urllib.request.urlopen(self.url + path, timeout=5) as answer:
            return json.load(answer)

    def post_json(self, path: str, body: dict):
        request = urllib.request.Request(self.url + path, data=json.dumps(body).encode(), method="POST",
                                         headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(request, timeout=5) as answer:
            return json.load(answer)

    @contextmanager
    def stream(self, path: str):
        """An open SSE connection (raw socket), once its first event has arrived."""
        sock = socket.create_connection(("127.0.0.1", self.port), timeout=5)
        try:
            sock.sendall(f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept: text/event-stream\r\n\r\n".encode())
            received = b""
            while b"\nevent: " not in received:
                chunk = sock.recv(65536)
                if not chunk:
                    raise AssertionError(f"the stream {path} ended before its first event: {received[:500]!r}")
                received += chunk
            yield sock
        finally:
            sock.close()


def read_to_end(sock: socket.socket, timeout: float = 5.0) -> bytes:
    """Everything the peer sends until it closes the connection."""
    sock.settimeout(timeout)
    received = b""
    while chunk := sock.recv(65536):
        received += chunk
    return received
