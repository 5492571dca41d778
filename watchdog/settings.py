"""Process settings: `WATCHDOG_*` environment variables, a `.env` file and a secrets directory.

Loaded once in `cli` and passed down; nothing reads the environment at import time. Secrets are SecretStr.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from watchdog.redact import REDACTOR

# Every group reads the flat `WATCHDOG_<FIELD>` variables it always did: the grouping is in the code only.
_SOURCES = SettingsConfigDict(env_prefix="WATCHDOG_", env_file=".env", extra="ignore")


class ListenerSettings(BaseSettings):
    """Where the HTTP API listens (cli/serve.py binds it)."""

    model_config = _SOURCES

    host: str = Field("127.0.0.1", description="listen address")
    port: int = Field(8080, description="listen port")


class FileSettings(BaseSettings):
    """The directories the daemon reads its configuration from and writes its files to."""

    model_config = _SOURCES

    config_dir: Path = Field(Path("config"), description="holds watchdog.yaml and services/*.yaml")
    data_dir: Path = Field(Path("data"), description="the default SQLite file and reports live here")
    reports_dir: Path | None = Field(None, description="post-mortem stubs; default <data_dir>/reports")


class StoreSettings(BaseSettings):
    """The state store: which database, and whether the daemon upgrades its schema itself."""

    model_config = _SOURCES

    database_url: str | None = Field(
        None, description="SQLAlchemy URL; default sqlite:///<data_dir>/watchdog.db"
    )
    auto_migrate: bool | None = Field(None, description="upgrade the schema on start; default on for SQLite")


class SecretSettings(BaseSettings):
    """The API's bearer tokens and the inbound webhooks' secrets; each is told to the redactor on load."""

    model_config = _SOURCES

    admin_token: SecretStr | None = Field(None, description="bearer token of the admin API")
    read_token: SecretStr | None = Field(
        None, description="when set, API reads and the dashboard need it (or the admin token) as a bearer"
    )
    webhook_secret: SecretStr | None = Field(
        None, description="Standard Webhooks secret(s) of POST /v1/events; space-separated during rotation"
    )
    github_webhook_secret: SecretStr | None = Field(
        None, description="secret of POST /v1/webhooks/github (X-Hub-Signature-256)"
    )
    gitlab_webhook_token: SecretStr | None = Field(
        None, description="token of POST /v1/webhooks/gitlab (X-Gitlab-Token)"
    )
    argocd_webhook_token: SecretStr | None = Field(
        None, description="bearer token of POST /v1/webhooks/argocd"
    )


class EngineSettings(BaseSettings):
    """What the engine reads: its tick, its leases and name among replicas, its load and its retention."""

    model_config = _SOURCES

    tick_seconds: float = Field(1.0, gt=0, description="how often due verifications are looked for")
    lease_seconds: float = Field(30.0, gt=0, description="how long a claimed verification stays ours")
    # Stable across restarts (no pid in it), so a restarted process takes its own leases back at once.
    instance_id: str = Field(
        default_factory=lambda: os.uname().nodename or "watchdog",
        min_length=1,
        max_length=100,
        description="this replica's name in leases; default the host name (keep it stable across restarts)",
    )
    max_concurrent_verifications: int = Field(200, ge=1, description="verifications sampled at once")
    # No upper bound here: a Kubernetes pod may pass its CPU request (8) and get 4; the CLI flag is strict.
    workers: int | None = Field(
        None,
        ge=0,
        description="engine processes of `watchdog serve`, sharing the work through the leases as replicas "
        "do (one also serves the API); default the CPUs the daemon may use (affinity and container quota); "
        "at most 4 (more counts as 4); 0 = that default; 1 = one process; always 1 on an in-memory store",
    )
    sample_jitter: float = Field(
        0.4,
        ge=0,
        le=0.45,
        description="each verification takes its samples this share of an interval late at most, "
        "stable per verification, so a fleet's probes spread out (0 = all at k x interval)",
    )
    retention_days: float = Field(
        90.0,
        gt=0,
        description="samples of verifications finished longer ago, and CI statuses received longer ago, "
        "are deleted (hourly)",
    )
    delivery_retention_days: float = Field(
        14.0, gt=0, description="webhook ids are remembered this long: a redelivery within it is a replay"
    )


class TelemetrySettings(BaseSettings):
    """The daemon's own logs and error reports."""

    model_config = _SOURCES

    sentry_dsn: SecretStr | None = Field(None, description="the daemon's own errors go to Sentry when set")
    environment: str = Field("local", description="this daemon's environment, for its own Sentry events")
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = Field("INFO", description="log level")
    log_format: Literal["json", "text"] = Field(
        "text", description="json for log collectors, text for people"
    )


class IntakeSettings(BaseSettings):
    """Limits on what inbound events may be."""

    model_config = _SOURCES

    max_body_bytes: int = Field(1024 * 1024, description="larger webhook bodies are refused with 413")


