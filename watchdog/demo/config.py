"""Where `serve --demo` and `watchdog demo deploy` find each other, and the demo's config on any port.

The example config names the demo at 127.0.0.1:8081; another --demo-port runs a generated copy with that port.
"""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass
from pathlib import Path

DEFAULT_PORT = 8081
DEMO_HOST = "127.0.0.1"
STATE_FILE = "demo.json"
GENERATED_DIR = "demo-config"


def demo_config_dir(config_dir: Path, *, port: int, data_dir: Path) -> Path:
    """`config_dir` itself for the default port; otherwise a copy under the data dir pointing at `port`.

    Only the demo's own address is rewritten, in the daemon file and the policies: the demo source, the
    demo target and the demo's http check then all reach the port the demo really listens on. The copy
    is made again on every start, so it never drifts from the config it came from.
    """
    if port == DEFAULT_PORT:
        return config_dir
    out = data_dir / GENERATED_DIR
    if out.exists():
        shutil.rmtree(out)
    shutil.copytree(config_dir, out, ignore=shutil.ignore_patterns("__pycache__", "*.secret"))
    old, new = f"{DEMO_HOST}:{DEFAULT_PORT}", f"{DEMO_HOST}:{port}"
    for path in out.rglob("*"):
        if path.suffix in (".yaml", ".yml") and path.is_file():
            text = path.read_text()
            if old in text:
                path.write_text(text.replace(old, new))
    return out


@dataclass(frozen=True)
class DemoState:
    """What a running `serve --demo` tells `watchdog demo deploy`: where the daemon and the demo listen."""

    daemon_url: str
    demo_url: str

    def write(self, data_dir: Path) -> None:
        data_dir.mkdir(parents=True, exist_ok=True)
        body = {"daemon_url": self.daemon_url, "demo_url": self.demo_url}
        (data_dir / STATE_FILE).write_text(json.dumps(body) + "\n")

    @classmethod
    def read(cls, data_dir: Path) -> DemoState | None:
        try:
            raw = json.loads((data_dir / STATE_FILE).read_text())
            return cls(daemon_url=str(raw["daemon_url"]), demo_url=str(raw["demo_url"]))
        except (OSError, ValueError, KeyError, TypeError):
            return None
