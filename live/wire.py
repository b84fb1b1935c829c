"""The SSE wire format: event names, one message's bytes (and its gzip segment), the stream's fixed messages."""

from __future__ import annotations

import re
import zlib
from functools import cache
from types import SimpleNamespace

from booking.hub import Message

# Event names, used verbatim by the templates' sse-swap attributes.
EVENTS = SimpleNamespace(
    SLOTS="slots",
    DAYS="days",
    SLOT_STATUS="slot-status",
    CLOCK="clock",
    TICKET="ticket",
    WAITING="waiting",
    DRAW="draw",
    DRAW_ENTRY="draw-entry",
    CLOSE="close",
    panel=lambda resource_id: f"panel-{resource_id}",
    board=lambda resource_id: f"board-{resource_id}",
    entries=lambda resource_id: f"entries-{resource_id}",
)


LINE_BREAK = re.compile(r"\r\n|\r|\n")  # SSE's line breaks only: U+2028, U+0085, a form feed stay in their line


class Wire(Message):
    """An SSE message as sent, and `packed`: the same message as a deflate segment for gzip streams, compressed
    once however many streams send it. Each segment starts afresh (no reference to earlier bytes) and ends on a
    sync flush, so it is valid at any point of any gzip stream: render once, compress once, write to everyone."""

    def __new__(cls, message: bytes):
        wire = super().__new__(cls, message)
        packer = zlib.compressobj(6, zlib.DEFLATED, -window_bits(len(message)))
        wire.packed = packer.compress(message) + packer.flush(zlib.Z_SYNC_FLUSH)
        return wire


def window_bits(size: int) -> int:
    """The smallest deflate window that spans a message of `size` bytes: it compresses the message as the largest
    would, and a small message's compressor is made in a fraction of the time (any gzip reader takes the segment)."""
    return max(10, min(zlib.MAX_WBITS, (size - 1).bit_length()))


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
FAREWELL = encode(EVENTS.CLOSE, "")  # every stream's last message at shutdown: the page reconnects (to another process)
