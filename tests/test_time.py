"""Renders that depend on the clock, with the app's clock steered by hand: no sleeping past a minute."""

from __future__ import annotations

import asyncio
import re
from datetime import UTC, date, datetime

import pytest

from tests.support.helpers import clock_at, data_of, read_until, streams_closed, text

DAY = "2026-12-01"
START = datetime(2026, 12, 1, 11, 20, tzinfo=UTC)  # the test bistro is in UTC: 40 minutes before its 12:00 table


clock = clock_at(START)


@pytest.fixture
async def tables(service, venue):
    """The bistro's tables, booked online up to 30 minutes ahead."""
    tables = venue.resource("tables")
    await service.edit_resource(tables, min_notice_minutes=30)
    return tables


def row(html: str, hour: str) -> str:
    """The slot table's row that starts at `hour` (e.g. '12:00')."""
    return re.search(rf"<tr [^>]*>\s*<th scope=\"row\">{hour}–.*?</tr>", html, re.S).group(0)


async def test_page_and_new_streams_agree_once_a_slot_passes_its_notice_cut_off(app, client, clock, hub, tables):
    path = f"/events/day/{tables.id}/{DAY}"
    async with client.request(path) as early:
        first = data_of(await read_until(early, b"</div>"))
        assert "Book" in row(first, "12:00")
        clock.set(datetime(2026, 12, 1, 11, 31, tzinfo=UTC))  # 12:00 is inside the notice now
        update = data_of(await read_until(early, b"</div>"))
        assert "Too late to book online" in row(update, "12:00") and "Book" in row(update, "13:00")
        await early.disconnect()
    page = await text(await client.get(f"/book/test-bistro/tables/{DAY}"))
    async with app.test_client().request(path) as late:
        fresh = data_of(await read_until(late, b"</div>"))
        await late.disconnect()
    for hour in ("12:00", "13:00"):
        assert row(page, hour) == row(fresh, hour) == row(update, hour)
    await streams_closed(hub)


async def test_a_new_stream_never_gets_a_render_the_clock_has_overtaken(app, client, clock, hub, tables):
    path = f"/events/day/{tables.id}/{DAY}"
    async with client.request(path) as watching:  # keeps the topic's render alive in the hub
        assert "Book" in row(data_of(await read_until(watching, b"</div>")), "12:00")
        hub._timer.set = lambda: None  # the expiry loop sleeps through: only the new stream's own check is left
        try:
            clock.set(datetime(2026, 12, 1, 11, 45, tzinfo=UTC))
            async with app.test_client().request(path) as newcomer:
                assert "Too late to book online" in row(data_of(await read_until(newcomer, b"</div>")), "12:00")
                await newcomer.disconnect()
        finally:
            del hub._timer.set
        await watching.disconnect()
    await streams_closed(hub)


async def test_the_kiosk_rolls_over_at_midnight(app, client, clock, hub, venue):
    tables = venue.resource("tables")
    clock.set(datetime(2026, 12, 1, 23, 59, 30, tzinfo=UTC))
    async with client.request("/kiosk/test-bistro/events") as kiosk:
        before = data_of(await read_until(kiosk, f"event: panel-{venue.resource('bar').id}".encode()))
        assert "23:59" in before and "No more sessions today" in before
        clock.set(datetime(2026, 12, 2, 0, 0, 5, tzinfo=UTC))
        after = ""
        while after.count("event: ") < 3:  # the clock and both panels, in whatever order they come
            after += data_of(await asyncio.wait_for(kiosk.receive(), 2))
        assert 'datetime="2026-12-02T00:00' in after and ">00:00</time>" in after
        tables_panel = after[after.index(f'id="panel-{tables.id}"') :]
        assert "Next 08:00–09:00" in tables_panel and "Left today: 120" in tables_panel
        await kiosk.disconnect()
    await streams_closed(hub)


async def test_times_that_have_begun_fold_away_and_the_list_starts_at_the_next(client, clock, tables, service, store):
    clock.set(datetime(2026, 12, 1, 12, 5, tzinfo=UTC))
    nine = next(s for s in await store.slots_for_day(tables.id, date(2026, 12, 1)) if s.starts_at.hour == 9)
    await service.close_slot(nine.id, True)  # closed, and begun: it folds away too
    page = await text(await client.get(f"/book/test-bistro/tables/{DAY}"))
    begun = re.search(r'<details class="begun">.*?</details>', page, re.S).group(0)
    assert "5 times have begun" in begun and all(f">{h}:00–" in begun for h in ("08", "09", "10", "11", "12"))
    main = page.split("</details>")[1]
    assert re.findall(r'<th scope="row">(\d\d):00–', main)[:2] == ["13", "14"]
    assert 'aria-label="Book 13:00"' in row(main, "13:00")
