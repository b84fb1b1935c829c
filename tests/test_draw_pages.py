"""The draw (抽签) through the test client: the day page's panel and form, an entry's live page turning to its result
at the instant, withdrawing, staff's board and CSV, the admin form, both languages. The app's clock is steered."""

from __future__ import annotations

import asyncio
from datetime import UTC, date, datetime, time, timedelta

import pytest

from booking.model import OpeningRule
from tests.support.helpers import (
    act,
    board_url,
    clock_at,
    csrf_token,
    data_of,
    log_in,
    read_until,
    resource_form,
    streams_closed,
    text,
)

START = datetime(2030, 6, 2, 4, 40, tzinfo=UTC)  # 3 h 20 min before the instant
DAY = date(2030, 6, 3)  # released a day before, at 08:00 UTC
INSTANT = datetime(2030, 6, 2, 8, 0, tzinfo=UTC)
PAGE = f"/book/test-bistro/expert/{DAY.isoformat()}"

clock = clock_at(START)


@pytest.fixture
async def expert(app, store, venue, clock):
    """A clinic-like resource released by draw: two 1-hour sessions of 2 places on DAY, entries open 24 h before."""
    rules = [OpeningRule(d, time(9), time(11), 60, 2) for d in range(7)]
    await store.add_resource(
        venue.id,
        "expert",
        "Expert",
        rules,
        max_party=2,
        horizon_days=7,
        release_days_before=1,
        release_time=time(8),
        release_mode="draw",
        now=clock.now(),
    )
    return (await store.venue("test-bistro")).resource("expert")


@pytest.fixture
async def sessions(store, expert):
    return await store.slots_for_day(expert.id, DAY)


async def enter(app, slots, name="Ann Entrant", contact="ann@example.org", party="1", client=None, **choices):
    """Enter the draw from the day page's form, as a visitor with a client of their own."""
    client = client or app.test_client()
    await client.get(PAGE)
    form = {
        "csrf_token": await csrf_token(client, "/admin/login"),
        "name": name,
        "contact": contact,
        "party_size": party,
        "preference_1": str(slots[0].id),
        **choices,
    }
    return client, await client.post(f"{PAGE}/draw", form=form)


async def drawn(app, clock, at: datetime = INSTANT + timedelta(seconds=1)) -> None:
    """Move the clock past the instant and wait until the app's own loop has drawn."""
    clock.set(at)
    store = app.extensions["slotcast"].store
    for _ in range(200):
        draw = await store.draw((await store.venue("test-bistro")).resource("expert").id, DAY)
        if draw is None or draw.status == "drawn":
            return
        await asyncio.sleep(0.01)
    raise AssertionError("the app did not draw at the instant")


def squashed(html: str) -> str:
    """The HTML with each run of white space as one space."""
    return " ".join(html.split())


async def test_the_day_page_says_when_entries_close_and_offers_the_form(client, expert, sessions):
    page = squashed(await text(await client.get(PAGE)))
    assert 'Entries close at 08:00 · <strong class="countdown">in 3 h 20 min</strong>' in page
    assert "0 entries for 4 places" in page
    assert 'id="draw-entry-form"' in page and 'name="preference_3"' in page
    assert f"/events/draw/{expert.id}/{DAY.isoformat()}" in page  # its stream carries the draw's status
    race = await text(await client.get(f"/book/test-bistro/tables/{DAY.isoformat()}"))
    assert "draw" not in race.lower().replace("drawer", "")


async def test_an_entry_gets_its_number_and_a_page_of_its_own(app, expert, sessions):
    visitor, answer = await enter(app, sessions)
    assert answer.status_code == 303
    page = await text(await visitor.get(answer.headers["Location"]))
    assert "You are entry #1." in page and "1 entry for 4 places" in page
    assert "Seed fingerprint (SHA-256):" in page and "Withdraw my entry" in page
    _, second = await enter(
        app, sessions, name="Bo", contact="+44 20 7946 0001", party="2", preference_2=str(sessions[1].id)
    )
    assert "You are entry #2." in await text(await visitor.get(second.headers["Location"]))


