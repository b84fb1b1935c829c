"""Finding times through the API: a venue's days for a party say what the day pages say (same days, same words, same
times to book), at most 31 days a call; the next time a party can book, or the next release. The app's clock stands
at noon, so every day's answer is known."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, time, timedelta
from urllib.parse import urlencode

import pytest

from booking.model import OpeningRule
from tests.support.helpers import clock_at

NOW = datetime(2030, 6, 3, 12, 0, tzinfo=UTC)
TODAY = NOW.date()
AVAILABILITY = "/api/v1/venues/test-bistro/availability"
PAGE_WORDS = {"open": "available", "full": "full", "closed": "closed", "past": "past", "not_yet": "not_open_yet"}

clock = clock_at(NOW)


def on(days: int) -> date:
    return TODAY + timedelta(days=days)


def stamp(day: date, hour: int = 0) -> str:
    return datetime.combine(day, time(hour), UTC).isoformat()


@pytest.fixture
async def days(store, service, venue, clock):
    """The tables' next days made different: tomorrow one time with one place left (the rest closed), the day after
    closed; a counter released two days ahead at 09:00, and an expert's days released by draw a day ahead."""
    every_day = [OpeningRule(d, time(9), time(11), 60, 2) for d in range(7)]
    await store.add_resource(
        venue.id, "counter", "Counter", every_day, max_party=2, horizon_days=7, release_days_before=2,
        release_time=time(9), now=NOW,
    )  # fmt: skip
    await store.add_resource(
        venue.id, "expert", "Expert", every_day, max_party=2, horizon_days=7, release_days_before=1,
        release_time=time(8), release_mode="draw", now=NOW,
    )  # fmt: skip
    tables = venue.resource("tables")
    first, *rest = await store.slots_for_day(tables.id, on(1))
    for n, size in enumerate((4, 4, 1)):
        await service.book(tables, first.id, "Ana", f"{n}@example.com", size)
    for slot in rest + await store.slots_for_day(tables.id, on(2)):
        await service.close_slot(slot.id, True)
    return first


async def page_answer(client, resource: str, day: date, party: int) -> tuple[str, set[int]]:
    """What the day page says of `day` for the party: its word (the date strip's, else the page's own sentence)
    and the times it offers to book."""
    html = await (await client.get(f"/book/test-bistro/{resource}/{day.isoformat()}?party={party}")).get_data(True)
    shown = re.search(r'<li class="(\w+)"><a href="[^"]*" aria-current="date">', html)
    if shown:
        word = PAGE_WORDS[shown.group(1)]
    elif 'class="release"' in html:
        word = "not_open_yet"
    else:
        assert "This day has passed." in html
        word = "past"
    rows = html.split('<tr data-slot-id="')[1:]
    return word, {int(row.split('"')[0]) for row in rows if 'class="button"' in row.split("</tr>")[0]}


async def test_every_day_says_what_its_day_page_says(client, days):
    response = await client.get(f"{AVAILABILITY}?from={on(-1)}&to={on(8)}&party=2")
    body = await response.get_json()
    assert response.status_code == 200 and (body["venue"], body["time_zone"], body["party"]) == (
        "test-bistro",
        "UTC",
        2,
    )
    assert [r["slug"] for r in body["resources"]] == ["tables", "counter", "expert"]  # the bar takes one at a time
    words = {}
    for resource in body["resources"]:
        assert [d["date"] for d in resource["days"]] == [on(n).isoformat() for n in range(-1, 9)]
        for day in resource["days"]:
            # a draw's days beyond the strip say so in its panel, not in a sentence of the table
            if resource["slug"] != "expert" or day["date"] <= on(7).isoformat():
                word, times = await page_answer(client, resource["slug"], date.fromisoformat(day["date"]), 2)
                assert (day["outlook"], {t["slot_id"] for t in day["times"]}) == (word, times), (resource, day)
            words[resource["slug"], day["date"]] = day["outlook"]
    tables = [words["tables", on(n).isoformat()] for n in range(-1, 9)]
    assert tables == ["past", "available", "full", "closed", *["available"] * 5, "not_open_yet"]
    assert [words["counter", on(n).isoformat()] for n in (2, 3)] == ["available", "not_open_yet"]
    assert [words["expert", on(n).isoformat()] for n in (1, 2)] == ["available", "not_open_yet"]


