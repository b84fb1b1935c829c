"""Fixtures: an app on a fresh SQLite file with one test venue, its client, store and hub."""

from __future__ import annotations

import asyncio
import os
import shutil
import tempfile
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, time, timedelta
from pathlib import Path

import pytest
from jinja2.bccache import Bucket, BytecodeCache

from app import create_app
from booking.clock import SystemClock
from booking.model import OpeningRule, local_today
from tests.support.helpers import log_in, midday_zone, password_hash
from tests.support.routes import reuse_url_builders

EVERY_DAY = [OpeningRule(d, time(8), time(20), 60, 10) for d in range(7)]

# The tests' files (SQLite databases, the throwaway PostgreSQL, live servers' folders) in memory where the machine
# has it: on a disk, each commit's fsync made the run wait, the more so on a machine shared with other jobs.
if "TMPDIR" not in os.environ and os.access("/dev/shm", os.W_OK):
    os.environ["TMPDIR"] = tempfile.tempdir = "/dev/shm"


class Compiled(BytecodeCache):
    """Templates compiled once per process: each test's new app would parse and compile every template it renders
    again. Jinja checks each template's source against what was compiled."""

    def __init__(self):
        self.code: dict[str, bytes] = {}

    def load_bytecode(self, bucket: Bucket) -> None:
        if bucket.key in self.code:
            bucket.bytecode_from_string(self.code[bucket.key])

    def dump_bytecode(self, bucket: Bucket) -> None:
        self.code[bucket.key] = bucket.bytecode_to_string()


COMPILED = Compiled()
reuse_url_builders()  # each test's app would compile every route's URL builder again


def pytest_collection_modifyitems(config, items):
    """Under pytest-xdist (--dist loadfile --no-loadscope-reorder), the order workers are handed whole files in:
    first the files whose tests share a module-scoped fixture (a live server, a browser: the longest waits), then
    the rest, larger first, so that no long file is left to run alone at the end."""
    if not hasattr(config, "workerinput"):
        return
    files: dict[str, list] = {}
    for item in items:
        files.setdefault(item.nodeid.split("::")[0], []).append(item)

    def shares_a_server(tests) -> bool:
        return any(defs[-1].scope == "module" for test in tests for defs in test._fixtureinfo.name2fixturedefs.values())

    ordered = sorted(files.values(), key=lambda tests: (not shares_a_server(tests), -len(tests)))
    items[:] = [item for tests in ordered for item in tests]


@pytest.fixture
def clock():
    """The app's clock: the system's (a test module steers time by overriding this with a ManualClock)."""
    return SystemClock()


@pytest.fixture
def app_config():
    """Settings a test module gives its app on top of the tests' own (override it)."""
    return {}


@pytest.fixture
def database_url(tmp_path, request):
    """The app's own database: a copy of the migrated SQLite template, or with SLOTCAST_TEST_ENGINE=postgres of the
    PostgreSQL one (the migrations themselves are tested from empty databases in test_store)."""
    if os.environ.get("SLOTCAST_TEST_ENGINE") != "postgres":
        copy = tmp_path / "test.db"
        shutil.copyfile(request.getfixturevalue("sqlite_template"), copy)
        copy.chmod(0o600)
        return f"sqlite:///{copy}"
    return request.getfixturevalue("pg_migrated_url")


def migrate(url: str) -> None:
    """Open a store on `url` (which migrates it), then close it; on a thread of its own: this thread may hold a
    test's event loop already."""
    from booking.store import open_store

    async def opened_and_closed() -> None:
        store = open_store(url, Path(__file__).parent)
        await store.open()
        await store.close()

    with ThreadPoolExecutor(1) as thread:
        thread.submit(asyncio.run, opened_and_closed()).result()


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory):
    """A SQLite file with the app's schema migrated, made once per run (and per xdist worker): each test's app
    would run every migration on its empty file again."""
    path = tmp_path_factory.mktemp("template") / "migrated.db"
    migrate(f"sqlite:///{path}")
    return path


@pytest.fixture
async def app(database_url, clock, app_config):
    """The app, started (before_serving ran), on its own database (PostgreSQL if SLOTCAST_TEST_ENGINE=postgres)."""
    config = {"DATABASE_URL": database_url, "SECRET_KEY": "test", "TESTING": True, **app_config}
    app = create_app(config, clock=clock)
    app.jinja_env.bytecode_cache = COMPILED
    async with app.test_app():
        store = app.extensions["slotcast"].store
        venue_id = await store.add_venue("test-bistro", "Test Bistro", "restaurant", "UTC")
        await store.add_resource(venue_id, "tables", "Tables", EVERY_DAY, max_party=4, horizon_days=7)
        await store.add_resource(
            venue_id, "bar", "Bar seats", [OpeningRule(d, time(18), time(20), 60, 2) for d in range(7)]
        )
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


@pytest.fixture(scope="session")
def pg_template(postgres):
    """The name of a database with the app's schema migrated, made once per run (and per xdist worker)."""
    name = "slotcast_migrated"
    migrate(postgres.create_database(name, replace=True))
    return name


def database_of(postgres, request, prefix: str, template: str | None = None):
    """A new PostgreSQL database named after the test, a copy of `template` or empty; dropped after the test."""
    name = prefix + "".join(c if c.isalnum() else "_" for c in request.node.name.lower())[:50]
    yield postgres.create_database(name, template, replace=True)
    postgres.drop_database(name)


@pytest.fixture
def pg_url(postgres, request):
    """The URL of a new, empty PostgreSQL database of its own, dropped after the test."""
    yield from database_of(postgres, request, "t_")


@pytest.fixture
def pg_migrated_url(postgres, pg_template, request):
    """The URL of a new PostgreSQL database with the schema migrated, dropped after the test."""
    yield from database_of(postgres, request, "m_", pg_template)


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
