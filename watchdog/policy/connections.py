"""`config/watchdog.yaml`: the named sources, targets and notifiers that policies refer to.

Secret values never sit here: each one is named by an env var (`*_env`) or a file (`*_file`).
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import Field

from watchdog.policy.checks import Strict
from watchdog.policy.durations import Duration
from watchdog.policy.service import EnvironmentPolicy

# ---- sources -------------------------------------------------------------------------------------


class PrometheusSourceConfig(Strict):
    type: Literal["prometheus"]
    url: str
    headers: dict[str, str] = Field(default_factory=dict, description="e.g. X-Scope-OrgID; ${NAME} from env")
    bearer_token_env: str | None = None
    bearer_token_file: str | None = None
    username: str | None = None
    password_env: str | None = None
    password_file: str | None = None
    timeout: Duration = 10.0
    concurrency: int = Field(8, ge=1)
    retries: int = Field(2, ge=0)


class DatadogSourceConfig(Strict):
    type: Literal["datadog"]
    site: str = "datadoghq.com"
    host: str | None = Field(None, description="full base URL; overrides site (self-hosted proxies, tests)")
    api_key_env: str | None = None
    api_key_file: str | None = None
    app_key_env: str | None = None
    app_key_file: str | None = None
    timeout: Duration = 15.0
    concurrency: int = Field(4, ge=1)
    retries: int = Field(2, ge=0)
    cache_bucket: Duration = Field(30.0, description="identical queries in one bucket are sent once")


class SentrySourceConfig(Strict):
    type: Literal["sentry"]
    url: str = "https://sentry.io"
    organization: str
    project: str | None = None
    environment: str | None = Field(None, description="Sentry environment name, when it differs from ours")
    token_env: str | None = None
    token_file: str | None = None
    timeout: Duration = 15.0
    concurrency: int = Field(4, ge=1)
    retries: int = Field(2, ge=0)


class ScrapeSourceConfig(Strict):
    type: Literal["scrape"]
    url: str = Field(description="the service's own /metrics; may use {{ service }}, {{ environment }}")
    headers: dict[str, str] = Field(default_factory=dict)
    timeout: Duration = 5.0
    concurrency: int = Field(16, ge=1)


SourceConfig = Annotated[
    PrometheusSourceConfig | DatadogSourceConfig | SentrySourceConfig | ScrapeSourceConfig,
    Field(discriminator="type"),
]

# ---- targets -------------------------------------------------------------------------------------


class KubernetesTargetConfig(Strict):
    type: Literal["kubernetes"]
    namespace: str
    deployment: str
    container: str | None = Field(None, description="the container whose image is restored; default all")
    timeout: Duration = 300.0
    api_url: str | None = Field(None, description="API server URL; default in-cluster, then kubeconfig")
    kubeconfig: str | None = None
    context: str | None = None
    token_env: str | None = None
    token_file: str | None = None
    ca_file: str | None = None
    insecure_skip_tls_verify: bool = False


class HelmTargetConfig(Strict):
    type: Literal["helm"]
    release: str
    namespace: str
    timeout: Duration = 300.0
    helm: str = Field("helm", description="the helm executable")
    kube_context: str | None = None


class ArgoCDTargetConfig(Strict):
    type: Literal["argocd"]
    url: str
    application: str
    app_namespace: str | None = None
    token_env: str | None = None
    token_file: str | None = None
    timeout: Duration = 300.0
    allow_disable_autosync: bool = Field(False, description="turn automated sync off before rolling back")
    insecure: bool = False


class CurrentProbe(Strict):
    """How a target that cannot tell what runs (webhook, command) asks the service itself."""

    url: str = Field(description="GET, answering JSON; may use {{ service }} and {{ environment }}")
    headers: dict[str, str] = Field(default_factory=dict, description="${NAME} from the environment")
    version_field: str | None = Field("version", description="dotted path of the running version")
    artifact_field: str | None = Field(None, description="dotted path of the running artifact")
    timeout: Duration = 5.0


class WebhookTargetConfig(Strict):
    type: Literal["webhook"]
    url: str = Field(description="${NAME} is read from the environment at call time")
    method: Literal["POST", "PUT", "PATCH"] = "POST"
    headers: dict[str, str] = Field(default_factory=dict, description="${NAME} from the environment")
    body: Any = Field(default_factory=dict, description="JSON; strings may hold {{ placeholders }}")
    timeout: Duration = 30.0
    retries: int = Field(3, ge=0)
    current: CurrentProbe | None = Field(None, description="asked what runs before a rollback is retried")


class CommandTargetConfig(Strict):
    type: Literal["command"]
    argv: list[str] = Field(min_length=1, description="each item may hold {{ placeholders }}; no shell")
    timeout: Duration = 600.0
    cwd: str | None = None
    env: dict[str, str] = Field(default_factory=dict, description="extra environment; ${NAME} from ours")
    current: CurrentProbe | None = Field(None, description="asked what runs before a rollback is retried")


TargetConfig = Annotated[
    KubernetesTargetConfig
    | HelmTargetConfig
    | ArgoCDTargetConfig
    | WebhookTargetConfig
    | CommandTargetConfig,
    Field(discriminator="type"),
]

# ---- notifiers -----------------------------------------------------------------------------------

NotifyEvent = Literal["started", "passed", "failed", "inconclusive", "rolled_back", "rollback_failed"]
ALL_EVENTS: list[NotifyEvent] = ["failed", "inconclusive", "rolled_back", "rollback_failed"]
PAGING_EVENTS: list[NotifyEvent] = ["passed", "failed", "inconclusive", "rolled_back", "rollback_failed"]
EVERY_EVENT: list[NotifyEvent] = ["started", *PAGING_EVENTS]


class SlackNotifierConfig(Strict):
    type: Literal["slack"]
    webhook_url_env: str | None = None
    webhook_url_file: str | None = None
    events: list[NotifyEvent] = Field(default_factory=lambda: list(ALL_EVENTS))


class DatadogEventNotifierConfig(Strict):
    type: Literal["datadog_event"]
    site: str = "datadoghq.com"
    host: str | None = None
    api_key_env: str | None = None
    api_key_file: str | None = None
    tags: list[str] = Field(default_factory=list)
    events: list[NotifyEvent] = Field(default_factory=lambda: list(ALL_EVENTS))


class WebhookNotifierConfig(Strict):
    type: Literal["webhook"]
    url: str
    headers: dict[str, str] = Field(default_factory=dict)
    secret_env: str | None = Field(None, description="Standard Webhooks signing secret (whsec_...)")
    secret_file: str | None = None
    events: list[NotifyEvent] = Field(default_factory=lambda: list(ALL_EVENTS))


class PagerDutyNotifierConfig(Strict):
    """PagerDuty Events API v2: pages on a failed rollback and a refused automatic one; resolves on a pass."""

    type: Literal["pagerduty"]
    routing_key_env: str | None = Field(None, description="the integration's 32-character routing key")
    routing_key_file: str | None = None
    url: str = "https://events.pagerduty.com/v2/enqueue"
    severity: Literal["critical", "error", "warning", "info"] = "critical"
    page_on_inconclusive: bool = Field(False, description="an inconclusive verdict pages too")
    events: list[NotifyEvent] = Field(default_factory=lambda: list(PAGING_EVENTS))


class GitHubIssueRoute(Strict):
    repository: str | None = Field(None, description="owner/name")
    labels: list[str] | None = None
    assignees: list[str] | None = None


class GitHubIssueNotifierConfig(Strict):
    """Opens the post-mortem as an issue in the service's repository and updates it in place."""

    type: Literal["github_issue"]
    repository: str = Field(description="owner/name; {{ service }} is the deployment's service")
    api_url: str = "https://api.github.com"
    token_env: str | None = None
    token_file: str | None = None
    labels: list[str] = Field(default_factory=lambda: ["deploy-watchdog", "post-mortem"])
    assignees: list[str] = Field(default_factory=list)
    services: dict[str, GitHubIssueRoute] = Field(default_factory=dict, description="per-service overrides")
    events: list[NotifyEvent] = Field(default_factory=lambda: list(ALL_EVENTS))


