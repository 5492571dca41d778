"""A loopback Kubernetes API server holding apps/v1 Deployments and ReplicaSets in memory.

PATCH follows the real content types (strategic merge by container name, merge patch, JSON patch); a simulated
controller bumps generations, reuses or creates ReplicaSets and progresses status over a few GETs.
"""

from __future__ import annotations

import copy
import hashlib
import json
import ssl
import uuid
from typing import Any
from urllib.parse import unquote

from tests.fakes.loopback_json import JsonServer

HASH = "pod-template-hash"
REV = "deployment.kubernetes.io/revision"
_MERGE_KEYS = {"containers": "name", "initContainers": "name", "env": "name", "ports": "containerPort"}


def status_body(code: int, reason: str, message: str) -> dict[str, Any]:
    return {
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Failure",
        "message": message,
        "reason": reason,
        "code": code,
    }


def strategic_merge(target: Any, patch: Any, key: str = "") -> Any:
    """Enough of strategic merge for pod specs: lists of containers merge by name, null deletes."""
    if isinstance(patch, dict) and isinstance(target, dict):
        out = dict(target)
        for k, v in patch.items():
            if v is None:
                out.pop(k, None)
            else:
                out[k] = strategic_merge(target.get(k), v, k)
        return out
    if isinstance(patch, list) and isinstance(target, list) and key in _MERGE_KEYS:
        by = _MERGE_KEYS[key]
        out_list = [copy.deepcopy(t) for t in target]
        for item in patch:
            match = next((i for i, t in enumerate(out_list) if t.get(by) == item.get(by)), None)
            if match is None:
                out_list.append(item)
            else:
                out_list[match] = strategic_merge(out_list[match], item)
        return out_list
    return copy.deepcopy(patch)


def merge_patch(target: Any, patch: Any) -> Any:
    """RFC 7386."""
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    out = dict(target) if isinstance(target, dict) else {}
    for k, v in patch.items():
        if v is None:
            out.pop(k, None)
        else:
            out[k] = merge_patch(out.get(k), v)
    return out


def json_patch(doc: dict[str, Any], ops: list[dict[str, Any]]) -> dict[str, Any]:
    """RFC 6902 for object paths: add, replace, remove, test."""
    doc = copy.deepcopy(doc)
    for op in ops:
        parts = [p.replace("~1", "/").replace("~0", "~") for p in op["path"].lstrip("/").split("/")]
        parent = doc
        for p in parts[:-1]:
            parent = parent[p]
        last = parts[-1]
        if op["op"] in ("add", "replace"):
            if op["op"] == "replace" and last not in parent:
                raise KeyError(op["path"])
            parent[last] = copy.deepcopy(op["value"])
        elif op["op"] == "remove":
            del parent[last]
        elif op["op"] == "test" and parent.get(last) != op["value"]:
            raise ValueError(f"test failed at {op['path']}")
    return doc


def _template_key(template: dict[str, Any]) -> str:
    t = copy.deepcopy(template)
    t.get("metadata", {}).get("labels", {}).pop(HASH, None)
    return json.dumps(t, sort_keys=True)


