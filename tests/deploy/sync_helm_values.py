"""Writes helm/watchdog/values-example.yaml: the repository's config/ example as chart values.

Run `python -m tests.deploy.sync_helm_values` after editing config/; test_helm_chart fails until they agree.
"""

from __future__ import annotations

from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "helm" / "watchdog" / "values-example.yaml"
HEADER = """\
# The repository's example config (config/watchdog.yaml and config/services/*.yaml) as chart values:
#   helm upgrade --install watchdog helm/watchdog -n watchdog -f helm/watchdog/values-example.yaml
# It runs the demo policies and creates Roles in the namespaces its kubernetes targets name (shop,
# shop-staging): a starting point to copy, not a default. Written from config/ by
# `python -m tests.deploy.sync_helm_values` (a test keeps the two equal): edit config/, then run it.
"""


def example_config(root: Path = ROOT) -> dict[str, object]:
    services = sorted((root / "config" / "services").glob("*.yaml"))
    return {
        "daemon": yaml.safe_load((root / "config" / "watchdog.yaml").read_text()),
        "services": {path.stem: yaml.safe_load(path.read_text()) for path in services},
    }


def rendered(config: dict[str, object]) -> str:
    return HEADER + yaml.safe_dump({"config": config}, sort_keys=False, width=110, default_flow_style=False)


def main() -> None:
    EXAMPLE.write_text(rendered(example_config()))
    print(f"{EXAMPLE.relative_to(ROOT)}: written from config/")


if __name__ == "__main__":
    main()
