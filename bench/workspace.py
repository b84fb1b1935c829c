"""What every part of a bench run shares: its folders, its log, the commands it ran (for the report), percentiles."""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
RESULTS = BENCH / "results"
APP_PYTHON = str(ROOT / ".venv" / "bin" / "python")  # Slotcast and the minimal Quart baseline run on the app's venv
WORK = Path(tempfile.mkdtemp(prefix="slotcast-bench-"))  # the run's databases and files; removed at its end
COMMANDS: list[str] = []
ALIASES: dict[str, str] = {}  # text -> what the report shows instead (e.g. PostgreSQL's port)


def note(command: str, port: int = 0) -> None:
    """Keep a command for the report, in a form that can be run again."""
    command = command.replace(str(WORK), "WORK").replace(str(ROOT) + "/", "")
    command = command.replace(sys.executable, "bench/.venv/bin/python")
    command = command.replace(f"={port}", "=PORT").replace(f" {port} ", " PORT ") if port else command
    for text, alias in ALIASES.items():
        command = command.replace(text, alias)
    if command not in COMMANDS:
        COMMANDS.append(command)


def log(*args) -> None:
    print(f"[{time.strftime('%H:%M:%S')}]", *args, flush=True)


def pct(values: list[float], p: float) -> float:
    """The p-th percentile (nearest rank) of `values`, in the same unit."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(p / 100 * len(ordered)) - 1))] if ordered else float("nan")
