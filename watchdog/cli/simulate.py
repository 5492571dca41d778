"""`watchdog simulate FILE... [--check-expect]`: replays scenario files through the real judging rules.

Prints one JSON line per scenario; exit 1 when --check-expect finds a differing verdict, 2 on an invalid file.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from watchdog.errors import ConfigError


def register(sub: argparse._SubParsersAction[Any]) -> None:
    p = sub.add_parser(
        "simulate",
        help="replay scenario files against their policy and print the verdicts",
        description="Replays recorded metric values (scenario files, YAML or JSON) through the judging rules "
        "on a virtual clock and prints one JSON line per scenario. A directory stands for its scenario "
        "files.",
    )
    p.add_argument(
        "files", nargs="+", metavar="FILE", help="scenario files (.yaml, .yml, .json) or directories"
    )
    p.add_argument(
        "--check-expect", action="store_true", help="exit 1 when a verdict differs from the scenario's expect"
    )
    p.add_argument("--reasons", action="store_true", help="add the decision's reasons to each line")
    p.add_argument(
        "--explain", action="store_true", help="also print every sample's judgement to stderr (for tuning)"
    )
    p.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from watchdog.simulate import scenario_paths, simulate_file  # lazy: keeps `watchdog --help` fast

    invalid = mismatched = 0
    out = sys.stdout
    for path in scenario_paths(args.files):
        try:
            result = simulate_file(path) if not args.explain else _explained(path)
        except ConfigError as e:
            invalid += 1
            print(f"invalid scenario: {e}", file=sys.stderr)
            continue
        out.write(json.dumps(result.to_json(reasons=args.reasons)) + "\n")
        if args.check_expect and not result.matches_expect:
            mismatched += 1
            print(
                f"{path}: {result.name}: expected {result.expect}, got {result.verdict} "
                f"({'; '.join(result.reasons)})",
                file=sys.stderr,
            )
    out.flush()
    if invalid:
        return 2
    return 1 if mismatched else 0


def _explained(path: Any) -> Any:
    from watchdog.scenario import load_scenario
    from watchdog.simulate import simulate

    result = simulate(load_scenario(path), keep_judgements=True)
    for j in result.judgements:
        print(f"{result.name} t={j.t:g}s {j.check}: {j.outcome.value}: {j.reason}", file=sys.stderr)
    return result
