"""Pinned npm packages the tests use, installed once into the git-ignored .cache/ of the checkout.

Parallel test workers may all want one at the same moment: an exclusive file lock makes one of them
install it while the others wait and then find it there.
"""

from __future__ import annotations

import fcntl
import subprocess
from pathlib import Path


def npm_install(
    npm: str, *, prefix: Path, spec: str, marker: Path
) -> subprocess.CompletedProcess[str] | None:
    """Installs `spec` under `prefix` unless `marker` (a file the package ships) is already there.

    Returns npm's result when it ran, None when another worker (or an earlier run) had installed it.
    """
    prefix.mkdir(parents=True, exist_ok=True)
    with (prefix.parent / f".{prefix.name}.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # released when the file closes
        if marker.exists():
            return None
        cmd = [npm, "install", "--prefix", str(prefix), "--no-save", "--no-audit", "--no-fund", spec]
        return subprocess.run(cmd, capture_output=True, text=True, timeout=300, check=False)