GROUPS: dict[str, type[BaseSettings]] = {
    "listener": ListenerSettings,
    "files": FileSettings,
    "store": StoreSettings,
    "secrets": SecretSettings,
    "engine": EngineSettings,
    "telemetry": TelemetrySettings,
    "intake": IntakeSettings,
}


class Settings(BaseModel):
    """Every group, loaded once in `cli` and passed down a group at a time (the engine gets `engine`).

    `Settings(port=1, ...)` takes the flat field names too: each goes to its group, the rest come from the
    environment, `.env` and `$WATCHDOG_SECRETS_DIR` exactly as before the grouping.
    """

    listener: ListenerSettings
    files: FileSettings
    store: StoreSettings
    secrets: SecretSettings
    engine: EngineSettings
    telemetry: TelemetrySettings
    intake: IntakeSettings

    @model_validator(mode="before")
    @classmethod
    def _grouped(cls, data: Any) -> Any:
        if not isinstance(data, dict):
            return data
        flat = dict(data)
        read: dict[str, Any] = {k: flat.pop(k) for k in ("_secrets_dir", "_env_file") if k in flat}
        out: dict[str, Any] = {}
        for group, model in GROUPS.items():
            given = flat.pop(group, None)
            if isinstance(given, model):
                out[group] = given
                continue
            mine = {name: flat.pop(name) for name in list(flat) if name in model.model_fields}
            out[group] = model(**{**(given or {}), **mine, **read})
        return out  # an unknown flat name is ignored, as the environment's are

    def replace(self, **changes: Any) -> Settings:
        """A copy with some fields changed by their flat names (`settings.replace(config_dir=...)`)."""
        groups: dict[str, Any] = {}
        for group, model in GROUPS.items():
            mine = {k: v for k, v in changes.items() if k in model.model_fields}
            current = getattr(self, group)
            groups[group] = current.model_copy(update=mine) if mine else current
        return Settings(**groups)

    @property
    def resolved_database_url(self) -> str:
        return self.store.database_url or f"sqlite:///{self.files.data_dir / 'watchdog.db'}"

    @property
    def resolved_reports_dir(self) -> Path:
        return self.files.reports_dir or self.files.data_dir / "reports"

    @property
    def should_auto_migrate(self) -> bool:
        if self.store.auto_migrate is not None:
            return self.store.auto_migrate
        return self.resolved_database_url.startswith("sqlite")

    def register_secrets(self) -> None:
        """Tells the redactor every secret value so no log line or report can carry one."""
        for value in (*self.secrets.model_dump().values(), self.telemetry.sentry_dsn):
            if value is not None:
                REDACTOR.add(value.get_secret_value(), *value.get_secret_value().split())
        # A password inside the database URL is a secret too.
        url = self.resolved_database_url
        if "@" in url and ":" in url.split("@", 1)[0].split("//", 1)[-1]:
            REDACTOR.add(url.split("@", 1)[0].split("//", 1)[-1].split(":", 1)[1])


def weak_secrets(secrets: SecretSettings) -> list[str]:
    """Why each secret setting is too weak to start with (named, never shown); empty when all are fine.

    A webhook key or token shorter than 16 bytes can be guessed; `whsec_` must be followed by base64.
    """
    from watchdog.intake.signatures import key_problem

    found: list[str] = []
    named = {
        "WATCHDOG_WEBHOOK_SECRET": (secrets.webhook_secret, True),
        "WATCHDOG_GITHUB_WEBHOOK_SECRET": (secrets.github_webhook_secret, False),
        "WATCHDOG_GITLAB_WEBHOOK_TOKEN": (secrets.gitlab_webhook_token, False),
        "WATCHDOG_ARGOCD_WEBHOOK_TOKEN": (secrets.argocd_webhook_token, False),
        "WATCHDOG_ADMIN_TOKEN": (secrets.admin_token, False),
        "WATCHDOG_READ_TOKEN": (secrets.read_token, False),
    }
    for name, (value, standard) in named.items():
        if value is None:
            continue
        parts = value.get_secret_value().split() if standard else [value.get_secret_value()]
        for i, part in enumerate(parts or [""]):
            problem = key_problem(part, standard=standard)
            if problem:
                which = f" (secret {i + 1} of {len(parts)})" if len(parts) > 1 else ""
                found.append(f"{name}{which}: {problem}")
    return found


def load_settings(**overrides: object) -> Settings:
    """Settings from the environment, `.env`, and `$WATCHDOG_SECRETS_DIR` (a Kubernetes Secret mount)."""
    secrets_dir = os.environ.get("WATCHDOG_SECRETS_DIR")
    kwargs: dict[str, object] = dict(overrides)
    if secrets_dir and Path(secrets_dir).is_dir():
        kwargs["_secrets_dir"] = secrets_dir
    settings = Settings(**kwargs)
    settings.register_secrets()
    return settings
