"""Named fault-injection points for the crash tests: `point("after_verdict")` can kill or stall the daemon.

Inert unless WATCHDOG_TEST_FAULTS=1 is set too: production ignores WATCHDOG_FAULTS whatever it says.
"""

from __future__ import annotations

import logging
import os
import signal
import time

log = logging.getLogger(__name__)

# Every point the lifecycle passes, in order; `after_action:<kind>` is one per pending-action kind.
POINTS = (
    "after_sample_written",
    "after_verdict",
    "after_action:<kind>",
    "before_target_call",
    "after_target_call",
    "after_rollback_verdict",
    "after_notify_sent",
    "while_sampling",  # runs on the loop while a sample's probes are in flight (a stall: `block:<s>`)
)


def _parse(spec: str) -> dict[str, list[str]]:
    """`point=action[@n],point=action` -> {point: [action, ...]}; `@n` fires on the n-th pass only."""
    rules: dict[str, list[str]] = {}
    for item in filter(None, (part.strip() for part in spec.split(","))):
        name, sep, action = item.partition("=")
        if not sep or not action:
            raise ValueError(f"WATCHDOG_FAULTS item {item!r} is not point=action")
        rules.setdefault(name.strip(), []).append(action.strip())
    return rules


class Faults:
    def __init__(self, spec: str | None, *, enabled: bool) -> None:
        self.rules = _parse(spec or "") if enabled else {}
        self._passes: dict[str, int] = {}

    @classmethod
    def from_env(cls, environ: dict[str, str] | None = None) -> Faults:
        env = os.environ if environ is None else environ
        return cls(env.get("WATCHDOG_FAULTS"), enabled=env.get("WATCHDOG_TEST_FAULTS") == "1")

    def hit(self, name: str) -> None:
        """Called at a step boundary; does nothing unless a test asked for a fault at `name`."""
        actions = self.rules.get(name)
        if not actions:
            return
        n = self._passes[name] = self._passes.get(name, 0) + 1
        for action in actions:
            what, _, nth = action.partition("@")
            if nth and int(nth) != n:
                continue
            log.warning("fault injection: %s at %s (pass %d)", what, name, n)
            if what == "kill":
                kill_daemon()
            elif what.startswith("sleep:"):
                time.sleep(float(what.removeprefix("sleep:")))  # blocks the loop on purpose: a stall
            elif what.startswith("block:"):
                # The same blocking stall, named for what it does to the event loop (an overloaded daemon).
                time.sleep(float(what.removeprefix("block:")))
            else:
                raise ValueError(f"unknown fault action {what!r} at {name}")


_faults: Faults | None = None
# In an engine worker of `serve --workers`, the serving process: a `kill` there kills the whole daemon.
_daemon: int | None = None


def set_daemon(pid: int) -> None:
    """Called by an engine worker with its serving process's pid."""
    global _daemon
    _daemon = pid


def kill_daemon() -> None:
    """SIGKILL to the whole daemon, so "the daemon dies at this point" holds with several processes too.

    The serving process first: dead, it restarts no worker, and every worker dies with it (PR_SET_PDEATHSIG);
    then this process, in case it is a worker. The parent check keeps a reused pid out of reach.
    """
    if _daemon is not None and _daemon != os.getpid() and os.getppid() == _daemon:
        os.kill(_daemon, signal.SIGKILL)
    os.kill(os.getpid(), signal.SIGKILL)


def point(name: str) -> None:
    """The one call sites make; the settings are read once, at the first point passed."""
    global _faults
    if _faults is None:
        _faults = Faults.from_env()
    _faults.hit(name)


def armed(name: str) -> bool:
    """Whether a test asked for a fault at `name` (so a hot path schedules the point only then)."""
    global _faults
    if _faults is None:
        _faults = Faults.from_env()
    return name in _faults.rules


def reset() -> None:
    """Reads the environment again at the next point (for tests that change it in-process)."""
    global _faults
    _faults = None
