"""Schemathesis (v4) against the app's own OpenAPI schema: no 5xx, and answers that conform to it.

Bounded and derandomized (20 examples per operation) so it stays fast and repeatable.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import CheckFunction
from schemathesis.specs.openapi.checks import positive_data_acceptance

from tests.api.harness import ADMIN_TOKEN, make_runtime
from watchdog.api.app import create_app

EXPECTED = {
    "/v1/events": {"post"},
    "/v1/webhooks/github": {"post"},
    "/v1/webhooks/gitlab": {"post"},
    "/v1/webhooks/argocd": {"post"},
    "/v1/deployments": {"get"},
    "/v1/deployments/{deployment_id}": {"get"},
    "/v1/deployments/{deployment_id}/rollback": {"post"},
    "/v1/deployments/{deployment_id}/promote": {"post"},
    "/v1/freezes": {"get"},
    "/v1/freezes/{service}/{environment}": {"put", "delete"},
    "/v1/gates/{service}/{environment}": {"get"},
    "/v1/incidents": {"get"},
    "/v1/incidents/{incident_id}": {"get"},
    "/healthz": {"get"},
    "/readyz": {"get"},
    "/metrics": {"get"},
}
OPERATIONS = sorted((method, path) for path, methods in EXPECTED.items() for method in methods)


# schemathesis.pytest.from_fixture breaks on pytest 9 (it reads the removed Function._nodeid), so each
# operation is its own parametrized test driving the operation's hypothesis strategy.
@pytest.mark.parametrize(("method", "path"), OPERATIONS, ids=[f"{m.upper()} {p}" for m, p in OPERATIONS])
def test_operation_conforms(tmp_path: Path, method: str, path: str) -> None:
    runtime = make_runtime(tmp_path)
    operation = schemathesis.openapi.from_asgi("/openapi.json", create_app(runtime))[path][method.upper()]
    # An opaque cursor cannot be described by a schema: a made-up one is rightly refused with 400.
    excluded: list[CheckFunction] = [positive_data_acceptance] if path == "/v1/deployments" else []

    @given(case=operation.as_strategy())
    @settings(max_examples=20, derandomize=True, deadline=None, suppress_health_check=list(HealthCheck))
    def run(case: schemathesis.Case[Any]) -> None:
        # With the admin token, so admin operations get past authentication and are exercised for real.
        case.call_and_validate(headers={"Authorization": f"Bearer {ADMIN_TOKEN}"}, excluded_checks=excluded)

    try:
        run()
    finally:
        runtime.store.close()


def test_schema_describes_every_route(tmp_path: Path) -> None:
    runtime = make_runtime(tmp_path)
    paths = create_app(runtime).openapi()["paths"]
    runtime.store.close()
    # The dashboard (GET /) is the lead's and may join later; every API route must be described.
    assert {p: set(paths.get(p, {})) for p in EXPECTED} == EXPECTED
    for ops in paths.values():
        for op in ops.values():
            for status, answer in op["responses"].items():
                if status.startswith(("4", "5")):
                    assert (
                        "ErrorBody" in str(answer) or "GateView" in str(answer) or "Ready" in str(answer)
                    ), (status, answer)
