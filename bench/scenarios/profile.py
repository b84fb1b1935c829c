"""Where Slotcast's time goes: py-spy on the server while it broadcasts to many streams."""

from __future__ import annotations

import asyncio
import re
import subprocess
import sys
from pathlib import Path

from bench.client import Subscribers, broadcasts
from bench.servers import slotcast
from bench.workspace import RESULTS, note


async def profile(seed: str, n: int, seconds: int) -> list[tuple[float, float, str]]:
    """py-spy on Slotcast during broadcasts to `n` streams: the functions with the most time, self and total."""
    server = await slotcast(seed).astart()
    raw = RESULTS / "profile.tmp"
    try:
        async with Subscribers(server, n, server.stream_path) as subs:
            spy = await asyncio.create_subprocess_exec(
                str(Path(sys.executable).parent / "py-spy"),
                "record",
                "--pid",
                str(server.process.pid),
                "--duration",
                str(seconds),
                "--rate",
                "250",
                "--format",
                "raw",
                "--output",
                str(raw),
                "--nonblocking",
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
            note(
                f"bench/.venv/bin/py-spy record --pid SLOTCAST_PID --duration {seconds} --rate 250 --format raw "
                "--nonblocking"
            )
            await broadcasts(server, subs, seconds - 2, 1.0)
            await spy.wait()
    finally:
        await server.astop()
    return top_functions(raw) if raw.exists() else []


def top_functions(raw: Path, count: int = 20) -> list[tuple[float, float, str]]:
    """From py-spy's raw stacks: the `count` functions with the most samples of their own, as (self %, total %,
    function)."""
    self_time, total, samples = {}, {}, 0
    for line in raw.read_text().splitlines():
        stack, _, weight = line.rpartition(" ")
        frames = [re.sub(r" \((.*/)?([^/]+)\)$", r" (\2)", f) for f in stack.split(";") if f]
        samples += int(weight)
        for f in set(frames):
            total[f] = total.get(f, 0) + int(weight)
        if frames:
            self_time[frames[-1]] = self_time.get(frames[-1], 0) + int(weight)
    top = sorted(self_time, key=self_time.get, reverse=True)[:count]
    return [(self_time[f] / samples * 100, total[f] / samples * 100, f) for f in top]
