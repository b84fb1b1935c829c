"""Staff login: password hashes in the store, attempts limited in the database, sessions that logout ends."""

from __future__ import annotations

from datetime import timedelta
from functools import cache

from quart import (
    Blueprint,
    abort,
    g,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from werkzeug.security import check_password_hash, generate_password_hash

from booking.access import Access
from booking.outbox import ACTOR, GUEST, Actor
from web import observe
from web.clients import client_address
from web.i18n import gettext as _
from web.runtime import now, service, store

from . import login_guard, permissions
from .login_guard import ATTEMPTS, WINDOW  # noqa: F401 (the limits, as tests and pages name them)

bp = Blueprint("auth", __name__, url_prefix="/admin")

IDLE, LIFETIME = timedelta(hours=2), timedelta(hours=12)  # a staff session ends after either


def hash_password(password: str) -> str:
    """The form a staff password is stored in."""
    return generate_password_hash(password)


@cache
def dummy_hash() -> str:
    """What a wrong name is checked against, so it costs the time a wrong password does."""
    return hash_password("no such account")


async def password_matches(stored: str | None, password: str, lane: login_guard.Lane) -> bool:
    """Check a password in its lane, on a worker thread (never on the loop that serves every page and stream)."""
    matches = await lane.check(lambda: check_password_hash(stored or dummy_hash(), password))
    return matches and stored is not None


def staff() -> str | None:
    """The logged-in staff member's name (as the session says; require_staff checks it)."""
    return session.get("staff")


async def act_as_guest():
    """Before every request: the changes it makes are told as a guest's (staff and API keys say otherwise)."""
    ACTOR.set(GUEST)


async def require_staff():
    """Before every staff request: a valid session may do what its account's role allows (else 403); a page sends
    strangers to the login, the rest is 401."""
    if await session_valid() and (found := await store().staff_access(staff())) is not None:
        session["seen"] = now().timestamp()
        await permissions.check(Access(*found))
        ACTOR.set(Actor("staff", staff()))  # what it changes is told as this account's
        return None
    session.pop("staff", None)
    if request.method != "GET" or request.headers.get("HX-Request") or "/events/" in request.path:
        abort(401, _("Please log in as staff."))
    return redirect(url_for("auth.login", next=request.full_path.rstrip("?")))


async def session_valid() -> bool:
    """A staff session not idle too long, not too old, and not ended by a logout or a new password since."""
    if staff() is None:
        return False
    at = now().timestamp()
    if at - session.get("seen", 0) > IDLE.total_seconds() or at - session.get("since", 0) > LIFETIME.total_seconds():
        return False
    return session.get("version") == await store().staff_session_version(staff())


@bp.app_context_processor
async def account_access() -> dict:
    """Templates show only what the logged-in account may use (`access.may(action, venue_id)`). Async: Quart runs a
    plain function on a worker thread, one hop for every template rendered (5,000 at a draw)."""
    return {"access": g.get("access")}


def safe_next(target: str | None) -> str:
    """Only ever go back to a staff page of this site."""
    return target if target and target.startswith("/admin") and not target.startswith("//") else url_for("admin.index")


@bp.get("/login")
async def login():
    """The login form."""
    return await render_template("login.html", next=safe_next(request.args.get("next")))


@bp.post("/login")
async def log_in():
    """Check the password; past the limits (login_guard: per trusted device, else per address and per name), or in
    a crowd of strangers' logins, wait a while."""
    form = await request.form
    username, password = form.get("username", "").strip()[:100], form.get("password", "")
    async with login_guard.admitted(username) as attempt:
        if attempt.refusal:
            wait, error = attempt.refusal
            return (
                await render_template("login.html", next=safe_next(None), error=error),
                429,
                {"Retry-After": str(wait)},
            )
        matched = await password_matches(
            await store().staff_password_hash(username) if username else None, password, attempt.lane
        )
    if not matched:
        observe.metrics().login_failures.inc()
        await service().staff_login_failed(username)  # counted on the account's page (a name of none: nothing)
        await service().record(username[:100] or "-", client_address(), "login_failed", "/admin/login")
        return await render_template(
            "login.html", next=safe_next(form.get("next")), error=_("Wrong name or password."), username=username
        ), 401
    await service().forget_attempts(attempt.keys)
    await service().staff_logged_in(username)
    session.clear()
    at = now().timestamp()
    session.update(staff=username, version=await store().staff_session_version(username), since=at, seen=at)
    await service().record(username, client_address(), "login", "/admin/login")
    return login_guard.trust_device(redirect(safe_next(form.get("next")), 303), username)


@bp.post("/logout")
async def log_out():
    """End the staff member's sessions, this one and any copy of its cookie."""
    if await session_valid():
        await service().end_staff_sessions(staff())
        await service().record(staff(), client_address(), "logout", "/admin/logout")
    session.clear()
    return redirect(url_for("auth.login"), 303)
