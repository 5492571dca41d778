"""The code blocks of a Markdown file that a `<!-- snippet: NAME -->` line names, exactly as written.

Tests run or validate these, so what the docs show is what was tested.
"""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
INTEGRATIONS = ROOT / "docs" / "integrations.md"
_BLOCK = re.compile(r"<!-- snippet: ([\w.-]+) -->\n```[\w-]*\n(.*?)\n```", re.S)


def snippets(path: Path = INTEGRATIONS) -> dict[str, str]:
    found: dict[str, str] = {}
    for name, body in _BLOCK.findall(path.read_text()):
        assert name not in found, f"{path.name}: snippet {name} appears twice"
        found[name] = body + "\n"
    return found


def snippet(name: str, path: Path = INTEGRATIONS) -> str:
    found = snippets(path)
    assert name in found, f"{path.name} has no snippet {name!r} (has {sorted(found)})"
    return found[name]
