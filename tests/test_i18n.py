"""The zh_CN catalog is complete, and a Chinese browser gets Chinese pages."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from babel.messages.pofile import read_po

from web import i18n

TRANSLATIONS = Path(__file__).resolve().parent.parent / "translations"
PLACEHOLDER = re.compile(r"%\((\w+)\)s")


def read(path: Path, locale: str | None = None):
    with path.open("rb") as f:
        return read_po(f, locale=locale)


def strings(message) -> tuple[str, ...]:
    return message.string if isinstance(message.string, tuple) else (message.string,)


def test_every_message_has_a_chinese_translation():
    template = read(TRANSLATIONS / "messages.pot")
    catalog = read(TRANSLATIONS / "zh_CN" / "LC_MESSAGES" / "messages.po", "zh_CN")
    assert catalog.num_plurals == 1
    missing, fuzzy, placeholders = [], [], []
    for wanted in template:
        if not wanted.id:
            continue
        found = catalog.get(wanted.id, context=wanted.context)
        if found is None or not any(strings(found)) or not all(strings(found)):
            missing.append(wanted.id)
            continue
        if found.fuzzy:
            fuzzy.append(wanted.id)
        ids = wanted.id if isinstance(wanted.id, tuple) else (wanted.id,)
        names = {name for text in ids for name in PLACEHOLDER.findall(text)}
        if any(set(PLACEHOLDER.findall(text)) != names for text in strings(found)):
            placeholders.append(wanted.id)
    assert not missing, f"untranslated in zh_CN (run `make messages` and translate): {missing}"
    assert not fuzzy, f"fuzzy in zh_CN: {fuzzy}"
    assert not placeholders, f"placeholders differ from the msgid: {placeholders}"


async def test_a_chinese_browser_gets_chinese_pages(client, tomorrow, slot):
    headers = {"Accept-Language": "zh-CN,zh;q=0.9,en;q=0.5"}
    index = await (await client.get("/", headers=headers)).get_data(as_text=True)
    assert 'lang="zh-CN"' in index
    assert "在线预约" in index and "餐厅" in index
    assert "Book a time" not in index

    day = await (await client.get(f"/book/test-bistro/tables/{tomorrow.isoformat()}", headers=headers)).get_data(
        as_text=True
    )
    assert "余位" in day and "预约" in day and "后一天" in day  # a restaurant's words, not a clinic's 余量
    assert "Remaining" not in day and "Next day" not in day

    form = await (await client.get(f"/slots/{slot.id}/book", headers=headers)).get_data(as_text=True)
    assert f"剩余 {slot.remaining} 个座位" in form  # the plural entry, in a restaurant's words
    assert "确认预约" in form and "就餐人数" in form


async def test_english_stays_the_default(client):
    index = await (await client.get("/")).get_data(as_text=True)
    assert "Book a time" in index and "在线预约" not in index


async def test_kiosk_back_office_and_ticket_in_chinese(app, client, store, slot, service):
    from tests.support.helpers import csrf_token
    from views import auth

    venue = await store.venue("test-bistro")
    await service.edit_venue(venue, venue.name, "clinic", venue.timezone, False)  # a queue's ticket: a clinic's

    kiosk = await (await client.get("/kiosk/test-bistro?lang=zh_CN")).get_data(as_text=True)
    assert 'lang="zh-CN"' in kiosk and "今日" in kiosk
    assert not any(
        english in kiosk for english in ("Left today", "Full today", "No more sessions today", "Now ", "Next ")
    )

    await store.set_staff_password("admin", auth.hash_password("pw"))
    login = await (await client.get("/admin/login")).get_data(as_text=True)
    assert "员工登录" in login and "密码" in login and "Staff login" not in login
    form = {"csrf_token": await csrf_token(client, "/admin/login"), "username": "admin", "password": "pw"}
    assert (await client.post("/admin/login", form=form)).status_code == 303
    index = await (await client.get("/admin/", follow_redirects=True)).get_data(as_text=True)
    assert "后台管理" in index and "今日看板" in index and "退出登录" in index
    assert "Back office" not in index and "Log out" not in index
    board = await (
        await client.get(f"/admin/venues/test-bistro/board/{slot.local_date.isoformat()}", follow_redirects=True)
    ).get_data(as_text=True)
    assert "叫下一位" in board and "窗口/诊室" in board and "代为预约" in board
    assert "Call next" not in board and "Counter or room" not in board

    public = app.test_client()
    await public.get("/?lang=zh_CN")
    form = {
        "csrf_token": await csrf_token(public, f"/slots/{slot.id}/book"),
        "name": "王小明",
        "contact": "13800138000",
        "party_size": "1",
    }
    booked = await public.post(f"/slots/{slot.id}/book", form=form, follow_redirects=True)
    ticket = await booked.get_data(as_text=True)
    assert "您的号码" in ticket and "下一位就是您" in ticket
    assert "Your ticket" not in ticket and "ahead of you" not in ticket


@pytest.mark.parametrize("locale", ["en", "zh_CN", "de", "fr", "hi_IN", "ar_EG"])
def test_numbers_read_as_babel_writes_them(locale):
    from babel.numbers import format_decimal

    from views.messages import format_number

    with i18n.use(locale):
        for n in (0, 7, -7, 999, 1000, -1234, 20000, 1234567, 10**12):
            assert format_number(n) == format_decimal(n, locale=locale)
