"""Staff accounts on the pages (views/staff.py): an owner's list and new accounts with their one-time password link,
a manager's desk accounts only, a desk account's 403, nobody disabling or demoting themselves, a disabled account
refused as a wrong password, everyone's own password, the audit trail, and the words in English and Chinese."""

from __future__ import annotations

import re

import pytest
from werkzeug.security import generate_password_hash

from booking.access import DESK, MANAGER, OWNER
from tests.support.helpers import PASSWORD, act, log_in, password_hash, session_token, text
from views import staff as staff_views

NEW_PASSWORD = "correct horse battery"
CHINESE = {"Accept-Language": "zh-CN,zh;q=0.9"}


@pytest.fixture(autouse=True)
def quick_hashes(monkeypatch):
    """New passwords hashed the quick way tests store them (the app's slow hash is test_auth's)."""
    monkeypatch.setattr(staff_views, "hash_password", lambda p: generate_password_hash(p, method="pbkdf2:sha256:1000"))


async def account(app, service, name: str, role: str, venue_ids: frozenset[int]):
    """A test client logged in as a new account of this role on these venues."""
    await service.create_staff(name, role, venue_ids)
    await service.set_staff_password(name, password_hash())
    client = app.test_client()
    assert (await log_in(client, username=name)).status_code == 303
    await client.get("/admin/")  # a page with a form: the session has its token
    return client


def link_path(html: str) -> str:
    """The path of the one-time link a page shows."""
    return re.search(r"https?://[^/<\s]+(/admin/password/[\w-]+)", html).group(1)


async def actions(store) -> list[tuple[str, str, str]]:
    return [
        (e.actor, e.action, e.subject)
        for e in reversed(await store.audit_trail())
        if "staff" in e.action or "password" in e.action
    ]


async def test_an_owner_creates_a_desk_account_whose_link_sets_its_password_once(admin, stranger, store, venue):
    created = await act(admin, "/admin/staff", username="front", role=DESK, venues=str(venue.id))
    html = await text(created)
    assert created.status_code == 201 and "Account front created." in html
    path = link_path(html)
    listed = await text(await admin.get("/admin/staff"))
    assert "front" in listed and "Test Bistro" in listed and "never" in listed and path not in listed  # shown once
    form = await stranger.get(path)
    assert form.status_code == 200 and "For the staff account front." in await text(form)
    short = await act(stranger, path, password="short", again="short")
    assert short.status_code == 422 and "A password has at least 10 characters." in await text(short)
    differ = await act(stranger, path, password=NEW_PASSWORD, again=NEW_PASSWORD + "!")
    assert differ.status_code == 422 and "The two passwords are not the same." in await text(differ)
    done = await act(stranger, path, password=NEW_PASSWORD, again=NEW_PASSWORD)
    assert done.status_code == 200 and "Your password is set." in await text(done)
    again = await act(stranger, path, password="another password", again="another password")
    assert again.status_code == 404 and "This link has expired or has been used already." in await text(again)
    assert (await log_in(stranger, "wrong password", username="front")).status_code == 401
    assert (await log_in(stranger, NEW_PASSWORD, username="front")).status_code == 303
    assert (await stranger.get(f"/admin/venues/{venue.slug}/board")).status_code == 302
    row = re.search(r"front</bdi>.*?</tr>", await text(await admin.get("/admin/staff")), re.S).group(0)
    assert "enabled" in row and "never" not in row and "<td>0</td>" in row  # a good login forgets the failure
    assert await actions(store) == [
        ("admin", "create_staff", "front"),
        ("admin", "password_link", "front"),
        ("front", "change_password", "front"),
    ]


async def test_a_manager_looks_after_desk_accounts_of_its_venues_only(app, service, store, staff, venue, clinic):
    await service.create_staff("clinic-desk", DESK, frozenset({clinic.id}))
    await service.create_staff("both-desk", DESK, frozenset({venue.id, clinic.id}))
    own = await service.create_staff("bistro-desk", DESK, frozenset({venue.id}))
    manager = await account(app, service, "bistro-manager", MANAGER, frozenset({venue.id}))
    listed = await text(await manager.get("/admin/staff"))
    assert "bistro-desk" in listed and "clinic-desk" not in listed and "both-desk" not in listed
    assert ">admin<" not in listed and 'value="manager"' not in listed and clinic.name not in listed
    for form in ({"role": MANAGER, "venues": str(venue.id)}, {"role": DESK, "venues": str(clinic.id)}):
        assert (await act(manager, "/admin/staff", username="x", **form)).status_code == 403
    made = await act(manager, "/admin/staff", username="bar-desk", role=DESK, venues=str(venue.id))
    assert made.status_code == 201 and "/admin/password/" in await text(made)
    others = {a.username: a.id for a in await store.staff_accounts()}
    for name in ("admin", "clinic-desk", "both-desk"):
        assert (await manager.get(f"/admin/staff/{others[name]}")).status_code == 403
        assert (await act(manager, f"/admin/staff/{others[name]}/enabled", enabled="0")).status_code == 403
    moved = await act(manager, f"/admin/staff/{own}/access", role=DESK, venues=str(clinic.id))
    assert moved.status_code == 403 and (await store.staff_access("bistro-desk")) == (DESK, frozenset({venue.id}))
    disabled = await act(manager, f"/admin/staff/{own}/enabled", enabled="0")
    assert disabled.status_code == 200 and "Account disabled." in await text(disabled)
    assert not (await store.staff_account(own)).enabled


