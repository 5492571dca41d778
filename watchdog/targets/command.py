"""Command target: runs a deploy program from an argv template (no shell), bounded in time; exit 0 is success.

Exit 75 (EX_TEMPFAIL, "try again later") is retried with backoff; any other failure is final.
"""

from __future__ import annotations

import asyncio
import os
import shlex

from watchdog.errors import TargetError, TransientTargetError, WatchdogError
from watchdog.plumbing import BARE, Plumbing
from watchdog.policy.connections import CommandTargetConfig
from watchdog.targets import process
from watchdog.targets.base import Current, RollbackRequest, RollbackResult
from watchdog.targets.current_probe import probe_current
from watchdog.targets.retry import Backoff, with_retries
from watchdog.targets.rollback_memo import RollsBackOnce
from watchdog.targets.transcript import RetryNotes, Transcript
from watchdog.templating import TARGET_NAMES, Context, check_templates, env_names, render

EX_TEMPFAIL = 75
# What a program needs to run at all; anything else (tokens above all) it gets only when its config names it.
BASE_ENV = ("PATH", "HOME", "LANG", "LC_ALL", "LC_CTYPE", "TZ", "TMPDIR", "USER", "LOGNAME")


def request_env(req: RollbackRequest) -> dict[str, str]:
    """The request as WATCHDOG_* variables, so a script need not take every value as an argument."""
    return {f"WATCHDOG_{key.upper()}": value for key, value in req.placeholders().items()}


class CommandTarget(RollsBackOnce[CommandTargetConfig]):
    def __init__(
        self,
        name: str,
        config: CommandTargetConfig,
        *,
        plumbing: Plumbing = BARE,
        poll_interval: float = 2.0,  # unused: the command itself waits for its rollout; one constructor shape
        backoff: Backoff | None = None,
        kill_grace: float = 5.0,
    ) -> None:
        templates = [(t, Context.ARGV) for t in (*config.argv, *config.env.values())]
        check_templates(templates, known=TARGET_NAMES, where=f"target {name}")
        super().__init__(name, config, plumbing)
        self._backoff = backoff or Backoff(attempts=3)
        self._kill_grace = kill_grace

    async def current(self, req: RollbackRequest) -> Current:
        if self.config.current is not None:
            return await probe_current(self.config.current, req, target=self.name, environ=self._environ)
        return Current(artifact=None, detail=f"command target {self.name} cannot tell what runs")

    def _env(self, req: RollbackRequest, log: Transcript) -> dict[str, str]:
        base = dict(self._environ if self._environ is not None else os.environ)
        minimal = {key: base[key] for key in BASE_ENV if key in base}
        env = {**minimal, **request_env(req)}
        for key, template in self.config.env.items():
            # References and placeholders in one pass: a placeholder's value is never env-expanded.
            log.add_secret(*(base.get(name) for name in env_names(template)))
            env[key] = render(
                template, req.placeholders(), context=Context.ARGV, environ=base, expand_env=True
            )
        return env

    async def _perform(self, req: RollbackRequest) -> RollbackResult:
        """Renders argv and env, then runs the command; exit 75 is asked again with backoff."""
        log = Transcript()
        notes = RetryNotes(log)
        try:
            argv = [render(item, req.placeholders(), context=Context.ARGV) for item in self.config.argv]
            env = self._env(req, log)
            done = await with_retries(
                lambda: self._run(argv, env, log), backoff=self._backoff, on_retry=notes
            )
            ok, detail = True, done.value
        except WatchdogError as exc:
            ok, detail = False, str(exc)
        return RollbackResult(ok=ok, detail=log.clean(detail), output=log.text(), attempts=notes.attempts)

    async def _run(self, argv: list[str], env: dict[str, str], log: Transcript) -> str:
        loop = asyncio.get_running_loop()
        started = loop.time()
        log.note(f"$ {shlex.join(argv)}" + (f"  (in {self.config.cwd})" if self.config.cwd else ""))
        try:
            fin = await process.run(
                argv, timeout=self.config.timeout, env=env, cwd=self.config.cwd, kill_grace=self._kill_grace
            )
        except OSError as exc:
            raise TargetError(f"cannot run {argv[0]}: {exc.strerror or exc}") from None
        took = loop.time() - started
        status = "killed after timeout" if fin.timed_out else f"exit {fin.returncode}"
        log.note(f"{status} after {took:.1f} s")
        for stream, text in (("stdout", fin.stdout), ("stderr", fin.stderr)):
            if text.strip():
                log.note(f"{stream}:\n  " + text.rstrip().replace("\n", "\n  "))
        if fin.timed_out:
            raise TargetError(
                f"{argv[0]} did not finish within {self.config.timeout:g} s; its process group was stopped"
            )
        last = (fin.stderr.strip() or fin.stdout.strip()).splitlines()[-1:] or [""]
        if fin.returncode == EX_TEMPFAIL:
            raise TransientTargetError(f"{argv[0]} asked to be retried (exit 75): {last[0]}".rstrip(": "))
        if fin.returncode != 0:
            raise TargetError(f"{argv[0]} failed with exit {fin.returncode}: {last[0]}".rstrip(": "))
        return f"{argv[0]} exited 0 in {took:.1f} s" + (f": {last[0]}" if last[0] else "")
