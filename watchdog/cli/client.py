"""`watchdog notify | status | history | rollback | gate`: small HTTP clients of a running daemon.

--url defaults to $WATCHDOG_URL or http://127.0.0.1:8080; an unreachable daemon is one line and exit 2.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import httpx

from watchdog.cli import listing
from watchdog.cli.wait import add_wait_flags, read_headers, run_wait
from watchdog.errors import WatchdogError

if TYPE_CHECKING:
    from watchdog.settings import Settings

DEFAULT_URL = "http://127.0.0.1:8080"


class Failure(WatchdogError):
    """A command that cannot do what it was asked; `code` is its exit status."""

    def __init__(self, message: str, *, code: int) -> None:
        super().__init__(message)
        self.code = code


def _call(
    args: argparse.Namespace,
    method: str,
    path: str,
    *,
    ok: tuple[int, ...] = (200,),
    refused: int = 1,
    **kw: Any,
) -> Any:
    """The JSON answer; another 4xx is a refusal (exit `refused`), anything else unexpected is exit 2."""
    url = args.url.rstrip("/")
    if method == "GET":
        kw["headers"] = {**read_headers(), **kw.get("headers", {})}
    try:
        with httpx.Client(base_url=url, timeout=args.timeout) as client:
            resp = client.request(method, path, **kw)
    except httpx.HTTPError as exc:
        raise Failure(f"cannot reach the watchdog at {url}: {exc or type(exc).__name__}", code=2) from None
    try:
        body = resp.json()
    except ValueError:
        body = {"error": f"http_{resp.status_code}", "detail": resp.text[:200]}
    if resp.status_code in ok:
        return body
    detail = f"{body.get('error')}: {body.get('detail')}" if isinstance(body, dict) else str(body)
    raise Failure(
        f"{method} {path} answered {resp.status_code} {detail}", code=refused if resp.status_code < 500 else 2
    )


def _settings() -> Settings:
    from watchdog.settings import load_settings  # lazy: only the commands that sign or authenticate need it

    return load_settings()


def _out(args: argparse.Namespace, data: Any, text: str) -> None:
    print(json.dumps(data, indent=2) if args.json else text)


def notify(args: argparse.Namespace) -> int:
    from watchdog.intake.signatures import sign_standard, standard_secrets

    waiting = bool(getattr(args, "wait", False))
    settings = _settings()
    secret = settings.secrets.webhook_secret.get_secret_value() if settings.secrets.webhook_secret else None
    demo_file = settings.files.data_dir / "webhook.secret"
    if secret is None and demo_file.exists():
        # `watchdog serve --demo` keeps its generated secret there, so the walkthrough needs no set-up.
        secret = demo_file.read_text().strip()
    secrets = standard_secrets(secret) if secret else []
    if not secrets:
        message = "WATCHDOG_WEBHOOK_SECRET is not set: the event cannot be signed"
        raise Failure(message, code=3 if waiting else 2)
    event: dict[str, Any] = {
        "service": args.service,
        "environment": args.environment,
        "version": args.version,
    }
    optional = {
        "artifact": args.artifact,
        "previous_version": args.previous_version,
        "previous_artifact": args.previous_artifact,
        "deployer": args.deployer,
        "commit": args.commit,
        "changelog_url": args.changelog_url,
    }
    event.update({k: v for k, v in optional.items() if v})
    event.update(_ci_facts(args))
    if args.not_rollback_safe:
        event["rollback_safe"] = False
    if getattr(args, "rollback", False):  # `watchdog demo deploy` builds its own Namespace
        event["is_rollback"] = True
    if args.label:
        event["labels"] = dict(label.split("=", 1) for label in args.label)
    body = json.dumps(event).encode()
    # A fresh id per invocation: retrying the command is a new delivery, as a new deploy would be.
    msg_id = f"msg_{uuid.uuid4().hex}"
    ts = int(datetime.now(UTC).timestamp())
    headers = {
        "content-type": "application/json",
        "webhook-id": msg_id,
        "webhook-timestamp": str(ts),
        "webhook-signature": sign_standard(secret=secrets[0], msg_id=msg_id, timestamp=ts, body=body),
    }
    try:
        answer = _call(args, "POST", "/v1/events", ok=(200, 202), content=body, headers=headers)
    except Failure as exc:
        # Waiting, 1 and 2 mean failed and inconclusive: a refused or lost event is an error (3).
        raise Failure(str(exc), code=3 if waiting else exc.code) from None
    if not waiting:
        _out(args, answer, str(answer.get("deployment_id") or answer))
        return 0
    if "deployment_id" not in answer:
        raise Failure(f"the daemon started no verification: {answer}", code=3)
    deployment_id = str(answer["deployment_id"])
    print(f"deployment {deployment_id} accepted; waiting for its verdict", file=sys.stderr)
    return run_wait(args, deployment_id)


def _wide(args: argparse.Namespace) -> bool:
    if args.output == "json":
        args.json = True
    return bool(args.output == "wide")


def status(args: argparse.Namespace) -> int:
    wide = _wide(args)
    if args.deployment_id:
        d = _call(args, "GET", f"/v1/deployments/{args.deployment_id}")
        _out(args, d, listing.describe(d, wide=wide))
        return 0
    page = _call(args, "GET", "/v1/deployments", params={"limit": args.limit})
    _out(args, page, listing.summaries(page["items"], with_service=True, wide=wide))
    return 0


def history(args: argparse.Namespace) -> int:
    params: dict[str, Any] = {"service": args.service, "limit": args.limit}
    if args.environment:
        params["environment"] = args.environment
    wide = _wide(args)
    page = _call(args, "GET", "/v1/deployments", params=params)
    _out(args, page, listing.summaries(page["items"], with_service=False, wide=wide))
    return 0


def rollback(args: argparse.Namespace) -> int:
    token = _settings().secrets.admin_token
    if token is None:
        raise Failure("WATCHDOG_ADMIN_TOKEN is not set: the admin API needs it", code=2)
    answer = _call(
        args,
        "POST",
        f"/v1/deployments/{args.deployment_id}/rollback",
        ok=(200, 202),
        json={"reason": args.reason},
        headers={"authorization": f"Bearer {token.get_secret_value()}"},
    )
    to = answer.get("to_version") or "-"
    _out(args, answer, f"rollback {answer['id']}: {answer['state']} to {to} ({answer['reason']})")
    return 0


_MARKS = {"pass": "✓", "fail": "✗", "not_required": "-"}


def _ci_facts(args: argparse.Namespace) -> dict[str, Any]:
    """The CI facts given on the command line, under the names the event and the gate's query use."""
    # getattr: `watchdog demo deploy` builds its own namespace for notify, without these flags.
    facts = {
        "ci_status": getattr(args, "ci_status", None),
        "lint_status": getattr(args, "lint_status", None),
        "changelog_url": getattr(args, "changelog_url", None),
        "rollback_plan": getattr(args, "rollback_plan", None),
        "migration": True if getattr(args, "migration", False) else None,
        "migration_tested": True if getattr(args, "migration_tested", False) else None,
    }
    return {k: v for k, v in facts.items() if v is not None}


