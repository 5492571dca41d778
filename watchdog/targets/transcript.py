"""The log an adapter keeps of one rollback (HTTP exchanges, command output, retries), redacted and bounded.

It becomes RollbackResult.output, which is stored and shown in reports, so nothing secret may stay in it.
"""

from __future__ import annotations

import httpx

from watchdog.redact import Redactor, redact

EXCERPT = 500  # characters of a response body kept per exchange
LIMIT = 32_000  # characters of a whole transcript; the middle is dropped beyond it


def excerpt(text: str, *, limit: int = EXCERPT) -> str:
    text = text.strip()
    return text if len(text) <= limit else text[:limit] + f"... [{len(text) - limit} more characters]"


def bounded(text: str, *, limit: int = LIMIT) -> str:
    """Keeps the head and the tail: the start says what ran, the end says how it failed."""
    if len(text) <= limit:
        return text
    half = limit // 2
    return text[:half] + f"\n... [{len(text) - limit} characters dropped] ...\n" + text[-half:]


class Transcript:
    def __init__(self, *, secrets: tuple[str | None, ...] = ()) -> None:
        self._lines: list[str] = []
        self._redactor = Redactor()
        self._redactor.add(*secrets)

    def add_secret(self, *values: str | None) -> None:
        self._redactor.add(*values)

    def note(self, line: str) -> None:
        self._lines.append(line)

    def exchange(self, resp: httpx.Response, *, body: bool = True) -> None:
        """One line for a request and its answer: method, path, status, and an excerpt of a non-empty body."""
        req = resp.request
        line = f"{req.method} {req.url.copy_with(query=None)} -> {resp.status_code} {resp.reason_phrase}"
        if body and resp.content:
            line += "\n  " + excerpt(resp.text).replace("\n", "\n  ")
        self._lines.append(line)

    def text(self) -> str:
        return bounded(redact(self._redactor("\n".join(self._lines))))

    def clean(self, text: str) -> str:
        """`text` with the same redaction as the transcript, for one-line details."""
        return redact(self._redactor(text))


class RetryNotes:
    """The on_retry hook of with_retries: notes "transient (...); retry N in X s" and counts the attempts."""

    def __init__(self, log: Transcript, *, indent: str = "") -> None:
        self.log = log
        self.indent = indent
        self.attempts = 1

    def __call__(self, attempt: int, exc: Exception, delay: float) -> None:
        self.attempts += 1
        self.log.note(f"{self.indent}transient ({exc}); retry {attempt} in {delay:.1f}s")
