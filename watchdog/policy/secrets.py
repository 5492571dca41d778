"""Resolves a secret reference (`*_env` names a variable, `*_file` a file) into its value at call time.

Values are registered with the redactor so they can never reach a log line or report.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from pathlib import Path

from pydantic import SecretStr

from watchdog.errors import ConfigError
from watchdog.redact import REDACTOR

_VAR = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")


def resolve_secret(
    *, env: str | None, file: str | None, what: str, environ: Mapping[str, str] | None = None
) -> SecretStr | None:
    """The secret named by env var `env` or file `file`; None when neither is configured."""
    environ = os.environ if environ is None else environ
    value: str | None = None
    if env:
        value = environ.get(env)
        if value is None:
            raise ConfigError(f"{what}: environment variable {env} is not set")
    elif file:
        try:
            value = Path(file).read_text().strip()
        except OSError as exc:
            raise ConfigError(f"{what}: cannot read secret file {file}: {exc.strerror}") from None
    if value is None:
        return None
    REDACTOR.add(value)
    return SecretStr(value)


def expand_env(text: str, *, environ: Mapping[str, str] | None = None) -> str:
    """Replaces `${NAME}` with the variable's value (registered as a secret); unknown names are errors."""
    environ = os.environ if environ is None else environ

    def sub(m: re.Match[str]) -> str:
        name = m.group(1)
        if name not in environ:
            raise ConfigError(f"environment variable {name} is not set")
        REDACTOR.add(environ[name])
        return environ[name]

    return _VAR.sub(sub, text)
