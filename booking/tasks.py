"""Background work that outlives its faults: each task runs until the hub closes; one that raises, or ends before
then, is logged, waited for (longer after each failure in a row) and started again. Readiness hears of a task that
cannot run, and of a store that cannot take a booking."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable

log = logging.getLogger(__name__)

FIRST_WAIT, LONGEST_WAIT = 0.5, 30.0  # seconds before a failed task runs again: doubling with each failure in a row
STEADY = 10.0  # a long-running task that has run this long since it last failed has recovered


class Task:
    """One supervised task: how it fares."""

    def __init__(self, name: str, longest_wait: float):
        self.name = name
        self.longest_wait = longest_wait
        self.failures = 0  # failed runs in a row (0: it runs)
        self.restarts = 0
        self.error: str | None = None  # why it last failed

    def failed(self, why: str) -> float:
        """Note a failure; how long to wait before running it again."""
        self.failures += 1
        self.restarts += 1
        self.error = why
        return min(FIRST_WAIT * 2 ** (self.failures - 1), self.longest_wait)

    def recovered(self) -> None:
        self.failures, self.error = 0, None


class Supervisor:
    """Starts the app's background tasks and keeps them running until `hub` closes; `on_restart(name)` hears each
    start after a failure (metrics)."""

    def __init__(self, hub, on_restart: Callable[[str], object] = lambda name: None):
        self._hub = hub
        self._on_restart = on_restart
        self.tasks: dict[str, Task] = {}
        self._running: list[asyncio.Task] = []

    def keep(self, name: str, run: Callable[[], Awaitable[object]]) -> None:
        """Run `run()`, which returns once the hub closes, and again whenever it fails or returns before that."""
        task = Task(name, LONGEST_WAIT)

        async def steadily() -> None:
            calm = asyncio.get_running_loop().call_later(STEADY, task.recovered)
            try:
                await run()
            finally:
                calm.cancel()

        self._start(task, steadily)

    def every(
        self,
        name: str,
        seconds: float,
        step: Callable[[], Awaitable[object]],
        now: bool = False,
        pause: Callable[[], Awaitable[bool]] | None = None,
    ) -> None:
        """Run `step()` every `seconds` (the first time at once with `now`), or whenever `pause()` returns True (it
        returns False once the hub closes); a step that fails is tried again sooner, after a wait that grows to
        `seconds` at most."""
        task = Task(name, min(LONGEST_WAIT, seconds))
        pause = pause or (lambda: self._hub.running_after(seconds))

        async def periodically() -> None:
            due = now or task.failures > 0
            while due or await pause():
                due = False
                await step()
                task.recovered()

        self._start(task, periodically)

    def _start(self, task: Task, run: Callable[[], Awaitable[None]]) -> None:
        if task.name in self.tasks:
            raise ValueError(f"a task named {task.name!r} runs already")
        self.tasks[task.name] = task
        self._running.append(asyncio.create_task(self._supervise(task, run), name=task.name))

    async def _supervise(self, task: Task, run: Callable[[], Awaitable[None]]) -> None:
        """Run the task until the hub closes, starting it again after each failure or early end."""
        while True:
            try:
                await run()
            except Exception as error:
                if self._hub.closing:
                    return
                why = f"{type(error).__name__}: {error}"[:300]
                wait = task.failed(why)
                # The first failure in a row with its traceback; the next ones (an outage goes on) in a line each.
                log.warning(
                    "background task %s failed (%d in a row), again in %.1f s: %s",
                    task.name,
                    task.failures,
                    wait,
                    why,
                    exc_info=error if task.failures == 1 else None,
                )
            else:
                if self._hub.closing:
                    return
                wait = task.failed("ended unexpectedly")
                log.error("background task %s ended unexpectedly, again in %.1f s", task.name, wait)
            self._on_restart(task.name)
            if not await self._hub.running_after(wait):
                return

    def trouble(self) -> str | None:
        """Which task cannot run now, and why (None: every task runs)."""
        failing = [t for t in self.tasks.values() if t.failures]
        if not failing:
            return None
        worst = max(failing, key=lambda t: t.failures)
        return f"task {worst.name}: {worst.error} ({worst.failures} in a row)"

    async def stopped(self) -> None:
        """Return once every task has ended (after the hub closed)."""
        await asyncio.gather(*self._running)


class Readiness:
    """/readyz's answer, kept by a background check: why a booking cannot be made now (None: it can)."""

    def __init__(self, store, tasks: Supervisor, budget: float, every: float):
        self._store, self._tasks = store, tasks
        self.budget = budget  # seconds the store's check may take
        self.every = every  # seconds between checks
        self._trouble: str | None = "starting"
        self._checked = -float("inf")

    async def check(self) -> None:
        """Check the store (a write that rolls back, within the budget) and the tasks; keep the answer."""
        self._trouble = await self._store.trouble(self.budget) or self._tasks.trouble()
        self._checked = time.monotonic()

    async def first(self) -> None:
        """The first check, as the app starts: made again (for the budget at most) while it is not ready, as the
        listener may still be connecting."""
        deadline = time.monotonic() + self.budget
        await self.check()
        while self._trouble and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
            await self.check()

    def trouble(self) -> str | None:
        """The last answer, unless it is too old to trust (then that is the trouble)."""
        age = time.monotonic() - self._checked
        if age > 3 * self.every + self.budget and self._trouble != "starting":
            return f"readiness: not checked for {age:.0f} s"
        return self._trouble
