"""Staff accounts on the pages: the list, new accounts, roles and venues, disabling, one-time password links; each
account's own password; and the link's page, where a new account sets its password."""

from __future__ import annotations

import asyncio
from typing import NoReturn

from quart import Blueprint, abort, render_template, request, session

from booking.access import DESK, OWNER, ROLES, LastOwner, StaffAccount, manages, problem
from booking.contacts import clean_text
from web.clients import client_address
from web.i18n import gettext as _
from web.links import public_url
from web.runtime import service, store

from . import auth, login_guard, permissions
from .auth import hash_password, password_matches, require_staff, staff
from .lookups import whole_number

bp = Blueprint("staff", __name__, url_prefix="/admin")
bp.before_request(require_staff)
links = Blueprint("password_links", __name__, url_prefix="/admin/password")  # no login: the token is the key

NAME_MAX = 100  # the login form reads no more of a name
PASSWORD_MIN, PASSWORD_MAX = 10, 1000
TOKEN_MAX = 100  # a link's token is 43 characters: a longer one is no link


def refuse() -> NoReturn:
    abort(403, _("Your account may not do this here."))


async def record(action: str, name: str, actor: str | None = None) -> None:
    """An account's change in the audit trail: who, from where, what, and the account (about no venue)."""
    await service().record(actor or staff(), client_address(), action, name)


async def managed(staff_id: int) -> StaffAccount:
    """The account asked for, if the logged-in one looks after it (else a 404 or a 403)."""
    account = await store().staff_account(staff_id)
    if account is None:
        abort(404, _("There is no such staff account."))
    if not manages(permissions.current(), account.role, account.venues):
        refuse()
    return account


async def access_asked(form) -> tuple[str, frozenset[int]] | str:
    """The role and venues a form gives (a 403 for ones the logged-in account may not give), or the problem."""
    role = form.get("role", "")
    venue_ids = frozenset(whole_number(v, 18) or 0 for v in form.getlist("venues"))
    known = {v.id for v in await store().venues(include_archived=True)}
    if role not in ROLES or not venue_ids <= known:
        return _("Choose a role, and venues from the list.")
    if problem(role, venue_ids) == "venues":
        return _("Choose at least one venue for a manager or desk account.")
    venue_ids = frozenset() if role == OWNER else venue_ids
    if not manages(permissions.current(), role, venue_ids):
        refuse()
    return role, venue_ids


async def page(template: str, status: int = 200, **context):
    """A staff page with what every one of them lists: the venues and roles the account may give."""
    every = await store().venues(include_archived=True)
    roles = ROLES if permissions.current().role == OWNER else (DESK,)
    return await render_template(
        template,
        venues=await permissions.own_venues(),
        venue_names={v.id: v.name for v in every},
        roles=roles,
        **context,
    ), status


# -- the list and new accounts


async def listing(status: int = 200, form: dict | None = None, **context):
    mine = permissions.current()
    accounts = [a for a in await store().staff_accounts() if manages(mine, a.role, a.venues)]
    return await page("admin/staff.html", status, accounts=accounts, form=form or {}, **context)


@bp.get("/staff")
async def index():
    """The accounts the logged-in one looks after: an owner's every account, a manager's desk accounts."""
    return await listing()


@bp.post("/staff")
async def create():
    """A new account with no password, and its one-time link to set one (shown once, on this page)."""
    form = await request.form
    name = clean_text(form.get("username", ""))
    fields = {"username": name[:NAME_MAX], "role": form.get("role", ""), "venues": form.getlist("venues")}
    if not name or len(name) > NAME_MAX or not name.isprintable():
        return await listing(422, problem=_("Give a name of up to 100 letters, digits or signs."), form=fields)
    asked = await access_asked(form)
    if isinstance(asked, str):
        return await listing(422, problem=asked, form=fields)
    staff_id = await service().create_staff(name, *asked)
    if staff_id is None:
        return await listing(409, problem=_("There is an account of that name already."), form=fields)
    await record("create_staff", name)
    link = await new_link(staff_id, name)
    return await listing(201, created={"name": name, "link": link})


async def new_link(staff_id: int, name: str) -> str | None:
    """A new one-time set-password link, as a whole address to hand over (None: the account is disabled)."""
    token = await service().issue_password_link(staff_id)
    if token is None:
        return None
    await record("password_link", name)
    return public_url("password_links.set_password", token=token)


# -- one account


async def account_page(account: StaffAccount, status: int = 200, **context):
    return await page("admin/staff_account.html", status, account=account, own=account.username == staff(), **context)


@bp.get("/staff/<id:staff_id>")
async def account(staff_id: int):
    """One account: its role and venues, enabled or not, and a new password link."""
    return await account_page(await managed(staff_id))


