"""Every bad file under tests/policy/bad/ is refused with its file name, line and words a user understands."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from tests.policy.conftest import BAD, SHIPPED
from watchdog.errors import ConfigError, Problem
from watchdog.policy.loader import load_config_dir

TINY_SERVICE = "service: tiny\nenvironments:\n  local: {on_failure: alert}\n"

# fixture file -> (line, column or None, words the message must hold). `daemon-*` files are the
# config/watchdog.yaml of a directory, the others a service file beside the shipped watchdog.yaml.
CASES: dict[str, tuple[int, int | None, list[str]]] = {
    "syntax-error.yaml": (5, 11, ["YAML syntax error", "flow sequence", "line 4"]),
    "syntax-unterminated.yaml": (5, 1, ["YAML syntax error", "quoted scalar", "line 4"]),
    "duplicate-key.yaml": (6, 5, ["key 'target' appears twice"]),
    "empty-file.yaml": (1, 1, ["the file is empty"]),
    "not-a-mapping.yaml": (1, 1, ["must be a mapping"]),
    "unknown-key-top.yaml": (2, 1, ["unknown key 'enviroments'", "top level", "did you mean 'environments'"]),
    "unknown-key-nested.yaml": (
        5,
        5,
        ["unknown key 'falure_limit' in verification; did you mean 'failure_limit'?"],
    ),
    "unknown-key-check.yaml": (11, 9, ["unknown key 'maximum'", "check 'errors'", "did you mean 'max'"]),
    "wrong-type.yaml": (4, 5, ["failure_limit should be a whole number", "'two'"]),
    "wrong-type-list.yaml": (5, 5, ["checks should be a list", "not a mapping"]),
    "bad-duration.yaml": (
        4,
        5,
        ["'10 minutes' is not a duration: write a number and a unit, such as 30s, 10m or 1h"],
    ),
    "unknown-check-type.yaml": (7, 9, ["unknown check type 'htp'", "did you mean 'http'", "error_rate"]),
    "bad-action.yaml": (3, 3, ["on_failure must be one of", "'rollback'", "'rolback'"]),
    "missing-service.yaml": (2, 1, ["missing required key 'service'"]),
    "bad-service-name.yaml": (1, 1, ["service may hold only lower-case letters"]),
    "name-mismatch.yaml": (1, 1, ["service 'checkout' does not match the file name name-mismatch.yaml"]),
    "no-environments.yaml": (1, 1, ["no environments"]),
    "unknown-source.yaml": (8, 9, ["unknown source 'promethus'", "did you mean 'prometheus'", "datadog"]),
    "unknown-target.yaml": (4, 5, ["unknown target 'k8s-stagin'", "did you mean 'k8s-staging'", "k8s-prod"]),
    "unknown-notifier.yaml": (5, 7, ["unknown notifier 'pagerduty'", "slack-sre", "dd-events"]),
    "duplicate-check-name.yaml": (7, 10, ["check name 'healthz' is used twice"]),
    "interval-over-duration.yaml": (5, 5, ["interval (10m) is longer than its duration (5m)"]),
    "warmup-over-duration.yaml": (7, 7, ["warmup (2m) is not shorter than its duration (2m)"]),
    "min-over-max.yaml": (10, 9, ["check 'queue'", "min (10) is greater than max (5)"]),
    "max-ratio-low.yaml": (11, 11, ["baseline.max_ratio must be more than 1", "0.8"]),
    "confidence-range.yaml": (12, 9, ["confidence must lie between 0.5 and 1", "95"]),
    "control-missing.yaml": (6, 9, ["compare_to: control needs a `control:` block", "errors and requests"]),
    "empty-query.yaml": (9, 9, ["check 'p99'", "needs a query"]),
    "http-no-url.yaml": (6, 9, ["missing required key 'url'", "check 'healthz'"]),
    "error-rate-no-queries.yaml": (6, 9, ["needs both an errors query and a requests query"]),
    "no-source.yaml": (6, 9, ["check 'lag'", "needs a source", "prometheus"]),
    "no-limit.yaml": (6, 9, ["check 'lag'", "sets no limit"]),
    "error-rate-max-range.yaml": (11, 9, ["max is a fraction of requests between 0 and 1"]),
    "rollback-no-target.yaml": (3, 3, ["on_failure is rollback but no target is set"]),
    "inconclusive-rollback-no-target.yaml": (4, 3, ["on_inconclusive is rollback but no target is set"]),
    "literal-token.yaml": (
        9,
        9,
        ["'token' holds a literal secret", "use token_env: NAME or token_file: PATH"],
    ),
    "literal-auth-header.yaml": (
        10,
        11,
        ["'Authorization' in headers holds a literal credential", "${NAME}"],
    ),
    "require-verified-unknown.yaml": (7, 5, ["require_verified_in names environment 'qa'", "staging"]),
    "require-verified-self.yaml": (5, 5, ["require_verified_in names this environment (production) itself"]),
    "rollback-interval.yaml": (
        6,
        7,
        ["rollback.verification.interval (2m) is longer than its duration (1m)"],
    ),
    "unknown-placeholder.yaml": (8, 9, ["unknown placeholder '{{ verison }}'", "version"]),
    "inherited-error.yaml": (6, 7, ["unknown source 'prometheus-eu'"]),
    "daemon-unknown-source-type.yaml": (3, 5, ["unknown source type 'promql'", "prometheus, datadog"]),
    "daemon-literal-api-key.yaml": (5, 5, ["'api_key' holds a literal secret", "api_key_env: NAME"]),
    "daemon-missing-required.yaml": (2, 3, ["missing required key 'namespace'", "target 'k8s-prod'"]),
    "daemon-unknown-key.yaml": (2, 1, ["unknown key 'notifers'", "did you mean 'notifiers'"]),
    "daemon-defaults-notify.yaml": (4, 23, ["unknown notifier 'pagerduty'"]),
    "daemon-url-password.yaml": (4, 5, ["URL under 'url' holds a password"]),
    "daemon-target-placeholder.yaml": (4, 27, ["target 'script'", "unknown placeholder '{{ sevice }}'"]),
    "daemon-header-secret.yaml": (6, 7, ["'Authorization' in headers holds a literal credential"]),
}


def _problems_of(fixture: str, root: Path) -> tuple[str, list[Problem]]:
    """Builds a config directory around one bad file; returns the name it sits under and the problems."""
    (root / "services").mkdir(parents=True)
    if fixture.startswith("daemon-"):
        shutil.copy(BAD / fixture, root / "watchdog.yaml")
        (root / "services" / "tiny.yaml").write_text(TINY_SERVICE)
        name = "watchdog.yaml"
    else:
        shutil.copy(SHIPPED / "watchdog.yaml", root / "watchdog.yaml")
        shutil.copy(BAD / fixture, root / "services" / fixture)
        name = fixture
    with pytest.raises(ConfigError) as caught:
        load_config_dir(root)
    return name, caught.value.problems


def test_every_fixture_has_a_case() -> None:
    assert sorted(p.name for p in BAD.glob("*.yaml")) == sorted(CASES)
    assert len(CASES) >= 30


@pytest.mark.parametrize("fixture", sorted(CASES))
def test_bad_file_is_refused_at_its_line(fixture: str, tmp_path: Path) -> None:
    line, col, words = CASES[fixture]
    name, problems = _problems_of(fixture, tmp_path / "config")
    assert len(problems) == 1, [str(p) for p in problems]
    problem = problems[0]
    assert Path(problem.path).name == name
    assert problem.line == line, str(problem)
    if col is not None:
        assert problem.col == col, str(problem)
    for word in words:
        assert word in problem.message


def test_all_problems_are_collected_not_just_the_first(tmp_path: Path) -> None:
    root = tmp_path / "config"
    (root / "services").mkdir(parents=True)
    shutil.copy(SHIPPED / "watchdog.yaml", root / "watchdog.yaml")
    for fixture in ("unknown-key-nested.yaml", "bad-duration.yaml", "unknown-target.yaml"):
        shutil.copy(BAD / fixture, root / "services" / fixture)
    with pytest.raises(ConfigError) as caught:
        load_config_dir(root)
    found = [(Path(p.path).name, p.line) for p in caught.value.problems]
    assert found == [("bad-duration.yaml", 4), ("unknown-key-nested.yaml", 5), ("unknown-target.yaml", 4)]


def test_rules_still_run_beside_a_type_error(config_dir: Path) -> None:
    """An unknown key in defaults does not hide a bad reference further down the same file."""
    checkout = config_dir / "services" / "checkout.yaml"
    text = checkout.read_text().replace("    failure_limit: 2 ", "    falure_limit: 2 ", 1)
    checkout.write_text(text.replace("source: prometheus", "source: promethus", 1))
    with pytest.raises(ConfigError) as caught:
        load_config_dir(config_dir)
    problems = caught.value.problems
    assert [(Path(p.path).name, p.line) for p in problems] == [("checkout.yaml", 12), ("checkout.yaml", 36)]
    assert "unknown key 'falure_limit'" in problems[0].message
    assert "unknown source 'promethus'" in problems[1].message


def test_one_file_with_several_mistakes_reports_each(tmp_path: Path) -> None:
    root = tmp_path / "config"
    (root / "services").mkdir(parents=True)
    shutil.copy(SHIPPED / "watchdog.yaml", root / "watchdog.yaml")
    (root / "services" / "many.yaml").write_text(
        "service: many\n"
        "defaults:\n"
        "  verification: {duration: 10 minutes, falure_limit: 3}\n"
        "environments:\n"
        "  staging:\n"
        "    target: k8s-staging\n"
        "    on_failure: maybe\n"
    )
    with pytest.raises(ConfigError) as caught:
        load_config_dir(root)
    problems = caught.value.problems
    assert [p.line for p in problems] == [3, 3, 7]
    text = "\n".join(p.message for p in problems)
    assert "'10 minutes' is not a duration" in text
    assert "unknown key 'falure_limit'" in text
    assert "on_failure must be one of 'rollback', 'alert' or 'none', not 'maybe'" in text
