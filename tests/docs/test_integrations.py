"""Every pipeline snippet of docs/integrations.md, as written: validated by its published schema, and run.

GitHub Actions and GitLab CI files go through check-jsonschema (SchemaStore's schemas); the GitLab job and
the curl recipe run in bash against the daemon; the Argo CD template is filled by Go's template engine
with an Application object and posted to the daemon, which must accept it.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from tests.docs.go_template import render
from tests.docs.snippets import snippet
from tests.e2e.daemon import SECRET, Daemon

pytestmark = pytest.mark.slow

ARGOCD_TOKEN = "argocd-token-for-docs"
APPLICATION = Path(__file__).parent / "data" / "argocd-application.json"
BIN = Path(sys.executable).parent  # the venv's bin: `watchdog` and `check-jsonschema`


def check_jsonschema(schema: str, path: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(BIN / "check-jsonschema"), "--builtin-schema", schema, str(path)],
        capture_output=True,
        text=True,
        timeout=120,
    )


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


@pytest.fixture(scope="module")
def daemon(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Daemon]:
    root = tmp_path_factory.mktemp("docs-daemon")
    config = root / "config"
    d = Daemon(config=config, data=root / "data", env={"WATCHDOG_ARGOCD_WEBHOOK_TOKEN": ARGOCD_TOKEN})
    # The service checks the daemon's own /healthz: always up, so every deploy here passes.
    check = {"name": "up", "type": "http", "url": f"{d.url}/healthz", "expect": {"status": 200}}
    service = {
        "service": "checkout",
        "defaults": {
            "verification": {"duration": "3s", "interval": "1s", "warmup": "0s", "min_conclusive": 0.5},
            "on_failure": "alert",
            "checks": [check],
        },
        "environments": {"staging": {}, "production": {}},
    }
    write(config / "watchdog.yaml", "{}\n")
    write(config / "services" / "checkout.yaml", yaml.safe_dump(service))
    d.start()
    try:
        yield d
    finally:
        d.stop()


def needs_outputs(workflow: dict[str, Any]) -> list[str]:
    """Each `needs.JOB.outputs.NAME` a job reads that its `needs:` or JOB's `outputs:` does not give."""
    problems = []
    jobs = workflow["jobs"]
    for name, job in jobs.items():
        needs = job.get("needs", [])
        needs = [needs] if isinstance(needs, str) else needs
        for other, output in re.findall(r"needs\.([\w-]+)\.outputs\.([\w-]+)", json.dumps(job)):
            if other not in needs:
                problems.append(f"{name} reads needs.{other}.outputs.{output} without needs: {other}")
            elif output not in jobs.get(other, {}).get("outputs", {}):
                problems.append(f"{name} reads {other}'s output {output}, which {other} does not declare")
    return problems


def test_github_actions_workflow(tmp_path: Path) -> None:
    text = snippet("github-workflow")
    path = write(tmp_path / ".github" / "workflows" / "release.yml", text)
    result = check_jsonschema("vendor.github-workflows", path)
    assert result.returncode == 0, result.stdout + result.stderr
    workflow = yaml.safe_load(text)
    assert needs_outputs(workflow) == []
    # The deploy job sends the digest the build job outputs, and the gate facts in the payload.
    deploy = workflow["jobs"]["deploy"]
    assert deploy["env"]["IMAGE"] == "registry.example/checkout@${{ needs.build.outputs.digest }}"
    assert "ci_status: 'success'" in deploy["steps"][-1]["with"]["script"]

    # The bug the docs had: the same job without `needs: build` reads an empty digest.
    del deploy["needs"]
    assert needs_outputs(workflow) == ["deploy reads needs.build.outputs.digest without needs: build"]
    # And the schema check is not a formality: a misspelt key fails it.
    broken = write(tmp_path / "broken.yml", text.replace("runs-on:", "run-on:", 1))
    assert check_jsonschema("vendor.github-workflows", broken).returncode != 0


