"""`python -m watchdog.demo --port 8081 --version 1.0.0`: runs the demo service in the foreground.

Stops cleanly on Ctrl-C or SIGTERM.
"""

from __future__ import annotations

import argparse
import signal
import sys
import threading
from types import FrameType

from watchdog.demo.app import DemoApp


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m watchdog.demo", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8081)
    parser.add_argument("--version", default="1.0.0", help='the running version ("bad"/"slow"/"down" in it)')
    parser.add_argument("--rps", type=float, default=40.0, help="synthetic requests per second")
    parser.add_argument("--seed", type=int, default=None)
    args = parser.parse_args(argv)
    done = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        done.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    app = DemoApp(host=args.host, port=args.port, version=args.version, rps=args.rps, seed=args.seed).start()
    print(f"demo service {app.version} on {app.url} ({app.rps:g} req/s)", flush=True)
    try:
        done.wait()
    finally:
        app.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
