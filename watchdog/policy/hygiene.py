"""The rule that secrets are never committed: finds literal credentials anywhere in a config file.

Messages name the key and never the value, so the report of a leaked secret does not leak it again.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from watchdog.errors import Problem
from watchdog.policy.yamlfile import YamlDoc, position_of

# Keys whose value is a credential; the models only accept `<key>_env` / `<key>_file` for them.
SECRET_KEYS = frozenset(
    {
        "token",
        "password",
        "passwd",
        "api_key",
        "apikey",
        "app_key",
        "secret",
        "dsn",
        "webhook_url",
        "bearer_token",
        "access_token",
        "auth_token",
        "client_secret",
        "private_key",
    }
)
# Header (or extra environment) names that carry credentials; their values must be `${NAME}` references.
_CREDENTIAL_HEADERS = frozenset(
    {"authorization", "proxy_authorization", "x_api_key", "dd_api_key", "dd_application_key", "private_token"}
)
_REFERENCE = re.compile(r"\$\{[A-Za-z_][A-Za-z0-9_]*\}")
_URL_PASSWORD = re.compile(r"://[^/@:\s]+:([^/@\s]+)@")
_ENV_NAME = re.compile(r"_env\s*:\s*[\"']?([A-Za-z_][A-Za-z0-9_]*)|\$\{([A-Za-z_][A-Za-z0-9_]*)\}")


def is_secret_key(key: object) -> bool:
    return isinstance(key, str) and key.lower().replace("-", "_") in SECRET_KEYS


def secret_message(key: str) -> str:
    return (
        f"'{key}' holds a literal secret, and secrets are never committed: "
        f"use {key}_env: NAME or {key}_file: PATH"
    )


def _is_credential_name(key: str) -> bool:
    norm = key.lower().replace("-", "_")
    return norm in _CREDENTIAL_HEADERS or norm in SECRET_KEYS or norm.endswith(("_token", "_secret", "_key"))


def scan_secrets(doc: YamlDoc) -> list[Problem]:
    """Every literal secret in the file, located at its key."""
    problems: list[Problem] = []
    _walk(doc.data, parent_key=None, path=doc.path, out=problems)
    return problems


def _walk(node: Any, *, parent_key: object, path: str, out: list[Problem]) -> None:
    if isinstance(node, list):
        for item in node:
            _walk(item, parent_key=None, path=path, out=out)
        return
    if not isinstance(node, dict):
        return
    for key, value in node.items():
        message = _secret_in(key, value, parent_key=parent_key)
        if message is not None:
            line, col = position_of(node, key) or (1, 1)
            out.append(Problem(path, line, col, message))
        _walk(value, parent_key=key, path=path, out=out)


def _secret_in(key: object, value: Any, *, parent_key: object) -> str | None:
    if not isinstance(key, str) or isinstance(value, bool) or value is None or isinstance(value, dict | list):
        return None
    text = str(value)
    if not text or _REFERENCE.search(text):
        return None
    if is_secret_key(key):
        return secret_message(key)
    if parent_key in ("headers", "env") and _is_credential_name(key):
        return (
            f"'{key}' in {parent_key} holds a literal credential, and secrets are never committed: "
            f'write a reference such as "Bearer ${{NAME}}" so the value is read from the environment'
        )
    match = _URL_PASSWORD.search(text)
    if match and not _REFERENCE.search(match.group(1)):
        return (
            f"the URL under '{key}' holds a password, and secrets are never committed: "
            "write it as ${NAME} so the value is read from the environment"
        )
    return None


def referenced_secret_values(files: Iterable[Path], environ: Mapping[str, str]) -> list[str]:
    """Values of the environment variables the files name (`*_env: NAME`, `${NAME}`), to redact output.

    Read from the raw text, so it works on files that do not validate too.
    """
    names: set[str] = set()
    for file in files:
        try:
            text = file.read_text(encoding="utf-8", errors="replace")
        except OSError:
            continue
        for env_name, ref_name in _ENV_NAME.findall(text):
            names.add(env_name or ref_name)
    return [environ[name] for name in sorted(names) if environ.get(name)]
