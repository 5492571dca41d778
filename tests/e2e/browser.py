"""Debian's chromium through Playwright, and axe-core from npm installed into a git-ignored folder.

Shared by the dashboard tests; nothing is downloaded but the pinned npm package, and only once.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.npm_cache import npm_install

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
AXE_VERSION = "4.10.3"
AXE_DIR = ROOT / ".cache" / "npm"  # .gitignore covers /.cache/
AXE_JS = AXE_DIR / "node_modules" / "axe-core" / "axe.min.js"
ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


def _missing(what: str, how: str) -> None:
    if os.environ.get("CI"):
        pytest.fail(f"{what} is missing ({how})")
    pytest.skip(f"{what} is missing; {how}")


@pytest.fixture
def browser() -> Iterator[Any]:
    if not Path(CHROMIUM).exists():
        _missing("chromium", "`make system-deps` installs it")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        try:
            yield b
        finally:
            b.close()


def install_axe() -> Path:
    """axe-core at a pinned version, installed by npm into .cache/npm (git-ignored) when not there yet."""
    if AXE_JS.exists():
        return AXE_JS
    npm = shutil.which("npm")
    if npm is None:
        _missing("npm", "install Debian's npm to run the accessibility check")
    assert npm is not None
    done = npm_install(npm, prefix=AXE_DIR, spec=f"axe-core@{AXE_VERSION}", marker=AXE_JS)
    if not AXE_JS.exists():
        pytest.fail(f"npm install axe-core@{AXE_VERSION} failed: {done.stderr[-500:] if done else ''}")
    return AXE_JS


@pytest.fixture(scope="session")
def axe_js() -> Path:
    return install_axe()


def axe_problems(page: Any, axe: Path) -> list[str]:
    """Serious and critical axe-core violations of the page as loaded now, one line each."""
    page.add_script_tag(path=str(axe))
    result = page.evaluate("async () => await axe.run(document, {resultTypes: ['violations']})")
    return [
        f"{v['impact']}: {v['id']}: {v['help']} ({len(v['nodes'])} nodes, e.g. {v['nodes'][0]['target']})"
        for v in result["violations"]
        if v["impact"] in ("serious", "critical")
    ]
