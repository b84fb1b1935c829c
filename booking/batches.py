"""Batches: calls that come while one run is going share the next — one transaction for a burst of writes (group
commit), one statement for a burst of reads."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Generic, NamedTuple, TypeVar

T = TypeVar("T")
R = TypeVar("R")


class Raised(NamedTuple):
    """What a run returns for an item that failed on its own: its caller gets `error` raised."""

    error: Exception


class Batches(Generic[T, R]):
    """`await add(item)` is `run([item])[0]`, except that items added while a run is going wait for it to end,
    then go together in the next run. A burst of N calls costs a few runs, not N; each caller still gets its
    own result (or its own Raised error) once the run holding its item has returned (committed, for a write).
    `inline`: an item added while nothing runs is run at once in its caller's task (no trip through a busy loop to a
    task of the batches' own, and back); those added meanwhile still go together in the next run."""

    def __init__(self, run: Callable[[list[T]], Awaitable[list[R]]], inline: bool = False):
        self._run = run
        self._inline = inline
        self._waiting: list[tuple[T, asyncio.Future[R]]] = []
        self._running: asyncio.Task | None = None
        self._alone = False  # an inline run is going

    async def add(self, item: T) -> R:
        if self._inline and self._running is None and not self._alone:
            return await self._alone_run(item)
        future = asyncio.get_running_loop().create_future()
        self._waiting.append((item, future))
        if self._running is None and not self._alone:
            self._running = asyncio.create_task(self._drain())
        return await future

    async def _alone_run(self, item: T) -> R:
        self._alone = True
        try:
            (result,) = await self._run([item])
        finally:
            self._alone = False
            if self._waiting:  # those that came meanwhile: the next run, together
                self._running = asyncio.create_task(self._drain())
        if isinstance(result, Raised):
            raise result.error
        return result

    async def _drain(self) -> None:
        batch: list[tuple[T, asyncio.Future[R]]] = []
        try:
            while self._waiting:
                batch, self._waiting = self._waiting, []
                try:
                    results = await self._run([item for item, _ in batch])
                except Exception as error:  # each caller of this run hears it
                    for _, future in batch:
                        if not future.done():
                            future.set_exception(error)
                    continue
                for (_, future), result in zip(batch, results, strict=True):
                    if future.done():  # a caller that left no longer waits
                        continue
                    if isinstance(result, Raised):
                        future.set_exception(result.error)
                    else:
                        future.set_result(result)
        except asyncio.CancelledError:  # shut down mid-run: nobody waits for ever
            for _, future in batch + self._waiting:
                future.cancel()
            raise
        finally:
            self._running = None
