"""Staff login: password hashes in the store, a signed session, rate-limited attempts."""

from __future__ import annotations

import time
from collections import defaultdict, deque

from quart import Blueprint, abort, current_app, redirect, render_template, request, session, url_for
from werkzeug.security import check_password_hash, generate_password_hash

from .i18n import gettext as _
from .runtime import store

bp = Blueprint("auth", __name__, url_prefix="/admin")

ATTEMPTS, WINDOW = 5, 300.0  # failed logins allowed per client address per window (seconds)


def failures() -> dict[str, deque[float]]:
    """This app's recent failed logins, per client address."""
    return current_app.extensions.setdefault("slotcast.login_failures", defaultdict(deque))


def hash_password(password: str) -> str:
    """The form a staff password is stored in."""
    return generate_password_hash(password)


def staff() -> str | None:
    """The logged-in staff member's name."""
    return session.get("staff")


async def require_staff():
    """Before every staff request: a page sends strangers to the login, anything else is a 401."""
    if staff() is None:
        if request.method != "GET" or request.headers.get("HX-Request") or "/events/" in request.path:
            abort(401, _("Please log in as staff."))
        return redirect(url_for("auth.login", next=request.full_path.rstrip("?")))
    return None


def safe_next(target: str | None) -> str:
    """Only ever go back to a staff page of this site."""
    return target if target and target.startswith("/admin") and not target.startswith("//") else url_for("admin.index")


def blocked_for(address: str) -> float:
    """Seconds until this address may try again (0 when it may)."""
    recent = failures()[address]
    while recent and recent[0] < time.monotonic() - WINDOW:
        recent.popleft()
    return WINDOW - (time.monotonic() - recent[0]) if len(recent) >= ATTEMPTS else 0


@bp.get("/login")
async def login():
    """The login form."""
    return await render_template("login.html", next=safe_next(request.args.get("next")))


@bp.post("/login")
async def log_in():
    """Check the password; too many failures from one address wait a while."""
    address = request.remote_addr or "?"
    wait = blocked_for(address)
    if wait:
        return await render_template("login.html", next=safe_next(None), error=_(
            "Too many failed attempts. Try again in %(minutes)s minutes.", minutes=int(wait // 60) + 1)), 429, {
            "Retry-After": str(int(wait) + 1)}
    form = await request.form
    username, password = form.get("username", "").strip(), form.get("password", "")
    stored = await store().staff_password_hash(username) if username else None
    if not stored or not check_password_hash(stored, password):
        failures()[address].append(time.monotonic())
        return await render_template("login.html", next=safe_next(form.get("next")),
                                     error=_("Wrong name or password."), username=username), 401
    failures().pop(address, None)
    session.clear()
    session["staff"] = username
    return redirect(safe_next(form.get("next")), 303)


@bp.post("/logout")
async def log_out():
    """Forget the staff session."""
    session.clear()
    return redirect(url_for("auth.login"), 303)
