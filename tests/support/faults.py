"""Real faults for the tests: a disk that fills up (a small tmpfs), a PostgreSQL database that refuses and drops
connections, a session frozen inside its transaction, and a process stopped with SIGSTOP."""

from __future__ import annotations

import asyncio
import errno
import os
import shutil
import subprocess
import tempfile
from contextlib import asynccontextmanager
from pathlib import Path

import asyncpg

from booking.outages import Waits

# A real full disk, not SQLite's max_page_count: the kernel's ENOSPC reaches SQLite as it would on a server (a WAL
# that cannot grow, a COMMIT that fails), and the free space /readyz reads is the file system's own.
SUDO = [] if os.geteuid() == 0 else ["sudo", "-n"]


class SmallDisk:
    """A tmpfs of `size` (e.g. "16m") mounted on a new folder, which `fill()` fills up and `free()` frees."""

    def __init__(self, size: str = "16m"):
        self.size = size
        self.path = Path(tempfile.mkdtemp(prefix="slotcast-disk-"))
        self.filler = self.path / "filler"

    def __enter__(self) -> SmallDisk:
        mounted = subprocess.run(
            [*SUDO, "mount", "-t", "tmpfs", "-o", f"size={self.size},mode=0777", "tmpfs", str(self.path)],
            capture_output=True,
            text=True,
            check=False,
        )
        if mounted.returncode:
            raise RuntimeError(
                f"a full-disk test mounts a small tmpfs: it needs root or passwordless sudo ({mounted.stderr.strip()})"
            )
        return self

    def __exit__(self, *exc) -> None:
        subprocess.run([*SUDO, "umount", "-l", str(self.path)], check=False)
        shutil.rmtree(self.path, ignore_errors=True)

    def fill(self) -> None:
        """Write until the file system has no byte left."""
        with self.filler.open("ab", buffering=0) as filler:
            for chunk in (1 << 20, 4096, 1):
                try:
                    while filler.write(b"\0" * chunk):
                        pass
                except OSError as error:
                    if error.errno != errno.ENOSPC:
                        raise

    def free(self) -> None:
        self.filler.unlink(missing_ok=True)


async def sql(postgres, statement: str, database: str = "postgres") -> str:
    """One statement through psql, off the event loop (the app under test shares it)."""
    return await asyncio.to_thread(postgres.sql, statement, database)


@asynccontextmanager
async def database_away(postgres, name: str):
    """The database `name` refuses new connections and drops the ones it has, until the block ends: to a client,
    the same as a server restarting."""
    await sql(postgres, f'ALTER DATABASE "{name}" WITH ALLOW_CONNECTIONS false')
    try:
        await sql(postgres, f"SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '{name}'")
        yield
    finally:
        await sql(postgres, f'ALTER DATABASE "{name}" WITH ALLOW_CONNECTIONS true')


async def frozen_session(url: str, statement: str, *args, idle_in_transaction: float) -> asyncpg.Connection:
    """A connection set up as a worker's is, stopped inside its transaction just after `statement` (its locks
    held), as a worker frozen there leaves it; the server ends it after `idle_in_transaction` seconds."""
    settings = Waits(idle_in_transaction=idle_in_transaction).server_settings()
    db = await asyncpg.connect(url, server_settings={"application_name": "frozen-worker", **settings})
    await db.execute("BEGIN")
    await db.execute(statement, *args)
    return db
