"""The exception tree of the daemon, drawn once so callers catch exactly the level they mean.

WatchdogError
├── ConfigError        a settings, daemon or policy file is invalid (carries file:line problems)
├── SourceError        a metric source could not answer (turned into inconclusive samples, never raised
│                      through the engine)
├── TargetError        a deploy target refused or failed a rollback
│   └── TransientTargetError   worth retrying: connection error, 5xx, 429
├── StoreError         the state store failed or a row is missing
│   └── NotFound       no such row
└── IntakeError        an inbound webhook is refused (carries an HTTP status and a code)
"""

from __future__ import annotations

from dataclasses import dataclass


class WatchdogError(Exception):
    """Base of every error the daemon raises on purpose."""


@dataclass(frozen=True)
class Problem:
    """One thing wrong in a file, located for an editor: `path:line:col: message`."""

    path: str
    line: int
    col: int
    message: str

    def __str__(self) -> str:
        if self.line <= 0:  # a problem that belongs to no file position (a missing variable, say)
            return self.message if self.path == "<config>" else f"{self.path}: {self.message}"
        return f"{self.path}:{self.line}:{self.col}: {self.message}"


class ConfigError(WatchdogError):
    def __init__(self, problems: list[Problem] | str) -> None:
        if isinstance(problems, str):
            problems = [Problem("<config>", 0, 0, problems)]
        self.problems = problems
        super().__init__("\n".join(str(p) for p in problems))


class SourceError(WatchdogError):
    """A source failed; `kind` is a short label for metrics (timeout, http_5xx, rate_limited, parse ...)."""

    def __init__(self, message: str, *, kind: str = "error") -> None:
        self.kind = kind
        super().__init__(message)


class TargetError(WatchdogError):
    pass


class TransientTargetError(TargetError):
    pass


class StoreError(WatchdogError):
    pass


class NotFound(StoreError):
    pass


class IntakeError(WatchdogError):
    def __init__(self, status: int, code: str, detail: str) -> None:
        self.status = status
        self.code = code
        self.detail = detail
        super().__init__(f"{status} {code}: {detail}")
