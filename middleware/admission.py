"""Admission: at most REQUESTS_AT_ONCE requests inside the app at once; the others wait their turn, in order."""

from __future__ import annotations

import asyncio


class Admission:
    """ASGI middleware: requests past the limit wait, first come first served.

    A crowd (2,000 bookings in the second after a release) would otherwise run all at once, and every loop turn
    would hold a share of all of them: the few turns the hub needs to render a change and hand it to the streams
    took a second and more. With a bounded number inside, a turn stays short, and the pages show "full" promptly.
    A request's body is read before its turn (up to the app's size limit, within its BODY_TIMEOUT, else 408): a
    client that sends slowly holds no place (GET and HEAD are not waited for: nobody reads their body). An event
    stream leaves its place once its headers are out (middleware.handover.Handover, outside this, runs it). The `exempt`
    paths (health probes) never wait.
    """

    def __init__(self, app, config, exempt: tuple[str, ...] = ()):
        self.app, self.config, self.exempt = app, config, exempt
        # Fair: a newcomer never passes those already waiting.
        self.turns = asyncio.Semaphore(config["REQUESTS_AT_ONCE"])

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http" or scope["path"] in self.exempt:
            return await self.app(scope, receive, send)
        if scope["method"] not in ("GET", "HEAD"):
            try:
                async with asyncio.timeout(self.config["BODY_TIMEOUT"]):
                    receive = await read_ahead(receive, self.config["MAX_CONTENT_LENGTH"])
            except TimeoutError:
                return await too_slow(send)
        async with self.turns:
            await self.app(scope, receive, send)


async def read_ahead(receive, most: int):
    """Read the request's body now (up to `most` bytes: the app refuses a larger one itself); a receive that gives
    the app what was read, then whatever comes next."""
    read = [await receive()]
    size = len(read[0].get("body", b""))
    while read[-1]["type"] == "http.request" and read[-1].get("more_body") and size <= most:
        read.append(await receive())
        size += len(read[-1].get("body", b""))
    read.reverse()

    async def replay():
        return read.pop() if read else await receive()

    return replay


async def too_slow(send) -> None:
    """408: the body did not come in time (as the app itself would say, had it been let in to wait)."""
    headers = [
        (b"content-type", b"text/plain; charset=utf-8"),
        (b"x-content-type-options", b"nosniff"),
        (b"connection", b"close"),
    ]
    await send({"type": "http.response.start", "status": 408, "headers": headers})
    await send(
        {
            "type": "http.response.body",
            "body": b"The request took too long to arrive. Please try again.\n",
            "more_body": False,
        }
    )
