"""Fixtures: an app on a fresh SQLite file with one test venue, its client, store and hub."""

from __future__ import annotations

import os
from datetime import UTC, datetime, time, timedelta

import pytest

from app import create_app
from booking.clock import SystemClock
from booking.model import OpeningRule, local_today
from tests.support.helpers import log_in, midday_zone, password_hash

EVERY_DAY = [OpeningRule(d, time(8), time(20), 60, 10) for d in range(7)]


@pytest.fixture
def clock():
    """The app's clock: the system's (a test module steers time by overriding this with a ManualClock)."""
    return SystemClock()


@pytest.fixture
def app_config():
    """Settings a test module gives its app on top of the tests' own (override it)."""
    return {}


@pytest.fixture
async def app(tmp_path, request, clock, app_config):
    """The app, started (before_serving ran), on its own database (PostgreSQL if SLOTCAST_TEST_ENGINE=postgres)."""
    on_postgres = os.environ.get("SLOTCAST_TEST_ENGINE") == "postgres"
    url = request.getfixturevalue("pg_url") if on_postgres else f"sqlite:///{tmp_path}/test.db"
    app = create_app({"DATABASE_URL": url, "SECRET_KEY": "test", "TESTING": True, **app_config}, clock=clock)
    async with app.test_app():
        store = app.extensions["slotcast"].store
        venue_id = await store.add_venue("test-bistro", "Test Bistro", "restaurant", "UTC")
        await store.add_resource(venue_id, "tables", "Tables", EVERY_DAY, max_party=4, horizon_days=7)
        await store.add_resource(venue_id, "bar", "Bar seats", [OpeningRule(d, time(18), time(20), 60, 2) for d in range(7)])
        await store.extend_slots(clock.now())
        yield app


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def store(app):
    return app.extensions["slotcast"].store


@pytest.fixture
def hub(app):
    return app.extensions["slotcast"].hub


@pytest.fixture
def service(app):
    """Every write, as the views make it."""
    return app.extensions["slotcast"].service


@pytest.fixture
def tomorrow():
    return local_today("UTC") + timedelta(days=1)


@pytest.fixture
async def venue(store):
    return await store.venue("test-bistro")


@pytest.fixture
async def slot(store, venue, tomorrow):
    """Tomorrow's 08:00 slot of the test bistro's tables: capacity 10, parties up to 4."""
    return (await store.slots_for_day(venue.resource("tables").id, tomorrow))[0]


@pytest.fixture(scope="session")
def postgres():
    """A throwaway PostgreSQL server for the whole run; a test that needs it fails (never skips) without it."""
    from tests.support.postgres_server import PostgresServer

    server = PostgresServer().start()
    yield server
    server.stop()


@pytest.fixture
def pg_url(postgres, request):
    """The URL of a new, empty PostgreSQL database of its own, dropped after the test."""
    name = "t_" + "".join(c if c.isalnum() else "_" for c in request.node.name.lower())[:50]
    postgres.drop_database(name)
    yield postgres.create_database(name)
    postgres.drop_database(name)


# -- staff


@pytest.fixture
async def staff(store):
    """A staff account 'admin' with password PASSWORD."""
    await store.set_staff_password("admin", password_hash())


@pytest.fixture
async def admin(client, staff):
    """The test client, logged in as staff."""
    response = await log_in(client)
    assert response.status_code == 303
    assert (await client.get(response.headers["Location"])).status_code == 200  # as a browser would: a new token
    return client


@pytest.fixture
def stranger(app):
    """Another browser: nobody logged in."""
    return app.test_client()


@pytest.fixture
async def clinic(store):
    """A clinic where it is now midday: today has sessions gone by, one under way and more to come.

    Dr Li (tickets A…) and Dr Wang (tickets B…) each see 5 patients an hour, 08:00-20:00.
    """
    venue_id = await store.add_venue("town-clinic", "Town Clinic", "clinic", midday_zone())
    rules = [OpeningRule(d, time(8), time(20), 60, 5) for d in range(7)]
    await store.add_resource(venue_id, "dr-li", "Dr Li", rules, horizon_days=3)
    await store.add_resource(venue_id, "dr-wang", "Dr Wang", rules, horizon_days=3)
    await store.extend_slots(datetime.now(UTC))
    return await store.venue("town-clinic")
