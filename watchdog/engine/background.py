"""Work the engine starts and does not wait for: a task of the running loop, held until it is done.

The loop keeps only weak references to tasks, so each one sits in its owner's set until it finishes.
"""

from __future__ import annotations

import asyncio
import functools
import logging
from collections.abc import Callable, Coroutine
from typing import TYPE_CHECKING, Any, TypeVar

if TYPE_CHECKING:
    from apscheduler.schedulers.asyncio import AsyncIOScheduler

T = TypeVar("T")
log = logging.getLogger(__name__)


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


def one_at_a_time(job: Callable[[], Coroutine[Any, Any, Any]], *, id: str) -> Callable[[], Any]:
    """`job`, except that a run due while the previous one is still going returns at once, quietly.

    APScheduler's own limit (max_instances) skips such a run too, but with a warning each time: under
    load (a claim waiting on the store) that was a line per interval per job, noise that said nothing.
    """
    running = False

    @functools.wraps(job)
    async def guarded() -> Any:
        nonlocal running
        if running:
            log.debug("job %s still running: this run skipped", id)
            return None
        running = True
        try:
            return await job()
        finally:
            running = False

    return guarded


def every(sched: AsyncIOScheduler, job: Callable[[], Any], *, id: str, **when: Any) -> None:
    """A periodic job of the engine's scheduler, one run at a time unless `max_instances` says more.

    Runs missed while one was going are folded into one (coalesce), however late; `when` is the interval
    and any options. Without `max_instances`, a run due while the previous one still runs is skipped quietly.
    """
    if "max_instances" not in when and asyncio.iscoroutinefunction(job):
        # The scheduler may start a second instance; the guard turns it away at once, without a warning.
        job, when = one_at_a_time(job, id=id), {**when, "max_instances": 2}
    # misfire_grace_time None: a run the loop started late still runs (once), without "was missed by" lines.
    options = {"max_instances": 1, "coalesce": True, "misfire_grace_time": None, **when}
    sched.add_job(job, "interval", id=id, **options)
