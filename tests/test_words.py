"""What a page says is so, in English and in Chinese (issue 22): a day not yet open, a closed day for a party, a full
slot, a waitlist offer, a countdown's last minute, the date of every "opens", and each kind of venue's own words."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, time, timedelta

import pytest

from booking.model import KINDS, OpeningRule
from tests.support.helpers import (
    clock_at,
    csrf_token,
    data_of,
    read_until,
    streams_closed,
    text,
)
from views import messages
from web import i18n

START = datetime(2026, 12, 1, 6, 0, tzinfo=UTC)  # Tuesday 1 December; every test venue is in UTC
TOMORROW = date(2026, 12, 2)
CLOSED_MONDAY = date(2026, 12, 7)

clock = clock_at(START)


@pytest.fixture
async def clinic(store, clock):
    """A clinic whose days open (放号) two days ahead at 08:00: 3 December in two hours, 4 December a day later."""
    venue_id = await store.add_venue("day-clinic", "Day Clinic", "clinic", "UTC")
    await store.add_resource(
        venue_id,
        "gp",
        "Dr Gao",
        [OpeningRule(d, time(8), time(12), 60, 5) for d in range(7)],
        horizon_days=7,
        release_days_before=2,
        release_time=time(8),
        now=clock.now(),
    )
    return await store.venue("day-clinic")


@pytest.fixture
async def terrace(store, clock):
    """The bistro's terrace: closed on Mondays, 12:00-15:00 on other days, six places an hour, parties up to six."""
    venue = await store.venue("test-bistro")
    await store.add_resource(
        venue.id,
        "terrace",
        "Terrace",
        [OpeningRule(d, time(12), time(15), 60, 6) for d in range(1, 7)],
        max_party=6,
        horizon_days=14,
        now=clock.now(),
    )
    return (await store.venue("test-bistro")).resource("terrace")


async def page(client, path: str, lang: str) -> str:
    response = await client.get(f"{path}{'&' if '?' in path else '?'}lang={lang}")
    assert response.status_code == 200, (path, response.status_code)
    return await text(response)


def table_of(html: str) -> str:
    """The day's slot table fragment (what the day says first, then its rows)."""
    return re.search(r'<div id="slot-table">.*?\n</div>', html, re.DOTALL).group(0)


def said(fragment: str) -> str:
    """HTML as read: its text, spaces made one."""
    return " ".join(re.sub(r"<[^>]+>", "", fragment).split())


def first_paragraph(html: str) -> str:
    """The first thing said of the day (after the strip's days), as read."""
    return said(re.search(r"</ol>.*?(<p .*?</p>)", html, re.DOTALL).group(1))


# -- a day not yet open: when it opens, first and only


@pytest.mark.parametrize(
    "lang, opens, countdown",
    [
        ("en", "Booking opens Wednesday, December 2, 2026 at 08:00", "in 26 h"),
        ("zh_CN", "2026年12月2日星期三 08:00 开始放号", "还有 26 小时"),
    ],
)
async def test_an_unreleased_day_says_when_it_opens_first_and_only(client, clinic, lang, opens, countdown):
    html = await page(client, "/book/day-clinic/gp/2026-12-04", lang)
    assert first_paragraph(html) == f"{opens} · {countdown}"
    # nothing said to be full, and no "next available" (backwards to today, or to a day that cannot be booked)
    for untrue in ("Nothing free", "Next available", "这一天已无空位", "最近可约"):
        assert untrue not in html, untrue
    assert "/book/" not in table_of(html) and 'class="next-free"' not in html  # it pointed back to today


@pytest.mark.parametrize(
    "lang, opens",
    [
        ("en", "Booking opens Friday, December 18, 2026 at 08:00 · in 18 days"),
        ("zh_CN", "2026年12月18日星期五 08:00 开始放号 · 还有 18 天"),
    ],
)
async def test_a_day_beyond_the_horizon_says_when_it_opens_not_that_it_is_full(client, clinic, lang, opens):
    html = await page(client, "/book/day-clinic/gp/2026-12-20", lang)  # no slots yet: the schedule opens it
    assert first_paragraph(html) == opens
    assert "Next available" not in html and "最近可约" not in html and "next-free" not in html