def _checklist(answer: dict[str, Any]) -> str:
    verdict = "allowed" if answer["allowed"] else "refused"
    first = " (first deploy)" if answer.get("first_deploy") else ""
    lines = [f"{answer['service']} -> {answer['environment']}: {verdict}{first}  {answer['artifact']}"]
    width = max(len(c["name"]) for c in answer["checks"])
    for c in answer["checks"]:
        status = c.get("status") or ("pass" if c["ok"] else "fail")
        lines.append(f"  {_MARKS.get(status, '?')} {c['name'].ljust(width)}  {c['reason']}")
    return "\n".join(lines)


def gate(args: argparse.Namespace) -> int:
    path = f"/v1/gates/{args.service}/{args.environment}"
    params: dict[str, Any] = {"artifact": args.artifact}
    params.update({k: str(v).lower() if isinstance(v, bool) else v for k, v in _ci_facts(args).items()})
    # 409 is the refusal this command reports; any other answer is an error (exit 2).
    answer = _call(args, "GET", path, ok=(200, 409), refused=2, params=params)
    _out(args, answer, _checklist(answer))
    return 0 if answer["allowed"] else 1


def _ci_flags(p: argparse.ArgumentParser) -> None:
    """What a CI knows about the artifact; the same flags on notify (the event) and gate (the request)."""
    status = ("success", "failure", "pending")
    p.add_argument("--ci-status", choices=status, help="the tests of this artifact's CI run")
    p.add_argument("--lint-status", choices=status, help="the lint of this artifact's CI run")
    p.add_argument("--changelog-url", help="the changelog for this version")
    p.add_argument("--migration", action="store_true", help="this deploy carries a data migration")
    p.add_argument("--migration-tested", action="store_true", help="and it was tested")
    p.add_argument("--rollback-plan", metavar="TEXT_OR_URL", help="how to undo a first deploy")


