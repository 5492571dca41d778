"""Removes secret values from text before it is logged, stored or shown.

Known secret values are registered once at start-up (from settings and resolved secret references).
"""

from __future__ import annotations

import re
from collections.abc import Iterable

MASK = "***"

# Patterns that look like credentials even when we were not told the value.
_PATTERNS = [
    re.compile(r"(?i)(authorization:\s*(?:bearer|basic|token)\s+)[^\s\"']+"),
    re.compile(
        r"(?i)((?:api[_-]?key|app[_-]?key|token|password|secret|dsn)[\"']?\s*[:=]\s*[\"']?)[^\s\"',}]+"
    ),
    re.compile(r"(?i)(dd-(?:api|application)-key:\s*)[^\s\"']+"),
    re.compile(r"(https://hooks\.slack\.com/services/)[A-Za-z0-9/_-]+"),
]


class Redactor:
    def __init__(self, secrets: Iterable[str] = ()) -> None:
        self._secrets: set[str] = set()
        self.add(*secrets)

    def add(self, *secrets: str | None) -> None:
        for s in secrets:
            # Every length: a short secret is still a secret (settings refuse short keys at start-up).
            if s:
                self._secrets.add(s)

    def __call__(self, text: str) -> str:
        for s in sorted(self._secrets, key=len, reverse=True):
            if s in text:
                text = text.replace(s, MASK)
        for pattern in _PATTERNS:
            text = pattern.sub(lambda m: m.group(1) + MASK, text)
        return text


# The process-wide redactor: filled by settings and secret resolution, read by logging and reports.
REDACTOR = Redactor()


def redact(text: str) -> str:
    return REDACTOR(text)
