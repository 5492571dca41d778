"""helm/watchdog rendered by Helm's own engine for the defaults, values-example.yaml and values-ha.yaml.

Every object is valid against the Kubernetes schemas (kubernetes-validate); the defaults create no Role and no
policy; the Deployment is hardened and probed; the ConfigMap's files pass `watchdog check`; RBAC grants only
get/list/watch/patch on apps deployments and replicasets; the optional Ingress exposes the webhooks only.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.deploy.helm_render import (
    DEFAULTS,
    EXAMPLE,
    HA,
    NAMESPACE,
    ROOT,
    RenderFailed,
    container,
    env_of,
    lint,
    of_kind,
    only,
    render,
)
from tests.deploy.sync_helm_values import example_config

ALLOWED_VERBS = {"get", "list", "watch", "patch"}
ALLOWED_RESOURCES = {"deployments", "replicasets"}


@pytest.fixture(scope="module")
def default_docs() -> list[dict[str, Any]]:
    return render()


@pytest.fixture(scope="module")
def example_docs() -> list[dict[str, Any]]:
    return render(EXAMPLE)


@pytest.fixture(scope="module")
def ha_docs() -> list[dict[str, Any]]:
    return render(HA)


def kubernetes_target_namespaces(daemon: dict[str, Any]) -> set[str]:
    return {
        t["namespace"]
        for t in (daemon.get("targets") or {}).values()
        if t.get("type") == "kubernetes" and not (t.get("api_url") or t.get("kubeconfig"))
    }


# ---- every render -------------------------------------------------------------------------------------


@pytest.mark.parametrize("values", [None, EXAMPLE, HA], ids=["default", "example", "ha"])
def test_every_document_is_a_named_kubernetes_object(values: dict[str, Any] | None) -> None:
    documents = render(values)
    assert documents
    for document in documents:
        assert document.get("apiVersion") and document.get("kind"), document
        assert document["metadata"]["name"]
        assert document["metadata"]["labels"]["app.kubernetes.io/instance"] == "watchdog"
    assert not of_kind(documents, "Secret"), "the chart never carries secret values"
    assert not of_kind(documents, "ClusterRole") and not of_kind(documents, "ClusterRoleBinding")


@pytest.mark.parametrize("values", [None, EXAMPLE, HA], ids=["default", "example", "ha"])
def test_helm_lint_strict_is_clean(values: dict[str, Any] | None) -> None:
    assert lint(values) == []


BASE_KINDS = {
    "Deployment",
    "Service",
    "ConfigMap",
    "ServiceAccount",
    "PodDisruptionBudget",
    "PersistentVolumeClaim",
}


def test_default_render_has_the_expected_kinds(default_docs: list[dict[str, Any]]) -> None:
    kinds = {d["kind"] for d in default_docs}
    assert kinds == BASE_KINDS, "no Role: the defaults name no namespace"
    assert "ServiceMonitor" not in kinds, "off by default: it needs the Prometheus Operator's CRDs"
    assert "Ingress" not in kinds, "off by default"


def test_default_render_creates_no_role_and_no_service_policy(default_docs: list[dict[str, Any]]) -> None:
    assert not of_kind(default_docs, "Role") and not of_kind(default_docs, "RoleBinding")
    data = only(default_docs, "ConfigMap")["data"]
    assert set(data) == {"watchdog.yaml"}, "no services/<name>.yaml: the demo policies are not run by default"
    assert yaml.safe_load(data["watchdog.yaml"]) == {"sources": {}, "targets": {}, "notifiers": {}}


def test_example_render_is_as_the_example_config(example_docs: list[dict[str, Any]]) -> None:
    assert {d["kind"] for d in example_docs} == BASE_KINDS | {"Role", "RoleBinding"}
    assert {r["metadata"]["namespace"] for r in of_kind(example_docs, "Role")} == {"shop", "shop-staging"}


# ---- the Deployment -----------------------------------------------------------------------------------


@pytest.mark.parametrize("values", [None, EXAMPLE, HA], ids=["default", "example", "ha"])
def test_deployment_is_probed_hardened_and_bounded(values: dict[str, Any] | None) -> None:
    documents = render(values)
    pod = only(documents, "Deployment")["spec"]["template"]["spec"]
    main = container(documents)
    assert main["livenessProbe"]["httpGet"] == {"path": "/healthz", "port": "http"}
    assert main["readinessProbe"]["httpGet"] == {"path": "/readyz", "port": "http"}
    assert {"name": "http", "containerPort": 8080, "protocol": "TCP"} in main["ports"]
    assert main["args"] == ["serve", "--host", "0.0.0.0", "--port", "8080", "--config", "/etc/watchdog"]
    assert main["image"] == "ghcr.io/acme/deploy-watchdog:0.1.0"
    security = main["securityContext"]
    assert security["runAsNonRoot"] is True and security["runAsUser"] == 10001
    assert security["readOnlyRootFilesystem"] is True
    assert security["allowPrivilegeEscalation"] is False
    assert security["capabilities"] == {"drop": ["ALL"]}
    assert pod["securityContext"]["runAsNonRoot"] is True and pod["securityContext"]["fsGroup"] == 10001
    assert main["resources"]["requests"]["cpu"] and main["resources"]["requests"]["memory"]
    assert main["resources"]["limits"]["memory"]
    mounts = {m["mountPath"]: m for m in main["volumeMounts"]}
    volumes = {v["name"]: v for v in pod["volumes"]}
    assert volumes[mounts["/tmp"]["name"]]["emptyDir"] is not None
    assert mounts["/etc/watchdog"]["readOnly"] is True
    assert "configMap" in volumes[mounts["/etc/watchdog"]["name"]]
    assert mounts["/var/lib/watchdog"]["name"] == "data"
    env = {e["name"]: e for e in main["env"]}
    assert env["WATCHDOG_CONFIG_DIR"]["value"] == "/etc/watchdog"
    assert env["WATCHDOG_DATA_DIR"]["value"] == "/var/lib/watchdog"
    assert env["WATCHDOG_INSTANCE_ID"]["valueFrom"]["fieldRef"]["fieldPath"] == "metadata.name"


def test_default_is_one_sqlite_replica_on_a_claim(default_docs: list[dict[str, Any]]) -> None:
    deployment = only(default_docs, "Deployment")
    assert deployment["spec"]["replicas"] == 1
    assert deployment["spec"]["strategy"]["type"] == "Recreate", "two pods must never open one SQLite file"
    claim = only(default_docs, "PersistentVolumeClaim")
    volumes = {v["name"]: v for v in deployment["spec"]["template"]["spec"]["volumes"]}
    assert volumes["data"]["persistentVolumeClaim"]["claimName"] == claim["metadata"]["name"]
    assert "WATCHDOG_DATABASE_URL" not in env_of(default_docs)
    assert "WATCHDOG_SECRETS_DIR" not in env_of(default_docs), "no existingSecret named by default"
    assert only(default_docs, "PodDisruptionBudget")["spec"] == {
        "maxUnavailable": 1,
        "selector": deployment["spec"]["selector"],
    }


def test_ha_runs_two_replicas_on_postgresql_from_a_secret(ha_docs: list[dict[str, Any]]) -> None:
    deployment = only(ha_docs, "Deployment")
    assert deployment["spec"]["replicas"] == 2
    assert deployment["spec"]["strategy"]["type"] == "RollingUpdate"
    env = env_of(ha_docs)
    assert env["WATCHDOG_DATABASE_URL"]["valueFrom"]["secretKeyRef"] == {
        "name": "watchdog-db",
        "key": "database-url",
    }
    assert env["WATCHDOG_AUTO_MIGRATE"]["value"] == "false"
    assert only(ha_docs, "PodDisruptionBudget")["spec"]["minAvailable"] == 1
    assert not of_kind(ha_docs, "PersistentVolumeClaim")
    volumes = {v["name"]: v for v in deployment["spec"]["template"]["spec"]["volumes"]}
    assert volumes["data"] == {"name": "data", "emptyDir": {}}


def test_secrets_come_from_existing_secrets_by_name(ha_docs: list[dict[str, Any]]) -> None:
    main = container(ha_docs)
    pod = only(ha_docs, "Deployment")["spec"]["template"]["spec"]
    env = env_of(ha_docs)
    secrets_dir = env["WATCHDOG_SECRETS_DIR"]["value"]
    mount = next(m for m in main["volumeMounts"] if m["mountPath"] == secrets_dir)
    assert mount["readOnly"] is True
    volume = next(v for v in pod["volumes"] if v["name"] == mount["name"])
    assert volume["secret"]["secretName"] == "watchdog-secrets"
    assert volume["secret"]["defaultMode"] == 0o440
    assert main["envFrom"] == [{"secretRef": {"name": "watchdog-tokens"}}]
    # No literal value of any env entry looks like a credential.
    for entry in main["env"]:
        assert "value" not in entry or not any(w in entry["value"] for w in ("whsec_", "://", "@")), entry


def test_service_selects_the_pods(default_docs: list[dict[str, Any]]) -> None:
    service = only(default_docs, "Service")
    pod_labels = only(default_docs, "Deployment")["spec"]["template"]["metadata"]["labels"]
    assert service["spec"]["selector"].items() <= pod_labels.items()
    assert service["spec"]["ports"] == [
        {"name": "http", "port": 8080, "targetPort": "http", "protocol": "TCP"}
    ]
    account = only(default_docs, "ServiceAccount")
    pod = only(default_docs, "Deployment")["spec"]["template"]["spec"]
    assert pod["serviceAccountName"] == account["metadata"]["name"]


# ---- the config -----------------------------------------------------------------------------------------


def write_config_dir(documents: list[dict[str, Any]], root: Path) -> Path:
    """Lays the ConfigMap out as the pod sees it: through the Deployment volume's `items` mapping."""
    data = only(documents, "ConfigMap")["data"]
    pod = only(documents, "Deployment")["spec"]["template"]["spec"]
    volume = next(v for v in pod["volumes"] if "configMap" in v)
    assert volume["configMap"]["name"] == only(documents, "ConfigMap")["metadata"]["name"]
    items = volume["configMap"]["items"]
    assert {i["key"] for i in items} == set(data), "every key is mounted, and every mounted key exists"
    for item in items:
        path = root / item["path"]
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(data[item["key"]])
    return root


