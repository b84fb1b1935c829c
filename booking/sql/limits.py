"""Attempt counts every process sees (rate limits): the count and the check one statement per key."""

from __future__ import annotations

from datetime import datetime, timedelta

from .engine import Tx
from .rows import as_moment


async def _count_attempts(tx: Tx, calls: list[tuple[list[str], datetime, timedelta]]) -> list:
    return [await _count_attempt(tx, *call) for call in calls]


async def _count_attempt(tx: Tx, keys: list[str], now: datetime, window: timedelta) -> list[tuple[int, datetime]]:
    counted = []
    for key in keys:  # one statement each: the count and the check are one step, whoever else counts at once
        row = await tx.fetch_one(
            "INSERT INTO login_limits (key, attempts, window_start) VALUES (:key, 1, :now) ON CONFLICT (key)"
            " DO UPDATE SET attempts = CASE WHEN login_limits.window_start <= :since THEN 1"
            " ELSE login_limits.attempts + 1 END, window_start = CASE WHEN login_limits.window_start <= :since"
            " THEN :now ELSE login_limits.window_start END RETURNING attempts, window_start",
            key=key,
            now=now,
            since=now - window,
        )
        counted.append((row["attempts"], as_moment(row["window_start"])))
    return counted


async def _forget_attempts(tx: Tx, keys: list[str]) -> None:
    for key in keys:
        await tx.execute("DELETE FROM login_limits WHERE key = :key", key=key)
