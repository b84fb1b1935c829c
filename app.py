"""Slotcast: create_app() builds the Quart app; `python app.py` serves it with Hypercorn."""

from __future__ import annotations

import asyncio
import gc
import logging
import os
import resource
import secrets
import signal
import socket
import sys
from datetime import timedelta
from pathlib import Path

import click
from hypercorn.config import Config
from quart import Quart
from werkzeug.routing import MapAdapter

import views
from booking import access, demo, keys, topics
from booking.clock import SystemClock
from booking.hub import Hub
from booking.outages import Waits
from booking.outbox import Notices
from booking.service import Invalid, Service
from booking.store import Store, open_store, sqlite_path
from booking.tasks import Readiness, Supervisor
from delivery.sender import Sender, prune
from live.render import renderer
from live.wire import FAREWELL, PING
from middleware.headers import served_over_https
from views.auth import hash_password
from web.links import base_url, listen_url
from web.runtime import Runtime

ROOT = Path(__file__).resolve().parent
log = logging.getLogger("slotcast")
DRAW_CHECK_SECONDS = 5.0  # how often the draws loop looks again for draws whose entries open (see keep_draws)
DEMO_PASSWORD = "slotcast"  # `make run`'s staff password: refused outside demo mode
DEFAULTS = dict(
    DATABASE_URL="sqlite:///instance/slotcast.db",
    DEMO=False,
    SECRET_KEY=None,
    HEARTBEAT_SECONDS=15.0,
    SSE_RETRY_MS=2000,
    SSE_MAX_PER_CLIENT=200,  # one address may be a whole waiting room behind NAT
    SSE_MAX_STREAMS=10_000,  # per process; measured in bench/
    WRITE_TIMEOUT_SECONDS=30,  # a peer that accepts no data for this long is dropped (python app.py)
    GC_THRESHOLDS=[2000, 10, 1000],  # Python's default is [2000, 10, 10]
    SLOT_REFRESH_SECONDS=600,
    ADMIN_PASSWORD=None,
    CERTFILE=None,  # with KEYFILE: `python app.py` serves HTTPS, and HTTP/2 through ALPN
    KEYFILE=None,
    PUBLIC_URL=None,  # e.g. https://book.example.org: links that leave the site (a booking's manage link) use it
    TRUSTED_PROXIES="",  # our own proxies' addresses, comma-separated: only they may say X-Forwarded-For
    MAX_CONTENT_LENGTH=64 * 1024,
    REQUESTS_AT_ONCE=128,  # requests inside the app at once, per process; the rest wait their turn (views/admission)
    BOOKINGS_PER_MINUTE=60,  # booking attempts per client address (0: no limit); many people share a clinic's Wi-Fi
    API_KEY_CALLS_PER_MINUTE=600,  # calls per API key, whatever their address (0: no limit)
    OFFER_MINUTES=10,  # a place freed for the waitlist is held this long for the one it is offered to
    OFFER_CHECK_SECONDS=5,  # how often offers past their time are passed on
    DRAIN_SECONDS=1.0,  # on SIGTERM, /readyz says 503 this long before the streams close (raise it behind a balancer)
    METRICS_TOKEN=None,  # GET /metrics needs "Authorization: Bearer <token>"; unset: no /metrics
    LOG_FORMAT="text",  # or "json": one line per request and per closed stream
    SMTP_URL=None,  # e.g. smtp://user:pass@host:587 (STARTTLS when offered) or smtps://…: bookings with an e-mail
    MAIL_FROM=None,  # address get a confirmation, notices and a reminder; either unset: no e-mail at all
    MAIL_REMIND_HOURS=24,  # the reminder (e-mail and text), this long before the booked time (0: none)
    SMS_URL=None,  # a Twilio-compatible Messages API: https://ACCOUNT:TOKEN@api.twilio.com/2010-04-01/Accounts/ACCOUNT
    SMS_FROM=None,  # the number (E.164) or sender name texts come from; either unset: no text messages at all
    WEBHOOKS_ALLOW_PRIVATE=False,  # webhooks to loopback or private addresses are refused unless this is set
    WEBHOOK_TIMEOUT_SECONDS=10,
    OUTBOX_RETRY_SECONDS=30,  # a failed delivery is tried again after this, doubling to an hour at most,
    OUTBOX_GIVE_UP_HOURS=24,  # for this long
    OUTBOX_LEASE_SECONDS=120,  # a claimed delivery whose sender died is due again after this
    OUTBOX_KEEP_DAYS=7,  # settled deliveries stay on staff's record this long
    RETENTION_DAYS=90,  # names and contacts of bookings that ended longer ago are erased, daily
    READY_CHECK_SECONDS=2.0,  # /readyz answers from a check made this often in the background (a write rolled back)
    READY_TIMEOUT_SECONDS=1.0,  # a check whose write takes longer says "not ready"
    PG_LOCK_TIMEOUT_SECONDS=2.0,  # PostgreSQL: a request waits this long at most for another process's lock (503)
    PG_STATEMENT_TIMEOUT_SECONDS=10.0,  # PostgreSQL: a statement running longer is cancelled (503; 0: no bound)
    PG_IDLE_IN_TRANSACTION_SECONDS=5.0,  # PostgreSQL: a session idle this long inside a transaction (a frozen
    #                                      worker's) is ended by the server, and the locks it held go with it
)


