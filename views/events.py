"""The SSE endpoints, the SSE wire format, and how the hub renders each topic (once per change and locale)."""

from __future__ import annotations

import asyncio
import re
import sys
import time
import zlib
from collections import Counter
from collections.abc import Awaitable, Callable
from datetime import datetime
from functools import cache
from types import SimpleNamespace

from quart import Blueprint, Quart, abort, current_app, render_template, request, url_for

from booking import topics
from booking.hub import Render

from . import i18n, ops
from .clients import accepts_gzip, client_group
from .i18n import gettext as _
from .lookups import party_choices, parse_day, whole_number
from .runtime import RENDER_AT, hub, store

bp = Blueprint("events", __name__)

# Event names, used verbatim by the templates' sse-swap attributes.
EVENTS = SimpleNamespace(
    SLOTS="slots", DAYS="days", SLOT_STATUS="slot-status", CLOCK="clock", TICKET="ticket", WAITING="waiting",
    CLOSE="close",
    panel=lambda resource_id: f"panel-{resource_id}", board=lambda resource_id: f"board-{resource_id}",
)


LINE_BREAK = re.compile(r"\r\n|\r|\n")  # SSE's line breaks only: U+2028, U+0085, a form feed stay in their line


class Wire(bytes):
    """An SSE message as sent, and `packed`: the same message as a deflate segment for gzip streams, compressed
    once however many streams send it. Each segment starts afresh (no reference to earlier bytes) and ends on a
    sync flush, so it is valid at any point of any gzip stream: render once, compress once, write to everyone."""

    def __new__(cls, message: bytes):
        wire = super().__new__(cls, message)
        packer = zlib.compressobj(6, zlib.DEFLATED, -zlib.MAX_WBITS)
        wire.packed = packer.compress(message) + packer.flush(zlib.Z_SYNC_FLUSH)
        return wire


GZIP_HEADER = b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\xff"  # RFC 1952: deflate, no name, no time, unknown OS


def encode(event: str, data: str) -> Wire:
    """One SSE message: `event`, and one `data:` line per line of `data`. No `id:`: a stream starts with the
    current state, so a reconnecting client needs no Last-Event-ID, and equal states are equal bytes."""
    lines = "".join(f"data: {line}\n" for line in LINE_BREAK.split(data))
    return Wire((f"event: {event}\n" + lines + "\n").encode())


@cache
def retry(milliseconds: int) -> Wire:
    """The SSE field that sets the browser's reconnect delay: a stream's first line, in its first event's block (a
    block of its own would reach some clients as an empty event)."""
    return Wire(f"retry: {milliseconds}\n".encode())


PING = Wire(b": ping\n\n")  # a comment: keeps proxies from timing out, and shows a vanished peer on the failed write
FAREWELL = encode(EVENTS.CLOSE, "")  # the last message of every stream at shutdown (sse-close on the page)


# Topic kind -> (event name from the topic's arguments, fragment template, async context from the arguments).
# A context may hold `valid_until`: the moment the clock alone would change the fragment.
FRAGMENTS: dict[str, tuple[Callable[..., str], str, Callable[..., Awaitable[dict]]]] = {}


def fragment(kind: str, template: str, event: Callable[..., str]):
    """Register how a kind of topic is rendered: decorate the function that builds its context."""

    def register(context):
        FRAGMENTS[kind] = (event, template, context)
        return context

    return register


STREAM_KINDS = {"day": "day", "days": "day", "slot": "slot", "clock": "kiosk", "board": "board", "ticket": "ticket",
                "wait": "waitlist", "json": "api"}
HEADERS = {"Content-Type": "text/event-stream", "Cache-Control": "no-cache", "X-Accel-Buffering": "no"}
BUSY_SECONDS = 30  # a stream refused by a cap: when its client tries again
PACKED = {"Content-Encoding": "gzip"}  # a gzip header, then deflate segments: never a trailer (the stream never ends
#                                        by itself; a client decodes each segment as it comes)


@bp.get("/events/day/<id:resource_id>/<day>")
async def day_stream(resource_id: int, day: str):
    """A resource-day's slot table for a party (`?party=`) and its date strip, now and after every change."""
    on = parse_day(day)
    party = whole_number(request.args.get("party", "1"), 3)
    table = topics.day(resource_id, on, party or 0)
    # A watched topic was checked when its first stream opened; the query was ~20% of opening 10,000 (py-spy).
    if not party or not hub().count(table):
        venue = await store().venue_of_resource(resource_id)
        if venue is None:
            abort(404, _("That resource does not exist."))
        largest = venue.resource(resource_id).max_party
        if not party or party > largest:
            abort(400, party_choices(largest))
    return await stream(table, topics.days(resource_id, on, party))


@bp.get("/events/slot/<id:slot_id>")
async def slot_stream(slot_id: int):
    """One slot's remaining places, now and after every change."""
    slot = await store().slot(slot_id)
    if slot is None:
        abort(404, _("That slot does not exist."))
    return await stream(topics.slot(slot.resource_id, slot_id))


