"""`watchdog backtest` and `watchdog recommend`: past deploys replayed from the sources' history.

Each past deploy becomes a scenario (the format `simulate` reads) and runs through the same judging code.
"""

from __future__ import annotations