class Slotcast(Quart):
    """Quart that can build URLs outside a request (the hub renders fragments there: the adapter is bound once, as
    binding costs more than a small fragment's render)."""

    _outside: MapAdapter | None = None

    def create_url_adapter(self, request):
        adapter = super().create_url_adapter(request)
        if adapter or request is not None:
            return adapter
        if self._outside is None:
            self._outside = self.url_map.bind("localhost")
        return self._outside


def create_app(config: dict | None = None, clock=None) -> Quart:
    """The app, configured from DEFAULTS, SLOTCAST_* environment variables, then `config`; on the system's clock
    unless given another (tests steer time with booking.clock.ManualClock)."""
    clock = clock or SystemClock()
    app = Slotcast(__name__, instance_path=str(ROOT / "instance"), static_folder=None)  # views/assets.py serves it
    app.config.from_mapping(DEFAULTS)
    app.config.from_prefixed_env("SLOTCAST")
    app.config.update(config or {})
    app.config["SECRET_KEY"] = str(app.config["SECRET_KEY"] or instance_secret(Path(app.instance_path)))
    app.config.update(SESSION_COOKIE_SAMESITE="Lax", SESSION_COOKIE_HTTPONLY=True)
    if served_over_https(app.config):  # a __Host- cookie: sent only over HTTPS, only to this host, for every path
        app.config.update(
            SESSION_COOKIE_NAME="__Host-session",
            SESSION_COOKIE_SECURE=True,
            SESSION_COOKIE_PATH="/",
            SESSION_COOKIE_DOMAIN=None,
        )
    views.init_app(app)
    add_commands(app)

    @app.before_serving
    async def start() -> None:
        metrics = app.extensions["slotcast.metrics"]
        hub = Hub(
            renderer(app),
            clock=clock,
            heartbeat=float(app.config["HEARTBEAT_SECONDS"]),
            ping=PING,
            farewell=FAREWELL,
            on_broadcast=metrics.broadcast,
        )
        sender = None

        def changed(*names: str) -> None:  # what a commit, here or in another process, changed
            hub.notify(*names)
            if topics.OUTBOX in names:
                sender.wake()

        store = open_store(
            app.config["DATABASE_URL"],
            ROOT,
            notify=changed,
            offer_for=timedelta(minutes=float(app.config["OFFER_MINUTES"])),
            notices=notices(app.config),
            waits=waits(app.config),
        )
        await store.open()
        sender = Sender(app, store, clock)
        warn_without_public_url(app.config, await store.webhooks())
        service = Service(store, clock, observe=metrics.booking)
        if app.config["DEMO"] and not await store.venues():
            await demo.seed(store)
        await store.extend_slots(clock.now())
        if app.config["ADMIN_PASSWORD"]:  # kept only as a hash, and only for a new account
            password = str(app.config.pop("ADMIN_PASSWORD"))
            if password == DEMO_PASSWORD and not app.config["DEMO"]:
                raise RuntimeError(f"SLOTCAST_ADMIN_PASSWORD={DEMO_PASSWORD} is the demo's: choose another")
            await service.add_staff("admin", hash_password(password))
        tasks = Supervisor(hub, on_restart=metrics.task_restarted)
        readiness = Readiness(
            store,
            tasks,
            budget=float(app.config["READY_TIMEOUT_SECONDS"]),
            every=float(app.config["READY_CHECK_SECONDS"]),
        )
        running = Runtime(store, service, hub, clock, tasks, readiness)
        start_tasks(running, app.config, sender, changed)
        await readiness.first()
        app.extensions["slotcast"] = running

    @app.after_serving
    async def stop() -> None:
        running = app.extensions.pop("slotcast", None)
        if running:
            running.hub.close()
            await running.tasks.stopped()
            await running.store.close()

    return app


