"""Admission: at most REQUESTS_AT_ONCE requests inside the app at once; the others wait their turn, in order."""

from __future__ import annotations

import asyncio
from functools import partial


class Admission:
    """ASGI middleware: requests past the limit wait, first come first served.

    A crowd (2,000 bookings in the second after a release) would otherwise run all at once, and every loop turn
    would hold a share of all of them: the few turns the hub needs to render a change and hand it to the streams
    took a second and more. With a bounded number inside, a turn stays short, and the pages show "full" promptly.
    A request's body is read before its turn (up to the app's size limit, within its BODY_TIMEOUT, else 408): a
    client that sends slowly holds no place (GET and HEAD are not waited for: nobody reads their body). An event
    stream leaves its place once its headers are out (middleware.handover.Handover, outside this, runs it). The `exempt`
    paths (health probes) never wait. `before_turn` may answer a request whose body is in before it enters the app:
    before it waits, or as its turn comes (middleware.known_full: a booking at a slot known to be full).
    """

    def __init__(self, app, config, exempt: tuple[str, ...] = (), before_turn=None):
        self.app, self.config, self.exempt = app, config, exempt
        # before_turn(scope, body, send): True when it answered a request itself, its body read (asked before the
        # request waits, and again when its turn comes); else the request goes on as any other.
        self.before_turn = before_turn
        # Fair: a newcomer never passes those already waiting.
        self.turns = asyncio.Semaphore(config["REQUESTS_AT_ONCE"])

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http" or scope["path"] in self.exempt:
            return await self.app(scope, receive, send)
        answer_early = None  # GET and HEAD: no body read, nothing to answer early
        if scope["method"] not in ("GET", "HEAD"):
            try:
                async with asyncio.timeout(self.config["BODY_TIMEOUT"]):
                    receive, body = await read_ahead(receive, self.config["MAX_CONTENT_LENGTH"])
            except TimeoutError:
                return await too_slow(send)
            if self.before_turn is not None:
                answer_early = partial(self.before_turn, scope, body, send)
            if answer_early and await answer_early():
                return
        async with self.turns:
            # Asked again once its turn comes: what happened while it waited (a crowd's slot filled) counts too.
            if answer_early and await answer_early():
                return
            await self.app(scope, receive, send)


async def read_ahead(receive, most: int):
    """Read the request's body now (up to `most` bytes: the app refuses a larger one itself); a receive that gives
    the app what was read, then whatever comes next, and the body (None unless all of it came, within `most`)."""
    read = [await receive()]
    size = len(read[0].get("body", b""))
    while read[-1]["type"] == "http.request" and read[-1].get("more_body") and size <= most:
        read.append(await receive())
        size += len(read[-1].get("body", b""))
    whole = size <= most and all(m["type"] == "http.request" for m in read) and not read[-1].get("more_body")
    body = b"".join(m.get("body", b"") for m in read) if whole else None
    read.reverse()

    async def replay():
        return read.pop() if read else await receive()

    return replay, body


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
