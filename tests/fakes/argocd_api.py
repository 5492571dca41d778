"""A loopback Argo CD API server: Applications with status.history, rollback, merge PATCH and operationState.

Errors come back as grpc-gateway bodies ({"error", "code", "message", "details"}) with Argo CD's messages.
"""

from __future__ import annotations

import copy
import json
from typing import Any

from tests.fakes.kubernetes_api import merge_patch
from tests.fakes.loopback_json import JsonServer

REPO_URL = "https://git.example/acme/deploy.git"


def grpc_error(code: int, message: str) -> dict[str, Any]:
    return {"error": message, "code": code, "message": message, "details": []}


class FakeArgoCD(JsonServer):
    """`operation_result`: the phase a rollback's sync ends in (Succeeded, Failed, Error); `stalled`: it stays
    Running; `never_healthy`: after the sync, health stays Progressing."""

    def __init__(self, *, token: str | None = None) -> None:
        super().__init__()
        self.token = token
        self.apps: dict[str, dict[str, Any]] = {}
        self.images_of: dict[str, list[str]] = {}
        self.operation_result = "Succeeded"
        self.stalled = False
        self.never_healthy = False
        self.lose_rollback_answers = 0  # rollbacks that start, but whose answer a proxy turns into a 504
        self._clock = 0
        self._polls: dict[str, int] = {}

    def _now(self) -> str:
        self._clock += 1
        return f"2026-11-01T12:{self._clock // 60:02d}:{self._clock % 60:02d}Z"

    def add_app(self, name: str, *, history: list[tuple[str, list[str]]], automated: bool = False) -> None:
        """`history`: (revision, images) oldest first; the last one is deployed, synced and healthy."""
        entries = []
        for i, (revision, images) in enumerate(history):
            self.images_of[revision] = images
            at = self._now()
            entries.append(
                {
                    "id": i,
                    "revision": revision,
                    "deployedAt": at,
                    "deployStartedAt": at,
                    "source": {"repoURL": REPO_URL, "path": "apps/checkout", "targetRevision": "HEAD"},
                    "initiatedBy": {"automated": True},
                }
            )
        last = history[-1][0]
        sync_policy: dict[str, Any] = {"automated": {"prune": True, "selfHeal": True}} if automated else {}
        self.apps[name] = {
            "metadata": {"name": name, "namespace": "argocd"},
            "spec": {
                "project": "default",
                "syncPolicy": sync_policy,
                "source": {"repoURL": REPO_URL, "path": "apps/checkout", "targetRevision": "HEAD"},
                "destination": {"server": "https://kubernetes.default.svc", "namespace": "shop"},
            },
            "status": {
                "history": entries,
                "sync": {"status": "Synced", "revision": last},
                "health": {"status": "Healthy"},
                "summary": {"images": history[-1][1]},
                "operationState": {
                    "phase": "Succeeded",
                    "message": "successfully synced (all tasks run)",
                    "startedAt": entries[-1]["deployStartedAt"],
                    "finishedAt": entries[-1]["deployedAt"],
                    "syncResult": {"revision": last},
                },
            },
        }

    def rollbacks(self) -> list[Any]:
        return [r.body for r in self.requests_of("POST") if r.path.split("?")[0].endswith("/rollback")]

    def _progress(self, name: str) -> None:
        app = self.apps[name]
        status = app["status"]
        op = status["operationState"]
        if name not in self._polls or self.stalled:
            return
        polls = self._polls[name] = self._polls[name] + 1
        revision = op["operation"]["sync"]["revision"]
        if op["phase"] == "Running" and polls >= 2:
            op.update(phase=self.operation_result, finishedAt=self._now(), syncResult={"revision": revision})
            app.pop("operation", None)
            if self.operation_result != "Succeeded":
                op["message"] = (
                    "one or more objects failed to apply, reason: admission webhook denied the request"
                )
                del self._polls[name]
                return
            op["message"] = "successfully synced (all tasks run)"
            ids = [h["id"] for h in status["history"]]
            status["history"].append(
                {
                    "id": max(ids) + 1,
                    "revision": revision,
                    "deployedAt": op["finishedAt"],
                    "deployStartedAt": op["startedAt"],
                    "source": copy.deepcopy(app["spec"]["source"]),
                    "initiatedBy": {"username": "admin"},
                }
            )
            status["sync"] = {"status": "OutOfSync", "revision": revision}
            status["summary"]["images"] = self.images_of.get(revision, [])
            status["health"] = {"status": "Progressing"}
        elif op["phase"] == "Succeeded" and not self.never_healthy:
            status["health"] = {"status": "Healthy"}
            del self._polls[name]

    def handle(
        self, method: str, path: str, query: dict[str, str], headers: dict[str, str], body: Any
    ) -> tuple[int, Any]:
        if self.token and headers.get("authorization") != f"Bearer {self.token}":
            return 401, grpc_error(16, "invalid session: token signature is invalid")
        parts = path.strip("/").split("/")
        if parts[:3] != ["api", "v1", "applications"] or len(parts) < 4:
            return 404, grpc_error(5, "Not Found")
        name = parts[3]
        if name not in self.apps:
            return 403, grpc_error(7, "permission denied")  # Argo CD hides missing apps behind 403
        app = self.apps[name]
        if method == "GET" and len(parts) == 4:
            self._progress(name)
            return 200, copy.deepcopy(app)
        if method == "PATCH" and len(parts) == 4:
            if body.get("patchType") != "merge":
                return 400, grpc_error(3, "this fake only speaks patchType merge")
            self.apps[name] = merge_patch(app, json.loads(body["patch"]))
            return 200, copy.deepcopy(self.apps[name])
        if method == "GET" and parts[4:] == ["manifests"]:
            return self._manifests(query.get("revision", ""))
        if method == "POST" and parts[4:] == ["rollback"]:
            return self._rollback(name, body)
        return 404, grpc_error(5, "Not Found")

    def _manifests(self, revision: str) -> tuple[int, Any]:
        if revision not in self.images_of:
            return 400, grpc_error(3, f"unable to resolve '{revision}' to a commit SHA")
        containers = [{"name": f"c{i}", "image": image} for i, image in enumerate(self.images_of[revision])]
        deployment = {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": {"name": "checkout"},
            "spec": {"template": {"spec": {"containers": containers}}},
        }
        service = {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "checkout"}}
        return 200, {
            "manifests": [json.dumps(deployment), json.dumps(service)],
            "revision": revision,
            "namespace": "shop",
            "server": "https://kubernetes.default.svc",
            "sourceType": "Directory",
        }

    def _rollback(self, name: str, body: Any) -> tuple[int, Any]:
        app = self.apps[name]
        automated = app["spec"].get("syncPolicy", {}).get("automated")
        if automated is not None and automated.get("enabled", True) is not False:
            return 400, grpc_error(9, "rollback cannot be initiated when auto-sync is enabled")
        entry = next((h for h in app["status"]["history"] if h["id"] == body.get("id")), None)
        if entry is None:
            return 400, grpc_error(3, f"application {name} does not have deployment with id {body.get('id')}")
        if app["status"]["operationState"]["phase"] == "Running":
            return 400, grpc_error(9, "another operation is already in progress")
        operation = {
            "sync": {"revision": entry["revision"], "prune": bool(body.get("prune"))},
            "initiatedBy": {"username": "admin"},
        }
        app["operation"] = operation
        app["status"]["operationState"] = {
            "phase": "Running",
            "message": "",
            "startedAt": self._now(),
            "operation": copy.deepcopy(operation),
        }
        self._polls[name] = 0
        if self.lose_rollback_answers > 0:
            self.lose_rollback_answers -= 1
            return 504, None
        return 200, copy.deepcopy(app)
