"""How the configuration reference spells a field's type and default, and meanings of common keys.

Kept apart from docs.py so the table layout and the type vocabulary change independently.
"""

from __future__ import annotations

import types
from enum import Enum
from pathlib import Path
from typing import Annotated, Any, Literal, Union, get_args, get_origin

from pydantic import BaseModel, BeforeValidator, SecretStr
from pydantic.fields import FieldInfo

from watchdog.policy.durations import format_duration, parse_duration

# Meanings of keys that many models share and that carry no description of their own.
FALLBACK_MEANINGS = {
    "type": "selects the kind; the other keys depend on it",
    "name": "unique within the environment; names the check in reports",
    "url": "base URL of the service; `${NAME}` is read from the environment",
    "site": "Datadog site, such as datadoghq.com or datadoghq.eu",
    "timeout": "how long one call may take",
    "concurrency": "at most this many calls at once",
    "retries": "retries of a failed call (connection errors, 5xx, 429)",
    "headers": "extra HTTP headers; `${NAME}` is read from the environment",
    "source": "a source named in config/watchdog.yaml",
    "query": "the query, in the source's language",
    "max": "a value above this fails the sample",
    "min": "a value below this fails the sample",
    "events": "which verdicts and rollback outcomes are sent",
    "tags": "tags added to every event",
    "namespace": "Kubernetes namespace",
    "deployment": "Kubernetes Deployment name",
    "release": "Helm release name",
    "application": "Argo CD application name",
    "app_namespace": "namespace of the Argo CD Application, when not the default",
    "organization": "Sentry organization slug",
    "project": "Sentry project slug",
    "kubeconfig": "path of a kubeconfig file",
    "context": "kubeconfig context",
    "kube_context": "kubeconfig context passed to helm",
    "ca_file": "CA bundle that signs the API server's certificate",
    "insecure": "skip TLS verification (test clusters only)",
    "username": "basic-auth user",
    "cwd": "working directory of the command",
    "method": "HTTP method",
    "sources": "named metric sources that checks refer to",
    "targets": "named deploy targets that policies refer to",
    "notifiers": "named notifiers that policies refer to",
    "reports": "post-mortem report settings",
    "checks": "what is sampled every interval",
    "defaults": "policy keys every environment inherits",
    "environments": "one policy per environment, such as staging and production",
    "rollback": "automatic rollback limits and the verification of the restored version",
    "insecure_skip_tls_verify": "skip TLS verification of the API server (test clusters only)",
    "secret_file": "file holding the signing secret",
    "json": "fields the JSON body must hold",
    "bearer_token_env": "env var holding a bearer token",
    "bearer_token_file": "file holding a bearer token",
    "password_env": "env var holding the basic-auth password",
    "password_file": "file holding the basic-auth password",
    "api_key_env": "env var holding the Datadog API key",
    "api_key_file": "file holding the Datadog API key",
    "app_key_env": "env var holding the Datadog application key",
    "app_key_file": "file holding the Datadog application key",
    "token_env": "env var holding the API token",
    "token_file": "file holding the API token",
    "webhook_url_env": "env var holding the Slack incoming-webhook URL",
    "webhook_url_file": "file holding the Slack incoming-webhook URL",
    "interval": "one sample of every check per interval",
    "warmup": "samples at t <= warmup are kept but not judged",
    "failure_limit": "consecutive failing samples of one check fail it",
    "min_conclusive": "fraction of judged samples that must be conclusive",
    "expect": "what a healthy answer looks like",
    "baseline": "limits relative to the pre-deploy baseline",
    "confidence": "baseline breaches must be significant at this level (0.5 < c < 1)",
    "verification": "the verification window",
    "host": "full base URL; overrides site (proxies, tests)",
    "log_level": "log level",
    "log_format": "json for log collectors, text for people",
    "github_webhook_secret": "secret of POST /v1/webhooks/github (X-Hub-Signature-256)",
    "gitlab_webhook_token": "token of POST /v1/webhooks/gitlab (X-Gitlab-Token)",
    "argocd_webhook_token": "bearer token of POST /v1/webhooks/argocd",
    "instance_id": "this replica's name in leases",
    "max_concurrent_verifications": "verifications sampled at once",
}


def _is_duration(metadata: list[Any]) -> bool:
    return any(isinstance(m, BeforeValidator) and m.func is parse_duration for m in metadata)


def type_text(tp: Any, metadata: list[Any] | None = None) -> str:
    if _is_duration(metadata or []):
        return "duration"
    origin = get_origin(tp)
    args = get_args(tp)
    if origin is Annotated:
        return type_text(args[0], list(args[1:]))
    if origin is Union or origin is types.UnionType:
        parts = [type_text(a) for a in args if a is not type(None)]
        text = "one of " + ", ".join(parts) if len(parts) > 2 else " or ".join(parts)
        return text + " (optional)" if type(None) in args else text
    if origin is Literal:
        return " \\| ".join(f"`{a}`" for a in args)
    if origin is list:
        return f"list of {type_text(args[0])}"
    if origin is dict:
        return f"map of {type_text(args[1])}"
    if isinstance(tp, type) and issubclass(tp, BaseModel):
        return f"[{tp.__name__}](#{tp.__name__.lower()})"
    if isinstance(tp, type) and issubclass(tp, Enum):
        return " \\| ".join(f"`{m.value}`" for m in tp)
    names = {
        str: "string",
        int: "integer",
        float: "number",
        bool: "boolean",
        Path: "path",
        SecretStr: "secret",
    }
    return names.get(tp, "any") if isinstance(tp, type) else "any"


def default_text(field: FieldInfo, *, name: str) -> str:
    if field.default_factory is not None:
        try:
            value = field.default_factory()  # type: ignore[call-arg]
        except TypeError:
            return "computed"
        if isinstance(value, BaseModel):
            return "see its table"
        if isinstance(value, list | dict):
            return f"`{list(value) if isinstance(value, list) else value}`".replace("'", "")
        return "computed"
    value = field.default
    if value is None:
        return "none"
    if _is_duration(field.metadata):
        return f"`{format_duration(float(value))}`"
    if isinstance(value, bool):
        return f"`{str(value).lower()}`"
    return f"`{value}`"