def start_tasks(running: Runtime, config, sender: Sender, changed) -> None:
    """Every background task, supervised: each outlives its errors (logged, then tried again) until the hub closes.
    Own tasks, not add_background_task: Quart would wait for those before after_serving runs."""
    tasks, store, service, hub, clock = running.tasks, running.store, running.service, running.hub, running.clock
    tasks.keep("heartbeat", hub.beat)
    tasks.keep("expire_renders", hub.expire)
    tasks.keep("relay_changes", lambda: relay_changes(store, hub, changed))
    tasks.keep("send_outbox", lambda: sender.run(hub.closed()))
    tasks.every("readiness", running.readiness.every, running.readiness.check)
    # Waitlist offers past their time pass to the next in line (every process may do it: each offer once).
    tasks.every("pass_on_offers", float(config["OFFER_CHECK_SECONDS"]), service.expire_offers)
    # New days' slots as days pass, so every resource stays bookable to its horizon.
    tasks.every("keep_slots_ahead", float(config["SLOT_REFRESH_SECONDS"]), lambda: store.extend_slots(clock.now()))
    # Daily from start-up: personal data of bookings that ended more than RETENTION_DAYS ago is erased.
    retention = timedelta(days=float(config["RETENTION_DAYS"]))
    tasks.every("forget_old_people", 86400, lambda: service.erase_ended(retention), now=True)
    # Hourly: settled deliveries older than OUTBOX_KEEP_DAYS leave staff's record.
    tasks.every("forget_old_deliveries", 3600, lambda: prune(store, clock.now(), float(config["OUTBOX_KEEP_DAYS"])))
    keep_draws(tasks, service, hub, clock)


def keep_draws(tasks: Supervisor, service: Service, hub: Hub, clock) -> None:
    """Each draw (抽签) opened when its entries open and drawn at its instant (every process may: each draw once):
    a step at the next instant the last one knew of, and every DRAW_CHECK_SECONDS for schedules changed meanwhile."""
    coming = None

    async def step() -> None:
        nonlocal coming
        coming = await service.keep_draws()

    async def pause() -> bool:
        check = clock.now() + timedelta(seconds=DRAW_CHECK_SECONDS)
        waiting = asyncio.ensure_future(clock.wait(asyncio.Event(), min(coming or check, check)))
        closing = asyncio.ensure_future(hub.closed())  # a ManualClock's wait ends only when it is moved
        try:
            await asyncio.wait((waiting, closing), return_when=asyncio.FIRST_COMPLETED)
        finally:
            waiting.cancel()
            closing.cancel()
        return not hub.closing

    tasks.every("keep_draws", DRAW_CHECK_SECONDS, step, now=True, pause=pause)


def notices(config) -> Notices:
    """What the outbox gets besides webhooks: e-mails when a mail server and sender are set, text messages when a
    provider and sender are, and the reminder."""
    hours = float(config["MAIL_REMIND_HOURS"])
    return Notices(
        mail=bool(config["SMTP_URL"] and config["MAIL_FROM"]),
        sms=bool(config["SMS_URL"] and config["SMS_FROM"]),
        remind_before=timedelta(hours=hours) if hours else None,
    )


def warn_without_public_url(config, webhooks: list) -> None:
    """Outside demo mode, say at start that what is sent out links to the address this server listens on."""
    told = notices(config)
    sends = [what for what, on in (("e-mail", told.mail), ("text messages", told.sms), ("webhooks", webhooks)) if on]
    if sends and not config["PUBLIC_URL"] and not config["DEMO"]:
        log.warning(
            "SLOTCAST_PUBLIC_URL is not set, and this server sends %s: links that leave the site point at %s."
            " Set SLOTCAST_PUBLIC_URL to the address people use.",
            " and ".join(sends),
            base_url(),
        )


def waits(config) -> Waits:
    """PostgreSQL's bounds on a request's waits, from the PG_* settings."""
    return Waits(
        lock=float(config["PG_LOCK_TIMEOUT_SECONDS"]),
        statement=float(config["PG_STATEMENT_TIMEOUT_SECONDS"]),
        idle_in_transaction=float(config["PG_IDLE_IN_TRANSACTION_SECONDS"]),
    )


