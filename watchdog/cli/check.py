"""`watchdog check [PATH]` and `watchdog schema`: validate the policy files, print their JSON Schema.

Neither needs settings or a database: both only read the config directory or the models.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import Any, cast

from watchdog.errors import ConfigError
from watchdog.policy.hygiene import referenced_secret_values
from watchdog.policy.loader import PolicySet, config_files, load_config_dir
from watchdog.policy.schema import Kind, all_schemas, json_schema, render, write_schemas
from watchdog.redact import Redactor


def register(sub: argparse._SubParsersAction[Any]) -> None:
    check = sub.add_parser(
        "check", help="validate config/watchdog.yaml and config/services/*.yaml", description=_check.__doc__
    )
    check.add_argument("path", nargs="?", default="config", help="the config directory (default: config)")
    check.add_argument(
        "--online", action="store_true", help="also query every source once to prove the checks can run"
    )
    check.set_defaults(handler=_check)

    schema = sub.add_parser(
        "schema", help="print the JSON Schema of the policy files", description=_schema.__doc__
    )
    schema.add_argument(
        "kind", nargs="?", choices=["service", "daemon"], help="one file kind (default: both)"
    )
    schema.add_argument(
        "--write", metavar="DIR", help="write service.schema.json and watchdog.schema.json here"
    )
    schema.set_defaults(handler=_schema)


def _check(args: argparse.Namespace) -> int:
    """Prints every problem as path:line:col: message (exit 1), or one summary line (exit 0)."""
    path = Path(args.path)
    try:
        policy_set = load_config_dir(path)
    except ConfigError as exc:
        # Messages never quote secrets; this also catches a secret pasted where a plain value belongs.
        redact = Redactor(referenced_secret_values(config_files(path), os.environ))
        for problem in exc.problems:
            print(redact(str(problem)))
        count = len(exc.problems)
        print(f"{path}: {count} problem{'s' if count != 1 else ''}", file=sys.stderr)
        return 1
    print(f"{args.path} OK: {policy_set.summary()}")
    _name_missing(policy_set)
    if args.online:
        # Imported here: querying sources pulls in HTTP clients that a plain check never needs.
        from watchdog.cli.check_online import run_online_checks

        return int(run_online_checks(policy_set))
    return 0


def _name_missing(policy_set: PolicySet) -> None:
    """Warns (stderr, exit unchanged) about each source or notifier whose secret is missing here."""
    from watchdog.policy.missing import checks_on, fail_start_problems, missing_connections

    missing = missing_connections(policy_set.daemon, environ=os.environ)
    for item in missing:
        if item.kind == "source":
            users = checks_on(policy_set, item.name)
            effect = f"its checks would be inconclusive: {', '.join(users)}" if users else "no check uses it"
        else:
            effect = "it would be left out: nothing is sent through it"
        print(f"warning: {item.kind} {item.name} is degraded here ({item.reason}); {effect}", file=sys.stderr)
    degraded = {m.name: m.reason for m in missing if m.kind == "source"}
    for problem in fail_start_problems(policy_set, degraded):
        print(f"warning: the daemon would not start here: {problem}", file=sys.stderr)


def _schema(args: argparse.Namespace) -> int:
    """Prints the schema of both file kinds as {"service": ..., "daemon": ...}, or of one; or writes files."""
    if args.write:
        for written in write_schemas(Path(args.write)):
            print(written)
        return 0
    if args.kind:
        sys.stdout.write(render(json_schema(cast(Kind, args.kind))))
    else:
        sys.stdout.write(json.dumps(all_schemas(), indent=2, sort_keys=True) + "\n")
    return 0
