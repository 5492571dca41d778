"""A fixed rate-limit window for the fakes: N calls per period, then 429 until the window resets.

Calendar aligned like Datadog's and Sentry's windows; counts what it let through and what it refused.
"""

from __future__ import annotations

import math
import threading
import time
from dataclasses import dataclass, field


@dataclass
class RateWindow:
    limit: int
    period: float  # seconds
    allowed: int = 0
    refused: int = 0
    per_window: dict[int, int] = field(default_factory=dict)  # window index -> calls let through
    refused_per_window: dict[int, int] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def take(self) -> tuple[bool, int, float]:
        """(allowed, remaining after this call, reset epoch) for one incoming call."""
        with self._lock:
            now = time.time()
            window = math.floor(now / self.period)
            used = self.per_window.get(window, 0)
            reset = (window + 1) * self.period
            if used >= self.limit:
                self.refused += 1
                self.refused_per_window[window] = self.refused_per_window.get(window, 0) + 1
                return False, 0, reset
            self.per_window[window] = used + 1
            self.allowed += 1
            return True, self.limit - used - 1, reset