# -- a closed day: it is closed, then the next open day with room for the party


@pytest.mark.parametrize(
    "lang, closed, onward",
    [
        ("en", "Closed on this day.", "Next with room for 6 people: Tue 8 Dec at 13:00 →"),
        ("zh_CN", "本日休息，不营业。", "最近可容纳 6 人：12月8日周二 13:00 →"),
    ],
)
async def test_a_closed_day_says_closed_then_the_next_day_with_room_for_the_party(
    client, service, store, terrace, lang, closed, onward
):
    tuesday_noon = (await store.slots_for_day(terrace.id, CLOSED_MONDAY + timedelta(days=1)))[0]
    await service.book(terrace, tuesday_noon.id, "Early Bird", "+44 20 7946 0001", 3)  # 3 left: too few for 6
    html = await page(client, f"/book/test-bistro/terrace/{CLOSED_MONDAY}?party=6", lang)
    assert first_paragraph(html) == f"{closed} {onward}"
    assert "Nothing free" not in html and "没有可容纳" not in html and "No slots on this day" not in html
    assert f'href="/book/test-bistro/terrace/2026-12-08?party=6">{onward.split(":")[0]}' in html


# -- a full slot's page: no form that cannot succeed, its waitlist, the nearest times with room for the party


@pytest.mark.parametrize(
    "lang, full, nearest, join",
    [
        ("en", "This time is fully booked.", "Other times with room for 3 people", "Join the waitlist"),
        ("zh_CN", "该时段已订满。", "其他可容纳 3 人的时段", "排队候位"),
    ],
)
async def test_a_full_slots_page_offers_its_waitlist_and_the_nearest_times_with_room(
    client, service, store, venue, lang, full, nearest, join
):
    tables = venue.resource("tables")
    slots = await store.slots_for_day(tables.id, TOMORROW)
    for n in range(3):  # 10 places: 4 + 4 + 2
        await service.book(tables, slots[3].id, f"Guest {n}", f"+44 20 7946 010{n}", (4, 4, 2)[n])
    await service.book(tables, slots[4].id, "Big Table", "+44 20 7946 0200", 4)
    await service.book(tables, slots[4].id, "Bigger Table", "+44 20 7946 0201", 4)  # 2 left: too few for 3
    html = await page(client, f"/slots/{slots[3].id}/book?party=3", lang)
    assert full in html
    assert (
        'id="booking-form"' in html and '<form id="booking-form"' not in html and 'name="idempotency_key"' not in html
    )
    assert '<form id="waitlist"' in html and f"<h2>{join}</h2>" in html
    assert f'<h2 id="nearest-title">{nearest}</h2>' in html
    offered = [int(i) for i in re.findall(r'<a href="/slots/(\d+)/book\?party=3">', html)]
    assert offered == [slots[1].id, slots[2].id, slots[5].id]  # the nearest in time; 12:00 (2 left) passed over


# -- a waitlist offer: good news, one obvious button, a quiet way out, the hold counted down


@pytest.fixture
async def offer(client, service, store, venue):
    """Tomorrow's 18:00 at the bar, full; Wen waits for it, then a place frees: Wen's page link."""
    bar = venue.resource("bar")
    slot = (await store.slots_for_day(bar.id, TOMORROW))[0]
    taken = [(await service.book(bar, slot.id, f"Guest {n}", f"guest{n}@example.com", 1))[0] for n in range(2)]
    form = {
        "csrf_token": await csrf_token(client, f"/slots/{slot.id}/book"),
        "name": "Wen Hou",
        "contact": "wen@example.com",
        "party_size": "1",
    }
    joined = await client.post(f"/slots/{slot.id}/waitlist", form=form)
    await service.cancel(taken[0].reference, taken[0].cancel_token)
    return joined.headers["Location"]


