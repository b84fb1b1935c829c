"""Watch a draw's row from outside the server: the moment its status reads 'drawn' is the moment its transaction
committed (to within the poll), whatever the server is busy with after. Run with the app's Python.

    .venv/bin/python -m bench.draw_watch FILE_OR_URL RESOURCE_ID DAY SECONDS   # prints {"drawn": monotonic or null}
"""

from __future__ import annotations

import asyncio
import json
import sqlite3
import sys
import time
from datetime import date

import asyncpg

POLL = 0.005  # seconds between reads


async def main(target: str, resource_id: int, day: str, seconds: float) -> None:
    query = "SELECT status FROM draws WHERE resource_id = {0} AND local_date = {1}"
    if "://" in target:
        conn = await asyncpg.connect(target)

        async def status():
            return await conn.fetchval(query.format("$1", "$2"), resource_id, date.fromisoformat(day))
    else:
        db = sqlite3.connect(target)

        async def status():
            row = db.execute(query.format("?", "?"), (resource_id, day)).fetchone()
            return row and row[0]

    deadline, drawn = time.monotonic() + seconds, None
    while time.monotonic() < deadline:
        if await status() == "drawn":
            drawn = time.monotonic()
            break
        await asyncio.sleep(POLL)
    print(json.dumps({"drawn": drawn}), flush=True)


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], int(sys.argv[2]), sys.argv[3], float(sys.argv[4])))
