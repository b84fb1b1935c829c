"""The API's contract: /api/v1/openapi.json is valid Open API 3.1 and covers every /api/v1 route, /api/v1/docs shows
it with the vendored RapiDoc, and a real Hypercorn keeps it: schemathesis runs every check against `python app.py`
on this run's engine (SQLite, or PostgreSQL with SLOTCAST_TEST_ENGINE=postgres)."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from datetime import date, timedelta

import jsonschema_rs
import pytest
import requests

from app import create_app
from booking.keys import SCOPES
from tests import test_browser
from tests.support.live_server import ROOT, LiveServer
from views.openapi import Undocumented, document

browser, new_page = test_browser.browser, test_browser.new_page  # fixtures, used by name

# Every check, every phase (examples, coverage, fuzzing, stateful over the document's links), bounded to seconds.
# Dictionaries steer some of the generated values to real venues, days and slots (three of them full, for the
# waitlist); the API key has every scope on every venue, and webhooks are added for a loopback address alone.
# JSON Schema cannot judge a contact's shape, a party over the resource's largest or another resource's slot, nor
# know a token: for the calls that book, a 403 or 422 may answer data the schema calls valid (both are documented);
# nor a run of days backwards or over 31 days: finding times may answer a 422 too.
CONFIG = """\
seed = 1
cache.enabled = false
generation.max-examples = 12
generation.database = "none"
phases.stateful.max-steps = 6
[dictionaries.slots]
values = {slots}
[dictionaries.venues]
values = ["harbour-kitchen"]
[dictionaries.resources]
values = ["terrace"]
[dictionaries.names]
values = ["Ana Silva", "Bo"]
[dictionaries.contacts]
values = ["ana@example.com", "+44 20 7946 0000", "bo@example.org"]
[dictionaries.parties]
values = [1, 2]
[dictionaries.urls]
values = ["http://127.0.0.1:9/hook"]
[dictionaries.dates]
values = {dates}
[parameters]
"body.slot_id" = {{ dictionary = "slots", probability = 0.8 }}
"body.name" = {{ dictionary = "names", probability = 0.8 }}
"body.contact" = {{ dictionary = "contacts", probability = 0.8 }}
"body.party_size" = {{ dictionary = "parties", probability = 0.8 }}
"path.venue" = {{ dictionary = "venues", probability = 0.8 }}
"path.resource" = {{ dictionary = "resources", probability = 0.8 }}
"body.url" = {{ dictionary = "urls", probability = 1.0 }}
"query.date" = {{ dictionary = "dates", probability = 0.8 }}
[auth.openapi.apiKey]
bearer = "{key}"
[[operations]]
include-operation-id = ["create_booking", "join_waitlist", "reschedule_booking", "enter_draw", "add_webhook"]
checks.positive_data_acceptance.expected-statuses = ["2xx", "401", "403", "404", "409", "422", "429"]
[[operations]]
include-operation-id = ["venue_bookings"]
checks.positive_data_acceptance.expected-statuses = ["2xx", "400", "403", "404"]
[[operations]]
include-operation-id = ["availability", "next_available"]
checks.positive_data_acceptance.expected-statuses = ["2xx", "404", "422"]
[[operations]]
include-operation-id = "slots_stream"
max-stream-events = 1
request-timeout = 5
"""


@pytest.fixture(scope="module")
def live(tmp_path_factory, request):
    """`python app.py` with the demo venues on this run's engine; no booking rate (one address makes every call), no
    rate per API key, and webhooks to loopback (no name looked up, nothing sent beyond this machine)."""
    config = {"BOOKINGS_PER_MINUTE": 0, "API_KEY_CALLS_PER_MINUTE": 0, "WEBHOOKS_ALLOW_PRIVATE": 1, "DRAIN_SECONDS": 0}
    if os.environ.get("SLOTCAST_TEST_ENGINE") == "postgres":
        postgres = request.getfixturevalue("postgres")
        postgres.drop_database("t_openapi")
        config["DATABASE_URL"] = postgres.create_database("t_openapi")
    server = LiveServer(tmp_path_factory.mktemp("openapi"), **config).start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def api_key(live) -> str:
    """A key with every scope on every demo venue, made with `create-api-key` on the live server's database."""
    venues = [arg for v in ("harbour-kitchen", "riverside-clinic", "corner-barber") for arg in ("--venue", v)]
    scopes = [arg for scope in SCOPES for arg in ("--scope", scope)]
    made = subprocess.run(
        [sys.executable, "-m", "quart", "--app", "app:create_app", "create-api-key", "contract", *venues, *scopes],
        env=live.env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert made.returncode == 0, made.stdout + made.stderr
    return re.search(r"sk_[A-Za-z0-9_-]{43}", made.stdout)[0]


@pytest.fixture(scope="module")
def contract(live):
    """The document the server serves, loaded by schemathesis: `contract[path][method].validate_response(r)`."""
    import schemathesis  # here: each test process imports every test module, and this one takes ~0.2 s of CPU

    quiet = schemathesis.config.SchemathesisConfig.from_str("cache.enabled = false")  # no .schemathesis/ in the repo
    return schemathesis.openapi.from_url(f"{live.url}/api/v1/openapi.json", config=quiet)


def slot_ids(server: LiveServer, venue: str, resource: str, ahead: int = 2) -> list[int]:
    day = (date.today() + timedelta(days=ahead)).isoformat()  # open at every demo venue, whatever its zone
    return [s["id"] for s in server.get_json(f"/api/v1/venues/{venue}/resources/{resource}/slots?date={day}")["slots"]]


def test_the_server_keeps_the_contract(live, api_key, tmp_path):
    full = slot_ids(live, "corner-barber", "chair-1")[:3]  # one place each: someone to wait behind
    for n, slot_id in enumerate(full):
        live.post_json("/api/v1/bookings", {"slot_id": slot_id, "name": "Ana", "contact": f"{n}@example.com"})
    slots = slot_ids(live, "harbour-kitchen", "terrace")[:4] + full
    dates = [(date.today() + timedelta(days=n)).isoformat() for n in (2, 3)]  # the days slot_ids() books on
    (tmp_path / "schemathesis.toml").write_text(CONFIG.format(slots=slots, key=api_key, dates=json.dumps(dates)))
    run = subprocess.run(
        [
            sys.executable,
            "-m",
            "schemathesis.cli",
            "--config-file",
            "schemathesis.toml",
            "--no-color",
            "run",
            f"{live.url}/api/v1/openapi.json",
            "--checks",
            "all",
        ],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert run.returncode == 0, run.stdout[-8000:] + run.stderr[-2000:]
    assert " passed" in run.stdout and "Stateful" in run.stdout
    assert "status=500" not in live.log()


# -- answers that once went wrong, each as documented (over real HTTP: Hypercorn, not the test client)

POSTS = [
    "/api/v1/bookings",
    "/api/v1/bookings/{reference}/cancel",
    "/api/v1/bookings/{reference}/reschedule",
    "/api/v1/waitlist",
    "/api/v1/waitlist/{reference}/accept",
    "/api/v1/waitlist/{reference}/leave",
]


@pytest.mark.parametrize("path", POSTS)
def test_a_body_that_is_not_utf8_is_a_documented_400(live, contract, path):
    response = requests.post(
        live.url + path.format(reference="K7QX2M9P"),
        data=b'{"name": "\xff\xfe"}',
        headers={"Content-Type": "application/json"},
        timeout=5,
    )
    assert response.status_code == 400 and response.json() == {"error": "Send a JSON object.", "code": "bad_request"}
    contract[path]["POST"].validate_response(response)


def test_over_http_the_contract_comes_gzipped_and_an_unchanged_one_is_a_bare_304(live):
    first = requests.get(f"{live.url}/api/v1/openapi.json", timeout=5)  # requests sends Accept-Encoding: gzip
    assert first.headers["Content-Encoding"] == "gzip" and first.json()["openapi"] == "3.1.0"
    assert int(first.headers["Content-Length"]) < len(first.content) / 4
    again = requests.get(f"{live.url}/api/v1/openapi.json", headers={"If-None-Match": first.headers["ETag"]}, timeout=5)
    assert again.status_code == 304 and again.content == b"" and again.headers["ETag"] == first.headers["ETag"]


def test_a_wrong_method_is_a_json_405_that_says_what_is_allowed(live):
    response = requests.delete(f"{live.url}/api/v1/bookings", timeout=5)
    assert response.status_code == 405 and response.json()["code"] == "method_not_allowed"
    assert "POST" in response.headers["Allow"].split(", ")


@pytest.mark.parametrize("path", ["/api/v2/venues", "/api/nothing", "/api/v1/venues/harbour-kitchen"])
def test_an_unknown_api_address_is_a_json_404_when_json_is_asked_for(live, path):
    response = requests.get(live.url + path, headers={"Accept": "application/json"}, timeout=5)
    assert response.status_code == 404 and response.headers["Content-Type"] == "application/json"
    assert set(response.json()) == {"error", "code"} and response.json()["code"] == "not_found"


def book(live, slot_id: int, contact: str, key: str) -> requests.Response:
    return requests.post(
        f"{live.url}/api/v1/bookings",
        json={"slot_id": slot_id, "name": "Ana", "contact": contact},
        headers={"Idempotency-Key": key},
        timeout=5,
    )


def test_an_empty_idempotency_key_is_a_documented_422(live, contract):
    response = book(live, slot_ids(live, "harbour-kitchen", "terrace", ahead=3)[0], "key@example.com", "")
    assert response.status_code == 422 and response.json()["code"] == "invalid"
    contract["/api/v1/bookings"]["POST"].validate_response(response)


def test_a_key_replayed_after_its_booking_was_cancelled_is_a_documented_409(live, contract):
    slot_id = slot_ids(live, "harbour-kitchen", "terrace", ahead=3)[1]
    made = book(live, slot_id, "replay@example.com", "replay-key-1").json()
    live.post_json(f"/api/v1/bookings/{made['reference']}/cancel", {"cancel_token": made["cancel_token"]})
    again = book(live, slot_id, "replay@example.com", "replay-key-1")
    assert again.status_code == 409 and again.json()["code"] == "booking_cancelled"
    assert again.json()["reference"] == made["reference"] and "cancel_token" not in again.json()
    contract["/api/v1/bookings"]["POST"].validate_response(again)


async def test_too_many_bookings_is_a_documented_429_with_whole_seconds_to_wait(app, client, slot):
    """Through the test client: the live server has no booking rate, so that the contract run is not cut short."""
    app.config["BOOKINGS_PER_MINUTE"] = 1
    doc = await (await client.get("/api/v1/openapi.json")).get_json()
    body = {"slot_id": slot.id, "name": "Ana", "contact": "rate@example.com"}
    assert (await client.post("/api/v1/bookings", json=body)).status_code == 201
    refused = await client.post("/api/v1/bookings", json=body)
    assert refused.status_code == 429 and re.fullmatch(r"[1-9][0-9]*", refused.headers["Retry-After"])
    documented = doc["paths"]["/api/v1/bookings"]["post"]["responses"]["429"]["content"]["application/json"]["schema"]
    jsonschema_rs.validator_for({**doc, **documented}).validate(await refused.get_json())


# -- the document and the docs


def test_the_document_is_valid_openapi_3_1(contract):
    contract.validate()  # against the Open API 3.1 meta-schema
    assert contract.raw_schema["openapi"] == "3.1.0"
    assert {op.ok().label for op in contract.get_all_operations()} >= {
        "GET /api/v1/venues/{venue}/resources/{resource}/slots/stream",
        "POST /api/v1/bookings/{reference}/reschedule",
    }


def test_every_api_route_is_documented_and_nothing_else():
    app = create_app({"DATABASE_URL": "sqlite:///:memory:", "SECRET_KEY": "test"})
    routes = {
        (r.rule, m)
        for r in app.url_map.iter_rules()
        if r.rule.startswith("/api/v1/")
        for m in r.methods - {"HEAD", "OPTIONS"}
    }
    paths = document(app)["paths"]
    assert len(routes) >= 12  # the 10 operations of views/api.py, this document and its docs
    assert {(re.sub(r"{(\w+)}", r"<\1>", p), m.upper()) for p in paths for m in paths[p]} == routes


def test_a_route_without_a_contract_has_no_document():
    app = create_app({"DATABASE_URL": "sqlite:///:memory:", "SECRET_KEY": "test"})

    async def extra():
        return {}

    app.add_url_rule("/api/v1/extra", "extra", extra)
    with pytest.raises(Undocumented, match="/api/v1/extra"):
        document(app)


async def test_the_docs_page_shows_the_document_with_the_vendored_component(client):
    response = await client.get("/api/v1/docs")
    page = await response.get_data(as_text=True)
    assert response.status_code == 200 and response.mimetype == "text/html"
    script = re.search(r'<script src="(/static/vendor/rapidoc-9\.3\.8\.min\.js\?v=\w+)" defer></script>', page)
    assert script and '<rapi-doc spec-url="/api/v1/openapi.json"' in page
    assert "://" not in page  # nothing from another host: no CDN
    assert re.findall(r"<script\b", page) == ["<script"]  # the component's file alone: no script of ours
    component = await client.get(script.group(1))
    assert component.status_code == 200 and b'customElements.define("rapi-doc"' in await component.get_data()
    # The relaxed policy is this page's alone.
    assert "style-src 'self' 'unsafe-inline'" in response.headers["Content-Security-Policy"]
    assert "unsafe-inline" not in (await client.get("/api/v1/venues")).headers["Content-Security-Policy"]


async def test_the_document_is_served_as_json_and_lists_every_error_status(client):
    response = await client.get("/api/v1/openapi.json")
    doc = await response.get_json()
    booking = doc["paths"]["/api/v1/bookings"]["post"]["responses"]
    assert set(booking) == {"201", "400", "401", "403", "404", "409", "413", "415", "422", "429", "503"}
    assert booking["429"]["headers"]["Retry-After"]["required"] is True
    assert booking["503"]["headers"]["Retry-After"]["required"] is True
    outage = booking["503"]["content"]["application/json"]["schema"]["allOf"][1]["properties"]["code"]["enum"]
    assert outage == ["unavailable", "outcome_unknown"]
    assert "safe" in doc["components"]["parameters"]["Idempotency-Key"]["description"]
    conflicts = booking["409"]["content"]["application/json"]["schema"]["allOf"][1]["properties"]["code"]["enum"]
    assert "booking_cancelled" in conflicts
    scheme = doc["components"]["securitySchemes"]["apiKey"]
    assert (scheme["type"], scheme["scheme"]) == ("http", "bearer") and "/admin/api-keys" in scheme["description"]
    assert doc["paths"]["/api/v1/bookings"]["post"]["security"] == [{"apiKey": ["bookings:write"]}, {}]
    keyed = {  # every keyed operation needs its scope; the public ones need none
        (path, method): op["security"]
        for path, ops in doc["paths"].items()
        for method, op in ops.items()
        if "security" in op
    }
    assert keyed == {
        ("/api/v1/bookings", "post"): [{"apiKey": ["bookings:write"]}, {}],
        ("/api/v1/bookings/{reference}", "get"): [{"apiKey": ["bookings:read"]}, {}],
        ("/api/v1/bookings/{reference}/attendance", "post"): [{"apiKey": ["attendance:write"]}],
        ("/api/v1/venues/{venue}/bookings", "get"): [{"apiKey": ["bookings:read"]}],
        ("/api/v1/venues/{venue}/webhooks", "get"): [{"apiKey": ["webhooks:manage"]}],
        ("/api/v1/venues/{venue}/webhooks", "post"): [{"apiKey": ["webhooks:manage"]}],
        ("/api/v1/venues/{venue}/webhooks", "delete"): [{"apiKey": ["webhooks:manage"]}],
    }
    refusals = doc["paths"]["/api/v1/venues/{venue}/bookings"]["get"]["responses"]["403"]["content"]
    assert refusals["application/json"]["schema"]["allOf"][1]["properties"]["code"]["enum"] == [
        "forbidden",
        "insufficient_scope",
        "other_venue",
    ]
    stream = doc["paths"]["/api/v1/venues/{venue}/resources/{resource}/slots/stream"]["get"]["responses"]["200"]
    assert list(stream["content"]) == ["text/event-stream"]


@pytest.mark.browser
def test_the_docs_render_in_a_browser_under_their_policy(live, new_page):
    """RapiDoc draws every operation from the document; new_page fails on anything the page's CSP refused."""
    page = new_page()
    elsewhere = []
    page.on("request", lambda r: r.url.startswith((live.url, "data:")) or elsewhere.append(r.url))
    page.goto(f"{live.url}/api/v1/docs")
    page.get_by_text("/api/v1/waitlist/{reference}/leave").first.wait_for()
    assert page.get_by_text("/api/v1/venues/{venue}/resources/{resource}/slots/stream").count()
    assert not elsewhere  # no CDN, no web font
