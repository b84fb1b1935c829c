"""The store the app uses, and the factory that opens one from a database URL."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from urllib.parse import urlsplit

from .outages import Waits
from .outbox import Notices
from .sql import SqlStore

Store = SqlStore  # one definition: the SQL store, over whichever engine the URL names


def sqlite_path(url: str, root: Path) -> Path:
    """The file of a `sqlite:///relative` or `sqlite:////absolute` URL."""
    path = url.removeprefix("sqlite:///")
    return Path(path) if path.startswith("/") else root / path


def open_store(
    url: str,
    root: Path,
    notify: Callable[..., object] = lambda *topics: None,
    offer_for: timedelta = timedelta(minutes=10),
    notices: Notices = Notices(),
    waits: Waits = Waits(),
) -> Store:
    """A store for the URL's engine (not yet opened); `notify(*topics)` hears what each commit changed, a
    waitlist offer holds its places for `offer_for`, `notices` says which e-mails the outbox gets, and `waits`
    bounds what PostgreSQL makes a request wait for."""
    scheme = urlsplit(url).scheme
    if scheme == "sqlite":
        from .sqlite import SqliteDatabase

        return SqlStore(SqliteDatabase(sqlite_path(url, root)), notify, offer_for, notices)
    if scheme in ("postgresql", "postgres"):
        from .postgres import PostgresDatabase

        return SqlStore(PostgresDatabase(url, waits=waits), notify, offer_for, notices)
    raise ValueError(f"unsupported database URL: {url!r} (use sqlite:///… or postgresql://…)")