@pytest.mark.parametrize(
    ("fields", "status", "message"),
    [
        ({"preference_1": ""}, 422, "Choose at least your first preferred time."),
        ({"preference_1": "999999"}, 422, "Choose times of this day from the list."),
        ({"preference_2": "SESSION0"}, 422, "Choose each time once."),
        ({"party_size": "3"}, 422, "At most 2 places per booking."),
        ({"contact": "ANN@example.org"}, 409, "You have entered this draw already: one entry per person."),
    ],
)
async def test_a_refused_entry_says_why_and_keeps_what_was_typed(app, expert, sessions, fields, status, message):
    await enter(app, sessions)
    fields = {k: str(sessions[0].id) if v == "SESSION0" else v for k, v in fields.items()}
    _, answer = await enter(app, sessions, name="Typed Name", **fields)
    body = await text(answer)
    assert answer.status_code == status and message in body and 'value="Typed Name"' in body


async def test_entries_close_at_the_instant(app, clock, expert, sessions):
    clock.set(INSTANT)
    _, answer = await enter(app, sessions)
    assert answer.status_code == 409 and "Entries to this draw have closed." in await text(answer)


async def test_an_open_entry_page_turns_to_its_result_at_the_instant(app, clock, hub, expert, sessions):
    winner, answer = await enter(app, sessions)
    path = answer.headers["Location"]
    reference, token = path.split("/draws/")[1].split("?token=")
    async with winner.request(f"/draws/{reference}/events?token={token}") as stream:
        assert "You are entry #1." in data_of(await read_until(stream, b"entry #1"))
        await drawn(app, clock)
        seen = await read_until(stream, b"You got")
        seen += b"" if b"Drawn at" in seen else await read_until(stream, b"Drawn at")  # the draw's status, too
        result = data_of(seen)
        assert "You got 09:00" in result and "Your booking" in result and "Drawn at 08:00" in result
        await stream.disconnect()
    await streams_closed(hub)


async def test_one_not_drawn_waits_and_sees_its_place(app, clock, expert, sessions):
    entrants = [await enter(app, sessions, name=f"P{n}", contact=f"p{n}@example.org", party="2") for n in range(3)]
    await drawn(app, clock)
    pages = [await text(await client.get(answer.headers["Location"])) for client, answer in entrants]
    assert sum("You got 09:00" in p for p in pages) == 1
    assert sorted(p.count("Not drawn — you are number") for p in pages) == [0, 1, 1]
    assert any("number 1 on the waitlist for 09:00" in p for p in pages)
    assert any("number 2 on the waitlist for 09:00" in p for p in pages)


async def withdraw(client, reference: str, token: str):
    form = {"csrf_token": await csrf_token(client, "/admin/login"), "token": token}
    return await client.post(f"/draws/{reference}/withdraw", form=form)


async def test_withdrawing_while_open_and_not_after(app, clock, expert, sessions):
    visitor, answer = await enter(app, sessions)
    reference, token = answer.headers["Location"].split("/draws/")[1].split("?token=")
    withdrawn = await withdraw(visitor, reference, token)
    assert withdrawn.status_code == 303
    assert "You withdrew entry #1." in await text(await visitor.get(withdrawn.headers["Location"]))
    again, answer = await enter(app, sessions)  # the same person may enter again: a new number
    reference, token = answer.headers["Location"].split("/draws/")[1].split("?token=")
    clock.set(INSTANT)
    late = await withdraw(again, reference, token)
    assert late.status_code == 409 and "can no longer be withdrawn" in await text(late)


