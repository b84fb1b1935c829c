"""An event stream: admitted under the caps, sent the current state and then every change, outside Quart."""

from __future__ import annotations

import asyncio
import sys
import time
from collections import Counter
from collections.abc import Awaitable, Callable

from quart import current_app, request

from booking import topics
from web import i18n, observe
from web.clients import accepts_gzip, client_group
from web.i18n import gettext as _
from web.runtime import hub

from .wire import GZIP_HEADER, retry

HEADERS = {"Content-Type": "text/event-stream", "Cache-Control": "no-cache", "X-Accel-Buffering": "no"}
GUARD_SECONDS = 0.5  # how often a guarded stream asks whether it may go on (one small query each time)
BUSY_SECONDS = 30  # a stream refused by a cap: when its client tries again
PACKED = {"Content-Encoding": "gzip"}  # a gzip header, then deflate segments: never a trailer (the stream never ends
#                                        by itself; a client decodes each segment as it comes)


async def stream(*names: str, guard: Callable[[], Awaitable[bool]] | None = None):
    """An event stream on these topics: the current state first, then every change; a `guard` that no longer
    holds (a staff session that ended) ends it within GUARD_SECONDS."""
    the_hub, locale, config, counted = hub(), i18n.current(), current_app.config, observe.metrics()
    client, streams = client_group(), open_streams()
    if not streams.admit(client, config):
        counted.refused.inc()
        # Not an error status: a plain EventSource gives up for good on one. A stream that ends at once is opened
        # again after its `retry` (htmx's extension and any WHATWG client alike): the page comes back by itself.
        come_back = _("Too many requests. Please wait a moment and try again.")
        busy = retry(BUSY_SECONDS * 1000) + f": {come_back}\n\n".encode()
        return busy, 200, {**HEADERS, "Retry-After": str(BUSY_SECONDS)}
    kind, line, packed = topics.parse(names[0])[0].label, observe.stream_log(), accepts_gzip()
    names = tuple(map(sys.intern, names))  # the hub's keys and the streams' topics: one string, not one a stream
    # Counted now, in the same step as the check above: the caps hold however many streams open at once.
    body = Stream(the_hub, names, locale, packed, retry(config["SSE_RETRY_MS"]), streams, client, counted, kind, line)
    body.guard = guard
    request.scope[STREAM] = body
    headers = {**HEADERS, **(PACKED if packed else {}), "Vary": "Accept-Encoding"}
    return current_app.response_class(body, 200, headers)


STREAM = "slotcast.stream"  # the scope's key for the Stream a view hands over to `Handover`
END = {"type": "http.response.body", "body": b"", "more_body": False}
DISCONNECT = {"type": "http.disconnect"}


class Stream:
    """An admitted event stream: counted from admission until it has run (or was dropped unstarted). As Quart's
    response body it sends nothing and only marks itself handed over: `Handover` runs it."""

    __slots__ = (
        "hub",
        "names",
        "locale",
        "packed",
        "prelude",
        "streams",
        "client",
        "counted",
        "kind",
        "line",
        "handed",
        "guard",
    )

    def __init__(self, the_hub, names, locale, packed, prelude, streams, client, counted, kind, line):
        self.hub, self.names, self.locale, self.packed, self.prelude = the_hub, names, locale, packed, prelude
        self.streams, self.client, self.counted, self.kind, self.line = streams, client, counted, kind, line
        self.handed, self.guard = False, None
        streams.opened(client)
        counted.streams.labels(kind).inc()

    def __aiter__(self) -> Stream:
        return self

    async def __anext__(self) -> bytes:
        self.handed = True  # Quart has sent the headers: the body is Handover's to send
        raise StopAsyncIteration

    def drop(self) -> None:
        """No longer counted against the caps."""
        self.streams.closed(self.client)
        self.counted.streams.labels(self.kind).dec()

    async def run(self, receive, send) -> None:
        """Send the state, then every change, until the client leaves or the hub closes (then end the response)."""
        sub = self.hub.subscribe(self.names, self.locale, self.packed)
        watcher = asyncio.create_task(leaving(receive, sub))
        guarding = asyncio.create_task(ended_by(self.guard, sub)) if self.guard else None
        began, sent = time.monotonic(), 0
        try:
            # The state as the shared messages themselves, not joined into a copy that this stream would hold.
            state = [self.prelude, *[await self.hub.first(name, self.locale) for name in self.names]]
            for chunk in [GZIP_HEADER, *(m.packed for m in state)] if self.packed else state:
                sent += len(chunk)
                await send({"type": "http.response.body", "body": chunk, "more_body": True})
            del state  # an idle stream keeps this frame: nothing in it that it no longer needs
            async for chunk in sub.messages():
                sent += len(chunk)
                await send({"type": "http.response.body", "body": chunk, "more_body": True})
            if not watcher.done():
                await send(END)  # the hub closed the stream
        finally:
            watcher.cancel()
            if guarding:
                guarding.cancel()
            self.hub.unsubscribe(sub)
            self.drop()
            observe.stream_closed(self.line, self.kind, time.monotonic() - began, sent)


async def leaving(receive, sub) -> None:
    """Wait for the client to leave, then end its subscriber's messages."""
    while (await receive())["type"] != "http.disconnect":
        pass
    sub.end()


async def ended_by(guard: Callable[[], Awaitable[bool]], sub) -> None:
    """Ask the guard every GUARD_SECONDS; once it no longer holds, end the subscriber's messages."""
    while await guard():
        await asyncio.sleep(GUARD_SECONDS)
    sub.end()


class OpenStreams:
    """Open event streams per client address and in all, for the caps."""

    def __init__(self):
        self.per_client: Counter[str] = Counter()
        self.total = 0

    def admit(self, client: str, config) -> bool:
        """Whether one more stream fits under SSE_MAX_PER_CLIENT and SSE_MAX_STREAMS."""
        return self.per_client[client] < config["SSE_MAX_PER_CLIENT"] and self.total < config["SSE_MAX_STREAMS"]

    def opened(self, client: str) -> None:
        self.per_client[client] += 1
        self.total += 1

    def closed(self, client: str) -> None:
        self.total -= 1
        self.per_client[client] -= 1
        if not self.per_client[client]:
            del self.per_client[client]


def open_streams() -> OpenStreams:
    """This app's open streams."""
    return current_app.extensions.setdefault("slotcast.streams", OpenStreams())
