"""`watchdog backtest` and `watchdog recommend`: a policy tried on past deploys before it is trusted.

Exit 0 with a table (or JSON lines); 2 on bad input (policy, deploys file, missing store), naming the file.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from pathlib import Path
from typing import Any

from watchdog.errors import ConfigError


def register(sub: argparse._SubParsersAction[Any]) -> None:
    p = sub.add_parser(
        "backtest",
        help="replay past deploys from the sources' history through a policy",
        description="Replays past deploys (from the store, or --deploys FILE) through the judging rules with "
        "the current policy, or a candidate (--policy FILE laid over it), reading each deploy's window and "
        "baseline from the sources' history. Prints one row per deploy and a summary.",
    )
    _common(p)
    p.add_argument("--json", action="store_true", help='one JSON object per deploy, then {"summary": ...}')
    p.set_defaults(handler=run_backtest)

    r = sub.add_parser(
        "recommend",
        help="propose the tightest limits whose backtest stays within a false-rollback target",
        description="Backtests candidate limits (max, max_ratio, min_requests, failure_limit, confidence) on "
        "the same history and prints, as YAML to review, the tightest ones whose false-rollback rate on good "
        "deploys (labelled good, or not rolled back) stays within the target.",
    )
    _common(r)
    r.add_argument(
        "--target-false-rollbacks",
        default="1%",
        metavar="RATE",
        help="the highest acceptable false-rollback rate, as 1%% or 0.01 (default 1%%)",
    )
    r.add_argument("--json", action="store_true", help="print the proposal and its figures as JSON")
    r.set_defaults(handler=run_recommend)


def _common(p: argparse.ArgumentParser) -> None:
    p.add_argument("--service", required=True, help="the service, as in config/services/<service>.yaml")
    p.add_argument("--environment", required=True, help="the environment whose policy is replayed")
    p.add_argument(
        "--config", metavar="DIR", help="the config directory (default: WATCHDOG_CONFIG_DIR or config)"
    )
    p.add_argument(
        "--policy", metavar="FILE", type=Path, help="a candidate service file laid over the configured one"
    )
    when = p.add_mutually_exclusive_group()
    when.add_argument("--since", default="30d", help="deploys from the store this far back (default 30d)")
    when.add_argument(
        "--deploys", metavar="FILE", type=Path, help="JSON lines of {version, deployed_at, artifact?, label?}"
    )


def _history(args: argparse.Namespace) -> Any:
    from watchdog.backtest.session import gather_history
    from watchdog.policy.durations import parse_duration
    from watchdog.settings import load_settings

    overrides: dict[str, object] = {"config_dir": args.config} if args.config else {}
    settings = load_settings(**overrides)
    try:
        since = parse_duration(args.since)
    except ValueError as exc:
        raise ConfigError(f"--since: {exc}") from None
    from datetime import timedelta

    return asyncio.run(
        gather_history(
            settings=settings,
            service=args.service,
            environment=args.environment,
            candidate=args.policy,
            since=timedelta(seconds=since),
            deploys_file=args.deploys,
        )
    )


def run_backtest(args: argparse.Namespace) -> int:
    from watchdog.backtest.output import write_json, write_table
    from watchdog.backtest.run import replay
    from watchdog.backtest.summary import summarize

    try:
        history = _history(args)
    except ConfigError as exc:
        for problem in exc.problems:
            print(problem, file=sys.stderr)
        return 2
    rows = replay(history.prepared, history.policy)
    summary = summarize(rows)
    (write_json if args.json else write_table)(rows, summary, sys.stdout)
    return 0


def run_recommend(args: argparse.Namespace) -> int:
    from watchdog.backtest.recommend import parse_rate, recommend, write_proposal

    try:
        target = parse_rate(args.target_false_rollbacks)
        history = _history(args)
    except ConfigError as exc:
        for problem in exc.problems:
            print(problem, file=sys.stderr)
        return 2
    proposal = recommend(history.prepared, history.policy, target=target)
    write_proposal(
        proposal, service=args.service, environment=args.environment, out=sys.stdout, as_json=args.json
    )
    return 0
