"""Turns inbound webhooks (generic, GitHub, GitLab, Argo CD) into DeployEvents.

Verifies signatures and replay windows; refuses bad input with a code and words (IntakeError).
"""

from __future__ import annotations

from watchdog.intake import argocd, generic, github, gitlab
from watchdog.intake.base import Intake, Parser

# source name -> parser; the API routes by this literal dict. Each applies the shared field rules.
PARSERS: dict[str, Parser] = {
    "generic": generic.parse,
    "github": github.parse,
    "gitlab": gitlab.parse,
    "argocd": argocd.parse,
}

__all__ = ["PARSERS", "Intake", "Parser"]
