"""Real GitHub webhook payloads from npm `@octokit/webhooks-examples`, installed on first use.

Installed under <repo>/.cache/ (git-ignored), never copied into the repository.
"""

from __future__ import annotations

import copy
import functools
import json
import os
import shutil
from pathlib import Path
from typing import Any

import pytest

from tests.npm_cache import npm_install

PACKAGE = "@octokit/webhooks-examples"
VERSION = "7.6.1"
CACHE = Path(__file__).resolve().parents[2] / ".cache" / f"octokit-webhooks-examples-{VERSION}"
INDEX = CACHE / "node_modules" / "@octokit" / "webhooks-examples" / "api.github.com" / "index.json"


def _install() -> None:
    npm = shutil.which("npm")
    if npm is None:
        if os.environ.get("CI"):
            pytest.fail("npm is needed for @octokit/webhooks-examples in CI")
        pytest.skip("npm is not installed: the @octokit/webhooks-examples tests need it")
    done = npm_install(npm, prefix=CACHE, spec=f"{PACKAGE}@{VERSION}", marker=INDEX)
    if not INDEX.exists():
        why = done.stderr.strip()[-500:] if done is not None else "index.json missing"
        pytest.fail(f"npm install {PACKAGE}@{VERSION} failed: {why}")


@functools.cache
def _index() -> list[dict[str, Any]]:
    if not INDEX.exists():
        _install()
    data: list[dict[str, Any]] = json.loads(INDEX.read_text())
    return data


def examples(event: str) -> list[dict[str, Any]]:
    """Every example payload of one webhook event (e.g. `deployment_status`), a fresh copy each call."""
    for entry in _index():
        if entry["name"] == event:
            return copy.deepcopy(list(entry["examples"]))
    raise LookupError(f"{PACKAGE}@{VERSION} has no event {event}")
