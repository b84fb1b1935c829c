"""Answers on their way out: an ETag on the API's JSON reads (If-None-Match: 304 with no body), and gzip for an
HTML or JSON body over MIN_PACKED bytes when the client takes it.

An after_request, not ASGI middleware: it sees the finished body as bytes and its type before anything is sent,
and costs a small answer three comparisons; ASGI middleware would wrap every message of every connection, the
event streams' included. Streams (a body that is not bytes, already gzip-encoded by live/streams.py) and static
files (views/assets.py: gzipped once at start, their own ETag) carry Content-Encoding or another type, and are left
as they are."""

from __future__ import annotations

import gzip
import hashlib
from functools import lru_cache

from quart import Response, request
from quart.wrappers.response import DataBody

from web.clients import accepts_gzip

MIN_PACKED = 1024  # a smaller body goes as it is: gzip's header and the work would gain it little
PACKED_TYPES = frozenset({"text/html", "application/json"})
PAGE_LEVEL = 1  # a page is made for one request (its form keys): the fastest level, within ~25 % of the best size
TAGGED = "/api/"


@lru_cache(maxsize=64)
def packed_json(body: bytes) -> bytes:
    """A JSON answer gzipped (kept: the same answer, the contract or a day's slots, goes to many clients)."""
    return gzip.compress(body, 6, mtime=0)


def entity_tag(body: bytes) -> str:
    return hashlib.blake2b(body, digest_size=12).hexdigest()


async def tag_and_pack(response: Response) -> Response:
    """After every request: tag an API JSON read (and answer a matching If-None-Match with a bare 304), then gzip a
    large HTML or JSON body for a client that accepts it."""
    body = response.response
    if (
        response.mimetype not in PACKED_TYPES
        or not isinstance(body, DataBody)
        or "Content-Encoding" in response.headers
    ):
        return response
    data = body.data
    packed = len(data) >= MIN_PACKED and response.status_code not in (204, 304)
    if packed:
        response.vary.add("Accept-Encoding")
        packed = accepts_gzip()
    tagged = (
        response.status_code == 200
        and response.mimetype == "application/json"
        and request.method in ("GET", "HEAD")
        and request.path.startswith(TAGGED)
    )
    if tagged:
        tag = entity_tag(data) + ("-gz" if packed else "")  # one tag per encoding, as a static file's
        response.set_etag(tag)
        if request.if_none_match.contains_weak(tag):
            response.status_code = 304
            response.set_data(b"")
            del response.content_length
            return response
    if packed:
        response.set_data(packed_json(data) if tagged else gzip.compress(data, PAGE_LEVEL, mtime=0))
        response.headers["Content-Encoding"] = "gzip"
    return response
