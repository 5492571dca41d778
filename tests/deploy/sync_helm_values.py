"""Rewrites the `config:` section of helm/watchdog/values.yaml from the repository's config/ example.

Run `python -m tests.deploy.sync_helm_values` after editing config/; test_helm_chart fails until they agree.
"""

from __future__ import annotations

from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]
VALUES = ROOT / "helm" / "watchdog" / "values.yaml"
MARKER = "\nconfig:\n"


def example_config(root: Path = ROOT) -> dict[str, object]:
    services = sorted((root / "config" / "services").glob("*.yaml"))
    return {
        "daemon": yaml.safe_load((root / "config" / "watchdog.yaml").read_text()),
        "services": {path.stem: yaml.safe_load(path.read_text()) for path in services},
    }


def synced(values_text: str, config: dict[str, object]) -> str:
    head, found, _ = values_text.partition(MARKER)
    if not found:
        raise SystemExit(f"{VALUES}: no top-level 'config:' section to replace")
    body = yaml.safe_dump({"config": config}, sort_keys=False, width=110, default_flow_style=False)
    return head + "\n" + body


def main() -> None:
    VALUES.write_text(synced(VALUES.read_text(), example_config()))
    print(f"{VALUES.relative_to(ROOT)}: config section rewritten from config/")


if __name__ == "__main__":
    main()
