"""`watchdog init SERVICE`: writes a starting policy, services/SERVICE.yaml, that `watchdog check` accepts.

It probes /healthz in each environment and alerts; comments show where error-rate checks and a target go.
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path
from typing import Any

from watchdog.errors import ConfigError

NAME = re.compile(r"^[a-z0-9][a-z0-9._-]*$")
DAEMON_FILE = """\
# The daemon file: the named sources, targets and notifiers that policies in services/*.yaml refer to.
# Secrets never sit here: name the environment variable (`*_env`) or file (`*_file`) that holds each one.
sources: {}
targets: {}
notifiers: {}
"""


def register(sub: argparse._SubParsersAction[Any]) -> None:
    p = sub.add_parser(
        "init",
        help="write a starting policy for a service (config/services/SERVICE.yaml)",
        description=__doc__,
    )
    p.add_argument("service", metavar="SERVICE", help="the service name (lower case, digits, . _ -)")
    p.add_argument(
        "--config", type=Path, default=Path("config"), help="the config directory (default config)"
    )
    p.add_argument(
        "--environment",
        action="append",
        metavar="ENV",
        help="an environment (repeatable; default: staging and production)",
    )
    p.add_argument(
        "--healthz",
        metavar="URL",
        help="the health URL; {environment} is replaced (default https://SERVICE.{environment}.internal/healthz)",
    )
    p.add_argument("--target", help="a target of watchdog.yaml: failed deploys then roll back through it")
    p.add_argument("--force", action="store_true", help="overwrite an existing policy file")
    p.set_defaults(handler=run)


def policy_text(service: str, *, environments: list[str], healthz: str, target: str | None) -> str:
    action = "rollback" if target else "alert"
    lines = [
        "# yaml-language-server: $schema=../../docs/schema/service.schema.json",
        "#",
        f"# The threshold policy of {service}, written by `watchdog init`. Check it with `watchdog check`.",
        "# `defaults` apply to every environment; an environment overrides them key by key.",
        f"service: {service}",
        "defaults:",
        "  verification:",
        "    duration: 10m          # window after the deploy",
        "    interval: 30s          # one sample of every check per interval",
        "    warmup: 60s            # samples at t <= warmup are kept but not judged",
        "    failure_limit: 2       # consecutive failing samples of one check fail the deploy",
        "    min_conclusive: 0.6    # each check needs this fraction of its samples conclusive to pass",
        "    baseline_window: 30m   # the look-back before the deploy that forms the baseline",
        f"  on_failure: {action}" + ("" if target else "        # rollback once a target is set"),
        "  on_inconclusive: alert",
        "  rollback:",
        "    max_per_hour: 3",
        "    verification: {duration: 2m, interval: 15s}   # every check below verifies the restored version",
        "  notify: []               # notifiers named in watchdog.yaml, e.g. [slack-sre]",
        "environments:",
    ]
    for i, env in enumerate(environments):
        lines.append(f"  {env}:")
        lines.append(
            f"    target: {target}"
            if target
            else "    # target: k8s-" + env + "   # a target of watchdog.yaml"
        )
        if i > 0:
            lines.append(f"    require_verified_in: {environments[0]}   # the gate: passed there first")
        lines += [
            "    checks:",
            "      - name: healthz",
            "        type: http",
            f'        url: "{healthz.replace("{environment}", env)}"',
            "        expect: {status: 200}",
            "        timeout: 2s",
            "      # An error rate from a source of watchdog.yaml (docs/sources.md has one per source kind):",
            "      # - name: errors",
            "      #   type: error_rate",
            "      #   source: prometheus",
            f'      #   errors: sum(increase(http_requests_total{{job="{service}",code=~"5.."}}[30s]))',
            f'      #   requests: sum(increase(http_requests_total{{job="{service}"}}[30s]))',
            "      #   max: 0.02",
            "      #   min_requests: 100",
        ]
    return "\n".join(lines) + "\n"


def run(args: argparse.Namespace) -> int:
    service: str = args.service
    if not NAME.match(service):
        print(
            f"watchdog init: '{service}' is not a service name (lower case letters, digits, . _ -)",
            file=sys.stderr,
        )
        return 2
    environments: list[str] = args.environment or ["staging", "production"]
    bad = [e for e in environments if not NAME.match(e)]
    if bad or len(set(environments)) != len(environments):
        print(
            f"watchdog init: environment names must be distinct names like 'staging', not {bad}",
            file=sys.stderr,
        )
        return 2
    config: Path = args.config
    path = config / "services" / f"{service}.yaml"
    if path.exists() and not args.force:
        print(f"watchdog init: {path} exists; --force overwrites it", file=sys.stderr)
        return 1
    healthz = args.healthz or f"https://{service}.{{environment}}.internal/healthz"
    path.parent.mkdir(parents=True, exist_ok=True)
    daemon = config / "watchdog.yaml"
    if not daemon.exists():
        daemon.write_text(DAEMON_FILE)
        print(f"wrote {daemon}")
    previous = path.read_text() if path.exists() else None
    path.write_text(policy_text(service, environments=environments, healthz=healthz, target=args.target))
    from watchdog.policy.loader import load_config_dir

    try:
        load_config_dir(config)
    except ConfigError as exc:
        # Never leave a file behind that the daemon would refuse (an unknown --target, say).
        mine = [p for p in exc.problems if path.name in str(p)]
        if mine:
            if previous is None:
                path.unlink()
            else:
                path.write_text(previous)
            for problem in mine:
                print(problem, file=sys.stderr)
            print(f"watchdog init: {path} not written", file=sys.stderr)
            return 1
    print(f"wrote {path}: {', '.join(environments)}; check it with `watchdog check {config}`")
    return 0
