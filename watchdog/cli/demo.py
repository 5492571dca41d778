"""`watchdog demo deploy VERSION`: deploys a version to the bundled demo service and notifies the daemon.

It plays the deploy system of the walkthrough: in real life a pipeline deploys, then runs `watchdog notify`.
"""

from __future__ import annotations

import argparse
import os
import sys
from typing import Any

import httpx

from watchdog.cli import client
from watchdog.cli.wait import add_wait_flags

DEMO_URL = "http://127.0.0.1:8081"


def register(sub: argparse._SubParsersAction[Any]) -> None:
    demo = sub.add_parser("demo", help="drive the bundled demo service (see the README walkthrough)")
    demo_sub = demo.add_subparsers(dest="demo_command", metavar="COMMAND", required=True)
    p = demo_sub.add_parser("deploy", help="run VERSION on the demo service, then notify the daemon")
    p.add_argument("version", metavar="VERSION", help='a version; one containing "bad" serves 30%% errors')
    p.add_argument(
        "--demo-url",
        default=os.environ.get("WATCHDOG_DEMO_URL"),
        help="the demo service (default $WATCHDOG_DEMO_URL, else where `serve --demo` said it runs, else "
        f"{DEMO_URL})",
    )
    p.add_argument("--environment", default="local")
    client._common(p)
    add_wait_flags(p, optional=True)
    p.set_defaults(handler=run, command="demo deploy")


def _where(args: argparse.Namespace) -> None:
    """Fills the demo's and the daemon's URLs from what a running `serve --demo` wrote in the data dir."""
    from watchdog.demo.config import DemoState

    state = DemoState.read(client._settings().files.data_dir)
    if args.demo_url is None:
        args.demo_url = state.demo_url if state else DEMO_URL
    if state is not None and args.url == client.DEFAULT_URL and "WATCHDOG_URL" not in os.environ:
        args.url = state.daemon_url  # `make run PORT=...`: notify the daemon where it really listens


def run(args: argparse.Namespace) -> int:
    _where(args)
    try:
        r = httpx.post(f"{args.demo_url}/deploy", json={"version": args.version}, timeout=args.timeout)
        r.raise_for_status()
    except httpx.HTTPError as exc:
        print(
            f"watchdog demo deploy: the demo service at {args.demo_url} did not take the deploy: {exc}; "
            "is `make run` running?",
            file=sys.stderr,
        )
        return 3 if args.wait else 2  # waiting, 2 would read as "inconclusive"
    print(f"demo service now runs {args.version}; notifying the daemon", file=sys.stderr)
    notify_args = argparse.Namespace(
        **vars(args),
        service="demo",
        artifact=None,
        previous_version=None,
        previous_artifact=None,
        deployer="watchdog demo deploy",
        commit=None,
        changelog_url=None,
        not_rollback_safe=False,
        label=None,
    )
    return client._handler(client.notify)(notify_args)
