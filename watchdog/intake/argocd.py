"""`POST /v1/webhooks/argocd`: the body of our own argocd-notifications template (docs/integrations.md).

Argo CD signs nothing, so a shared secret in X-Watchdog-Token authenticates; the key is app+revision+finish.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from typing import Any

from watchdog.intake.base import Delivery, Intake, parser, str_labels, text
from watchdog.intake.body import build_event, parse_object
from watchdog.intake.refusals import invalid
from watchdog.intake.signatures import verify_token

SOURCE = "argocd"
HEADER = "X-Watchdog-Token"

PATHS = {
    "service": "service (or app)",
    "environment": "environment",
    "version": "version (or the tag of images[0], or revision)",
    "artifact": "images[0] (or revision)",
    "commit": "revision",
    "deployer": "deployer",
    "is_rollback": "is_rollback (or syncSource/syncSources: set only by an Argo CD rollback)",
}


def image_tag(image: str) -> str | None:
    """`registry:5000/checkout:2.4.1@sha256:...` -> `2.4.1`; None when the image has no tag."""
    name = image.split("@", 1)[0]
    last = name.rsplit("/", 1)[-1]
    return last.split(":", 1)[1] if ":" in last else None


def _pick_image(images: list[str], service: str) -> str | None:
    """The image named like the service, else the first: apps often carry sidecars."""
    for image in images:
        if image.split("@", 1)[0].rsplit("/", 1)[-1].split(":", 1)[0] == service:
            return image
    return images[0] if images else None


@parser(route="POST /v1/webhooks/argocd", setting="WATCHDOG_ARGOCD_WEBHOOK_TOKEN", paths=PATHS)
def parse(d: Delivery) -> Intake:
    verify_token(given=d.headers.get(HEADER.lower()), expected=d.secret, header=HEADER)
    data = parse_object(d.body)
    app, revision = text(data, "app"), text(data, "revision")
    if not app or not revision:
        raise invalid(
            "; ".join(f"{k}: field required" for k, v in (("app", app), ("revision", revision)) if not v)
        )
    finished = text(data, "finishedAt") or ""
    key = f"{app}@{revision}@{finished}"
    # The deliveries table holds 200 characters; a longer key is hashed, still stable across retries.
    delivery = key if len(key) <= 200 else "sha256:" + hashlib.sha256(key.encode()).hexdigest()
    phase, health = text(data, "phase"), text(data, "health")
    if phase not in (None, "Succeeded") or health not in (None, "Healthy"):
        reason = f"phase {phase}, health {health}: only a Succeeded and Healthy sync starts a verification"
        return Intake(source=SOURCE, delivery_id=delivery, event=None, ignored_reason=reason)
    return Intake(
        source=SOURCE,
        delivery_id=delivery,
        event=build_event(_fields(data, app, revision, d.query), paths=PATHS),
    )


def _fields(data: Mapping[str, Any], app: str, revision: str, query: Mapping[str, str]) -> dict[str, Any]:
    raw_images = data.get("images")
    images = [i for i in raw_images if isinstance(i, str) and i] if isinstance(raw_images, list) else []
    service = query.get("service") or text(data, "service") or app
    image = _pick_image(images, service)
    env = data.get("environment")
    fields: dict[str, Any] = {
        "service": service,
        # A wrong type goes to the model (to be refused with its path); an empty label is "missing".
        "environment": text(data, "environment") if isinstance(env, str) else env,
        "version": text(data, "version") or (image_tag(image) if image else None) or revision[:12],
        "artifact": image or revision,
        "commit": revision,
        "deployer": text(data, "deployer"),
        "labels": str_labels({"argocd_app": app, "repo_url": text(data, "repoURL")}),
    }
    if is_rollback(data):
        fields["is_rollback"] = True
    return {k: v for k, v in fields.items() if v is not None}


def is_rollback(data: Mapping[str, Any]) -> bool:
    """Argo CD sets operation.sync.source(s) only on a rollback ("nil during a Sync operation").

    Our template sends it as `syncSource` (`null` for an ordinary sync); `is_rollback` may be sent as well.
    """
    flag = data.get("is_rollback")
    if flag is True or (isinstance(flag, str) and flag.strip().lower() == "true"):
        return True
    source, sources = data.get("syncSource"), data.get("syncSources")
    return bool(isinstance(source, dict) and source) or bool(isinstance(sources, list) and sources)
