"""The tests' and the benchmark's one live-server harness (stdlib only): `python app.py` on a free loopback port."""

from __future__ import annotations

import asyncio
import json
import os
import random
import re
import resource
import signal
import socket
import ssl
import subprocess
import sys
import time
import urllib.request
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
TICK = os.sysconf("SC_CLK_TCK")
GIVEN: set[int] = set()  # the ports free_port() returned
SELF_SIGNED = ssl.create_default_context()  # for a server the tests started with their own certificate
SELF_SIGNED.check_hostname, SELF_SIGNED.verify_mode = False, ssl.CERT_NONE


def port_range() -> range:
    """This process's share of 20000-32000 (below the ephemeral range): each pytest-xdist worker has its own."""
    count = int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1"))
    worker = int(os.environ.get("PYTEST_XDIST_WORKER", "gw0").removeprefix("gw"))
    share = 12000 // count
    return range(20000 + worker * share, 20000 + (worker + 1) * share)


def free_port() -> int:
    """A free loopback port, new in this process and in no other worker's share: no client's own port takes it."""
    ports = port_range()
    while True:
        port = random.choice(ports)
        with socket.socket() as probe:
            try:
                probe.bind(("127.0.0.1", port))
            except OSError:
                continue
        if port not in GIVEN:
            GIVEN.add(port)
            return port


def raise_open_files_limit() -> None:
    """Let this process open as many files as the hard limit allows (thousands of client connections)."""
    hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


def cpu_seconds(pid: int, reaped: bool = False) -> float:
    """CPU seconds (user + system) process `pid` used so far; with `reaped`, also its children that ended."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except FileNotFoundError:  # a child that just ended: its time went to its parent
        return 0.0
    return sum(int(f) for f in fields[11 : 15 if reaped else 13]) / TICK


class LiveServer:
    """`python app.py` with the demo venues on `folder`/slotcast.db (or another `command`), on a port of its own."""

    def __init__(
        self,
        folder: Path,
        env: dict[str, str] | None = None,
        *,
        python: str = sys.executable,
        command: list[str] | None = None,
        leading_clock: bool = False,
        **config,
    ):
        # `config`: the app's settings, as SLOTCAST_<KEY>; `command`: another server instead, "{port}" in it becomes
        # the port; `leading_clock`: the app on a clock lead_clock() sets ahead (tests/support/leading_clock.py);
        # `env` goes on top. The port stays the same across restarts.
        self.folder, self.port, self.log_path = folder, free_port(), folder / "server.log"
        self.app, self.lead = command is None, 0.0
        self.lead_file = folder / "clock_lead"
        main = ["-m", "tests.support.leading_clock", str(self.lead_file)] if leading_clock else ["app.py"]
        self.command = [python, *main] if self.app else [arg.replace("{port}", str(self.port)) for arg in command]
        app_env = {
            "HOST": "127.0.0.1",
            "PORT": str(self.port),
            "SLOTCAST_DATABASE_URL": f"sqlite:///{folder / 'slotcast.db'}",  # absolute: four slashes
            "SLOTCAST_DEMO": "1",
            "SLOTCAST_SECRET_KEY": "live-server-test-secret",  # keep instance/secret_key untouched
            "PYTHONUNBUFFERED": "1",
            **{f"SLOTCAST_{key}": str(value) for key, value in config.items()},
        }
        self.env = {**os.environ, **(app_env if self.app else {}), **(env or {})}
        self.url = f"{'https' if self.env.get('SLOTCAST_CERTFILE') else 'http'}://127.0.0.1:{self.port}"
        self.process: subprocess.Popen | None = None

    def start(self, timeout: float = 15.0) -> LiveServer:
        """Start the process and wait until it answers."""
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(self.command, cwd=ROOT, env=self.env, stdout=log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + timeout
        while not self.answers():
            if self.process.poll() is not None:
                raise RuntimeError(f"the server exited with {self.process.returncode}:\n{self.log()}")
            if time.monotonic() > deadline:
                self.kill()
                raise RuntimeError(f"the server did not answer within {timeout} s:\n{self.log()}")
            time.sleep(0.05)
        return self

    def lead_clock(self, seconds: float, timeout: float = 5.0) -> None:
        """Set the app's clock `seconds` ahead of the real time (a server started with leading_clock=True)."""
        done = self.lead_file.with_name(self.lead_file.name + ".set")
        done.unlink(missing_ok=True)
        self.lead_file.write_text(repr(seconds))
        self.process.send_signal(signal.SIGUSR1)
        deadline = time.monotonic() + timeout
        while not (done.exists() and done.read_text() == repr(seconds)):
            assert time.monotonic() < deadline, f"the server's clock was not moved:\n{self.log()}"
            time.sleep(0.01)
        self.lead = seconds

    def now(self) -> float:
        """The app's time (epoch seconds): the real time, plus the lead of a leading clock."""
        return time.time() + self.lead

    def answers(self) -> bool:
        """Whether it is up: the app's API answers 200, another command accepts a connection."""
        try:
            if not self.app:
                socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                return True
            with urllib.request.urlopen(self.url + "/api/v1/venues", timeout=1, context=SELF_SIGNED) as answer:
                return answer.status == 200
        except OSError:  # refused, reset, timed out, or an HTTP error status
            return False

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 5.0) -> float:
        """Send `sig`; the seconds until it was gone. Fails past `timeout` (then kill -9) or if SIGTERM exits non-zero."""
        assert self.process is not None
        began = time.monotonic()
        self.process.send_signal(sig)
        try:
            code = self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            raise AssertionError(
                f"the server did not exit within {timeout} s of {signal.Signals(sig).name}:\n{self.log()}"
            ) from None
        took = time.monotonic() - began
        assert code == 0 or sig != signal.SIGTERM, f"the server exited with {code} after SIGTERM:\n{self.log()}"
        return took

    def kill(self) -> None:
        """kill -9 unless it has exited already (a teardown after a failure)."""
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait()

    # start() and stop() from a coroutine, leaving its event loop (and the connections it holds) running
    async def astart(self, timeout: float = 15.0) -> LiveServer:
        return await asyncio.to_thread(self.start, timeout)

    async def astop(self, sig: int = signal.SIGTERM, timeout: float = 5.0) -> float:
        return await asyncio.to_thread(self.stop, sig, timeout)

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")[-4000:] if self.log_path.exists() else ""

    def rss(self) -> int:
        """Its resident memory in bytes."""
        status = Path(f"/proc/{self.process.pid}/status").read_text()
        return int(re.search(r"VmRSS:\s+(\d+) kB", status).group(1)) * 1024

    def cpu(self) -> float:
        """CPU seconds (user + system) it used so far."""
        return cpu_seconds(self.process.pid)

    # -- HTTP helpers

    def get_json(self, path: str):
        with urllib.request.urlopen(self.url + path, timeout=5, context=SELF_SIGNED) as answer:
            return json.load(answer)

    def post_json(self, path: str, body: dict):
        request = urllib.request.Request(
            self.url + path, data=json.dumps(body).encode(), method="POST", headers={"Content-Type": "application/json"}
        )
        with urllib.request.urlopen(request, timeout=5, context=SELF_SIGNED) as answer:
            return json.load(answer)

    @contextmanager
    def stream(self, path: str):
        """An open SSE connection (raw socket, plain HTTP), once its first event has arrived."""
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
