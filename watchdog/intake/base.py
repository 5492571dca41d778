"""What every intake parser returns, and the shape all of them share.

An `Intake` is an event to verify, or a delivery acknowledged and ignored with its reason.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from watchdog.events import DeployEvent
from watchdog.intake.ci_facts import CiRun
from watchdog.intake.fields import check_event, printable
from watchdog.intake.headers import lower_headers
from watchdog.intake.refusals import not_configured


@dataclass(frozen=True)
class Intake:
    source: str  # generic | github | gitlab | argocd
    delivery_id: str  # the idempotency key of the delivery
    event: DeployEvent | None  # None: acknowledged and ignored
    ignored_reason: str | None = None
    ci_run: CiRun | None = None  # a finished CI pipeline to record for the gate (no verification)


class Parser(Protocol):
    def __call__(
        self,
        *,
        headers: Mapping[str, str],
        body: bytes,
        secret: str | None,
        now: datetime,
        query: Mapping[str, str] | None = None,
    ) -> Intake: ...


@dataclass(frozen=True)
class Delivery:
    """One inbound request as every kind's parse function reads it; the endpoint's secret is set."""

    headers: Mapping[str, str]  # names lower-cased
    body: bytes
    secret: str
    now: datetime
    query: Mapping[str, str]


def parser(
    *, route: str, setting: str, paths: Mapping[str, str] | None = None
) -> Callable[[Callable[[Delivery], Intake]], Parser]:
    """Makes a kind's parse function a Parser: refused while `setting` is unset, headers lower-cased, and
    then the field rules every kind shares, naming the sender's own paths (`paths`)."""

    def wrap(parse: Callable[[Delivery], Intake]) -> Parser:
        def checked(
            *,
            headers: Mapping[str, str],
            body: bytes,
            secret: str | None,
            now: datetime,
            query: Mapping[str, str] | None = None,
        ) -> Intake:
            if not secret:
                raise not_configured(route, setting)
            delivery = Delivery(
                headers=lower_headers(headers), body=body, secret=secret, now=now, query=query or {}
            )
            intake = parse(delivery)
            if intake.event is not None:
                check_event(intake.event, now=now, paths=paths)
            elif intake.ignored_reason is not None:
                # The reason may quote the payload (a state, an event kind): it is stored, so keep it plain.
                intake = dataclasses.replace(intake, ignored_reason=printable(intake.ignored_reason)[:500])
            return intake

        return checked

    return wrap


def text(data: Mapping[str, Any], key: str) -> str | None:
    """A non-empty string field, or None; a wrong type is left for the event model to refuse."""
    value = data.get(key)
    if isinstance(value, str):
        value = value.strip()
        # Argo CD's Go templates print a missing map key as "<no value>".
        return value if value and value != "<no value>" else None
    return None


def obj(data: Mapping[str, Any], key: str) -> dict[str, Any]:
    value = data.get(key)
    return value if isinstance(value, dict) else {}


def str_labels(items: Mapping[str, object]) -> dict[str, str]:
    """Labels from a webhook: strings and numbers kept as strings, empty and nested values dropped."""
    out: dict[str, str] = {}
    for key, value in items.items():
        if isinstance(value, bool) or value is None or isinstance(value, dict | list):
            continue
        if str(value):
            out[key] = str(value)[:500]
    return out
