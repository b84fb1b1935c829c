"""What operators see: Prometheus metrics, and one log line per request and per stream."""

from __future__ import annotations

import json
import logging
import re
import secrets
import time

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from quart import Quart, current_app, g, request

log = logging.getLogger("slotcast.access")
REQUEST_ID = re.compile(r"[A-Za-z0-9._-]{1,64}")
PROBES = ("/healthz", "/readyz", "/metrics")  # the routes below a balancer and a scraper ask: never kept waiting
BOOKING_ENDPOINTS = {"public.create_booking", "api.create_booking", "waitlist.accept", "api.accept_offer"}


class Metrics:
    """This process's metrics (each process is scraped on its own port)."""

    def __init__(self):
        self.registry = registry = CollectorRegistry()
        self.streams = Gauge("slotcast_open_streams", "Open event streams", ["kind"], registry=registry)
        self.refused = Counter(
            "slotcast_streams_refused", "Streams refused by the caps (200 + Retry-After)", registry=registry
        )
        self.broadcasts = Counter(
            "slotcast_changes_broadcast", "Topic renders sent to their subscribers", registry=registry
        )
        self.fanout = Histogram(
            "slotcast_fanout_seconds",
            "Render and hand-over of one change to its subscribers",
            buckets=(0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5),
            registry=registry,
        )
        self.bookings = Counter("slotcast_bookings", "Booking attempts by outcome", ["outcome"], registry=registry)
        self.booking_seconds = Histogram(
            "slotcast_booking_request_seconds",
            "Booking requests, end to end",
            buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5),
            registry=registry,
        )
        self.login_failures = Counter("slotcast_login_failures", "Staff logins refused", registry=registry)
        self.listener_reconnects = Gauge(
            "slotcast_listener_reconnects", "PostgreSQL listening connections lost and reopened", registry=registry
        )
        self.task_restarts = Counter(
            "slotcast_task_restarts",
            "Background tasks started again after they failed or ended unexpectedly",
            ["task"],
            registry=registry,
        )

    def broadcast(self, seconds: float) -> None:
        """One change rendered and handed to its subscribers (the hub calls this)."""
        self.broadcasts.inc()
        self.fanout.observe(seconds)

    def task_restarted(self, name: str) -> None:
        """A background task failed or ended early, and runs again (the supervisor calls this)."""
        self.task_restarts.labels(name).inc()

    def booking(self, outcome: str) -> None:
        """A booking attempt ended: 'created', the refusal's code, or an outage's (the service calls this)."""
        self.bookings.labels(outcome).inc()


def metrics() -> Metrics:
    return current_app.extensions["slotcast.metrics"]


def init_app(app: Quart) -> None:
    """Metrics, the request log and its request ids."""
    app.extensions["slotcast.metrics"] = Metrics()
    app.before_request(start_request)
    app.after_request(log_request)
    if not log.handlers:  # one handler per process, whatever the number of apps (tests make many)
        handler = logging.StreamHandler()
        handler.setFormatter(logging.Formatter("%(message)s"))
        log.addHandler(handler)
        log.setLevel(logging.INFO)
        log.propagate = True


async def start_request() -> None:
    """Stamp the request: when it began, and its id (the client's X-Request-ID if it is tidy, else a new one)."""
    g.started = time.perf_counter()
    g.request_id = request_id(request.headers.get("X-Request-ID", ""))


def request_id(sent: str) -> str:
    """A request's id: the client's X-Request-ID if it is tidy, else a new one."""
    return sent if REQUEST_ID.fullmatch(sent) else secrets.token_hex(8)


async def log_request(response):
    """One line per request: method, path (never the query string: it carries tokens), status, time, id."""
    seconds = time.perf_counter() - g.get("started", time.perf_counter())
    response.headers["X-Request-ID"] = g.get("request_id", "")
    if request.endpoint in BOOKING_ENDPOINTS:
        metrics().booking_seconds.observe(seconds)
    if response.mimetype != "text/event-stream":  # a stream is logged when it closes
        request_line(
            current_app.config, request.method, request.path, response.status_code, seconds, g.get("request_id")
        )
    return response


def request_line(config, method: str, path: str, status: int, seconds: float, request_id: str | None) -> None:
    """A request's log line: method, path (never the query string: it carries tokens), status, time, id."""
    write(config, "request", method=method, path=path, status=status, ms=round(seconds * 1000, 1), id=request_id)


def stream_log() -> tuple:
    """What a stream's closing line will need once the request is gone: (config, path, request id)."""
    return current_app.config, request.path, g.get("request_id")


def stream_closed(line: tuple, kind: str, seconds: float, sent: int) -> None:
    """One line per stream that ended: how long it stayed and how many bytes it carried."""
    config, path, request_id = line
    write(config, "stream", kind=kind, path=path, seconds=round(seconds, 1), bytes=sent, id=request_id)


def write(config, event: str, **fields) -> None:
    """A log line, human-readable or JSON (SLOTCAST_LOG_FORMAT=json)."""
    if config.get("LOG_FORMAT") == "json":
        log.info(json.dumps({"event": event, **fields}, ensure_ascii=False))
    else:
        log.info(" ".join([event, *(f"{k}={v}" for k, v in fields.items())]))
