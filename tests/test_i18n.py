"""The zh_CN catalog is complete, and a Chinese browser gets Chinese pages."""

from __future__ import annotations

import re
from pathlib import Path

from babel.messages.pofile import read_po

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
        found = catalog.get(wanted.id)
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
        as_text=True)
    assert "余量" in day and "预约" in day and "后一天" in day
    assert "Remaining" not in day and "Next day" not in day

    form = await (await client.get(f"/slots/{slot.id}/book", headers=headers)).get_data(as_text=True)
    assert f"剩余 {slot.remaining} 个名额" in form  # the plural entry
    assert "确认预约" in form and "就餐人数" in form


async def test_english_stays_the_default(client):
    index = await (await client.get("/")).get_data(as_text=True)
    assert "Book a time" in index and "在线预约" not in index
