"""The `watchdog` command: one sub-module per group of sub-commands, dispatched from here.

Settings are loaded once here and passed down; each sub-module exposes `register(subparsers)`.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Callable, Sequence

# sub-module -> the commands it registers. Imported lazily so `watchdog check` does not load FastAPI.
_MODULES = ("check", "simulate", "serve", "db", "client", "demo", "backtest")

Handler = Callable[[argparse.Namespace], int]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="watchdog", description="Verifies every deploy after it lands and rolls back the bad ones."
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in _MODULES:
        module = importlib.import_module(f"watchdog.cli.{name}")
        module.register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    handler: Handler | None = getattr(args, "handler", None)
    if handler is None:
        parser.print_help(sys.stderr)
        return 2
    try:
        return handler(args)
    except KeyboardInterrupt:
        return 130
