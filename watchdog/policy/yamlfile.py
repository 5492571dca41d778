"""Reads one YAML file with ruamel's round-trip loader, keeping where every key sits in the file.

A syntax error becomes a Problem at the parser's line; `locate` maps a path of keys back to line:col.
Files over 1 MiB and aliases that expand past a bound (a "billion laughs" bomb) are refused before use.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.constructor import DuplicateKeyError
from ruamel.yaml.error import MarkedYAMLError, YAMLError

from watchdog.errors import Problem

Loc = Sequence[int | str]
_DUPLICATE = re.compile(r'found duplicate key "([^"]*)"')
MAX_FILE_BYTES = 1024 * 1024
MAX_EXPANDED_NODES = 100_000  # every value once per place an alias repeats it; real policies use < 5,000
_ALIAS = re.compile(r"(?:^|[\s\[{,:-])\*[^\s,\[\]{}]+")


@dataclass(frozen=True)
class YamlDoc:
    """One parsed file: `data` is the round-trip tree (None when the file could not be read)."""

    path: str
    data: Any
    problems: tuple[Problem, ...] = ()


def parse_yaml(path: Path) -> YamlDoc:
    display = str(path)
    try:
        size = path.stat().st_size
        if size > MAX_FILE_BYTES:
            message = f"the file is {size:,} bytes; a policy file may be at most {MAX_FILE_BYTES:,} (1 MiB)"
            return YamlDoc(display, None, (Problem(display, 1, 1, message),))
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        return YamlDoc(display, None, (Problem(display, 1, 1, f"cannot read the file: {exc}"),))
    try:
        data = YAML(typ="rt").load(text)
    except DuplicateKeyError as exc:
        # Our own words: the parser's message quotes both values, and a value may be a secret.
        match = _DUPLICATE.search(str(exc.problem))
        key = match.group(1) if match else "?"
        first = exc.context_mark.line + 1 if exc.context_mark else 0
        line, col = _mark(exc)
        message = f"key '{key}' appears twice in one mapping (the mapping starts at line {first})"
        return YamlDoc(display, None, (Problem(display, line, col, message),))
    except MarkedYAMLError as exc:
        line, col = _mark(exc)
        message = f"YAML syntax error: {exc.problem}"
        if exc.context and exc.context_mark is not None:
            message += f" ({exc.context} that starts at line {exc.context_mark.line + 1})"
        return YamlDoc(display, None, (Problem(display, line, col, message),))
    except YAMLError as exc:
        return YamlDoc(display, None, (Problem(display, 1, 1, f"YAML error: {type(exc).__name__}"),))
    if data is None:
        return YamlDoc(display, None, (Problem(display, 1, 1, "the file is empty"),))
    if expanded_size(data) > MAX_EXPANDED_NODES:
        message = (
            f"YAML aliases expand this file to more than {MAX_EXPANDED_NODES:,} values; "
            "write the repeated parts out, or use fewer nested aliases"
        )
        return YamlDoc(display, None, (Problem(display, _first_alias_line(text), 1, message),))
    if not isinstance(data, dict):
        message = "the file must be a mapping of keys (key: value), not a list or a single value"
        return YamlDoc(display, None, (Problem(display, 1, 1, message),))
    return YamlDoc(display, data)


def expanded_size(root: Any) -> int:
    """How many values the tree holds once every alias is copied out; stops counting past the bound.

    An alias is the same object in several places: counted once per place, computed once per object.
    """
    sizes: dict[int, int] = {}

    def size(node: Any, depth: int) -> int:
        if not isinstance(node, dict | list) or depth > 200:
            return 1
        known = sizes.get(id(node))
        if known is not None:
            return known
        sizes[id(node)] = MAX_EXPANDED_NODES + 1  # a cycle (an alias to its own parent) is unbounded
        items = [*node.keys(), *node.values()] if isinstance(node, dict) else node
        total = 1
        for item in items:
            total += size(item, depth + 1)
            if total > MAX_EXPANDED_NODES:
                break
        sizes[id(node)] = total
        return total

    return size(root, 0)


def _first_alias_line(text: str) -> int:
    for number, line in enumerate(text.splitlines(), start=1):
        if _ALIAS.search(line.split("#", 1)[0]):
            return number
    return 1


def _mark(exc: MarkedYAMLError) -> tuple[int, int]:
    mark = exc.problem_mark or exc.context_mark
    if mark is None:
        return 1, 1
    return mark.line + 1, mark.column + 1


def plain(node: Any) -> Any:
    """The round-trip tree as plain dicts, lists and scalars (ruamel's subclasses stripped)."""
    if isinstance(node, dict):
        return {plain(k): plain(v) for k, v in node.items()}
    if isinstance(node, list):
        return [plain(v) for v in node]
    if isinstance(node, bool) or node is None:
        return node
    for kind in (int, float, str):
        if isinstance(node, kind):
            return kind(node)
    return node


@dataclass(frozen=True)
class Layer:
    """A mapping inside one file that contributes to a (possibly merged) document."""

    path: str
    node: Any


def position_of(node: Any, key: int | str) -> tuple[int, int] | None:
    """1-based line:col of a key in a mapping or an item in a sequence, when ruamel recorded it."""
    try:
        if isinstance(node, CommentedMap) and key in node:
            line, col = node.lc.key(key)
        elif isinstance(node, CommentedSeq) and isinstance(key, int) and 0 <= key < len(node):
            line, col = node.lc.item(key)
        else:
            return None
    except (KeyError, IndexError, TypeError):
        return None
    return int(line) + 1, int(col) + 1


def _has(node: Any, key: int | str) -> bool:
    if isinstance(node, dict):
        return key in node
    return isinstance(node, list) and isinstance(key, int) and 0 <= key < len(node)


def locate(layers: Sequence[Layer], loc: Loc) -> tuple[str, int, int]:
    """The file and line:col of the deepest key of `loc` that exists, searching layers from the last.

    Later layers win as they do in the merge: mappings continue in every layer that has them,
    anything else (a list, a scalar) comes from the last layer alone. A part of `loc` that names a
    union member (pydantic adds the `type` tag) is skipped when it is not itself a key.
    """
    candidates = [layer for layer in reversed(layers) if isinstance(layer.node, dict)]
    if not candidates:
        return (layers[-1].path if layers else "<config>"), 1, 1
    best = candidates[0].path, *(_node_start(candidates[0].node))
    for part in loc:
        having = [c for c in candidates if _has(c.node, part)]
        if not having:
            if any(isinstance(c.node, dict) and c.node.get("type") == part for c in candidates):
                continue  # pydantic's union tag, not a key of the file
            break  # a missing key: the parent is the best place to point at
        top = having[0]
        pos = position_of(top.node, part)
        if pos is not None:
            best = top.path, pos[0], pos[1]
        child = top.node[part]
        if isinstance(child, dict):
            candidates = [Layer(c.path, c.node[part]) for c in having if isinstance(c.node[part], dict)]
        else:
            candidates = [Layer(top.path, child)]
    return best


def _node_start(node: Any) -> tuple[int, int]:
    try:
        return int(node.lc.line) + 1, int(node.lc.col) + 1
    except AttributeError:
        return 1, 1
