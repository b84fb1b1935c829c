"""Baseline: the smallest plausible Quart SSE app, served by Hypercorn as Slotcast's app.py is (one process, asyncio
loop, h11), pushing a pre-rendered fragment (the same bytes Slotcast sends).

    .venv/bin/python bench/baselines/quart_sse.py PORT FRAGMENT_FILE   GET /events subscribes; POST /publish: all, 201.
One asyncio.Queue per subscriber and an async generator per stream, as Quart's own broadcast example does; nothing
of Slotcast's (no hub, no per-topic rendering, no gc tuning). Runs on the app's venv: the same Quart and Hypercorn.
"""

import asyncio
import sys
from pathlib import Path

from hypercorn.asyncio import serve
from hypercorn.config import Config
from quart import Quart, make_response

DATA = "".join(f"data: {line}\n" for line in Path(sys.argv[2]).read_text().split("\n"))
queues: set[asyncio.Queue] = set()
state = {"version": 0}


def encode() -> bytes:
    return f"id: {state['version']}\nevent: slots\n{DATA}\n".encode()


current = [encode()]
app = Quart(__name__)


@app.get("/events")
async def events():
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

    response = await make_response(stream(), {"Content-Type": "text/event-stream", "Cache-Control": "no-cache"})
    response.timeout = None  # Quart ends a response after RESPONSE_TIMEOUT (60 s) unless told otherwise
    return response


@app.post("/publish")
async def publish():
    """A new version to every subscriber."""
    state["version"] += 1
    current[0] = encode()
    for queue in queues:
        queue.put_nowait(current[0])
    return {"version": state["version"]}, 201


async def ping() -> None:
    """A comment to every stream each 15 s, as the other baselines send (one timer for all)."""
    while True:
        await asyncio.sleep(15)
        for queue in queues:
            queue.put_nowait(b": ping\n\n")


@app.before_serving
async def start() -> None:
    state["pinger"] = asyncio.get_running_loop().create_task(ping())


@app.after_serving
async def stop() -> None:
    state["pinger"].cancel()


if __name__ == "__main__":
    config = Config()
    config.bind, config.backlog, config.accesslog, config.graceful_timeout = [f"127.0.0.1:{sys.argv[1]}"], 4096, None, 5
    asyncio.run(serve(app, config))
