"""Ending loop tasks: a cancellation lost by asyncio.wait_for does not keep them running."""

from __future__ import annotations

import asyncio
import sys

from wayfare.tasks import cancel_and_wait


async def _a_loop_about_to_resume_from_wait_for() -> tuple[asyncio.Task[None], list[int]]:
    """A task looping over ``asyncio.wait_for``, caught as what it awaited has completed: a
    cancellation now is lost on Python 3.11, and the loop runs on (rounds counts its turns)."""
    loop = asyncio.get_running_loop()
    waiting: list[asyncio.Future[int]] = []
    rounds = [0]

    async def looping() -> None:
        while True:
            waiting.append(loop.create_future())
            await asyncio.wait_for(waiting[-1], 10)
            rounds[0] += 1

    task = asyncio.create_task(looping())
    await asyncio.sleep(0)
    waiting[-1].set_result(1)
    await asyncio.sleep(0)  # wait_for's waiter is released: the task is about to resume
    return task, rounds


def test_a_single_cancellation_can_be_lost() -> None:
    async def scenario() -> None:
        task, rounds = await _a_loop_about_to_resume_from_wait_for()
        task.cancel()
        await asyncio.sleep(0.05)
        lost = not task.done()
        await cancel_and_wait(task)
        assert lost or sys.version_info >= (3, 12), "the reason for cancel_and_wait is gone"
        assert rounds[0] >= 1

    asyncio.run(scenario())


def test_a_task_whose_cancellation_is_lost_is_cancelled_again_until_it_ends() -> None:
    async def scenario() -> None:
        task, _ = await _a_loop_about_to_resume_from_wait_for()
        async with asyncio.timeout(5):
            await cancel_and_wait(task)
        assert task.cancelled()

    asyncio.run(scenario())


def test_ended_tasks_and_none_are_passed_over_and_failures_are_taken_not_raised() -> None:
    async def fails() -> None:
        raise RuntimeError("boom")

    async def scenario() -> None:
        failed = asyncio.create_task(fails())
        await asyncio.sleep(0)
        sleeping = asyncio.create_task(asyncio.sleep(60))
        await cancel_and_wait(None, failed, sleeping)
        assert sleeping.cancelled() and isinstance(failed.exception(), RuntimeError)

    asyncio.run(scenario())