async def relay_changes(store: Store, hub: Hub, changed) -> None:
    """Hand other processes' changes (PostgreSQL LISTEN) to the hub and the sender until the hub closes; a listener
    that fails raises here (SQLite's has nothing to listen to and returns at once)."""
    listening, closing = asyncio.ensure_future(store.listen(changed, hub.resync)), asyncio.ensure_future(hub.closed())
    try:
        await asyncio.wait([listening, closing], return_when=asyncio.FIRST_COMPLETED)
        if listening.done():
            listening.result()
            await closing
    finally:
        listening.cancel()
        closing.cancel()
        await asyncio.gather(listening, closing, return_exceptions=True)


def add_commands(app: Quart) -> None:
    """`create-admin NAME` sets an owner's password; `create-staff NAME --role … --venue …` makes an account of a
    role; `create-api-key NAME --venue … --scope …` an API key; `backup PATH` copies the SQLite database."""

    @app.cli.command("create-admin")
    @click.argument("username")
    @click.password_option()
    def create_admin(username: str, password: str) -> None:
        asyncio.run(save_staff(app, username, password, access.OWNER, ()))
        click.echo(f"Staff account {username!r} is ready.")

    @app.cli.command("create-staff")
    @click.argument("username")
    @click.option("--role", type=click.Choice(access.ROLES), required=True, help="owner, manager or desk.")
    @click.option("--venue", "venues", multiple=True, help="A venue's slug (repeatable); an owner needs none.")
    @click.option("--password-stdin", is_flag=True, help="Read the password from the first line of stdin.")
    def create_staff(username: str, role: str, venues: tuple[str, ...], password_stdin: bool) -> None:
        """`create-staff NAME --role desk --venue SLUG`: an account of that role on those venues."""
        password = (
            sys.stdin.readline().rstrip("\r\n")
            if password_stdin
            else click.prompt("Password", hide_input=True, confirmation_prompt=True)
        )
        asyncio.run(save_staff(app, username, password, role, venues))
        click.echo(f"Staff account {username!r} ({role}) is ready.")

    @app.cli.command("create-api-key")
    @click.argument("name")
    @click.option("--venue", "venues", multiple=True, required=True, help="A venue's slug (repeatable).")
    @click.option("--scope", "scopes", multiple=True, required=True, type=click.Choice(keys.SCOPES))
    def create_api_key(name: str, venues: tuple[str, ...], scopes: tuple[str, ...]) -> None:
        """`create-api-key NAME --venue SLUG --scope bookings:read`: prints the key, once (only its hash is kept)."""
        key = asyncio.run(save_api_key(app, name, venues, frozenset(scopes)))
        click.echo(f"API key {name!r}: {key}")
        click.echo("Keep it now: it is not shown again.", err=True)

    @app.cli.command("backup")
    @click.argument("path", type=click.Path(dir_okay=False, path_type=Path))
    def backup(path: Path) -> None:
        """`quart --app app:create_app backup PATH`: a consistent copy of the SQLite database, while it serves."""
        url = app.config["DATABASE_URL"]
        if not url.startswith("sqlite"):
            raise click.ClickException("This database is PostgreSQL: back it up with pg_dump (see the README).")
        from booking.sqlite import backup as sqlite_backup

        sqlite_backup(sqlite_path(url, ROOT), path)
        click.echo(f"Backed up to {path}.")


async def save_staff(app: Quart, username: str, password: str, role: str, slugs: tuple[str, ...]) -> None:
    """Create a staff account (or set its password) with a role on the venues named (a ClickException if wrong)."""
    if not username.strip() or not password:
        raise click.ClickException("Give a name and a password.")
    if (problem := access.problem(role, slugs)) is not None:
        raise click.ClickException(
            "Give at least one --venue for a manager or desk account."
            if problem == "venues"
            else f"Unknown role {role!r}."
        )
    store = open_store(app.config["DATABASE_URL"], ROOT)
    await store.open()
    try:
        service, venue_ids = Service(store, SystemClock()), await venue_ids_of(store, slugs)
        if await service.create_staff(username, role, venue_ids) is None:  # an account of that name: changed
            await service.set_staff_access(username, role, venue_ids)
        await service.set_staff_password(username, hash_password(password))
    except access.LastOwner:
        raise click.ClickException(f"{username!r} is the last enabled owner: make another owner first.") from None
    finally:
        await store.close()


