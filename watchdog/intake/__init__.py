"""Turns inbound webhooks (generic, GitHub, GitLab, Argo CD) into DeployEvents.

Verifies signatures and replay windows; refuses bad input with a code and words (IntakeError).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from datetime import datetime
from types import ModuleType

from watchdog.intake import argocd, generic, github, gitlab
from watchdog.intake.base import Intake, Parser
from watchdog.intake.fields import check_event, printable


def _with_field_rules(module: ModuleType) -> Parser:
    """The module's parser, then the field rules every kind shares, naming the sender's own paths."""
    parse: Parser = module.parse
    paths: Mapping[str, str] | None = getattr(module, "PATHS", None)

    def checked(
        *,
        headers: Mapping[str, str],
        body: bytes,
        secret: str | None,
        now: datetime,
        query: Mapping[str, str] | None = None,
    ) -> Intake:
        intake = parse(headers=headers, body=body, secret=secret, now=now, query=query)
        if intake.event is not None:
            check_event(intake.event, now=now, paths=paths)
        elif intake.ignored_reason is not None:
            # The reason may quote the payload (a state, an event kind): it is stored, so keep it plain.
            intake = dataclasses.replace(intake, ignored_reason=printable(intake.ignored_reason)[:500])
        return intake

    return checked


# source name -> parser; the API routes by this literal dict.
PARSERS: dict[str, Parser] = {
    "generic": _with_field_rules(generic),
    "github": _with_field_rules(github),
    "gitlab": _with_field_rules(gitlab),
    "argocd": _with_field_rules(argocd),
}

__all__ = ["PARSERS", "Intake", "Parser"]
