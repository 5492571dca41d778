"""Pure readings of Deployments and ReplicaSets: which containers to restore, rollout state, old templates.

No I/O here, so the rules kubectl follows (rollout status, rollout undo) are tested as plain tables.
"""

from __future__ import annotations

import copy
import re
from typing import Any, Literal

from watchdog.targets.base import RollbackRequest

HASH_LABEL = "pod-template-hash"
REVISION = "deployment.kubernetes.io/revision"
_VERSION = re.compile(r"v?\d+(\.\d+)*([-+][0-9A-Za-z.+-]+)?")


def meta(obj: dict[str, Any]) -> dict[str, Any]:
    value = obj.get("metadata") or {}
    return value if isinstance(value, dict) else {}


def spec(obj: dict[str, Any]) -> dict[str, Any]:
    value = obj.get("spec") or {}
    return value if isinstance(value, dict) else {}


def containers(template_owner: dict[str, Any]) -> list[dict[str, Any]]:
    pod = spec(template_owner).get("template", {}).get("spec", {})
    return [c for c in pod.get("containers", []) if isinstance(c, dict)]


def container_images(obj: dict[str, Any]) -> dict[str, str]:
    return {str(c.get("name")): str(c.get("image", "")) for c in containers(obj)}


def repository(image: str) -> str:
    """`reg:5000/app:1.2@sha256:..` -> `reg:5000/app`: a tag's colon follows the last slash."""
    name = image.split("@", 1)[0]
    slash = name.rfind("/")
    colon = name.rfind(":")
    return name[:colon] if colon > slash else name


def is_version(artifact: str) -> bool:
    """A bare version (`1.4.1`, `v2.0.0-rc.1`), not an image reference: the default artifact of an event."""
    return _VERSION.fullmatch(artifact) is not None


def select_containers(images: dict[str, str], *, container: str | None, req: RollbackRequest) -> list[str]:
    """The configured container, else those running the failed artifact or an image of either repository.

    With bare versions for artifacts nothing names a repository: a single container is then the one.
    """
    if container:
        return [container] if container in images else []
    wanted = {repository(req.artifact), repository(req.failed_artifact)} - {""}
    found = [n for n, image in images.items() if image == req.failed_artifact or repository(image) in wanted]
    if not found and is_version(req.artifact) and len(images) == 1:
        return list(images)
    return found


def wanted_images(images: dict[str, str], *, names: list[str], artifact: str) -> dict[str, str]:
    """Container -> the image to restore: the artifact itself, or for a bare version the same repository
    tagged with it (the usual convention of tagging images with the release version)."""
    if not is_version(artifact):
        return {n: artifact for n in names}
    return {n: f"{repository(images[n])}:{artifact}" for n in names}


def runs(images: dict[str, str], wanted: dict[str, str]) -> bool:
    return all(images.get(n) == image for n, image in wanted.items())


def revision(rs: dict[str, Any]) -> int:
    try:
        return int(meta(rs).get("annotations", {}).get(REVISION, "0"))
    except ValueError:
        return 0


def stable_replicaset(
    dep: dict[str, Any], items: list[dict[str, Any]], *, wanted: dict[str, str]
) -> dict[str, Any] | None:
    """The newest ReplicaSet the Deployment controls whose containers run the `wanted` images."""
    uid = meta(dep).get("uid")
    owned = [
        rs
        for rs in items
        if any(ref.get("controller") and ref.get("uid") == uid for ref in meta(rs).get("ownerReferences", []))
    ]
    matching = [rs for rs in owned if runs(container_images(rs), wanted)]
    return max(matching, key=revision, default=None)


def template_without_hash(rs: dict[str, Any]) -> dict[str, Any]:
    """The ReplicaSet's pod template minus the controller-added pod-template-hash label (as rollout undo)."""
    template = copy.deepcopy(spec(rs).get("template", {}))
    template.get("metadata", {}).get("labels", {}).pop(HASH_LABEL, None)
    return dict(template)


RolloutState = Literal["done", "failed", "waiting"]


def rollout_state(dep: dict[str, Any], *, generation: int) -> tuple[RolloutState, str]:
    """kubectl's `rollout status` rules, for the spec generation our patch produced (or a later one)."""
    status = dep.get("status") or {}
    want = int(spec(dep).get("replicas", 1))
    gen = max(generation, int(meta(dep).get("generation", 0)))
    observed = int(status.get("observedGeneration", 0))
    updated = int(status.get("updatedReplicas", 0))
    replicas = int(status.get("replicas", 0))
    available = int(status.get("availableReplicas", 0))
    text = f"generation {observed}/{gen} observed, {updated}/{want} updated, {available}/{want} available"
    if observed < gen:
        # Status still describes the spec before our patch (maybe the failed deploy's stall): not ours.
        return "waiting", text
    for cond in status.get("conditions", []):
        if cond.get("type") == "Progressing" and cond.get("reason") == "ProgressDeadlineExceeded":
            return "failed", f"{text}; ProgressDeadlineExceeded: {cond.get('message', '')}".rstrip(": ")
    if updated >= want and replicas == updated and available >= updated:
        return "done", text
    return "waiting", text