async def venue_ids_of(store, slugs: tuple[str, ...]) -> frozenset[int]:
    """The ids of the venues a command names (a ClickException if one is unknown)."""
    venues = [(slug, await store.venue(slug)) for slug in slugs]
    if unknown := [slug for slug, venue in venues if venue is None]:
        raise click.ClickException(f"No venue with the slug {', '.join(unknown)}.")
    return frozenset(venue.id for _slug, venue in venues)


async def save_api_key(app: Quart, name: str, slugs: tuple[str, ...], scopes: frozenset[str]) -> str:
    """Make an API key on the venues named (a ClickException if one is unknown or the name will not do)."""
    store = open_store(app.config["DATABASE_URL"], ROOT)
    await store.open()
    try:
        venue_ids, service = await venue_ids_of(store, slugs), Service(store, SystemClock())
        try:
            key, _key_id = await service.create_api_key(name, scopes, venue_ids, "cli")
        except Invalid as invalid:
            raise click.ClickException(
                f"Give a name of 1 to {keys.NAME_MAX} characters ({invalid.problems})."
            ) from None
        await service.record("cli", "-", "create_api_key", f"{name.strip()} ({key[: keys.SHOWN]}…)")
        return key
    finally:
        await store.close()


def instance_secret(folder: Path) -> str:
    """A secret key kept under instance/ (readable by this user only), made on first start."""
    folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    path = folder / "secret_key"
    try:
        with os.fdopen(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600), "w") as key:
            key.write(secrets.token_urlsafe(32))
    except FileExistsError:
        pass
    return path.read_text().strip()


class DroppingConfig(Config):
    """Hypercorn's config, whose sockets drop a peer that leaves sent data unacknowledged too long.

    Hypercorn has no write timeout: a stream's write waits in `drain()` for as long as the peer does not
    read (a stalled tab) or is gone without a word (a phone off the network). TCP_USER_TIMEOUT, inherited
    by every accepted socket, makes the kernel reset such a connection; the stream then ends as if closed.
    """

    write_timeout = 30.0

    def create_sockets(self):
        sockets = super().create_sockets()
        for sock in sockets.secure_sockets + sockets.insecure_sockets:
            if sock.family in (socket.AF_INET, socket.AF_INET6) and hasattr(socket, "TCP_USER_TIMEOUT"):
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_USER_TIMEOUT, int(self.write_timeout * 1000))
        return sockets


async def serve(app: Quart, bind: str) -> None:
    """Serve with Hypercorn; on SIGTERM/SIGINT end the open streams first, so shutdown is prompt."""
    from hypercorn.asyncio import serve as hypercorn_serve

    config = DroppingConfig()
    config.write_timeout = float(app.config["WRITE_TIMEOUT_SECONDS"])
    config.bind = [bind]
    app.config["LISTEN_URL"] = listen_url(bind, tls=bool(app.config["CERTFILE"] and app.config["KEYFILE"]))
    config.backlog = 4096
    config.graceful_timeout = 5
    config.accesslog = None
    if app.config["CERTFILE"] and app.config["KEYFILE"]:
        # With TLS, Hypercorn offers HTTP/2 through ALPN: many tabs' streams share one connection.
        config.certfile, config.keyfile = app.config["CERTFILE"], app.config["KEYFILE"]
    hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))  # one file per open stream
    # A full collection walks every live object, ~180 per open stream: 0.5-0.9 s at 10,000 streams (bench/).
    # Make full passes rarer (young ones stay as they are) and keep the imported modules out of them.
    gc.set_threshold(*app.config["GC_THRESHOLDS"])
    gc.freeze()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)

    async def shutdown_trigger() -> None:
        await stop.wait()
        if "slotcast" in app.extensions:
            running = app.extensions["slotcast"]
            running.draining = True  # /readyz turns 503: a balancer stops sending new pages
            await asyncio.sleep(float(app.config["DRAIN_SECONDS"]))
            running.hub.close()

    await hypercorn_serve(app, config, shutdown_trigger=shutdown_trigger)


if __name__ == "__main__":
    host = os.environ.get("HOST", "127.0.0.1")
    asyncio.run(serve(create_app(), f"{host}:{os.environ.get('PORT', '8000')}"))
