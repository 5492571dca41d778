"""docs/sources.md: every source kind has a section whose example config `watchdog check` accepts.

Each section's blocks that start with `# config/<path>` are written to a config directory and loaded.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from watchdog.policy.loader import load_config_dir

DOC = Path(__file__).resolve().parents[2] / "docs" / "sources.md"
KINDS = ("http", "scrape", "prometheus", "datadog", "sentry")
BLOCK = re.compile(r"```yaml\n# config/(?P<path>\S+)\n(?P<body>.*?)```", re.DOTALL)


def sections() -> dict[str, str]:
    parts = re.split(r"^## ", DOC.read_text(), flags=re.MULTILINE)[1:]
    return {part.split("\n", 1)[0].strip(): part for part in parts}


@pytest.mark.parametrize("kind", KINDS)
def test_each_source_kind_has_an_example_that_loads(kind: str, tmp_path: Path) -> None:
    section = sections().get(kind)
    assert section is not None, f"docs/sources.md has no '## {kind}' section"
    files = {m["path"]: m["body"] for m in BLOCK.finditer(section)}
    assert "watchdog.yaml" in files and any(p.startswith("services/") for p in files), files.keys()
    for path, body in files.items():
        (tmp_path / path).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / path).write_text(body)
    loaded = load_config_dir(tmp_path)
    sources = {name: config.type for name, config in loaded.daemon.sources.items()}
    checks = [
        check
        for service in loaded.services
        for env in loaded.environments(service)
        for check in (loaded.policy(service, env) or pytest.fail("no policy")).checks
    ]
    assert checks, f"the {kind} example has no check"
    if kind == "http":
        assert all(c.type == "http" for c in checks)
    else:
        assert kind in sources.values()
        assert all(sources.get(c.source or "") == kind for c in checks if c.type != "http")


def test_no_file_refers_to_a_design_document_outside_the_repository() -> None:
    import subprocess

    root = DOC.parents[1]
    listed = subprocess.run(["git", "ls-files"], cwd=root, capture_output=True, text=True, check=False)
    if listed.returncode != 0:
        pytest.skip("not a git checkout")
    outside = "DESIGN" + ".md"  # spelled apart so this file does not match itself
    hits = []
    for name in listed.stdout.splitlines():
        path = root / name
        try:
            text = path.read_text()
        except (UnicodeDecodeError, OSError):
            continue
        hits += [f"{name}:{n}" for n, line in enumerate(text.splitlines(), 1) if outside in line]
    assert not hits, f"the design document is docs/design.md: {hits}"
    assert "docs/design.md" in (root / "README.md").read_text()
