"""`watchdog simulate`: placeholder until its owner fills it in.

Registers no commands yet.
"""

from __future__ import annotations

import argparse
from typing import Any


def register(sub: argparse._SubParsersAction[Any]) -> None:
    return None