def test_gitlab_ci_file_validates_and_its_deploy_job_runs_on_a_branch_pipeline(
    tmp_path: Path, daemon: Daemon
) -> None:
    text = snippet("gitlab-ci")
    path = write(tmp_path / ".gitlab-ci.yml", text)
    result = check_jsonschema("vendor.gitlab-ci", path)
    assert result.returncode == 0, result.stdout + result.stderr
    broken = write(
        tmp_path / "broken.yml", text.replace("stage: deploy", "stage: deploy\n  when: sometimes", 1)
    )
    assert check_jsonschema("vendor.gitlab-ci", broken).returncode != 0

    job = yaml.safe_load(text)["deploy-production"]
    assert job["stage"] == "deploy" and "when" not in job  # on_success: --ci-status success holds
    # The job's own script, line by line as the runner runs it (stop at the first failure), in a
    # branch pipeline: no CI_COMMIT_TAG. `pip install` is replaced by this checkout's CLI on PATH, the
    # deploy by a script that records what it was given, and WATCHDOG_URL points at the test daemon.
    work = tmp_path / "job"
    deploy_sh = write(work / "deploy.sh", '#!/bin/sh\nprintf "%s\\n" "$@" > deployed.txt\n')
    deploy_sh.chmod(0o755)
    image = "registry.example/checkout@sha256:" + "ab" * 32
    env = {k: v for k, v in os.environ.items() if not k.startswith(("WATCHDOG_", "CI_"))}
    env.update(
        {k: str(v) for k, v in job["variables"].items()},
        PATH=f"{BIN}:{env['PATH']}",
        WATCHDOG_URL=daemon.url,
        WATCHDOG_WEBHOOK_SECRET=SECRET,
        IMAGE=image,
        CI_COMMIT_SHORT_SHA="9f1c2ab3",
        CI_COMMIT_SHA="9f1c2ab3" + "0" * 32,
        CI_PROJECT_URL="https://gitlab.example/acme/checkout",
        GITLAB_USER_LOGIN="alice",
    )
    script = "set -e\n" + "\n".join(job["script"]) + "\n"
    run = subprocess.run(
        ["bash", "-c", script], cwd=work, env=env, capture_output=True, text=True, timeout=120
    )
    assert run.returncode == 0, run.stdout + run.stderr
    assert "checkout -> production: allowed (first deploy)" in run.stdout
    assert (work / "deployed.txt").read_text() == image + "\n"
    verdict = run.stdout.strip().splitlines()[-1]
    assert verdict.startswith("checkout/production 9f1c2ab3 (") and "): passed [passed]: up: " in verdict
    deployment_id = verdict.split("(", 1)[1].split(")", 1)[0]
    d = daemon.deployment(deployment_id)
    assert (d["version"], d["artifact"], d["deployer"], d["state"]) == ("9f1c2ab3", image, "alice", "passed")


def test_argocd_notifications_snippet_renders_and_the_daemon_accepts_it(daemon: Daemon) -> None:
    cm = yaml.safe_load(snippet("argocd-notifications-cm"))
    assert cm["kind"] == "ConfigMap" and cm["metadata"]["name"] == "argocd-notifications-cm"
    service = yaml.safe_load(cm["data"]["service.webhook.watchdog"])
    template = yaml.safe_load(cm["data"]["template.app-deployed"])["webhook"]["watchdog"]
    (trigger,) = yaml.safe_load(cm["data"]["trigger.on-deployed"])
    assert trigger["send"] == ["app-deployed"]
    # The catalog's guard: health changed at or after the sync finished, so the new pods are serving.
    guard = (
        "!time.Parse(app.status.health.lastTransitionTime)"
        ".Before(time.Parse(app.status.operationState.finishedAt))"
    )
    assert trigger["when"].endswith(f" and {guard}")

    app = json.loads(APPLICATION.read_text())
    body = render(template["body"], {"app": app})
    sent = json.loads(body)  # the filled template is JSON
    assert sent["revision"] == app["status"]["operationState"]["syncResult"]["revision"]

    # Argo CD fills $watchdog-token from argocd-notifications-secret; here, the daemon's token.
    headers = {h["name"]: h["value"].replace("$watchdog-token", ARGOCD_TOKEN) for h in service["headers"]}
    url = service["url"].replace("https://watchdog.internal", daemon.url)
    resp = httpx.request(template["method"], url, content=body, headers=headers, timeout=10)
    assert resp.status_code == 202, resp.text
    d = daemon.deployment(resp.json()["deployment_id"])
    image = app["status"]["summary"]["images"][1]  # the one named like the service, not the sidecar
    assert (d["service"], d["environment"], d["version"], d["artifact"], d["deployer"]) == (
        "checkout",
        "production",
        "2.4.1",
        image,
        "bob",
    )
    again = httpx.request(template["method"], url, content=body, headers=headers, timeout=10)
    assert again.json()["deployment_id"] == d["id"]  # Argo CD's retry of the same sync: answered once


def test_curl_recipe_signs_with_openssl_as_written(daemon: Daemon) -> None:
    recipe = snippet("curl-recipe")
    env = {k: v for k, v in os.environ.items() if not k.startswith("WATCHDOG_")}
    env.update(
        VERSION="2.4.2",
        IMAGE="registry.example/checkout@sha256:" + "cd" * 32,
        WATCHDOG_URL=daemon.url,
        WATCHDOG_WEBHOOK_SECRET=SECRET,
    )
    run = subprocess.run(["sh", "-ec", recipe], env=env, capture_output=True, text=True, timeout=60)
    assert run.returncode == 0, run.stdout + run.stderr
    answer = json.loads(run.stdout)
    assert answer["state"] == "pending"
    d = daemon.deployment(answer["deployment_id"])
    assert (d["version"], d["artifact"]) == ("2.4.2", env["IMAGE"])
    assert d["source"] == "generic"

    # A wrong secret is refused, and --fail-with-body fails the step with the daemon's reason.
    env["WATCHDOG_WEBHOOK_SECRET"] = "whsec_" + "QUJD" * 8
    wrong = subprocess.run(["sh", "-ec", recipe], env=env, capture_output=True, text=True, timeout=60)
    assert wrong.returncode != 0 and "bad_signature" in wrong.stdout
