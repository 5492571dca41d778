"""Webhook bodies of GitLab and our Argo CD template, shaped as the senders send them.

GitLab: the documented Deployment Hook (webhook_events.md); Argo CD: docs/integrations.md's template.
"""

from __future__ import annotations

from typing import Any

SHA = "279484c09fbe69ededfced8c1bb6e6d24616b468"


def gitlab_deployment(**overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "object_kind": "deployment",
        "status": "success",
        "status_changed_at": "2021-04-28 21:50:00 +0200",
        "deployable_id": 796,
        "deployable_url": "http://10.126.0.2:3000/acme/checkout/-/jobs/796",
        "environment": "staging",
        "project": {
            "id": 30,
            "name": "Checkout",
            "web_url": "http://10.126.0.2:3000/acme/checkout",
            "namespace": "acme",
            "path_with_namespace": "acme/checkout",
            "default_branch": "main",
        },
        "short_sha": SHA[:8],
        "user": {"id": 1, "name": "Administrator", "username": "root"},
        "user_url": "http://10.126.0.2:3000/root",
        "commit_url": f"http://10.126.0.2:3000/acme/checkout/-/commit/{SHA}",
        "commit_title": "Add new file",
        # Added by hand: fields of newer GitLab versions (MR !120151).
        "deployment_id": 15,
        "environment_slug": "staging",
        "environment_tier": "staging",
        "environment_external_url": "https://staging.example.com",
    }
    body.update(overrides)
    return body


def argocd_deployed(**overrides: Any) -> dict[str, Any]:
    """What template.app-deployed-watchdog renders for a Succeeded + Healthy sync."""
    body: dict[str, Any] = {
        "app": "checkout",
        "environment": "staging",
        "revision": SHA,
        "finishedAt": "2026-11-01T11:59:30Z",
        "phase": "Succeeded",
        "health": "Healthy",
        "images": ["ghcr.io/acme/envoy:1.30", "ghcr.io/acme/checkout:2.4.1@sha256:abc"],
        "repoURL": "https://github.com/acme/deploy.git",
        "deployer": "alice",
    }
    body.update(overrides)
    return body
