"""`gate.require`: which items of the pre-deployment checklist the promotion gate insists on.

Defaults are what a careful team starts with; an environment (or `defaults`) turns items on or off.
"""

from __future__ import annotations

from pydantic import Field

from watchdog.policy.checks import Strict, shared_default


class GateRequire(Strict):
    verified: bool = Field(
        True,
        description="the exact artifact (digest) passed verification in require_verified_in (when set)",
    )
    tests: bool = Field(True, description="the CI run of this artifact is green (ci_status success)")
    lint: bool = Field(
        False,
        description="lint is clean (lint_status success); off by default because most pipelines fail "
        "their CI run on lint already, which `tests` reads",
    )
    changelog: bool = Field(
        False,
        description="a changelog_url for this version; off by default because the GitHub and GitLab "
        "webhooks fill it with the commit URL, which proves nothing was written",
    )
    migration: bool = Field(
        True, description="a deploy that declares a data migration also says migration_tested: true"
    )
    rollback_plan: bool = Field(
        True,
        description="a verified stable artifact to return to, or (first deploy) an explicit rollback_plan",
    )


class GatePolicy(Strict):
    require: GateRequire = Field(
        default_factory=shared_default(GateRequire), description="checklist items the gate insists on"
    )