async def test_a_desk_account_gets_403_and_sees_only_its_password_page(app, service, staff, venue):
    desk = await account(app, service, "bistro-desk", DESK, frozenset({venue.id}))
    home = await text(await desk.get("/admin/"))
    assert "/admin/account" in home and 'href="/admin/staff"' not in home
    assert (await desk.get("/admin/staff")).status_code == 403
    assert (await act(desk, "/admin/staff", username="x", role=DESK, venues=str(venue.id))).status_code == 403
    assert (await desk.get("/admin/account")).status_code == 200


async def test_nobody_disables_or_demotes_themselves_and_an_owner_may_others(admin, service, store, venue):
    ids = {a.username: a.id for a in await store.staff_accounts()}
    refused = await act(admin, f"/admin/staff/{ids['admin']}/enabled", enabled="0")
    assert refused.status_code == 409 and "You cannot disable your own account." in await text(refused)
    demoted = await act(admin, f"/admin/staff/{ids['admin']}/access", role=DESK, venues=str(venue.id))
    assert demoted.status_code == 409 and "You cannot change your own role or venues." in await text(demoted)
    assert await store.staff_access("admin") == (OWNER, frozenset())
    second = await service.create_staff("second", OWNER, frozenset())
    changed = await act(admin, f"/admin/staff/{second}/access", role=MANAGER, venues=str(venue.id))
    assert changed.status_code == 200 and await store.staff_access("second") == (MANAGER, frozenset({venue.id}))
    assert (await act(admin, f"/admin/staff/{second}/access", role=DESK)).status_code == 422  # no venue
    assert (await act(admin, f"/admin/staff/{second}/access", role="janitor")).status_code == 422
    assert (await act(admin, "/admin/staff/999999/enabled", enabled="0")).status_code == 404


async def test_a_disabled_account_is_refused_as_a_wrong_password_and_ends_its_sessions(
    app, admin, service, store, venue
):
    desk_id = await service.create_staff("front", DESK, frozenset({venue.id}))
    await service.set_staff_password("front", password_hash())
    desk = app.test_client()
    assert (await log_in(desk, username="front")).status_code == 303
    assert (await act(admin, f"/admin/staff/{desk_id}/enabled", enabled="0")).status_code == 200
    assert (await desk.get("/admin/")).status_code == 302  # its session ended
    refused = await log_in(desk, username="front")
    assert refused.status_code == 401 and "Wrong name or password." in await text(refused)
    page = await text(await admin.get(f"/admin/staff/{desk_id}"))
    assert "This account is disabled" in page and "Failed logins since: 1." in page
    assert "Make a password link" not in page
    assert (await act(admin, f"/admin/staff/{desk_id}/enabled", enabled="1")).status_code == 200
    assert (await log_in(desk, username="front")).status_code == 303
    assert [a for _, a, _ in await actions(store)] == ["disable_staff", "enable_staff"]


async def test_everyone_changes_their_own_password_and_their_other_sessions_end(app, admin, service, store, venue):
    desk = await account(app, service, "front", DESK, frozenset({venue.id}))
    elsewhere = app.test_client()  # a second browser
    assert (await log_in(elsewhere, username="front")).status_code == 303
    wrong = await act(desk, "/admin/account", current="wrong", password=NEW_PASSWORD, again=NEW_PASSWORD)
    assert wrong.status_code == 422 and "The current password is wrong." in await text(wrong)
    short = await act(desk, "/admin/account", current=PASSWORD, password="short", again="short")
    assert short.status_code == 422
    changed = await act(desk, "/admin/account", current=PASSWORD, password=NEW_PASSWORD, again=NEW_PASSWORD)
    assert changed.status_code == 200 and "Password changed. Your other sessions have ended." in await text(changed)
    assert (await desk.get("/admin/")).status_code == 200 and (await elsewhere.get("/admin/")).status_code == 302
    assert (await log_in(app.test_client(), NEW_PASSWORD, username="front")).status_code == 303
    assert ("front", "change_password", "front") in await actions(store)


async def test_the_words_in_chinese(admin, stranger, venue):
    listed = await text(await admin.get("/admin/staff", headers=CHINESE))
    for words in ("员工", "新建账号", "上次登录（UTC）", "前台：所属场所的当日看板", "修改密码"):
        assert words in listed, words
    form = {"csrf_token": await session_token(admin), "username": "前台一", "role": DESK, "venues": str(venue.id)}
    created = await text(await admin.post("/admin/staff", form=form, headers=CHINESE))
    path = link_path(created)
    assert "账号 前台一 已创建。" in created
    assert "用于员工账号 前台一。此链接只能使用一次。" in await text(await stranger.get(path, headers=CHINESE))
    gone = await stranger.get("/admin/password/not-a-token", headers=CHINESE)
    assert gone.status_code == 404 and "此链接已过期或已被使用。请索取新的链接。" in await text(gone)
