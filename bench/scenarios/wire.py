"""Bytes on the wire: the day page's stream per change, with and without gzip, and the static files of a first
visit."""

from __future__ import annotations

import asyncio
import re
import statistics

from bench.client import LONDON_TOMORROW, book, http, terrace_slots
from bench.servers import Server, slotcast

GZIP = "Accept-Encoding: gzip, deflate, br\r\n"  # as a browser asks


async def wire(seed: str, changes: int) -> dict:
    """Bytes on the wire (chunked framing included) per change and per page, with and without gzip, from one
    server in one run; and the static files as a first visit fetches them."""
    server = await slotcast(seed).astart()
    try:
        streams = {name: await open_stream(server, accept) for name, accept in (("identity", ""), ("gzip", GZIP))}
        sizes = {name: [] for name in streams}
        for slot_id in (await terrace_slots(server.port) * changes)[:changes]:
            await book(server.port, slot_id)
            for name, (reader, _writer, _first) in streams.items():
                sizes[name].append(len(await asyncio.wait_for(reader.read(65536), 5)))
        for _reader, writer, _first in streams.values():
            writer.close()
        files = await static_files(server)
    finally:
        await server.astop()
    return dict(
        changes=changes,
        files=files,
        **{
            name: dict(first=first, per_change=statistics.mean(sizes[name]), largest=max(sizes[name]))
            for name, (_r, _w, first) in streams.items()
        },
    )


async def open_stream(server: Server, accept: str) -> tuple[asyncio.StreamReader, asyncio.StreamWriter, int]:
    """The day stream opened with the header `accept`: its reader, writer and the size of its first message."""
    reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
    writer.write(f"GET {server.stream_path} HTTP/1.1\r\nHost: 127.0.0.1\r\n{accept}\r\n".encode())
    first = await asyncio.wait_for(reader.read(65536), 10)
    await asyncio.sleep(0.3)  # the state may come in more than one read
    while True:
        try:
            first += await asyncio.wait_for(reader.read(65536), 0.2)
        except TimeoutError:
            break
    return reader, writer, len(first.split(b"\r\n\r\n", 1)[1])


async def static_files(server: Server) -> dict[str, list[int]]:
    """The day page's static files: their sizes as sent without and with gzip."""
    _, page = await http(server.port, "GET", f"/book/harbour-kitchen/terrace/{LONDON_TOMORROW}")
    files = {}
    for address in re.findall(rb'(?:src|href)="(/static/[^"]+)"', page):
        sizes = []
        for accept in ("", "gzip"):
            reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
            writer.write(
                f"GET {address.decode()} HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept-Encoding: {accept}\r\n"
                "Connection: close\r\n\r\n".encode()
            )
            sizes.append(len((await reader.read()).split(b"\r\n\r\n", 1)[1]))
            writer.close()
        files[address.decode().split("?")[0]] = sizes
    return files
