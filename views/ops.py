"""For operators: liveness, readiness and the Prometheus scrape."""

from __future__ import annotations

import hmac

from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from quart import Blueprint, abort, current_app, request

from web.observe import metrics

bp = Blueprint("ops", __name__)


@bp.get("/healthz")
async def healthz():
    """Liveness: the process answers (no database work)."""
    return "ok\n", 200, {"Content-Type": "text/plain; charset=utf-8"}


@bp.get("/readyz")
async def readyz():
    """Readiness, from the last background check (never waits for the database): not draining, a write that rolls
    back done in time, room on the disk, the listener connected on PostgreSQL, and every background task running."""
    running = current_app.extensions.get("slotcast")
    trouble = "starting" if running is None else "draining" if running.draining else running.readiness.trouble()
    plain = {"Content-Type": "text/plain; charset=utf-8"}
    return (f"not ready: {trouble}\n", 503, plain) if trouble else ("ready\n", 200, plain)


@bp.get("/metrics")
async def scrape():
    """Prometheus text format, for `Authorization: Bearer $SLOTCAST_METRICS_TOKEN` only (no token set: 404)."""
    token = current_app.config.get("METRICS_TOKEN")
    if not token:
        abort(404)
    if not hmac.compare_digest(request.headers.get("Authorization", "").encode(), f"Bearer {token}".encode()):
        abort(403)
    running = current_app.extensions.get("slotcast")
    if running is not None:
        metrics().listener_reconnects.set(getattr(running.store.db, "reconnects", 0))
    return generate_latest(metrics().registry), 200, {"Content-Type": CONTENT_TYPE_LATEST}
