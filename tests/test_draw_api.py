"""The draw's JSON API (抽签): a day's draw for anyone to check, entering, following and withdrawing; the verify script
of docs/draw.md run against a real draw; the webhooks a draw queues."""

from __future__ import annotations

import hashlib
import json
import re
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

from tests.support.helpers import clock_at
from tests.test_draw_pages import DAY, INSTANT, START, drawn, expert, sessions  # noqa: F401  (fixtures by name)

clock = clock_at(START)
API = f"/api/v1/draws/test-bistro/expert/{DAY.isoformat()}"
DOCS = Path(__file__).resolve().parents[1] / "docs" / "draw.md"


async def enter(client, preferences, contact="ann@example.org", party_size=1, name="Ann"):
    return await client.post(
        f"{API}/entries", json={"name": name, "contact": contact, "party_size": party_size, "preferences": preferences}
    )


def verify_script() -> str:
    """The script docs/draw.md gives to check a draw: its section's Python block."""
    section = DOCS.read_text().split("## Verify a draw", 1)[1]
    return re.search(r"```python\n(.*?)```", section, re.DOTALL).group(1)


def verify(draw: dict) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-c", verify_script()], input=json.dumps(draw), capture_output=True, text=True, timeout=30
    )


async def test_entering_through_the_api(client, expert, sessions):
    first, second = (s.id for s in sessions)
    made = await enter(client, [first, second])
    body = await made.get_json()
    assert made.status_code == 201 and set(body) == {"reference", "number", "cancel_token", "status"}
    assert body["number"] == 1 and body["status"] == "entered"
    twice = await enter(client, [second], contact="ANN@example.org")
    assert twice.status_code == 409 and (await twice.get_json())["code"] == "limit_reached"
    race = await client.post(
        f"/api/v1/draws/test-bistro/tables/{DAY.isoformat()}/entries",
        json={"name": "Ann", "contact": "bo@example.org", "preferences": [first]},
    )
    assert race.status_code == 409 and (await race.get_json())["code"] == "not_a_draw"
    for bad in ([], [999999], [first, first], ["x"], [first, second, first, second], None, first):
        refused = await enter(client, bad, contact="cy@example.org")
        answer = await refused.get_json()
        assert refused.status_code == 422 and answer["code"] == "invalid" and "preferences" in answer["fields"], bad
    held = await client.get(f"{API}/entries/{body['reference']}?token={body['cancel_token']}")
    assert held.status_code == 200 and await held.get_json() == {
        "reference": body["reference"],
        "number": 1,
        "rank": None,
        "status": "entered",
        "party_size": 1,
        "preferences": [first, second],
        "booking": None,
        "waitlist": None,
    }
    assert (await client.get(f"{API}/entries/{body['reference']}?token=nope")).status_code == 403
    elsewhere = f"/api/v1/draws/test-bistro/expert/{(DAY + timedelta(days=1)).isoformat()}"
    other_day = await client.get(f"{elsewhere}/entries/{body['reference']}?token={body['cancel_token']}")
    assert other_day.status_code == 404


async def test_the_public_draw_before_and_after(app, client, clock, expert, sessions):
    before = await (await client.get(API)).get_json()
    assert before["status"] == "open" and before["seed"] is None
    assert re.fullmatch(r"[0-9a-f]{64}", before["seed_sha256"])
    assert before["results"] == [] and before["places"] == 4 and before["entries"] == 0
    assert before["closes_at"] == INSTANT.isoformat()
    for n in range(3):
        await enter(client, [sessions[0].id], contact=f"p{n}@example.org", name=f"Secret Name {n}")
    await drawn(app, clock)
    raw = await (await client.get(API)).get_data(as_text=True)
    after = json.loads(raw)
    assert after["status"] == "drawn" and after["seed_sha256"] == before["seed_sha256"]
    assert hashlib.sha256(bytes.fromhex(after["seed"])).hexdigest() == after["seed_sha256"]
    assert [r["rank"] for r in after["results"]] == [1, 2, 3] and after["entries"] == 3
    assert [r["outcome"] for r in after["results"]] == ["booked", "booked", "waitlisted"]
    assert "Secret Name" not in raw and "@example.org" not in raw
    assert (await client.get(f"/api/v1/draws/test-bistro/tables/{DAY.isoformat()}")).status_code == 404
    later = await (
        await client.get(f"/api/v1/draws/test-bistro/expert/{(DAY + timedelta(days=2)).isoformat()}")
    ).get_json()
    assert later["status"] == "upcoming" and later["seed_sha256"] is None


async def test_withdrawing_through_the_api(app, client, clock, expert, sessions):
    entry = await (await enter(client, [sessions[0].id])).get_json()
    withdrawn = await client.post(
        f"{API}/entries/{entry['reference']}/withdraw", json={"cancel_token": entry["cancel_token"]}
    )
    assert withdrawn.status_code == 200 and (await withdrawn.get_json())["status"] == "withdrawn"
    again = await (await enter(client, [sessions[0].id])).get_json()
    clock.set(INSTANT)
    late = await client.post(
        f"{API}/entries/{again['reference']}/withdraw", json={"cancel_token": again["cancel_token"]}
    )
    assert late.status_code == 409 and (await late.get_json())["code"] == "draw_closed"
    wrong = await client.post(f"{API}/entries/{again['reference']}/withdraw", json={"cancel_token": "nope"})
    assert wrong.status_code == 403


async def test_the_verify_script_of_the_docs_agrees_with_a_real_draw(app, client, clock, expert, sessions):
    assert len([line for line in verify_script().splitlines() if line.strip()]) <= 16
    for n in range(7):
        await enter(client, [sessions[n % 2].id], contact=f"v{n}@example.org", party_size=1 + n % 2)
    await drawn(app, clock)
    draw = await (await client.get(API)).get_json()
    checked = verify(draw)
    assert checked.returncode == 0 and checked.stdout.startswith("verified: 7 entries"), checked.stderr
    swapped = json.loads(json.dumps(draw))
    swapped["results"][0]["rank"], swapped["results"][1]["rank"] = 2, 1
    assert verify(swapped).returncode != 0
    other_seed = {**draw, "seed": "00" * 32}
    assert verify(other_seed).returncode != 0
    missing = {**draw, "results": draw["results"][1:]}
    assert verify(missing).returncode != 0


async def test_a_draw_tells_the_webhooks_once_per_day_and_once_per_winner(
    app, client, clock, store, venue, expert, sessions
):
    await store.add_webhook(venue.id, "https://hooks.example.org/in", "s" * 32, START)
    for n in range(3):
        await enter(client, [sessions[0].id], contact=f"w{n}@example.org")
    await drawn(app, clock)
    events = [m.event for m in await store.outbox(venue.id)]
    assert events.count("draw.completed") == 1 and events.count("booking.created") == 2
    completed = next(m for m in await store.outbox(venue.id) if m.event == "draw.completed")
    data = json.loads(completed.body)["data"]
    assert (data["booked"], data["waitlisted"], data["entries"]) == (2, 1, 3) and len(data["seed"]) == 64
