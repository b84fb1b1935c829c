"""Slotcast: create_app() builds the Quart app; `python app.py` serves it with Hypercorn."""

from __future__ import annotations

import asyncio
import os
import secrets
import signal
from datetime import UTC, datetime
from pathlib import Path

from quart import Quart

import views
from booking import demo
from booking.hub import Hub
from booking.store import Store, open_store
from views.events import renderer
from views.services import Services

ROOT = Path(__file__).resolve().parent
DEFAULTS = dict(
    DATABASE_URL="sqlite:///instance/slotcast.db",
    DEMO=False,
    SECRET_KEY=None,
    HEARTBEAT_SECONDS=15.0,
    SSE_RETRY_MS=2000,
    SLOT_REFRESH_SECONDS=600,
    MAX_CONTENT_LENGTH=64 * 1024,
)


class Slotcast(Quart):
    """Quart that can build URLs outside a request (the hub renders fragments there)."""

    def create_url_adapter(self, request):
        adapter = super().create_url_adapter(request)
        return adapter if adapter or request is not None else self.url_map.bind("localhost")


def create_app(config: dict | None = None) -> Quart:
    """The app, configured from DEFAULTS, SLOTCAST_* environment variables, then `config`."""
    app = Slotcast(__name__, instance_path=str(ROOT / "instance"))
    app.config.from_mapping(DEFAULTS)
    app.config.from_prefixed_env("SLOTCAST")
    app.config.update(config or {})
    app.config["SECRET_KEY"] = app.config["SECRET_KEY"] or instance_secret(Path(app.instance_path))
    app.config.update(SESSION_COOKIE_SAMESITE="Lax", SESSION_COOKIE_HTTPONLY=True)
    views.init_app(app)

    @app.before_serving
    async def start() -> None:
        store = open_store(app.config["DATABASE_URL"], ROOT)
        await store.open()
        if app.config["DEMO"] and not await store.venues():
            await demo.seed(store)
        await store.extend_slots(datetime.now(UTC))
        hub = Hub(renderer(app), heartbeat=float(app.config["HEARTBEAT_SECONDS"]))
        # Own tasks, not add_background_task: Quart would wait for those before after_serving runs.
        loops = [asyncio.create_task(hub.beat()), asyncio.create_task(keep_slots_ahead(store, hub, app.config))]
        app.extensions["slotcast"] = Services(store, hub, loops)

    @app.after_serving
    async def stop() -> None:
        services = app.extensions.pop("slotcast", None)
        if services:
            services.hub.close()
            await asyncio.gather(*services.loops)
            await services.store.close()

    return app


async def keep_slots_ahead(store: Store, hub: Hub, config) -> None:
    """Create new days' slots as days pass, so every resource stays bookable to its horizon."""
    while await hub.running_after(float(config["SLOT_REFRESH_SECONDS"])):
        await store.extend_slots(datetime.now(UTC))


def instance_secret(folder: Path) -> str:
    """A secret key kept under instance/, made on first start."""
    path = folder / "secret_key"
    if not path.exists():
        folder.mkdir(parents=True, exist_ok=True)
        path.write_text(secrets.token_urlsafe(32))
        path.chmod(0o600)
    return path.read_text().strip()


async def serve(app: Quart, bind: str) -> None:
    """Serve with Hypercorn; on SIGTERM/SIGINT end the open streams first, so shutdown is prompt."""
    from hypercorn.asyncio import serve as hypercorn_serve
    from hypercorn.config import Config

    config = Config()
    config.bind = [bind]
    config.backlog = 4096
    config.graceful_timeout = 5
    config.accesslog = None
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)

    async def shutdown_trigger() -> None:
        await stop.wait()
        if "slotcast" in app.extensions:
            app.extensions["slotcast"].hub.close()

    await hypercorn_serve(app, config, shutdown_trigger=shutdown_trigger)


if __name__ == "__main__":
    host = os.environ.get("HOST", "127.0.0.1")
    asyncio.run(serve(create_app(), f"{host}:{os.environ.get('PORT', '8000')}"))
