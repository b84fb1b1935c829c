"""Baseline: uvicorn + Starlette + sse-starlette pushing a pre-rendered fragment (the same bytes Slotcast sends).

    python bench/baselines/starlette_sse.py PORT FRAGMENT_FILE   GET /events subscribes; POST /publish: to all, 201.
One asyncio.Queue per subscriber, as sse-starlette's examples do; plain uvicorn (asyncio loop, h11), as Hypercorn.
"""

import asyncio
import sys
from pathlib import Path

import uvicorn
from sse_starlette import EventSourceResponse
from starlette.applications import Starlette
from starlette.responses import JSONResponse
from starlette.routing import Route

DATA = "".join(f"data: {line}\n" for line in Path(sys.argv[2]).read_text().split("\n"))
queues: set[asyncio.Queue] = set()
state = {"version": 0}


def encode() -> bytes:
    return f"id: {state['version']}\nevent: slots\n{DATA}\n".encode()


current = [encode()]


async def events(request):
    """The current fragment, then every published one."""
    queue: asyncio.Queue = asyncio.Queue()

    async def stream():
        queues.add(queue)
        try:
            yield b"retry: 2000\n\n" + current[0]
            while True:
                yield await queue.get()
        finally:
            queues.discard(queue)

    return EventSourceResponse(stream(), ping=15, sep="\n")


async def publish(request):
    """A new version to every subscriber."""
    state["version"] += 1
    current[0] = encode()
    for queue in queues:
        queue.put_nowait(current[0])
    return JSONResponse({"version": state["version"]}, status_code=201)


app = Starlette(routes=[Route("/events", events), Route("/publish", publish, methods=["POST"])])

if __name__ == "__main__":
    uvicorn.run(app, host="127.0.0.1", port=int(sys.argv[1]), backlog=4096, log_level="warning", access_log=False)