async def test_a_wrong_token_is_refused_and_an_unknown_entry_is_404(app, expert, sessions):
    visitor, answer = await enter(app, sessions)
    reference = answer.headers["Location"].split("/draws/")[1].split("?")[0]
    assert (await visitor.get(f"/draws/{reference}?token=nope")).status_code == 403
    assert (await visitor.get(f"/draws/{reference}/events?token=nope")).status_code == 403
    assert (await visitor.get("/draws/K7QX2M9P?token=x")).status_code == 404


async def test_staff_see_entries_then_results_and_export_them(app, admin, clock, stranger, venue, expert, sessions):
    for n in range(3):
        await enter(app, sessions, name=f"Entrant {n}", contact=f"e{n}@example.org")
    board = await text(await admin.get(board_url(DAY)))
    assert "3 entries standing" in board and "Entrant 2" in board and "e0@example.org" in board
    csv_path = f"/admin/venues/test-bistro/draws/expert/{DAY.isoformat()}.csv"
    assert (await stranger.get(csv_path)).status_code == 302  # to the login
    await drawn(app, clock)
    await log_in(admin)  # hours later: the session from before the draw has timed out
    board = await text(await admin.get(board_url(DAY)))
    assert "Drawn at 08:00: 2 booked, 1 on waitlists, of 3 entries." in board
    rows = (await (await admin.get(csv_path)).get_data()).decode("utf-8-sig").splitlines()
    assert rows[0].startswith("Rank,Entry,Reference,Name,Contact")
    assert [row.split(",")[0] for row in rows[1:]] == ["1", "2", "3"]
    assert "Entrant" in rows[1] and ("booked" in rows[1])


async def test_the_board_stream_carries_new_entries_to_staff(app, admin, hub, venue, expert, sessions):
    async with admin.request(f"/admin/events/board/{venue.id}/{DAY.isoformat()}") as stream:
        await read_until(stream, b"event: entries-")
        await enter(app, sessions, name="Live Entrant", contact="live@example.org")
        assert b"Live Entrant" in await read_until(stream, b"Live Entrant")
        await stream.disconnect()
    await streams_closed(hub)


async def test_the_public_streams_carry_no_names(app, hub, expert, sessions):
    public = app.test_client()
    async with public.request(f"/events/draw/{expert.id}/{DAY.isoformat()}") as stream:
        await read_until(stream, b"event: draw")
        await enter(app, sessions, name="Secret Name", contact="secret@example.org")
        seen = await read_until(stream, b"1 entry for")
        assert b"Secret Name" not in seen and b"secret@example.org" not in seen
        await stream.disconnect()
    await streams_closed(hub)


async def test_staff_set_a_resource_to_release_by_draw(admin, store, venue):
    tables = venue.resource("tables")
    form = resource_form(
        tables,
        "daily 08:00-20:00 60 10",
        release_days_before="2",
        release_time="08:00",
        release_mode="draw",
        draw_entry_hours="12",
    )
    assert (await act(admin, f"/admin/resources/{tables.id}/edit", **form)).status_code == 303
    saved = (await store.venue("test-bistro")).resource("tables")
    assert (saved.release_mode, saved.draw_entry_hours) == ("draw", 12)
    page = await text(await admin.get(f"/admin/resources/{tables.id}/edit"))
    assert '<option value="draw" selected>' in page and 'value="12"' in page
    bad = await act(
        admin, f"/admin/resources/{tables.id}/edit", **{**form, "release_mode": "auction", "draw_entry_hours": "0"}
    )
    body = await text(bad)
    assert bad.status_code == 422 and "Choose first come, first served or a draw." in body
    assert "A whole number from 1 to 720." in body


async def test_the_draw_speaks_chinese(app, expert, sessions):
    zh = {"Accept-Language": "zh-CN"}
    page = await text(await app.test_client().get(PAGE, headers=zh))
    assert "抽签" in page and "报名截止" in page and "Entries close" not in page
    visitor, answer = await enter(app, sessions)
    entry = await text(await visitor.get(answer.headers["Location"], headers=zh))
    assert "您的报名号" in entry and "You are entry" not in entry