class GrafanaAnnotationNotifierConfig(Strict):
    """Grafana annotations for the deploy, the verdict and the rollback."""

    type: Literal["grafana_annotation"]
    url: str = Field(description="Grafana's base URL")
    token_env: str | None = Field(None, description="a service account token with annotations:write")
    token_file: str | None = None
    dashboard_uid: str | None = Field(None, description="none: an organisation-wide annotation")
    tags: list[str] = Field(default_factory=list)
    events: list[NotifyEvent] = Field(default_factory=lambda: list(EVERY_EVENT))


class AlertmanagerNotifierConfig(Strict):
    """An Alertmanager that holds silences while verifications run (a policy's `silence:` names it)."""

    type: Literal["alertmanager"]
    url: str = Field(description="Alertmanager's base URL (API v2 under /api/v2)")
    headers: dict[str, str] = Field(default_factory=dict, description="${NAME} from the environment")
    margin: Duration = Field(120.0, description="a silence ends this long past the verification window")
    sync_every: Duration = Field(5.0, description="how often silences are created, extended and expired")
    events: list[NotifyEvent] = Field(default_factory=list)


NotifierConfig = Annotated[
    SlackNotifierConfig
    | DatadogEventNotifierConfig
    | WebhookNotifierConfig
    | PagerDutyNotifierConfig
    | GitHubIssueNotifierConfig
    | GrafanaAnnotationNotifierConfig
    | AlertmanagerNotifierConfig,
    Field(discriminator="type"),
]


class ReportsConfig(Strict):
    template: str | None = Field(None, description="a Jinja2 Markdown template replacing the built-in one")
    base_url: str | None = Field(None, description="public URL of this daemon, for links in notifications")


class DaemonConfig(Strict):
    """`config/watchdog.yaml`."""

    sources: dict[str, SourceConfig] = Field(default_factory=dict)
    targets: dict[str, TargetConfig] = Field(default_factory=dict)
    notifiers: dict[str, NotifierConfig] = Field(default_factory=dict)
    defaults: EnvironmentPolicy | None = Field(None, description="policy defaults for every service")
    reports: ReportsConfig = Field(default_factory=lambda: ReportsConfig())
