"""Renders the configuration reference (Markdown tables of every key) from the models and Settings.

`python -m watchdog.policy.docs --write docs/configuration.md` refreshes the generated part of that file.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from pydantic import BaseModel
from pydantic.fields import FieldInfo

from watchdog.policy import checks, connections, gate, service
from watchdog.policy.docs_types import FALLBACK_MEANINGS, default_text, type_text
from watchdog.settings import GROUPS, Settings

BEGIN = "<!-- BEGIN GENERATED REFERENCE: python -m watchdog.policy.docs --write docs/configuration.md -->"
END = "<!-- END GENERATED REFERENCE -->"

_SERVICE: list[tuple[type[BaseModel], str]] = [
    (service.ServiceFile, "the top level of `config/services/<service>.yaml`"),
    (service.EnvironmentPolicy, "`defaults:` and each entry of `environments:` (daemon `defaults:` too)"),
    (service.Verification, "`verification:`"),
    (service.RollbackPolicy, "`rollback:`"),
    (service.RollbackVerification, "`rollback.verification:`"),
    (gate.GatePolicy, "`gate:`"),
    (gate.GateRequire, "`gate.require:` (the promotion gate's checklist; see docs/integrations.md)"),
    (checks.HttpCheck, "a check with `type: http`"),
    (checks.Expect, "`expect:` of an http check"),
    (checks.ErrorRateCheck, "a check with `type: error_rate`"),
    (checks.LatencyCheck, "a check with `type: latency`"),
    (checks.MetricCheck, "a check with `type: metric`"),
    (checks.BaselineLimits, "`baseline:` of a check"),
]
_DAEMON: list[tuple[type[BaseModel], str]] = [
    (connections.DaemonConfig, "the top level of `config/watchdog.yaml`"),
    (connections.PrometheusSourceConfig, "a source with `type: prometheus` (PromQL queries)"),
    (connections.DatadogSourceConfig, "a source with `type: datadog` (Datadog metric queries)"),
    (connections.SentrySourceConfig, "a source with `type: sentry`"),
    (connections.ScrapeSourceConfig, "a source with `type: scrape` (the service's own /metrics)"),
    (connections.KubernetesTargetConfig, "a target with `type: kubernetes`"),
    (connections.HelmTargetConfig, "a target with `type: helm`"),
    (connections.ArgoCDTargetConfig, "a target with `type: argocd`"),
    (connections.WebhookTargetConfig, "a target with `type: webhook`"),
    (connections.CommandTargetConfig, "a target with `type: command` (argv, never a shell)"),
    (connections.SlackNotifierConfig, "a notifier with `type: slack`"),
    (connections.DatadogEventNotifierConfig, "a notifier with `type: datadog_event`"),
    (connections.WebhookNotifierConfig, "a notifier with `type: webhook`"),
    (connections.ReportsConfig, "`reports:`"),
]


def _meaning(name: str, field: FieldInfo) -> str:
    text = field.description or FALLBACK_MEANINGS.get(name, "")
    return text.replace("|", "\\|")


def model_table(model: type[BaseModel], *, settings: bool = False) -> str:
    head = (
        "| environment variable | type | default | meaning |"
        if settings
        else "| key | type | default | meaning |"
    )
    rows = [head, "| --- | --- | --- | --- |"]
    fields = model.model_fields
    if model is Settings:  # the groups' fields, each still its own flat WATCHDOG_<FIELD> variable
        fields = {name: f for group in GROUPS.values() for name, f in group.model_fields.items()}
    for name, field in fields.items():
        key = f"`WATCHDOG_{name.upper()}`" if settings else f"`{field.alias or name}`"
        default = "required" if field.is_required() else default_text(field, name=name)
        rows.append(
            f"| {key} | {type_text(field.annotation, field.metadata)} | {default} | {_meaning(name, field)} |"
        )
    return "\n".join(rows)


def _section(title: str, models: Sequence[tuple[type[BaseModel], str]]) -> list[str]:
    out = [f"### {title}", ""]
    for model, where in models:
        out += [f"#### {model.__name__}", "", f"Where: {where}.", "", model_table(model), ""]
    return out


def _settings_groups() -> list[str]:
    out: list[str] = []
    for group, model in GROUPS.items():
        what = (model.__doc__ or "").strip().rstrip(".")
        table = model_table(model, settings=True)
        out += [f"#### {group}", "", f"{what} (`Settings.{group}`).", "", table, ""]
    return out


def render() -> str:
    """The generated reference: Settings, the service policy and the daemon file, one table per model."""
    lines = [
        BEGIN,
        "",
        "### Settings (environment variables)",
        "",
        "Process settings come from `WATCHDOG_*` environment variables, a `.env` file, or files in",
        "`$WATCHDOG_SECRETS_DIR` (one file per setting, such as a Kubernetes Secret mount).",
        "",
        *_settings_groups(),
        *_section("Service policy: config/services/<service>.yaml", _SERVICE),
        *_section("Daemon file: config/watchdog.yaml", _DAEMON),
        END,
    ]
    return "\n".join(lines) + "\n"


def generated_part(text: str) -> str | None:
    """The generated region of a document, markers included; None when the markers are missing."""
    start, end = text.find(BEGIN), text.find(END)
    if start < 0 or end < start:
        return None
    return text[start : end + len(END)] + "\n"


def write(path: Path) -> None:
    """Replaces the generated region of `path` (appends one when the markers are missing)."""
    text = path.read_text(encoding="utf-8") if path.exists() else ""
    current = generated_part(text)
    if current is None:
        text = text.rstrip("\n") + ("\n\n" if text else "") + render()
    else:
        text = text.replace(current, render(), 1)
    path.write_text(text, encoding="utf-8")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m watchdog.policy.docs", description=__doc__)
    parser.add_argument("--write", metavar="FILE", help="refresh the generated part of this Markdown file")
    args = parser.parse_args(argv)
    if args.write:
        write(Path(args.write))
    else:
        sys.stdout.write(render())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
