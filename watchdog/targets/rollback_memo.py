"""What makes an adapter's rollback happen once per deploy: a memo of successful results behind a lock.

A failed result is not remembered, so the same rollback may be asked again.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Generic, Protocol, TypeVar

from watchdog.plumbing import Plumbing
from watchdog.targets.base import RollbackRequest, RollbackResult


class RollbackMemo:
    """One rollback at a time per target; a repeat of a successful one answers from memory, deploying nothing.

    The key is (deployment_id, artifact). A failed result is not remembered, so it may be asked again.
    """

    def __init__(self) -> None:
        self._done: dict[tuple[str, str], RollbackResult] = {}
        self._lock = asyncio.Lock()

    async def run(
        self, req: RollbackRequest, attempt: Callable[[], Awaitable[RollbackResult]]
    ) -> RollbackResult:
        """`attempt()` runs under the lock, so a second identical request finds the first one's key."""
        key = (req.deployment_id, req.artifact)
        async with self._lock:
            if (prior := self._done.get(key)) is not None:
                return RollbackResult(
                    ok=True,
                    detail=f"already rolled back for this deploy: {prior.detail}",
                    output=prior.output,
                )
            result = await attempt()
            if result.ok:
                self._done[key] = result
            return result


class _Limited(Protocol):
    @property
    def timeout(self) -> float: ...


_C = TypeVar("_C", bound=_Limited)


class RollsBackOnce(Generic[_C]):
    """The `rollback` of a target that keeps a RollbackMemo: it runs the target's `_perform` through it."""

    _memo: RollbackMemo
    config: _C

    def __init__(self, name: str, config: _C, plumbing: Plumbing) -> None:
        """What every adapter keeps: its name and config, the daemon's environment and transport, a memo."""
        self.name = name
        self.config = config
        self._environ = plumbing.environ
        self._transport = plumbing.transport
        self._memo = RollbackMemo()

    @property
    def timeout(self) -> float:
        return float(self.config.timeout)

    async def rollback(self, req: RollbackRequest) -> RollbackResult:
        return await self._memo.run(req, lambda: self._perform(req))

    async def _perform(self, req: RollbackRequest) -> RollbackResult:
        raise NotImplementedError