class FakeKubernetes(JsonServer):
    """`never_available`: new pods never become available and the rollout ends in ProgressDeadlineExceeded;
    `stalled`: the controller never acts on a new generation (the rollout neither progresses nor fails)."""

    def __init__(self, *, token: str | None = None, ssl_context: ssl.SSLContext | None = None) -> None:
        super().__init__(ssl_context=ssl_context)
        self.token = token
        self.never_available = False
        self.stalled = False
        self.deployments: dict[tuple[str, str], dict[str, Any]] = {}
        self.replicasets: dict[tuple[str, str], dict[str, Any]] = {}
        self._polls: dict[tuple[str, str], int] = {}

    # ---- set-up --------------------------------------------------------------------------------

    def add_deployment(
        self, namespace: str, name: str, *, history: list[dict[str, str]], replicas: int = 3
    ) -> None:
        """`history`: container name -> image, oldest first; the last one runs now, fully rolled out."""
        labels = {"app": name}
        dep: dict[str, Any] = {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": {
                "name": name,
                "namespace": namespace,
                "uid": str(uuid.uuid4()),
                "generation": 1,
                "resourceVersion": "1",
                "labels": labels,
                "annotations": {},
            },
            "spec": {
                "replicas": replicas,
                "selector": {"matchLabels": labels},
                "progressDeadlineSeconds": 600,
                "template": {"metadata": {"labels": dict(labels)}, "spec": {"containers": []}},
            },
            "status": {},
        }
        key = (namespace, name)
        self.deployments[key] = dep
        for images in history:
            dep["spec"]["template"]["spec"]["containers"] = [
                {"name": c, "image": i, "env": [{"name": "ROLE", "value": c}]} for c, i in images.items()
            ]
            self._sync_replicaset(dep)
        dep["metadata"]["generation"] = len(history)
        dep["status"] = self._complete(dep)

    def images(self, namespace: str, name: str) -> dict[str, str]:
        containers = self.deployments[(namespace, name)]["spec"]["template"]["spec"]["containers"]
        return {c["name"]: c["image"] for c in containers}

    def spec_changes(self) -> int:
        return len(self.requests_of("PATCH"))

    # ---- the controller ------------------------------------------------------------------------

    def _complete(self, dep: dict[str, Any]) -> dict[str, Any]:
        n = dep["spec"]["replicas"]
        return {
            "observedGeneration": dep["metadata"]["generation"],
            "replicas": n,
            "updatedReplicas": n,
            "readyReplicas": n,
            "availableReplicas": n,
            "conditions": [
                {"type": "Available", "status": "True", "reason": "MinimumReplicasAvailable"},
                {"type": "Progressing", "status": "True", "reason": "NewReplicaSetAvailable"},
            ],
        }

    def _sync_replicaset(self, dep: dict[str, Any]) -> None:
        """Reuses the ReplicaSet with an equal template (bumping its revision) or adds one."""
        ns = dep["metadata"]["namespace"]
        owned = [
            rs
            for (n, _), rs in self.replicasets.items()
            if n == ns and rs["metadata"]["ownerReferences"][0]["uid"] == dep["metadata"]["uid"]
        ]
        top = max((int(rs["metadata"]["annotations"][REV]) for rs in owned), default=0)
        key = _template_key(dep["spec"]["template"])
        same = next((rs for rs in owned if _template_key(rs["spec"]["template"]) == key), None)
        if same is None:
            digest = hashlib.sha256(key.encode()).hexdigest()[:10]
            template = copy.deepcopy(dep["spec"]["template"])
            template["metadata"].setdefault("labels", {})[HASH] = digest
            same = {
                "apiVersion": "apps/v1",
                "kind": "ReplicaSet",
                "metadata": {
                    "name": f"{dep['metadata']['name']}-{digest}",
                    "namespace": ns,
                    "labels": dict(template["metadata"]["labels"]),
                    "annotations": {REV: "0"},
                    "ownerReferences": [
                        {
                            "apiVersion": "apps/v1",
                            "kind": "Deployment",
                            "name": dep["metadata"]["name"],
                            "uid": dep["metadata"]["uid"],
                            "controller": True,
                        }
                    ],
                },
                "spec": {"replicas": 0, "template": template},
            }
            self.replicasets[(ns, same["metadata"]["name"])] = same
        if int(same["metadata"]["annotations"][REV]) != top or top == 0:
            same["metadata"]["annotations"][REV] = str(top + 1)
        dep["metadata"]["annotations"][REV] = same["metadata"]["annotations"][REV]

    def _progress(self, key: tuple[str, str]) -> None:
        dep = self.deployments[key]
        gen, status = dep["metadata"]["generation"], dep["status"]
        if self.stalled or (status.get("observedGeneration") == gen and key not in self._polls):
            return
        polls = self._polls[key] = self._polls.get(key, 0) + 1
        n = dep["spec"]["replicas"]
        if polls == 1:
            dep["status"] = {
                "observedGeneration": gen,
                "replicas": n + 1,
                "updatedReplicas": 1,
                "availableReplicas": n,
                "conditions": [{"type": "Progressing", "status": "True", "reason": "ReplicaSetUpdated"}],
            }
        elif polls == 2:
            available = 0 if self.never_available else n - 1
            status.update(replicas=n, updatedReplicas=n, availableReplicas=available)
        elif self.never_available:
            status["conditions"] = [
                {
                    "type": "Progressing",
                    "status": "False",
                    "reason": "ProgressDeadlineExceeded",
                    "message": f'ReplicaSet "{key[1]}" has timed out progressing.',
                }
            ]
        else:
            dep["status"] = self._complete(dep)
            del self._polls[key]

    # ---- HTTP ----------------------------------------------------------------------------------

    def handle(
        self, method: str, path: str, query: dict[str, str], headers: dict[str, str], body: Any
    ) -> tuple[int, Any]:
        if self.token and headers.get("authorization") != f"Bearer {self.token}":
            return 401, status_body(401, "Unauthorized", "Unauthorized")
        parts = path.strip("/").split("/")
        if parts[:3] != ["apis", "apps", "v1"] or len(parts) < 6 or parts[3] != "namespaces":
            return 404, status_body(
                404, "NotFound", f"the server could not find the requested resource {path}"
            )
        ns, kind = parts[4], parts[5]
        if kind == "replicasets" and len(parts) == 6 and method == "GET":
            wanted = dict(p.split("=", 1) for p in unquote(query.get("labelSelector", "")).split(",") if p)
            items = [
                copy.deepcopy(rs)
                for (n, _), rs in self.replicasets.items()
                if n == ns and all(rs["metadata"]["labels"].get(k) == v for k, v in wanted.items())
            ]
            return 200, {"kind": "ReplicaSetList", "apiVersion": "apps/v1", "items": items}
        if kind != "deployments" or len(parts) != 7:
            return 404, status_body(404, "NotFound", f"no route for {path}")
        key = (ns, parts[6])
        if key not in self.deployments:
            return 404, status_body(404, "NotFound", f'deployments.apps "{parts[6]}" not found')
        if method == "GET":
            self._progress(key)
            return 200, copy.deepcopy(self.deployments[key])
        if method == "PATCH":
            return self._patch(key, headers.get("content-type", ""), body)
        return 405, status_body(405, "MethodNotAllowed", method)

    def _patch(self, key: tuple[str, str], content_type: str, body: Any) -> tuple[int, Any]:
        dep = self.deployments[key]
        try:
            if content_type == "application/strategic-merge-patch+json":
                new = strategic_merge(dep, body)
            elif content_type == "application/merge-patch+json":
                new = merge_patch(dep, body)
            elif content_type == "application/json-patch+json":
                new = json_patch(dep, body)
            else:
                return 415, status_body(
                    415,
                    "UnsupportedMediaType",
                    f"the body of the request was in an unknown format - accepted media types include: "
                    "application/json-patch+json, application/merge-patch+json, "
                    f"application/strategic-merge-patch+json; got {content_type}",
                )
        except (KeyError, ValueError, TypeError, IndexError) as exc:
            return 422, status_body(422, "Invalid", f"patch failed: {exc}")
        if new["spec"] != dep["spec"]:
            new["metadata"]["generation"] = dep["metadata"]["generation"] + 1
            self._polls.pop(key, None)
        new["metadata"]["resourceVersion"] = str(int(dep["metadata"]["resourceVersion"]) + 1)
        self.deployments[key] = new
        if new["spec"]["template"] != dep["spec"]["template"]:
            self._sync_replicaset(new)
        return 200, copy.deepcopy(new)
