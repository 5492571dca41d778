"""The exception tree of the daemon, drawn once so callers catch exactly the level they mean.

WatchdogError
├── ConfigError        a settings, daemon or policy file is invalid (carries file:line problems)
│   ├── SelectorError  a scrape check's series selector cannot be parsed (sources/selector.py)
│   └── TemplateError  a template cannot be filled safely: unknown name, unsafe value (templating.py)
├── SourceError        a metric source could not answer (turned into inconclusive samples, never raised
│                      through the engine)
├── TargetError        a deploy target refused or failed a rollback
│   └── TransientTargetError   worth retrying: connection error, 5xx, 429
│       └── RetryAfter         the server said how long to wait (targets/retry.py)
├── NotifyError        a notification was not delivered; `retryable` says if a retry helps (notify/base.py)
├── StoreError         the state store failed or a row is missing
│   ├── NotFound       no such row
│   ├── Conflict       another write already made this one (store/outbox_repo.py)
│   ├── StoreUnavailable   a write refused before it started: the store cannot keep it (store/health.py)
│   ├── AnsweredBefore     a batched event's delivery id was answered before (store/intake_repo.py)
│   └── NotRolledBack      a review asked of a deployment no rollback acted on (store/stats_repo.py)
├── Refused            the engine will not carry out an operator's action (carries the action and the reason;
│                      no HTTP status: api/errors.py answers it with 409)
├── IntakeError        a request to the API is refused (carries an HTTP status and a code); raised by intake/
│                      and api/ only
├── PortBusy           a listening port cannot be bound (cli/ports.py)
└── Failure            a CLI command failed; carries its exit code (cli/client.py)
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


class Refused(WatchdogError):
    """An operator action the engine refuses: `action` is rollback, promote or cancel; `reason` says why."""

    def __init__(self, action: str, reason: str) -> None:
        self.action = action
        self.reason = reason
        super().__init__(f"{action} refused: {reason}")

    @property
    def code(self) -> str:
        """The refusal's short code, kept on operator requests and in API answers (rollback_refused, ...)."""
        return f"{self.action}_refused"


class IntakeError(WatchdogError):
    def __init__(self, status: int, code: str, detail: str) -> None:
        self.status = status
        self.code = code
        self.detail = detail
        super().__init__(f"{status} {code}: {detail}")