@pytest.mark.parametrize(
    "lang, news, hold",
    [
        ("en", "A place is yours until 06:10.", "10 min left to confirm; then it passes to the next in line."),
        ("zh_CN", "已为您留位至 06:10。", "还剩 10 分钟，请及时确认；逾时将转给下一位。"),
    ],
)
async def test_the_offer_page_makes_confirming_the_obvious_action_and_counts_the_hold_down(
    client, offer, lang, news, hold
):
    html = await page(client, offer, lang)
    box = re.search(r'<div id="waiting".*?\n</div>', html, re.DOTALL).group(0)
    assert f'<p class="good-news" role="alert">{news}</p>' in box and "your-turn" not in box
    assert said(re.search(r'<p class="hold">.*?</p>', box, re.DOTALL).group(0)) == hold
    confirm, leave = box.index('<button type="submit" class="primary">'), box.index('class="quiet">')
    assert confirm < leave and '<form method="post" action="' in box[:confirm]
    assert 'class="leave" hx-confirm=' in box  # giving up a held place asks first (with script)


async def test_the_holds_last_minute_counts_seconds(client, clock, offer):
    clock.advance(minutes=9, seconds=15)
    for lang, words in (("en", "45 s left to confirm"), ("zh_CN", "还剩 45 秒，请及时确认")):
        html = await page(client, offer, lang)
        hold = re.search(r'<p class="hold">.*?</p>', html, re.DOTALL).group(0)
        assert 'data-left-ms="45000"' in hold and said(hold).startswith(words)


@pytest.mark.parametrize(
    "lang, reload",
    [
        ("en", "reload it to see whether a place has freed"),
        ("zh_CN", "并刷新页面查看是否有空出的位置"),
    ],
)
async def test_without_script_the_waitlist_page_says_reload_to_see(client, offer, lang, reload):
    html = await page(client, offer, lang)
    assert re.search(rf"<noscript><p>[^<]*{reload}[^<]*</p></noscript>", html)
    assert '<p class="with-script">' in html  # the live promise: hidden without script (static/app.css)


# -- the countdown's last minute, in seconds, sent every ten seconds (the page counts each second itself)


@pytest.mark.parametrize("lang, words", [("en", "in 45 s"), ("zh_CN", "还有 45 秒")])
async def test_the_last_minute_before_a_release_counts_seconds(client, clock, store, clinic, lang, words):
    clock.set(datetime(2026, 12, 1, 7, 59, 15, tzinfo=UTC))  # 3 December opens at 08:00
    first = (await store.slots_for_day(clinic.resource("gp").id, date(2026, 12, 3)))[0]
    for path in ("/book/day-clinic/gp/2026-12-03", f"/slots/{first.id}/book"):
        html = await page(client, path, lang)
        countdown = re.search(r'<strong class="countdown">(.*?)</strong>', html, re.DOTALL).group(1)
        assert said(countdown) == words
        assert 'data-left-ms="45000"' in countdown and 'hx-preserve="true"' in countdown
        assert "in 1 min" not in html and "还有 1 分钟" not in html


async def test_a_waiting_page_is_sent_the_last_minute_every_ten_seconds(app, client, clock, hub, clinic):
    clock.set(datetime(2026, 12, 1, 7, 58, 30, tzinfo=UTC))
    gp = clinic.resource("gp")
    async with client.request(f"/events/day/{gp.id}/2026-12-03") as stream:
        assert "in 2 min" in data_of(await read_until(stream, b"in 2 min"))
        renders = hub.renders
        for left in (60, 50, 40):
            clock.set(datetime(2026, 12, 1, 8, 0, tzinfo=UTC) - timedelta(seconds=left))
            sent = data_of(await read_until(stream, f'data-left-ms="{left * 1000}"'.encode()))
            assert re.search(rf"in <span class=\"tick\"[^>]*><span>{left}</span></span> s", sent)
        assert hub.renders - renders <= 2 * 3  # the table and the strip, once per ten seconds: no push per second
        await stream.disconnect()
    await streams_closed(hub)


