"""`python -m watchdog`: the same entry point as the `watchdog` console script.

Useful where the venv's bin directory is not on PATH (tests start the daemon this way).
"""

from __future__ import annotations

from watchdog.cli import main

raise SystemExit(main())
