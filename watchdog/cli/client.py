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
from typing import Any

import httpx

DEFAULT_URL = "http://127.0.0.1:8080"


class Failure(Exception):
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
    if method == "GET" and "headers" not in kw:
        kw["headers"] = _read_headers()
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


def _read_headers() -> dict[str, str]:
    """Reads carry WATCHDOG_READ_TOKEN (or the admin token) when one is set: a daemon may require it."""
    settings = _settings()
    token = settings.read_token or settings.admin_token
    return {"authorization": f"Bearer {token.get_secret_value()}"} if token is not None else {}


def _settings() -> Any:
    from watchdog.settings import load_settings  # lazy: only the commands that sign or authenticate need it

    return load_settings()


def _out(args: argparse.Namespace, data: Any, text: str) -> None:
    print(json.dumps(data, indent=2) if args.json else text)


def _when(value: str | None) -> str:
    if not value:
        return "-"
    return datetime.fromisoformat(value).astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S")


def _table(rows: list[list[str]], header: list[str]) -> str:
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
    lines = ["  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip() for r in [header, *rows]]
    return "\n".join(lines)


def notify(args: argparse.Namespace) -> int:
    from watchdog.intake.signatures import sign_standard, standard_secrets

    settings = _settings()
    secret = settings.webhook_secret.get_secret_value() if settings.webhook_secret else None
    demo_file = settings.data_dir / "webhook.secret"
    if secret is None and demo_file.exists():
        # `watchdog serve --demo` keeps its generated secret there, so the walkthrough needs no set-up.
        secret = demo_file.read_text().strip()
    secrets = standard_secrets(secret) if secret else []
    if not secrets:
        raise Failure("WATCHDOG_WEBHOOK_SECRET is not set: the event cannot be signed", code=2)
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
    if args.not_rollback_safe:
        event["rollback_safe"] = False
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
    answer = _call(args, "POST", "/v1/events", ok=(200, 202), content=body, headers=headers)
    _out(args, answer, str(answer.get("deployment_id") or answer))
    return 0


def _describe(d: dict[str, Any]) -> str:
    lines = [
        f"{d['id']}  {d['service']} {d['environment']} {d['version']}",
        f"  artifact  {d['artifact']}",
        f"  state     {d['state']}" + (f" (verdict {d['verdict']})" if d.get("verdict") else ""),
        f"  deployed  {_when(d.get('deployed_at'))} by {d.get('deployer') or '-'}",
    ]
    lines += [f"  reason    {r}" for r in d.get("reasons", [])]
    if d.get("rollback"):
        r = d["rollback"]
        lines.append(f"  rollback  {r['state']} to {r.get('to_version') or '-'}: {r['reason']}")
    if d.get("incident"):
        lines.append(f"  incident  {d['incident']['url']}")
    return "\n".join(lines)


def _summaries(items: list[dict[str, Any]], *, with_service: bool) -> str:
    header = [
        "TIME",
        *(["SERVICE", "ENV"] if with_service else ["ENV"]),
        "VERSION",
        "ARTIFACT",
        "STATE",
        "VERDICT",
    ]
    rows = [
        [
            _when(i["deployed_at"]),
            *([i["service"], i["environment"]] if with_service else [i["environment"]]),
            i["version"],
            i["artifact"],
            i["state"],
            i.get("verdict") or "-",
        ]
        for i in items
    ]
    return _table(rows, header) if rows else "no deployments"


def status(args: argparse.Namespace) -> int:
    if args.deployment_id:
        d = _call(args, "GET", f"/v1/deployments/{args.deployment_id}")
        _out(args, d, _describe(d))
        return 0
    page = _call(args, "GET", "/v1/deployments", params={"limit": args.limit})
    _out(args, page, _summaries(page["items"], with_service=True))
    return 0


def history(args: argparse.Namespace) -> int:
    params: dict[str, Any] = {"service": args.service, "limit": args.limit}
    if args.environment:
        params["environment"] = args.environment
    page = _call(args, "GET", "/v1/deployments", params=params)
    _out(args, page, _summaries(page["items"], with_service=False))
    return 0


def rollback(args: argparse.Namespace) -> int:
    token = _settings().admin_token
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


def gate(args: argparse.Namespace) -> int:
    path = f"/v1/gates/{args.service}/{args.environment}"
    # 409 is the refusal this command reports; any other answer is an error (exit 2).
    answer = _call(args, "GET", path, ok=(200, 409), refused=2, params={"artifact": args.artifact})
    verdict = "allowed" if answer["allowed"] else "refused"
    lines = [f"{args.service} -> {args.environment}: {verdict}"]
    lines += [f"  {'ok  ' if c['ok'] else 'FAIL'} {c['name']}: {c['reason']}" for c in answer["checks"]]
    _out(args, answer, "\n".join(lines))
    return 0 if answer["allowed"] else 1


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
    p.add_argument("--changelog-url")
    p.add_argument(
        "--not-rollback-safe", action="store_true", help="it ran a data migration: never auto-roll back"
    )
    p.add_argument("--label", action="append", metavar="K=V", type=_label, help="a label; repeatable")
    p.set_defaults(handler=_handler(notify))
    p = sub.add_parser("status", help="one deployment, or the most recent ones")
    p.add_argument("deployment_id", nargs="?", metavar="DEPLOYMENT_ID")
    p.add_argument("--limit", type=int, default=20)
    p.set_defaults(handler=_handler(status))
    p = sub.add_parser("history", help="a service's deployments, newest first")
    p.add_argument("service", metavar="SERVICE")
    p.add_argument("--environment")
    p.add_argument("--limit", type=int, default=20)
    p.set_defaults(handler=_handler(history))
    p = sub.add_parser("rollback", help="roll a deployment back (admin token from WATCHDOG_ADMIN_TOKEN)")
    p.add_argument("deployment_id", metavar="DEPLOYMENT_ID")
    p.add_argument("--reason", default="manual rollback from the CLI")
    p.set_defaults(handler=_handler(rollback))
    p = sub.add_parser("gate", help="may this artifact go there now? exit 0 allowed, 1 refused, 2 error")
    p.add_argument("service", metavar="SERVICE")
    p.add_argument("environment", metavar="ENVIRONMENT")
    p.add_argument("--artifact", required=True, help="the exact artifact (digest) to promote")
    p.set_defaults(handler=_handler(gate))
    for name in ("notify", "status", "history", "rollback", "gate"):
        _common(sub.choices[name])


def _label(value: str) -> str:
    if "=" not in value or not value.split("=", 1)[0]:
        raise argparse.ArgumentTypeError(f"expected K=V, got {value!r}")
    return value
