"""`python -m watchdog`: the same entry point as the `watchdog` console script."""

from __future__ import annotations

from watchdog.cli import main

raise SystemExit(main())