async def stream(*names: str):
    """An event stream on these topics: the current state first, then every change."""
    the_hub, locale, config, counted = hub(), i18n.current(), current_app.config, ops.metrics()
    client, streams = client_group(), open_streams()
    if not streams.admit(client, config):
        counted.refused.inc()
        # Not an error status: a plain EventSource gives up for good on one. A stream that ends at once is opened
        # again after its `retry` (htmx's extension and any WHATWG client alike): the page comes back by itself.
        come_back = _("Too many requests. Please wait a moment and try again.")
        busy = retry(BUSY_SECONDS * 1000) + f": {come_back}\n\n".encode()
        return busy, 200, {**HEADERS, "Retry-After": str(BUSY_SECONDS)}
    kind, line, packed = STREAM_KINDS[topics.parse(names[0])[0]], ops.stream_log(), accepts_gzip()
    names = tuple(map(sys.intern, names))  # the hub's keys and the streams' topics: one string, not one a stream
    # Counted now, in the same step as the check above: the caps hold however many streams open at once.
    body = Stream(the_hub, names, locale, packed, retry(config["SSE_RETRY_MS"]), streams, client, counted, kind, line)
    request.scope[STREAM] = body
    headers = {**HEADERS, **(PACKED if packed else {}), "Vary": "Accept-Encoding"}
    return current_app.response_class(body, 200, headers)


STREAM = "slotcast.stream"  # the scope's key for the Stream a view hands over to `Handover`
END = {"type": "http.response.body", "body": b"", "more_body": False}
DISCONNECT = {"type": "http.disconnect"}


class Stream:
    """An admitted event stream: counted from admission until it has run (or was dropped unstarted). As Quart's
    response body it sends nothing and only marks itself handed over: `Handover` runs it."""

    __slots__ = ("hub", "names", "locale", "packed", "prelude", "streams", "client", "counted", "kind", "line",
                 "handed")

    def __init__(self, the_hub, names, locale, packed, prelude, streams, client, counted, kind, line):
        self.hub, self.names, self.locale, self.packed, self.prelude = the_hub, names, locale, packed, prelude
        self.streams, self.client, self.counted, self.kind, self.line = streams, client, counted, kind, line
        self.handed = False
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
            self.hub.unsubscribe(sub)
            self.drop()
            ops.stream_closed(self.line, self.kind, time.monotonic() - began, sent)


async def leaving(receive, sub) -> None:
    """Wait for the client to leave, then end its subscriber's messages."""
    while (await receive())["type"] != "http.disconnect":
        pass
    sub.end()


class Handover:
    """ASGI middleware: an event stream's idle life outside Quart's per-request objects.

    While a response's body runs, Quart keeps its request (with a body queue and events), the response, a task
    group and two tasks: ~11 KB per open stream. A stream view leaves its `Stream` in the scope; once Quart has sent
    the headers, its message loop is told the client left, Quart returns, and the stream runs here: on the
    connection's task, with one more that waits for the client to leave.
    """

    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        stream = await self.through_quart(scope, receive, send)
        if stream is not None:
            await stream.run(receive, send)

    async def through_quart(self, scope, receive, send) -> Stream | None:
        """Let Quart answer; the stream its view handed over, if any (one dropped on the way is no longer counted)."""
        reader, gone = None, False

        def handed() -> bool:
            return STREAM in scope and scope[STREAM].handed

        async def quart_receive():
            nonlocal reader, gone
            if handed():
                return DISCONNECT
            reader = asyncio.current_task()
            try:
                message = await receive()
            except asyncio.CancelledError:
                if handed() and reader.uncancel() == 0:
                    return DISCONNECT  # let go by quart_send below (a message left in `receive` stays there)
                raise
            finally:
                reader = None
            gone = gone or message["type"] == "http.disconnect"
            return message

        async def quart_send(message):
            if message["type"] == "http.response.body" and not message.get("more_body") and handed():
                if reader is not None:
                    reader.cancel()  # Quart's message loop waits for the client to leave: it need not any more
                return
            if message["type"] == "http.response.start" and STREAM in scope:
                message["headers"] = [shared(pair) for pair in message["headers"]]
            await send(message)

        answered = False
        try:
            await self.app(scope, quart_receive, quart_send)
            answered = True
        finally:
            stream = scope.pop(STREAM, None)
            if stream is not None and not (answered and stream.handed and not gone):
                stream.drop()  # admitted, but its client left first, or the answer became another (an error)
                stream = None
        return stream


SHARED_HEADERS: dict[tuple[bytes, bytes], tuple[bytes, bytes]] = {}
OWN_HEADERS = {b"x-request-id", b"set-cookie"}  # different in every response: not worth keeping


def shared(pair: tuple[bytes, bytes]) -> tuple[bytes, bytes]:
    """One object for a header that streams send alike: Hypercorn keeps a response's headers while it lasts, ~1.4 KB
    a stream, and nearly all are the same bytes for every stream (a few hundred kinds at most are kept)."""
    if pair[0] in OWN_HEADERS or len(SHARED_HEADERS) >= 256:
        return SHARED_HEADERS.get(pair, pair)
    return SHARED_HEADERS.setdefault(pair, pair)



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


def renderer(app: Quart):
    """The hub's render function: topic + locale + version -> the SSE message, and until when it holds."""

    async def render(topic: str, locale: str, version: int, at: datetime | None = None) -> Render:
        kind, args = topics.parse(topic)
        event, template, context = FRAGMENTS[kind]
        moment = RENDER_AT.set(at)  # a render made ahead: now() is the moment it is for
        try:
            async with app.app_context():
                with i18n.use(locale):
                    values = await context(*args)
                    html = await render_template(template, url_for=path_for, **values)
        finally:
            RENDER_AT.reset(moment)
        return Render(encode(event(*args), html.strip()), values.get("valid_until"))

    return render


def path_for(endpoint: str, **values) -> str:
    """url_for for the hub's renders: a path. Outside a request Quart's url_for defaults to an absolute URL on
    the placeholder host (http://localhost/...), which would break every link in a fragment sent over SSE."""
    values.setdefault("_external", False)
    return url_for(endpoint, **values)
