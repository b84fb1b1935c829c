"""Time a staff login behind a crowd of wrong ones, on a real server (`python app.py`, SQLite): 100 wrong logins
at once from 100 addresses at 100 names (each would pay the real password hash; each guesser's connection and form
ready beforehand), and 0.1 s later, behind them, the right password from a browser that logged in before (a trusted
device) and from a new browser.

    .venv/bin/python -m bench.login_crowd [RUNS]   # prints the figures of each run
"""

import asyncio
import re
import sys
import tempfile
import time
from pathlib import Path

import httpx

from tests.support.live_server import LiveServer

PASSWORD, CROWD = "crowd-bench-password", 100


async def token(client: httpx.AsyncClient) -> str:
    """The CSRF token of the client's session, from the login form."""
    page = (await client.get("/admin/login")).text
    return re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)


async def log_in(client: httpx.AsyncClient, form_token: str, name: str, password: str, address: str):
    form = {"csrf_token": form_token, "username": name, "password": password}
    return await client.post("/admin/login", data=form, headers={"X-Forwarded-For": address})


async def run(server: LiveServer) -> None:
    clients = [httpx.AsyncClient(base_url=server.url, timeout=60) for _ in range(CROWD + 2)]
    *crowd, trusted, new = clients
    try:
        assert (await log_in(trusted, await token(trusted), "admin", PASSWORD, "192.0.2.10")).status_code == 303
        tokens = await asyncio.gather(*(token(client) for client in clients))
        began = time.perf_counter()  # the same login alone first, for comparison
        assert (await log_in(trusted, tokens[-2], "admin", PASSWORD, "192.0.2.10")).status_code == 303
        alone = time.perf_counter() - began
        tokens[-2] = await token(trusted)
        began, answers, cpu = time.perf_counter(), {}, server.cpu()

        async def timed(label, call, after: float = 0) -> None:
            await asyncio.sleep(after)
            response = await call
            answers[label] = (response.status_code, time.perf_counter() - began)

        await asyncio.gather(
            *(timed(n, log_in(c, tokens[n], f"name{n}", "guess", f"10.9.{n}.1")) for n, c in enumerate(crowd)),
            timed("trusted", log_in(trusted, tokens[-2], "admin", PASSWORD, "192.0.2.10"), after=0.1),
            timed("new", log_in(new, tokens[-1], "admin", PASSWORD, "192.0.2.20"), after=0.1),
        )
        cpu = server.cpu() - cpu
    finally:
        await asyncio.gather(*(client.aclose() for client in clients))
    crowd_answers = [answer for label, answer in answers.items() if isinstance(label, int)]
    checked = [at for code, at in crowd_answers if code == 401]
    refused = [at for code, at in crowd_answers if code == 429]
    print(
        f"alone: {alone:.2f} s; trusted device: {answers['trusted'][0]} at {answers['trusted'][1]:.2f} s; "
        f"new browser: {answers['new'][0]} at {answers['new'][1]:.2f} s; "
        f"crowd: {len(checked)} checked (last at {max(checked, default=0):.2f} s), "
        f"{len(refused)} turned away (last at {max(refused, default=0):.2f} s); the server's CPU: {cpu:.2f} s"
    )


def main(runs: int) -> None:
    with tempfile.TemporaryDirectory() as folder:
        env = {"SLOTCAST_ADMIN_PASSWORD": PASSWORD}
        server = LiveServer(Path(folder), env, TRUSTED_PROXIES="127.0.0.1", BOOKINGS_PER_MINUTE=0).start()
        try:
            for _ in range(runs):
                asyncio.run(run(server))
                time.sleep(1)
        finally:
            server.stop()


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 3)
