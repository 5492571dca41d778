"""Builds the notifiers named in config/watchdog.yaml: a literal dict of types that fails loudly.

A missing secret is a ConfigError here; the daemon (available_notifiers) leaves that notifier out and warns.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping

from pydantic import SecretStr

from watchdog.errors import ConfigError
from watchdog.notify.alertmanager import AlertmanagerNotifier
from watchdog.notify.base import Notifier
from watchdog.notify.datadog_event import DatadogEventNotifier
from watchdog.notify.github_issue import GitHubIssueNotifier, Route
from watchdog.notify.grafana import GrafanaAnnotationNotifier
from watchdog.notify.pagerduty import PagerDutyNotifier
from watchdog.notify.slack import SlackNotifier
from watchdog.notify.webhook import WebhookNotifier
from watchdog.policy.connections import (
    AlertmanagerNotifierConfig,
    DaemonConfig,
    DatadogEventNotifierConfig,
    GitHubIssueNotifierConfig,
    GrafanaAnnotationNotifierConfig,
    NotifierConfig,
    PagerDutyNotifierConfig,
    SlackNotifierConfig,
    WebhookNotifierConfig,
)
from watchdog.policy.secrets import expand_env, resolve_secret

Env = Mapping[str, str] | None

log = logging.getLogger(__name__)


def _required(cfg: NotifierConfig, *, name: str, key: str, environ: Env) -> SecretStr:
    """The secret `<key>_env` or `<key>_file` names; ConfigError saying which to set when neither does."""
    env, file = getattr(cfg, f"{key}_env"), getattr(cfg, f"{key}_file")
    value = resolve_secret(env=env, file=file, what=f"notifier {name}", environ=environ)
    if value is None:
        raise ConfigError(f"notifier {name}: {cfg.type} needs {key}_env or {key}_file")
    return value


def _slack(name: str, cfg: NotifierConfig, environ: Env) -> Notifier:
    assert isinstance(cfg, SlackNotifierConfig)
    url = _required(cfg, name=name, key="webhook_url", environ=environ)
    return SlackNotifier(name=name, url=url, events=cfg.events)


def _datadog_event(name: str, cfg: NotifierConfig, environ: Env) -> Notifier:
    assert isinstance(cfg, DatadogEventNotifierConfig)
    key = _required(cfg, name=name, key="api_key", environ=environ)
    return DatadogEventNotifier(
        name=name, api_key=key, events=cfg.events, site=cfg.site, host=cfg.host, tags=cfg.tags
    )


def _webhook(name: str, cfg: NotifierConfig, environ: Env) -> Notifier:
    assert isinstance(cfg, WebhookNotifierConfig)
    secret = resolve_secret(
        env=cfg.secret_env, file=cfg.secret_file, what=f"notifier {name}", environ=environ
    )
    headers = {k: expand_env(v, environ=environ) for k, v in cfg.headers.items()}
    return WebhookNotifier(
        name=name, url=expand_env(cfg.url, environ=environ), events=cfg.events, headers=headers, secret=secret
    )


def _pagerduty(name: str, cfg: NotifierConfig, environ: Env) -> Notifier:
    assert isinstance(cfg, PagerDutyNotifierConfig)
    key = _required(cfg, name=name, key="routing_key", environ=environ)
    return PagerDutyNotifier(
        name=name,
        routing_key=key,
        events=cfg.events,
        url=cfg.url,
        severity=cfg.severity,
        page_on_inconclusive=cfg.page_on_inconclusive,
    )


def _github_issue(name: str, cfg: NotifierConfig, environ: Env) -> Notifier:
    assert isinstance(cfg, GitHubIssueNotifierConfig)
    token = _required(cfg, name=name, key="token", environ=environ)
    services = {
        service: Route(
            repository=r.repository or cfg.repository,
            labels=tuple(cfg.labels if r.labels is None else r.labels),
            assignees=tuple(cfg.assignees if r.assignees is None else r.assignees),
        )
        for service, r in cfg.services.items()
    }
    return GitHubIssueNotifier(
        name=name,
        token=token,
        repository=cfg.repository,
        events=cfg.events,
        api_url=cfg.api_url,
        labels=cfg.labels,
        assignees=cfg.assignees,
        services=services,
    )


def _grafana(name: str, cfg: NotifierConfig, environ: Env) -> Notifier:
    assert isinstance(cfg, GrafanaAnnotationNotifierConfig)
    token = resolve_secret(env=cfg.token_env, file=cfg.token_file, what=f"notifier {name}", environ=environ)
    return GrafanaAnnotationNotifier(
        name=name,
        url=expand_env(cfg.url, environ=environ),
        token=token,
        events=cfg.events,
        dashboard_uid=cfg.dashboard_uid,
        tags=cfg.tags,
    )


def _alertmanager(name: str, cfg: NotifierConfig, environ: Env) -> Notifier:
    assert isinstance(cfg, AlertmanagerNotifierConfig)
    return AlertmanagerNotifier(
        name=name,
        url=expand_env(cfg.url, environ=environ),
        headers={k: expand_env(v, environ=environ) for k, v in cfg.headers.items()},
        margin_s=cfg.margin,
        sync_every_s=cfg.sync_every,
        events=cfg.events,
    )


NOTIFIERS: dict[str, Callable[[str, NotifierConfig, Env], Notifier]] = {
    "slack": _slack,
    "datadog_event": _datadog_event,
    "webhook": _webhook,
    "pagerduty": _pagerduty,
    "github_issue": _github_issue,
    "grafana_annotation": _grafana,
    "alertmanager": _alertmanager,
}


def build_notifier(name: str, cfg: NotifierConfig, *, environ: Env = None) -> Notifier:
    """One notifier; ConfigError when its type is unknown or a secret it needs is missing."""
    factory = NOTIFIERS.get(cfg.type)
    if factory is None:
        raise ConfigError(
            f"notifier {name}: unknown notifier type {cfg.type!r}; known: {', '.join(NOTIFIERS)}"
        )
    return factory(name, cfg, environ)


def build_notifiers(daemon: DaemonConfig, *, environ: Mapping[str, str] | None = None) -> dict[str, Notifier]:
    """One notifier per entry of `notifiers:`, or ConfigError for the first that cannot be built."""
    return {name: build_notifier(name, cfg, environ=environ) for name, cfg in daemon.notifiers.items()}


def notifier_or_none(name: str, cfg: NotifierConfig, *, environ: Env = None) -> Notifier | None:
    """The daemon's form: a notifier that cannot be built is left out with a warning, the others still send.

    `watchdog check` names each one left out; a missing Slack token must not stop every verification.
    """
    try:
        return build_notifier(name, cfg, environ=environ)
    except ConfigError as exc:
        log.warning("notifier %s is unavailable: %s", name, exc)
        return None


def available_notifiers(daemon: DaemonConfig, *, environ: Env = None) -> dict[str, Notifier]:
    """Every configured notifier that can be built (what the daemon starts with)."""
    built = {name: notifier_or_none(name, cfg, environ=environ) for name, cfg in daemon.notifiers.items()}
    return {name: notifier for name, notifier in built.items() if notifier is not None}
