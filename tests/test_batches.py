"""Group commit: a burst of calls shares a few runs, each caller gets its own answer or the run's error."""

import asyncio

import pytest

from booking.batches import Batches


async def test_calls_made_while_a_run_goes_share_the_next_one():
    runs = []

    async def run(items):
        runs.append(items)
        await asyncio.sleep(0.01)
        return [i * 10 for i in items]

    batches = Batches(run)
    first = asyncio.ensure_future(batches.add(0))
    while not runs:
        await asyncio.sleep(0)
    assert await asyncio.gather(*(batches.add(i) for i in range(1, 100))) == [i * 10 for i in range(1, 100)]
    assert await first == 0
    assert runs == [[0], list(range(1, 100))]  # the first alone, then everyone who came while it ran
    assert await batches.add(7) == 70 and runs[-1] == [7]


async def test_a_failed_run_fails_its_callers_only_and_a_caller_may_leave():
    async def run(items):
        await asyncio.sleep(0.01)
        if "bad" in items:
            raise ValueError("no")
        return items

    batches = Batches(run)
    first = asyncio.ensure_future(batches.add("bad"))
    await asyncio.sleep(0)
    leaving, staying = asyncio.ensure_future(batches.add("x")), asyncio.ensure_future(batches.add("y"))
    await asyncio.sleep(0)
    leaving.cancel()
    with pytest.raises(ValueError):
        await first
    assert await staying == "y" and leaving.cancelled()


async def test_callers_are_not_left_waiting_when_the_run_is_cancelled():
    started = asyncio.Event()

    async def run(items):
        started.set()
        await asyncio.sleep(10)

    batches = Batches(run)
    waiting = [asyncio.ensure_future(batches.add(i)) for i in range(3)]
    await started.wait()
    batches._running.cancel()
    done, _ = await asyncio.wait(waiting, timeout=1)
    assert len(done) == 3 and all(w.cancelled() for w in waiting)


async def test_inline_a_lone_call_runs_in_its_callers_task_and_those_meanwhile_go_together():
    runs = []

    async def run(items):
        runs.append((items, asyncio.current_task()))
        await asyncio.sleep(0.01)
        return [i * 10 for i in items]

    batches = Batches(run, inline=True)
    alone = asyncio.ensure_future(batches.add(0))
    while not runs:
        await asyncio.sleep(0)
    assert await asyncio.gather(*(batches.add(i) for i in range(1, 20))) == [i * 10 for i in range(1, 20)]
    assert await alone == 0
    assert [items for items, _task in runs] == [[0], list(range(1, 20))]
    assert runs[0][1] is alone  # the lone call ran in its own task; the others in the batches' task
    assert await batches.add(7) == 70 and runs[-1][1] is asyncio.current_task()
