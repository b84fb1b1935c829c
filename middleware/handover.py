"""The stream handover: an event stream's idle life runs outside Quart's per-request objects."""

from __future__ import annotations

import asyncio

from live.streams import DISCONNECT, STREAM, Stream


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