# -- every "opens" says its date


@pytest.mark.parametrize("lang, row", [("en", "Opens Tue 1 Dec 08:00"), ("zh_CN", "12月1日周二 08:00 放号")])
async def test_every_opens_label_says_its_date(client, clinic, lang, row):
    html = await page(client, "/book/day-clinic/gp/2026-12-03", lang)
    rows = re.findall(r'<tr data-slot-id="\d+"[^>]*class="not_yet">.*?</tr>', html, re.DOTALL)
    assert len(rows) == 4 and all(row in " ".join(r.split()) for r in rows)


# -- each kind of venue in its own words


HOSPITAL = ("有号", "余量", "余号", "名额", "已关闭", "放号", "候补", "挂号")


async def test_a_restaurant_speaks_a_restaurants_chinese(client, service, store, venue, terrace, offer):
    tables = venue.resource("tables")
    full = (await store.slots_for_day(tables.id, TOMORROW))[0]
    for n in range(3):
        await service.book(tables, full.id, f"Guest {n}", f"+44 20 7946 030{n}", (4, 4, 2)[n])
    day = await page(client, f"/book/test-bistro/tables/{TOMORROW}", "zh_CN")
    assert "有位" in day and "余位" in day and "已订满" in day
    monday = await page(client, f"/book/test-bistro/terrace/{CLOSED_MONDAY}", "zh_CN")
    assert "休息" in monday and "本日休息，不营业。" in monday
    form = await page(client, f"/slots/{full.id + 1}/book", "zh_CN")
    assert "剩余 10 个座位" in form and "就餐人数" in form
    waitlist = await page(client, f"/slots/{full.id}/book", "zh_CN")
    assert "排队候位" in waitlist
    offered = await page(client, offer, "zh_CN")
    assert "<h1>候位 · " in offered and "已为您留位至" in offered
    booking, _ = await service.book(tables, full.id + 1, "Lin Yu", "+44 20 7946 0400", 2)
    moving = f"/bookings/{booking.reference}/reschedule?token={booking.cancel_token}&date={TOMORROW}"
    move = await page(client, moving, "zh_CN")
    assert "2 位" in move and "剩余 10 个座位" in move  # the times it may move to
    ask = await page(client, moving.replace("reschedule?", f"reschedule/{full.id + 2}?"), "zh_CN")
    assert "<dt>人数</dt>" in ask
    for html in (day, monday, form, waitlist, offered, move, ask):
        assert not [w for w in HOSPITAL if w in html], [w for w in HOSPITAL if w in html]


async def test_a_clinic_keeps_a_clinics_words(client, clinic):
    day = await page(client, "/book/day-clinic/gp/2026-12-02", "zh_CN")
    assert "有号" in day and "余号" in day and "未放号" in day and "座位" not in day


def test_every_kind_has_every_word_in_both_languages():
    keys = set(messages.WORDS["restaurant"])
    assert set(messages.WORDS) == set(KINDS) and all(set(words) == keys for words in messages.WORDS.values())
    for kind in KINDS:
        for key in keys:
            values = {"num": 2, "n": 2, "day": "D", "time": "T"}
            with i18n.use("en"):
                english = messages.word(kind, key, **values)
            with i18n.use("zh_CN"):
                chinese = messages.word(kind, key, **values)
            assert english and chinese != english and not re.search(r"[A-Za-z]{2}", chinese.replace("D", "")), (
                kind,
                key,
                chinese,
            )
    with i18n.use("zh_CN"):
        said = {kind: messages.word(kind, "open") for kind in KINDS}
    assert said == {"restaurant": "有位", "clinic": "有号", "barber": "可约"}
