"""The `watchdog` command: one sub-module per group of sub-commands, dispatched from here.

Settings are loaded once here and passed down; each sub-module exposes `register(subparsers)`.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from collections.abc import Callable, Sequence

# sub-module -> the commands it registers. Imported lazily so `watchdog check` does not load FastAPI.
_MODULES = ("check", "simulate", "serve", "db", "client", "demo", "wait", "init", "completion", "backtest")

Handler = Callable[[argparse.Namespace], int]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="watchdog", description="Verifies every deploy after it lands and rolls back the bad ones."
    )
    from watchdog import __version__

    parser.add_argument("--version", action="version", version=f"watchdog {__version__}")
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
        code = handler(args)
        sys.stdout.flush()  # a closed pipe shows here, while the handler below can still catch it
        return code
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        return _closed_pipe()


def _closed_pipe() -> int:
    """`watchdog history --json | head`: the reader left; stop quietly, with the shell's SIGPIPE status."""
    # Python flushes stdout again at exit; pointing it at /dev/null keeps that from raising once more.
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())
    os.close(devnull)
    return 141