@bp.post("/staff/<id:staff_id>/access")
async def change(staff_id: int):
    """Give an account another role or venues (its sessions and streams end)."""
    account = await managed(staff_id)
    if account.username == staff():
        return await account_page(account, 409, problem=_("You cannot change your own role or venues."))
    asked = await access_asked(await request.form)
    if isinstance(asked, str):
        return await account_page(account, 422, problem=asked)
    try:
        await service().set_staff_access(account.username, *asked)
    except LastOwner:
        return await account_page(account, 409, problem=_("This is the last enabled owner: make another owner first."))
    await record("change_staff", account.username)
    return await account_page(await managed(staff_id), notice=_("Role and venues changed. Its sessions have ended."))


@bp.post("/staff/<id:staff_id>/enabled")
async def set_enabled(staff_id: int):
    """Disable an account (it cannot log in; its sessions and streams end) or enable it again."""
    account, enabled = await managed(staff_id), (await request.form).get("enabled") == "1"
    if account.username == staff():
        return await account_page(account, 409, problem=_("You cannot disable your own account."))
    try:
        await service().set_staff_enabled(staff_id, enabled)
    except LastOwner:
        return await account_page(account, 409, problem=_("This is the last enabled owner: make another owner first."))
    await record("enable_staff" if enabled else "disable_staff", account.username)
    notice = _("Account enabled.") if enabled else _("Account disabled. Its sessions have ended.")
    return await account_page(await managed(staff_id), notice=notice)


@bp.post("/staff/<id:staff_id>/link")
async def password_link(staff_id: int):
    """A new one-time link to set the account's password (an earlier one stops working)."""
    account = await managed(staff_id)
    link = await new_link(staff_id, account.username)
    if link is None:
        return await account_page(account, 409, problem=_("Enable the account first."))
    return await account_page(account, 201, link=link)


# -- passwords


def password_problem(password: str, again: str) -> str | None:
    """Why a new password will not do (None: it will)."""
    if not PASSWORD_MIN <= len(password) <= PASSWORD_MAX:
        return _("A password has at least %(count)s characters.", count=PASSWORD_MIN)
    if password != again:
        return _("The two passwords are not the same.")
    return None


@bp.get("/account")
async def own_account():
    """The logged-in account's password form."""
    return await render_template("admin/account.html")


@bp.post("/account")
async def change_own_password():
    """A new password for the logged-in account, given its current one: every other session of it ends, and this
    one carries on under the new password."""
    form, name = await request.form, staff()
    keys = [f"password:{name.lower()}"]  # guesses at the current password, from a session left open
    counts = await service().count_attempt(keys, auth.WINDOW)
    if any(attempts > auth.ATTEMPTS for attempts, _left in counts):
        return await render_template("admin/account.html", problem=_("Too many attempts. Try again later.")), 429
    logged_in = login_guard.lanes()[True]  # a session of the account: checked in the trusted devices' lane
    if not await password_matches(await store().staff_password_hash(name), form.get("current", ""), logged_in):
        return await render_template("admin/account.html", problem=_("The current password is wrong.")), 422
    new = form.get("password", "")
    if wrong := password_problem(new, form.get("again", "")):
        return await render_template("admin/account.html", problem=wrong), 422
    await service().forget_attempts(keys)
    await service().set_staff_password(name, await asyncio.to_thread(hash_password, new))
    session["version"] = await store().staff_session_version(name)
    await record("change_password", name)
    return await render_template("admin/account.html", notice=_("Password changed. Your other sessions have ended."))


async def link_holder(token: str) -> str:
    """The account a still usable link is for, or a 404 that says what to do."""
    name = await service().password_link_holder(token) if len(token) <= TOKEN_MAX else None
    if name is None:
        abort(404, _("This link has expired or has been used already. Ask for a new one."))
    return name


@links.get("/<token>")
async def set_password_form(token: str):
    """The form a new account (or one that forgot) sets its password with."""
    return await render_template("admin/set_password.html", name=await link_holder(token))


@links.post("/<token>")
async def set_password(token: str):
    """Set the password, once: the link is spent, and the account's sessions end."""
    form, name = await request.form, await link_holder(token)
    new = form.get("password", "")
    if wrong := password_problem(new, form.get("again", "")):
        return await render_template("admin/set_password.html", name=name, problem=wrong), 422
    if await service().use_password_link(token, await asyncio.to_thread(hash_password, new)) is None:
        await link_holder("")  # spent meanwhile by another request
    await record("change_password", name, actor=name)
    return await render_template("admin/set_password.html", name=name, done=True)