def _handler(fn: Callable[[argparse.Namespace], int]) -> Callable[[argparse.Namespace], int]:
    def run(args: argparse.Namespace) -> int:
        try:
            return fn(args)
        except Failure as exc:
            print(f"watchdog {args.command}: {exc}", file=sys.stderr)
            return exc.code

    return run


def _common(p: argparse.ArgumentParser) -> None:
    url = os.environ.get("WATCHDOG_URL") or DEFAULT_URL
    p.add_argument(
        "--url", default=url, help=f"the daemon (default $WATCHDOG_URL or {DEFAULT_URL}; now {url})"
    )
    p.add_argument("--json", action="store_true", help="print the daemon's JSON answer")
    p.add_argument("--timeout", type=float, default=10.0, help="seconds per request (default 10)")


def register(sub: argparse._SubParsersAction[Any]) -> None:
    p = sub.add_parser(
        "notify", help="tell the daemon a deploy is live (signed with WATCHDOG_WEBHOOK_SECRET)"
    )
    for flag in ("--service", "--environment", "--version"):
        p.add_argument(flag, required=True)
    for flag in ("--artifact", "--previous-version", "--previous-artifact", "--deployer", "--commit"):
        p.add_argument(flag)
    _ci_flags(p)
    p.add_argument(
        "--not-rollback-safe", action="store_true", help="it ran a data migration: never auto-roll back"
    )
    p.add_argument("--label", action="append", metavar="K=V", type=_label, help="a label; repeatable")
    add_wait_flags(p, optional=True)
    p.add_argument(
        "--rollback", action="store_true", help="this deploy is itself a rollback: never auto-roll it back"
    )
    p.set_defaults(handler=_handler(notify))
    p = sub.add_parser("status", help="one deployment, or the most recent ones")
    p.add_argument("deployment_id", nargs="?", metavar="DEPLOYMENT_ID")
    p.add_argument("--limit", type=int, default=20)
    _output_flag(p)
    p.set_defaults(handler=_handler(status))
    p = sub.add_parser("history", help="a service's deployments, newest first")
    p.add_argument("service", metavar="SERVICE")
    p.add_argument("--environment")
    p.add_argument("--limit", type=int, default=20)
    _output_flag(p)
    p.set_defaults(handler=_handler(history))
    p = sub.add_parser("rollback", help="roll a deployment back (admin token from WATCHDOG_ADMIN_TOKEN)")
    p.add_argument("deployment_id", metavar="DEPLOYMENT_ID")
    p.add_argument("--reason", default="manual rollback from the CLI")
    p.set_defaults(handler=_handler(rollback))
    p = sub.add_parser("gate", help="may this artifact go there now? exit 0 allowed, 1 refused, 2 error")
    p.add_argument("service", metavar="SERVICE")
    p.add_argument("environment", metavar="ENVIRONMENT")
    p.add_argument("--artifact", required=True, help="the exact artifact (digest) to promote")
    _ci_flags(p)
    p.set_defaults(handler=_handler(gate))
    for name in ("notify", "status", "history", "rollback", "gate"):
        _common(sub.choices[name])


def _output_flag(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "-o",
        "--output",
        choices=listing.OUTPUTS,
        default="table",
        help="table (ids, UTC times), wide (more columns, transitions) or json (as --json)",
    )


def _label(value: str) -> str:
    if "=" not in value or not value.split("=", 1)[0]:
        raise argparse.ArgumentTypeError(f"expected K=V, got {value!r}")
    return value
