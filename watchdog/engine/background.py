"""Work the engine starts and does not wait for: a task of the running loop, held until it is done.

The loop keeps only weak references to tasks, so each one sits in its owner's set until it finishes.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine
from typing import TYPE_CHECKING, Any, TypeVar

if TYPE_CHECKING:
    from apscheduler.schedulers.asyncio import AsyncIOScheduler

T = TypeVar("T")


def start_soon(tasks: set[asyncio.Task[T]], work: Callable[[], Coroutine[Any, Any, T]]) -> None:
    """Runs `work()` as a task kept in `tasks` until it ends; nothing at all when no loop is running.

    `work` is called only once a loop is known, so no coroutine is created that nobody awaits.
    """
    try:
        loop = asyncio.get_running_loop()
    except RuntimeError:
        return
    task = loop.create_task(work())
    tasks.add(task)
    task.add_done_callback(tasks.discard)


def every(sched: AsyncIOScheduler, job: Callable[[], Any], *, id: str, **when: Any) -> None:
    """A periodic job of the engine's scheduler, one run at a time unless `max_instances` says more.

    Runs missed while one was going are folded into one (coalesce); `when` is the interval and any options.
    """
    options = {"max_instances": 1, "coalesce": True, **when}
    sched.add_job(job, "interval", id=id, **options)
