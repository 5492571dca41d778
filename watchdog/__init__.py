"""Deploy Watchdog: verifies every deploy after it lands and rolls back the bad ones.

The import package is `watchdog` (distribution `deploy-watchdog`); it is not the PyPI file-events package.
"""

from __future__ import annotations

__version__ = "0.1.0"