async def test_a_day_still_to_open_says_when_and_times_carry_their_places(client, days):
    body = await (await client.get(f"{AVAILABILITY}?from={on(0)}&to={on(8)}&resource=tables")).get_json()
    [tables] = body["resources"]
    today, tomorrow, *_, beyond = tables["days"]
    assert beyond["opens_at"] == stamp(on(1)) and not beyond["times"]  # enters the 7-day horizon at midnight
    assert today["opens_at"] is None and [t["start"] for t in today["times"]] == [
        stamp(on(0), h) for h in range(12, 20)
    ]
    assert today["times"][0] == {
        "slot_id": today["times"][0]["slot_id"],
        "start": stamp(on(0), 12),
        "end": stamp(on(0), 13),
        "remaining": 10,
    }
    assert tomorrow["outlook"] == "available" and [t["remaining"] for t in tomorrow["times"]] == [1]  # one fits
    counter = (await (await client.get(f"{AVAILABILITY}?from={on(3)}&resource=counter")).get_json())["resources"]
    assert counter[0]["days"] == [
        {"date": on(3).isoformat(), "outlook": "not_open_yet", "opens_at": stamp(on(1), 9), "times": []}
    ]


async def test_at_most_31_days_a_call(client):
    month = await client.get(f"{AVAILABILITY}?from={on(0)}&to={on(30)}&resource=bar")
    assert month.status_code == 200 and len((await month.get_json())["resources"][0]["days"]) == 31
    over = await client.get(f"{AVAILABILITY}?from={on(0)}&to={on(31)}")
    assert over.status_code == 422 and (await over.get_json())["code"] == "too_many_days"
    assert (await over.get_json())["most"] == 31
    backwards = await client.get(f"{AVAILABILITY}?from={on(1)}&to={on(0)}")
    assert backwards.status_code == 422 and set((await backwards.get_json())["fields"]) == {"to"}


QUESTIONS_NOT_ANSWERED = [
    ("", 400),
    ("from=2030-02-30", 400),
    ("from=2030-06-03&to=soon", 400),
    ("from=2030-06-03&party=0", 400),
    ("from=2030-06-03&party=two", 400),
    ("from=2030-06-03&party=5", 422),  # no resource takes five
    ("from=2030-06-03&party=3&resource=bar", 422),
    ("from=2030-06-03&resource=nothing", 404),
]


async def test_questions_it_cannot_answer_are_clear_errors(client):
    for query, status in QUESTIONS_NOT_ANSWERED:
        response = await client.get(f"{AVAILABILITY}?{query}")
        assert (response.status_code, response.mimetype) == (status, "application/json"), query


def next_url(resource: str = "tables", **query) -> str:
    return f"/api/v1/venues/test-bistro/resources/{resource}/next-available?{urlencode(query)}"


async def test_the_next_time_is_the_first_with_room_for_the_party(client, store, venue, days):
    now = await (await client.get(next_url(party=2))).get_json()
    assert (now["status"], now["date"], now["time"]["start"], now["opens_at"]) == (
        "available",
        str(on(0)),
        stamp(on(0), 12),
        None,
    )
    tomorrow = await (await client.get(next_url(party=1, after=stamp(on(1))))).get_json()
    assert tomorrow["time"] == {"slot_id": days.id, "start": stamp(on(1), 8), "end": stamp(on(1), 9), "remaining": 1}
    # Too few places tomorrow and the day after closed: the same time the day page leads a party of two on to.
    later = await (await client.get(next_url(party=2, after=stamp(on(1))))).get_json()
    assert (later["date"], later["time"]["start"]) == (str(on(3)), stamp(on(3), 8))
    page = await (await client.get(f"/book/test-bistro/tables/{on(2)}?party=2")).get_data(True)
    assert f'href="/book/test-bistro/tables/{on(3)}?party=2"' in page and "at 08:00" in page


async def test_nothing_bookable_now_gives_the_next_release(client, days):
    counter = await (await client.get(next_url("counter", after=stamp(on(3))))).get_json()
    assert counter == {"status": "not_open_yet", "time": None, "date": str(on(3)), "opens_at": stamp(on(1), 9)}
    beyond = await (await client.get(next_url(after=stamp(on(8), 9).replace("+00:00", "Z")))).get_json()
    assert beyond == {"status": "not_open_yet", "time": None, "date": str(on(8)), "opens_at": stamp(on(1))}
    local = await (await client.get(next_url(party=2, after="2030-06-03T09:00:00+08:00"))).get_json()
    assert local["time"]["start"] == stamp(on(0), 12)  # 01:00 UTC, before now: from now on


async def test_a_next_time_it_cannot_look_for_is_a_clear_error(client):
    for query, status in [
        ({"party": "5"}, 422),
        ({"party": "0"}, 400),
        ({"after": "tomorrow"}, 400),
        ({"after": "2030-06-04T09:00:00"}, 400),  # no offset: a moment where?
        ({"after": "2030-06-04T09:00:00+08:00\n"}, 400),
    ]:
        response = await client.get(next_url(**query))
        assert response.status_code == status and "code" in await response.get_json(), query