@pytest.mark.parametrize("values", [EXAMPLE, {**HA, **EXAMPLE}], ids=["example", "ha"])
def test_configmap_policies_pass_watchdog_check(values: dict[str, Any] | None, tmp_path: Path) -> None:
    documents = render(values)
    for key in only(documents, "ConfigMap")["data"]:
        assert "/" not in key
    config = write_config_dir(documents, tmp_path / "etc-watchdog")
    assert sorted(p.name for p in (config / "services").iterdir()) == [
        "checkout.yaml",
        "demo.yaml",
        "payments.yaml",
    ]
    result = subprocess.run(
        [sys.executable, "-m", "watchdog", "check", str(config)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_example_values_equal_the_repository_example() -> None:
    """values-example.yaml is config/ as data; `python -m tests.deploy.sync_helm_values` refreshes it."""
    message = (
        "helm/watchdog/values-example.yaml drifted from config/: run python -m tests.deploy.sync_helm_values"
    )
    assert {"config": example_config()} == EXAMPLE, message
    assert DEFAULTS["config"] == {"daemon": {"sources": {}, "targets": {}, "notifiers": {}}, "services": {}}


def test_config_given_as_files_is_kept_as_written(tmp_path: Path) -> None:
    """`--set-file config.daemon=config/watchdog.yaml`: the text, comments included, replaces the example."""
    daemon_text = (ROOT / "config" / "watchdog.yaml").read_text()
    checkout_text = (ROOT / "config" / "services" / "checkout.yaml").read_text()
    values = {
        "config": {
            "daemon": daemon_text,
            "services": {"checkout": checkout_text, "demo": None, "payments": None},
        }
    }
    documents = render(values)
    data = only(documents, "ConfigMap")["data"]
    assert set(data) == {"watchdog.yaml", "services__checkout.yaml"}
    assert data["watchdog.yaml"].strip() == daemon_text.strip()
    assert data["services__checkout.yaml"].strip() == checkout_text.strip()
    config = write_config_dir(documents, tmp_path / "etc-watchdog")
    result = subprocess.run(
        [sys.executable, "-m", "watchdog", "check", str(config)], capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stdout + result.stderr
    roles = {r["metadata"]["namespace"] for r in of_kind(documents, "Role")}
    assert roles == kubernetes_target_namespaces(yaml.safe_load(daemon_text))


# ---- RBAC -----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("values", [EXAMPLE, {**HA, **EXAMPLE}], ids=["example", "ha"])
def test_roles_grant_only_what_a_rollback_needs(values: dict[str, Any] | None) -> None:
    documents = render(values)
    roles = of_kind(documents, "Role")
    expected = kubernetes_target_namespaces(EXAMPLE["config"]["daemon"])
    assert expected == {"shop", "shop-staging"}
    assert {r["metadata"]["namespace"] for r in roles} == expected
    for role in roles:
        for rule in role["rules"]:
            assert rule["apiGroups"] == ["apps"]
            assert set(rule["resources"]) <= ALLOWED_RESOURCES
            assert set(rule["verbs"]) <= ALLOWED_VERBS
            assert not rule.get("resourceNames") and not rule.get("nonResourceURLs")
    account = only(documents, "ServiceAccount")["metadata"]["name"]
    bindings = of_kind(documents, "RoleBinding")
    assert {b["metadata"]["namespace"] for b in bindings} == expected
    for binding in bindings:
        assert binding["roleRef"] == {
            "apiGroup": "rbac.authorization.k8s.io",
            "kind": "Role",
            "name": roles[0]["metadata"]["name"],
        }
        assert binding["subjects"] == [{"kind": "ServiceAccount", "name": account, "namespace": NAMESPACE}]


def test_targets_on_other_clusters_and_other_types_get_no_role() -> None:
    daemon = {
        "targets": {
            "local": {"type": "kubernetes", "namespace": "apps", "deployment": "web"},
            "again": {"type": "kubernetes", "namespace": "apps", "deployment": "api"},
            "remote": {
                "type": "kubernetes",
                "namespace": "far",
                "deployment": "web",
                "api_url": "https://k8s.far",
            },
            "chart": {"type": "helm", "release": "web", "namespace": "charts"},
        }
    }
    # A string replaces the daemon file whole (a map would merge key by key with the defaults).
    documents = render({"config": {"daemon": yaml.safe_dump(daemon)}, "rbac": {"extraNamespaces": ["ops"]}})
    assert sorted(r["metadata"]["namespace"] for r in of_kind(documents, "Role")) == ["apps", "ops"]
    assert not of_kind(render({**EXAMPLE, "rbac": {"create": False}}), "Role")


# ---- migrations ---------------------------------------------------------------------------------------


def test_ha_migrates_postgresql_in_a_pre_upgrade_hook(ha_docs: list[dict[str, Any]]) -> None:
    job = only(ha_docs, "Job")
    annotations = job["metadata"]["annotations"]
    assert annotations["helm.sh/hook"] == "pre-install,pre-upgrade"
    assert "before-hook-creation" in annotations["helm.sh/hook-delete-policy"]
    pod = job["spec"]["template"]["spec"]
    (migrate,) = pod["containers"]
    assert migrate["args"] == ["db", "upgrade"]
    assert migrate["image"] == container(ha_docs)["image"], "the new image's migrations, not the old one's"
    env = {e["name"]: e for e in migrate["env"]}
    assert env["WATCHDOG_DATABASE_URL"] == env_of(ha_docs)["WATCHDOG_DATABASE_URL"]
    assert migrate["securityContext"]["readOnlyRootFilesystem"] is True
    assert pod["restartPolicy"] == "Never" and pod["automountServiceAccountToken"] is False


def test_no_migration_job_on_sqlite(default_docs: list[dict[str, Any]]) -> None:
    assert not of_kind(default_docs, "Job")
    with pytest.raises(RenderFailed, match=r"migrations\.hook runs"):
        render({"migrations": {"hook": True}})


# ---- the webhook Ingress --------------------------------------------------------------------------------


def test_ingress_exposes_the_webhook_routes_only() -> None:
    tls = [{"secretName": "watchdog-tls", "hosts": ["watchdog.example.com"]}]
    values = {"ingress": {"enabled": True, "className": "nginx", "host": "watchdog.example.com", "tls": tls}}
    documents = render(values)
    ingress = only(documents, "Ingress")
    assert ingress["spec"]["ingressClassName"] == "nginx" and ingress["spec"]["tls"] == tls
    (rule,) = ingress["spec"]["rules"]
    assert rule["host"] == "watchdog.example.com"
    paths = {(p["path"], p["pathType"]) for p in rule["http"]["paths"]}
    assert paths == {("/v1/events", "Exact"), ("/v1/webhooks", "Prefix")}
    service = only(documents, "Service")["metadata"]["name"]
    for path in rule["http"]["paths"]:
        assert path["backend"]["service"] == {"name": service, "port": {"name": "http"}}
    assert lint(values) == []


# ---- every object against the Kubernetes schemas ------------------------------------------------------

KUBERNETES_VERSION = "1.31"
# Custom resources have no schema in kubernetes-validate; their shape is checked by the tests above.
CUSTOM_KINDS = {("monitoring.coreos.com/v1", "ServiceMonitor")}


@pytest.mark.parametrize(
    "values",
    [
        None,
        EXAMPLE,
        {**HA, **EXAMPLE},
        {"ingress": {"enabled": True, "host": "watchdog.example.com"}, "serviceMonitor": {"enabled": True}},
        {"image": {"digest": "sha256:" + "ab" * 32}, "persistence": {"existingClaim": "state"}},
    ],
    ids=["default", "example", "ha", "ingress-and-monitor", "digest-and-claim"],
)
def test_every_rendered_object_is_valid_kubernetes(values: dict[str, Any] | None) -> None:
    import kubernetes_validate

    documents = render(values)
    checked = 0
    for document in documents:
        if (document["apiVersion"], document["kind"]) in CUSTOM_KINDS:
            continue
        try:
            kubernetes_validate.validate(document, KUBERNETES_VERSION, strict=True)
        except kubernetes_validate.ValidationError as exc:
            pytest.fail(
                f"{document['kind']} {document['metadata']['name']}: {exc.message} at {list(exc.path)}"
            )
        checked += 1
    assert checked >= 5  # Deployment, Service, ConfigMap, ServiceAccount, PodDisruptionBudget at least
