"""A throwaway PostgreSQL for tests and benchmarks: Debian's binaries, initdb into a temp folder, a free port."""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

from tests.support.live_server import free_port


def binaries() -> Path:
    """The folder of Debian's PostgreSQL programs (newest version), or of `initdb` on PATH."""
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=lambda p: int(p.split("/")[4]))
    initdb = found[-1] if found else shutil.which("initdb")
    if not initdb:
        raise RuntimeError("PostgreSQL is not installed: run `make postgres` (Debian's postgresql package)")
    return Path(initdb).resolve().parent


class PostgresServer:
    """A private PostgreSQL cluster on 127.0.0.1; `durable=False` turns fsync off for fast tests."""

    def __init__(self, durable: bool = False):
        self.bin = binaries()
        self.port = free_port()
        self.folder = Path(tempfile.mkdtemp(prefix="slotcast-pg-"))
        self.data = self.folder / "data"
        self.durable = durable
        # initdb refuses to run as root: then the cluster belongs to the `postgres` user.
        self.user = [] if os.geteuid() else ["runuser", "-u", "postgres", "--"]

    def url(self, database: str = "postgres") -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/{database}"

    def _run(self, program: str, *args: str, timeout: float = 60, as_owner: bool = True) -> str:
        # psql connects over TCP as the `postgres` role: it needs no runuser (~4 ms of CPU a call)
        done = subprocess.run(
            [*(self.user if as_owner else []), str(self.bin / program), *args],
            capture_output=True,
            text=True,
            timeout=timeout,
            cwd=self.folder,
        )
        if done.returncode:
            raise RuntimeError(f"{program} failed ({done.returncode}):\n{done.stdout}\n{done.stderr}\n{self.log()}")
        return done.stdout

    def start(self) -> PostgresServer:
        """initdb and start; raises with the server's log when PostgreSQL cannot be started."""
        began = time.monotonic()
        try:
            self._start()
        except BaseException:
            self.stop()
            raise
        self.started_in = time.monotonic() - began
        return self

    def _start(self) -> None:
        if self.user:
            try:
                pwd.getpwnam("postgres")
            except KeyError:
                raise RuntimeError(
                    "initdb refuses root, and there is no `postgres` user to run it as"
                    " (Debian's postgresql package creates one: `make postgres`)"
                ) from None
            shutil.chown(self.folder, "postgres", "postgres")
        self._run(
            "initdb", "-D", str(self.data), "-U", "postgres", "-A", "trust", "-E", "UTF8", "--locale=C", "--no-sync"
        )
        settings = [
            f"port={self.port}",
            "listen_addresses=127.0.0.1",
            f"unix_socket_directories={self.folder}",
            "max_connections=300",
            "shared_buffers=128MB",
        ]
        if not self.durable:
            settings += ["fsync=off", "synchronous_commit=off", "full_page_writes=off"]
        self.options = " ".join(f"-c {s}" for s in settings)
        self.resume()

    def resume(self) -> None:
        """Start the (initialised) server again, after `halt`."""
        self._run(
            "pg_ctl",
            "-D",
            str(self.data),
            "-l",
            str(self.folder / "server.log"),
            "-o",
            self.options,
            "-w",
            "-t",
            "30",
            "start",
        )

    def halt(self, mode: str = "fast") -> None:
        """Stop the server, keeping its data (`resume` starts it again): "fast" ends the sessions and shuts down
        cleanly; "immediate" stops at once, as a crash would (the next start recovers from the WAL)."""
        self._run("pg_ctl", "-D", str(self.data), "-m", mode, "-w", "stop")

    def sql(self, statement: str, database: str = "postgres") -> str:
        """Run one statement with psql; its unaligned output."""
        return self._psql(database, statement)

    def _psql(self, database: str, *statements: str) -> str:
        """Run statements with one psql, each on its own (outside a transaction); their unaligned output."""
        connect = ["-h", "127.0.0.1", "-p", str(self.port), "-U", "postgres", "-d", database]
        each = [arg for statement in statements for arg in ("-c", statement)]
        return self._run("psql", "-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1", *connect, *each, as_owner=False)

    def create_database(self, name: str, template: str | None = None, replace: bool = False) -> str:
        """A new database, empty or a copy of `template` (which nobody may be connected to); its URL. With
        `replace`, one of that name is dropped first (in the same psql call)."""
        create = f'CREATE DATABASE "{name}"' + (f' TEMPLATE "{template}"' if template else "")
        self._psql("postgres", *([drop_statement(name)] if replace else []), create)
        return self.url(name)

    def drop_database(self, name: str) -> None:
        self.sql(drop_statement(name))

    def stop(self) -> None:
        """Stop the server and delete its folder."""
        try:
            if (self.data / "postmaster.pid").exists():
                self._run("pg_ctl", "-D", str(self.data), "-m", "immediate", "-w", "stop")
        finally:
            shutil.rmtree(self.folder, ignore_errors=True)

    def log(self) -> str:
        path = self.folder / "server.log"
        return path.read_text(errors="replace")[-4000:] if path.exists() else ""


if __name__ == "__main__":  # a server for trying things by hand; Ctrl-C stops it
    server = PostgresServer().start()
    print(f"{server.url()} (started in {server.started_in:.1f} s)", flush=True)
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        server.stop()


def drop_statement(name: str) -> str:
    return f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'
