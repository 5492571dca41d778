"""A one-line progress bar on stderr while history is fetched, shown only when stderr is a terminal.

Redrawn at most ten times a second; cleared when done, so piped output and --json stay clean.
"""

from __future__ import annotations

import sys
import time
from typing import TextIO

_WIDTH = 30


class Progress:
    def __init__(self, *, what: str, stream: TextIO | None = None, force: bool = False) -> None:
        self.what = what
        self.stream = stream or sys.stderr
        self.enabled = force or self.stream.isatty()
        self._last = 0.0

    def __call__(self, done: int, total: int) -> None:
        if not self.enabled:
            return
        now = time.monotonic()
        if done < total and now - self._last < 0.1:
            return
        self._last = now
        filled = _WIDTH * done // max(total, 1)
        bar = "#" * filled + "." * (_WIDTH - filled)
        self.stream.write(f"\r{self.what} [{bar}] {done}/{total}")
        if done >= total:
            self.stream.write("\r" + " " * (len(self.what) + _WIDTH + 24) + "\r")
        self.stream.flush()
