"""The HTML view of a post-mortem (GET /v1/incidents/{id} asked for text/html), charts inlined as SVG.

Raw HTML in the Markdown is not passed through: the part below the marker is free text written by people.
"""

from __future__ import annotations

import re
from html import escape
from pathlib import Path

from markdown_it import MarkdownIt

_IMG = re.compile(r'<img src="([^"]+\.svg)" alt="([^"]*)"\s*/?>')
_XML_DECL = re.compile(r"^<\?xml[^>]*\?>\s*")
_CSS = (
    "body{font-family:sans-serif;max-width:60rem;margin:2rem auto;padding:0 1rem;line-height:1.45}"
    "table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:.25rem .5rem;vertical-align:top}"
    "pre{background:#f6f6f6;padding:.5rem;overflow-x:auto}"
    "figure{margin:1rem 0}svg{max-width:100%;height:auto}"
)


def _inline(charts_dir: Path, match: re.Match[str]) -> str:
    src, alt = match.group(1), match.group(2)
    # Only a bare file name beside the report is inlined: a path could read any file on the host.
    if "/" in src or "\\" in src or src.startswith("."):
        return match.group(0)
    path = charts_dir / src
    if not path.is_file():
        return f"<em>chart {escape(src)} is missing</em>"
    svg = _XML_DECL.sub("", path.read_text(encoding="utf-8"))
    return f'<figure aria-label="{alt}">{svg}</figure>'


def markdown_to_html(markdown: str, *, charts_dir: Path, title: str | None = None) -> str:
    """A complete HTML page of the report; each `![...](x.svg)` under charts_dir becomes inline SVG."""
    md = MarkdownIt("commonmark", {"html": False}).enable("table")
    body = md.render(markdown)
    body = _IMG.sub(lambda m: _inline(charts_dir, m), body)
    if title is None:
        first = re.search(r"<h1>(.*?)</h1>", body)
        title = re.sub(r"<[^>]+>", "", first.group(1)) if first else "Post-mortem"
    else:
        title = escape(title)
    return (
        '<!doctype html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        f"<title>{title}</title>\n<style>{_CSS}</style>\n</head>\n<body>\n{body}</body>\n</html>\n"
    )
