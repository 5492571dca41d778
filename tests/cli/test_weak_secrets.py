"""`watchdog serve` refuses to start with a guessable webhook key or token, and says which setting.

Run as a real process: the refusal comes before any port is opened, and never quotes the value.
"""

from __future__ import annotations

import base64
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import KNOWN_SECRET
from watchdog.intake.signatures import key_problem
from watchdog.redact import Redactor

GOOD_WHSEC = "whsec_" + base64.b64encode(b"k" * 32).decode()


def serve(tmp_path: Path, **env: str) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("WATCHDOG_")}
    clean.update(WATCHDOG_DATA_DIR=str(tmp_path), **env)
    return subprocess.run(
        [sys.executable, "-m", "watchdog", "serve", "--config", "config", "--port", "1"],
        env=clean,
        capture_output=True,
        text=True,
        timeout=60,
        cwd=Path(__file__).resolve().parents[2],
    )


@pytest.mark.parametrize(
    ("setting", "value", "words"),
    [
        ("WATCHDOG_WEBHOOK_SECRET", "whsec_", "the key is 0 bytes"),
        ("WATCHDOG_WEBHOOK_SECRET", "whsec_" + base64.b64encode(b"short-key").decode(), "the key is 9 bytes"),
        ("WATCHDOG_WEBHOOK_SECRET", "whsec_not-base64!", "whsec_ must be followed by base64"),
        ("WATCHDOG_ADMIN_TOKEN", "abc", "the key is 3 bytes"),
        ("WATCHDOG_GITHUB_WEBHOOK_SECRET", "s3cr3t", "the key is 6 bytes"),
        ("WATCHDOG_READ_TOKEN", "x" * 15, "the key is 15 bytes"),
    ],
)
def test_a_weak_secret_stops_the_daemon_with_the_setting_named(
    tmp_path: Path, setting: str, value: str, words: str
) -> None:
    env = {"WATCHDOG_WEBHOOK_SECRET": GOOD_WHSEC, setting: value}
    done = serve(tmp_path, **env)
    out = done.stdout + done.stderr
    assert done.returncode == 1, out
    assert f"{setting}: {words}" in out and "the daemon did not start" in out
    if len(value) > 6:
        assert value not in out


def test_rotation_checks_every_secret_and_good_keys_pass() -> None:
    assert key_problem(GOOD_WHSEC, standard=True) is None
    assert key_problem(KNOWN_SECRET, standard=False) is None
    # A hand-made secret without the prefix is its UTF-8 bytes (watchdog notify signs the same way).
    assert key_problem("a-hand-made-secret-of-enough-bytes", standard=True) is None
    assert key_problem("tiny", standard=True) is not None


def test_values_of_any_length_are_redacted() -> None:
    redact = Redactor(["ab", "x"])
    assert redact("token=ab then x") == "token=*** then ***"
