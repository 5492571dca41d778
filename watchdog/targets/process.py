"""Runs one external program from an argv list (never a shell), bounded in time and in captured output.

On timeout the whole process group is stopped, so a deploy script's children do not outlive it.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

MAX_CAPTURE = 256_000  # bytes kept per stream; a chatty deploy script must not fill the daemon's memory


@dataclass(frozen=True)
class Finished:
    argv: tuple[str, ...]
    returncode: int | None  # None: killed on timeout
    stdout: str
    stderr: str
    timed_out: bool = False


class _Capture:
    """Bytes read from one pipe, kept as they arrive so that a cancelled reader still leaves its part."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.kept = bytearray()
        self.dropped = 0

    async def drain(self, stream: asyncio.StreamReader | None) -> None:
        if stream is None:
            return
        while chunk := await stream.read(65536):
            room = max(0, self.limit - len(self.kept))
            self.kept += chunk[:room]
            self.dropped += len(chunk) - min(room, len(chunk))

    def text(self) -> str:
        tail = f"\n... [{self.dropped} bytes dropped]" if self.dropped else ""
        return self.kept.decode(errors="replace") + tail


def _signal_group(pid: int, sig: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError):  # it may have exited between our check and the signal
        os.killpg(pid, sig)


async def run(
    argv: Sequence[str],
    *,
    timeout: float,
    env: Mapping[str, str] | None = None,
    cwd: str | None = None,
    kill_grace: float = 5.0,
    max_capture: int = MAX_CAPTURE,
) -> Finished:
    """Runs argv to completion or `timeout`; then SIGTERM to its group, SIGKILL after `kill_grace` seconds.

    Raises FileNotFoundError/PermissionError when the program cannot be started.
    """
    proc = await asyncio.create_subprocess_exec(
        *argv,
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env=dict(env) if env is not None else None,
        cwd=cwd,
        start_new_session=True,  # its own process group, so a timeout can stop its children too
    )
    out, err = _Capture(max_capture), _Capture(max_capture)
    readers = asyncio.ensure_future(asyncio.gather(out.drain(proc.stdout), err.drain(proc.stderr)))
    timed_out = False
    try:
        await asyncio.wait_for(proc.wait(), timeout)
    except TimeoutError:
        timed_out = True
        _signal_group(proc.pid, signal.SIGTERM)
        try:
            await asyncio.wait_for(proc.wait(), kill_grace)
        except TimeoutError:
            _signal_group(proc.pid, signal.SIGKILL)
            await proc.wait()
    # A child that left the group but kept the pipes open would block the readers forever: bound the wait.
    done, _ = await asyncio.wait({readers}, timeout=kill_grace)
    if not done:
        _signal_group(proc.pid, signal.SIGKILL)
        readers.cancel()
        await asyncio.gather(readers, return_exceptions=True)
    return Finished(
        argv=tuple(argv),
        returncode=None if timed_out else proc.returncode,
        stdout=out.text(),
        stderr=err.text(),
        timed_out=timed_out,
    )
