"""`watchdog wait ID` and `notify --wait`: block until the verdict, like `kubectl rollout status`.

Exit 0 passed or promoted, 1 failed or rolled back, 2 inconclusive (or no verdict), 3 timeout or error.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TextIO

import httpx

from watchdog.policy.durations import format_duration, parse_duration

PASSED, FAILED, INCONCLUSIVE, ERROR = 0, 1, 2, 3
DEFAULT_WAIT = "30m"

# State -> exit code, for the states from which nothing moves on by itself.
_FINAL = {
    "passed": PASSED,
    "promoted": PASSED,
    "rolled_back": FAILED,
    "rollback_failed": FAILED,
    # No verdict at all: a newer deploy replaced it, or an operator stopped it.
    "superseded": INCONCLUSIVE,
    "cancelled": INCONCLUSIVE,
}
# A verdict whose rollback will not come: the attempt was refused by a guard rail, or is a dry run.
_NO_ROLLBACK = ("refused", "dry_run")


def exit_code(d: dict[str, Any]) -> int | None:
    """The exit code once the deployment has settled; None while it still moves on by itself."""
    state = d["state"]
    if state in _FINAL:
        return _FINAL[state]
    if state not in ("failed", "inconclusive"):
        return None  # pending, warming, verifying, rolling_back
    rollback = d.get("rollback")
    # A verdict that obliges a rollback is not the end: wait for the restored version's verification.
    if d.get("action") == "rollback" and (rollback is None or rollback["state"] not in _NO_ROLLBACK):
        return None
    return FAILED if state == "failed" else INCONCLUSIVE


def read_headers() -> dict[str, str]:
    """Reads carry WATCHDOG_READ_TOKEN (or the admin token) when one is set: a daemon may require it."""
    from watchdog.settings import load_settings  # lazy: only the commands that authenticate need it

    settings = load_settings()
    token = settings.secrets.read_token or settings.secrets.admin_token
    return {"authorization": f"Bearer {token.get_secret_value()}"} if token is not None else {}


@dataclass
class Progress:
    """Draws one line per check: rewritten in place on a terminal, appended when a line changes otherwise."""

    out: TextIO
    tty: bool
    drawn: int = 0
    last: dict[str, str] = field(default_factory=dict)

    def show(self, lines: list[tuple[str, str]]) -> None:
        if self.tty:
            # Move up over the block drawn last time, and redraw it whole. A line wider than the
            # terminal would wrap onto two rows and the next move up would miss one: cut it instead.
            width = max(20, _columns(self.out) - 1)
            text = f"\x1b[{self.drawn}F" if self.drawn else ""
            text += "".join(f"\x1b[2K{line[:width]}\n" for _, line in lines)
            self.out.write(text)
            self.drawn = len(lines)
        else:
            for key, line in lines:
                if self.last.get(key) != line:
                    self.out.write(line + "\n")
                    self.last[key] = line
        self.out.flush()

    def note(self, line: str) -> None:
        """A line that stays above the live block."""
        if self.tty and self.drawn:
            self.out.write(f"\x1b[{self.drawn}F\x1b[J")
            self.drawn = 0
        self.out.write(line + "\n")
        self.out.flush()


def _columns(out: TextIO) -> int:
    """The width of the terminal the progress goes to (stderr), not of stdout, which may be a pipe."""
    if os.environ.get("COLUMNS", "").isdigit():
        return int(os.environ["COLUMNS"])
    try:
        columns = os.get_terminal_size(out.fileno()).columns
    except (AttributeError, ValueError, OSError):
        columns = 0
    # A terminal that reports no size (a fresh pty) gets the usual fallback.
    return columns or shutil.get_terminal_size((120, 24)).columns


def progress_lines(d: dict[str, Any]) -> list[tuple[str, str]]:
    v = d.get("verification") or {}
    total = int(v.get("samples_total") or 0)
    head = f"{d['service']}/{d['environment']} {d['version']} ({d['id']}): {d['state']}"
    lines = [("", head)]
    by_check: dict[str, list[dict[str, Any]]] = {}
    for s in d.get("samples", []):
        by_check.setdefault(s["check"], []).append(s)
    for check, samples in by_check.items():
        taken = len(samples)
        judged = [s for s in samples if not s.get("warmup")]
        counts = {o: sum(1 for s in judged if s["outcome"] == o) for o in ("pass", "fail", "inconclusive")}
        last = samples[-1]
        last_text = "warm-up" if last.get("warmup") else last["outcome"]
        line = (
            f"  {check}: {taken}/{total} samples, {counts['pass']} pass, {counts['fail']} fail, "
            f"{counts['inconclusive']} inconclusive; last {last_text}: {last['reason']}"
        )
        lines.append((check, line))
    rollback = d.get("rollback")
    if rollback:
        # After a failed verdict the wait goes on through the rollback: say where it stands.
        to = rollback.get("to_version") or "-"
        lines.append(("rollback", f"  rollback: {rollback['state']} to {to}"))
    return lines


def verdict_line(d: dict[str, Any], code: int) -> str:
    words = {PASSED: "passed", FAILED: "failed", INCONCLUSIVE: "inconclusive"}[code]
    text = f"{d['service']}/{d['environment']} {d['version']} ({d['id']}): {d['state']}"
    rollback = d.get("rollback")
    if rollback and rollback.get("to_version") and d["state"] in ("rolled_back", "rollback_failed"):
        text += f" to {rollback['to_version']}"
    reasons = d.get("reasons") or []
    return f"{text} [{words}]" + (f": {reasons[0]}" if reasons else "")


def wait(
    *,
    url: str,
    deployment_id: str,
    timeout_s: float,
    poll_s: float,
    request_timeout_s: float,
    progress: Progress,
    clock: Callable[[], float] = time.monotonic,
) -> tuple[int, dict[str, Any]]:
    """Polls GET /v1/deployments/{id} until the deployment settles or the time is up."""
    deadline = clock() + timeout_s
    last: dict[str, Any] = {"id": deployment_id}
    unreachable = False
    with httpx.Client(base_url=url.rstrip("/"), timeout=request_timeout_s, headers=read_headers()) as client:
        while True:
            try:
                resp = client.get(f"/v1/deployments/{deployment_id}")
            except httpx.HTTPError as exc:
                # A daemon that restarts (a rolling update) is waited for, within the same deadline.
                if not unreachable:
                    why = exc or type(exc).__name__
                    progress.note(f"cannot reach the watchdog at {url} ({why}); retrying")
                unreachable = True
            else:
                unreachable = False
                if resp.status_code != 200:
                    detail = resp.text[:200]
                    return ERROR, {"id": deployment_id, "error": f"http_{resp.status_code}", "detail": detail}
                last = resp.json()
                progress.show(progress_lines(last))
                code = exit_code(last)
                if code is not None:
                    return code, last
            if clock() >= deadline:
                state = last.get("state", "unknown")
                detail = f"gave up after {format_duration(timeout_s)}: {deployment_id} is still {state}"
                return ERROR, {**last, "error": "timeout", "detail": detail}
            time.sleep(max(0.0, min(poll_s, deadline - clock())))


def run_wait(args: argparse.Namespace, deployment_id: str) -> int:
    """Waits, then prints the final answer: JSON with --json, else one line; progress goes to stderr."""
    progress = Progress(out=sys.stderr, tty=sys.stderr.isatty())
    code, d = wait(
        url=args.url,
        deployment_id=deployment_id,
        timeout_s=args.wait_timeout,
        poll_s=args.poll_interval,
        request_timeout_s=args.timeout,
        progress=progress,
    )
    if code == ERROR:
        if args.json:
            print(json.dumps(d, indent=2))
        print(f"watchdog {args.command}: {d.get('error')}: {d.get('detail')}", file=sys.stderr)
        return code
    print(json.dumps(d, indent=2) if args.json else verdict_line(d, code))
    return code


def _duration(value: str) -> float:
    try:
        # A bare number is seconds, as in the policy files.
        seconds = parse_duration(float(value) if value.replace(".", "", 1).isdigit() else value)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
    if seconds <= 0:
        raise argparse.ArgumentTypeError("must be longer than 0s")
    return seconds


def add_wait_flags(p: argparse.ArgumentParser, *, optional: bool) -> None:
    if optional:
        p.add_argument(
            "--wait",
            action="store_true",
            help="block until the verdict: exit 0 passed, 1 failed or rolled back, 2 inconclusive, "
            "3 timeout or error",
        )
    p.add_argument(
        "--wait-timeout",
        type=_duration,
        default=parse_duration(DEFAULT_WAIT),
        metavar="DURATION",
        help=f"give up (exit 3) after this long (default {DEFAULT_WAIT})",
    )
    p.add_argument(
        "--poll-interval", type=_duration, default=2.0, metavar="DURATION", help="between polls (default 2s)"
    )


def wait_command(args: argparse.Namespace) -> int:
    return run_wait(args, args.deployment_id)


def register(sub: argparse._SubParsersAction[Any]) -> None:
    p = sub.add_parser(
        "wait",
        help="block until a deployment's verdict: exit 0 passed, 1 failed or rolled back, "
        "2 inconclusive, 3 timeout or error",
    )
    p.add_argument("deployment_id", metavar="DEPLOYMENT_ID")
    add_wait_flags(p, optional=False)
    from watchdog.cli.client import _common  # the same --url/--json/--timeout as the other clients

    _common(p)
    p.set_defaults(handler=wait_command)
