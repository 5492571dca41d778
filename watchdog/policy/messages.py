"""Turns pydantic validation errors into Problems in words a new user understands, located in the YAML.

Unknown keys get a "did you mean" from the model's own field names; values are quoted only when harmless.
"""

from __future__ import annotations

import difflib
import types
from collections.abc import Sequence
from typing import Annotated, Any, Literal, Union, get_args, get_origin

from pydantic import BaseModel, ValidationError
from pydantic_core import ErrorDetails

from watchdog.errors import Problem
from watchdog.policy.hygiene import is_secret_key, secret_message
from watchdog.policy.yamlfile import Layer, Loc, locate

_NAMED = {"sources": "source", "targets": "target", "notifiers": "notifier", "environments": "environment"}
_KINDS = {"checks": "check type", "sources": "source type", "targets": "target type", "notifiers": "notifier"}
_EXPECTED = {
    "int_parsing": "a whole number",
    "int_type": "a whole number",
    "int_from_float": "a whole number",
    "float_parsing": "a number",
    "float_type": "a number",
    "bool_parsing": "true or false",
    "bool_type": "true or false",
    "string_type": "text",
    "dict_type": "a mapping (key: value)",
    "model_type": "a mapping (key: value)",
    "model_attributes_type": "a mapping (key: value)",
    "list_type": "a list",
}


def problems_from(
    exc: ValidationError, *, root: type[BaseModel], layers: Sequence[Layer], data: Any
) -> list[Problem]:
    """One Problem per pydantic error; `data` is the plain document that was validated."""
    out: list[Problem] = []
    for error in exc.errors():
        loc, message = explain(error, root=root, data=data)
        path, line, col = locate(layers, loc)
        out.append(Problem(path, line, col, message))
    return out


def explain(error: ErrorDetails, *, root: type[BaseModel], data: Any) -> tuple[Loc, str]:
    """The location to point at (keys of the file) and the message for one pydantic error."""
    kind = error["type"]
    loc = real_keys(data, error["loc"])
    field = _field_name(loc)
    where = describe(data, loc[:-1])
    if kind == "extra_forbidden":
        key = str(loc[-1])
        if is_secret_key(key):
            return loc, secret_message(key)
        known = known_keys(root, error["loc"][:-1])
        close = difflib.get_close_matches(key, known, n=1, cutoff=0.6)
        hint = f"did you mean '{close[0]}'?" if close else "known keys: " + ", ".join(known)
        return loc, f"unknown key '{key}' {where}; {hint}"
    if kind == "missing":
        return loc, f"missing required key '{field}' {where}"
    if kind in ("union_tag_invalid", "union_tag_not_found"):
        return _tag_message(error, loc=loc, data=data)
    if kind == "value_error":
        ctx = error.get("ctx") or {}
        return loc, f"{field}: {ctx.get('error', error['msg'])}"
    if kind == "literal_error":
        expected = (error.get("ctx") or {}).get("expected", "")
        return loc, f"{field} must be one of {expected}, not {_shown(error['input'], loc)}"
    if kind == "string_pattern_mismatch" and field == "service":
        return loc, "service may hold only lower-case letters, digits, '.', '_' and '-', starting with one"
    if kind == "too_short":
        return loc, f"{field} must not be empty"
    if kind in _EXPECTED:
        return loc, f"{field} should be {_EXPECTED[kind]}, not {_shown(error['input'], loc)}"
    message = error["msg"]
    if message.startswith("Input "):
        message = f"{field} {message[len('Input ') :]}"
    return loc, message


def _tag_message(error: ErrorDetails, *, loc: Loc, data: Any) -> tuple[Loc, str]:
    container = next((p for p in reversed(loc) if isinstance(p, str) and p in _KINDS), "")
    what = _KINDS.get(container, "type")
    where = describe(data, loc)
    if error["type"] == "union_tag_not_found":
        return loc, f"missing key 'type' {where}: every {what.replace(' type', '')} needs one"
    ctx = error.get("ctx") or {}
    tag = str(ctx.get("tag", ""))
    known = [t.strip(" '") for t in str(ctx.get("expected_tags", "")).split(",")]
    close = difflib.get_close_matches(tag, known, n=1, cutoff=0.6)
    hint = f" did you mean '{close[0]}'?" if close else ""
    return (*loc, "type"), f"unknown {what} '{tag}' {where};{hint} known: {', '.join(known)}"


def real_keys(data: Any, loc: Sequence[int | str]) -> tuple[int | str, ...]:
    """`loc` without the union tags pydantic inserts (`checks.0.http.url` -> `checks.0.url`)."""
    out: list[int | str] = []
    node = data
    for part in loc:
        if isinstance(node, dict) and part not in node and node.get("type") == part:
            continue
        out.append(part)
        if isinstance(node, dict):
            node = node.get(part)
        elif isinstance(node, list) and isinstance(part, int) and 0 <= part < len(node):
            node = node[part]
        else:
            node = None
    return tuple(out)


def describe(data: Any, loc: Sequence[int | str]) -> str:
    """Where a key sits, as a reader would say it: "in verification of environment 'production'"."""
    anchor, fields = "", list[int | str]()
    node, prev = data, None
    for part in loc:
        node = node.get(part) if isinstance(node, dict) else _item(node, part)
        if isinstance(part, int):
            name = node.get("name") if isinstance(node, dict) else None
            anchor = f"check '{name}'" if prev == "checks" and name else f"item {part + 1} of {prev}"
            fields = []
        elif prev in _NAMED and not fields:
            anchor, fields = f"{_NAMED[str(prev)]} '{part}'", []
        elif part not in _NAMED and part != "checks":
            fields.append(part)
        prev = part
    if fields and fields[0] == "defaults":
        fields = fields[1:] or ["defaults"]
    text = ".".join(str(f) for f in fields)
    if text and anchor:
        return f"in {text} of {anchor}"
    if text or anchor:
        return f"in {text or anchor}"
    return "at the top level"


def _item(node: Any, part: int | str) -> Any:
    if isinstance(node, list) and isinstance(part, int) and 0 <= part < len(node):
        return node[part]
    return None


def _field_name(loc: Sequence[int | str]) -> str:
    if not loc:
        return "the file"
    last = loc[-1]
    if isinstance(last, int):
        parent = loc[-2] if len(loc) > 1 else "list"
        return f"item {last + 1} of {parent}"
    return last


def _shown(value: Any, loc: Sequence[int | str]) -> str:
    """A value as it may be quoted: never under a secret-like key, never long."""
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    if value is None:
        return "an empty value"
    if any(is_secret_key(p) for p in loc):
        return "the value given"
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "...'"


def known_keys(root: type[BaseModel], loc: Sequence[int | str]) -> list[str]:
    """The keys the model at `loc` accepts (aliases as written in files)."""
    model = model_at(root, loc)
    if model is None:
        return []
    return [field.alias or name for name, field in model.model_fields.items()]


def model_at(root: type[BaseModel], loc: Sequence[int | str]) -> type[BaseModel] | None:
    """The model class that validates the value at a pydantic `loc` (tags included), if it is one."""
    current: Any = root
    for part in loc:
        current = _step(current, part)
        if current is None:
            return None
    models = [t for t in _options(current) if _is_model(t)]
    return models[0] if len(models) == 1 else None


def _step(tp: Any, part: int | str) -> Any:
    for option in _options(tp):
        origin = get_origin(option)
        if _is_model(option) and isinstance(part, str):
            for name, field in option.model_fields.items():
                if part in (name, field.alias):
                    return field.annotation
            type_field = option.model_fields.get("type")
            if type_field is not None and get_args(type_field.annotation) == (part,):
                return option
        elif origin is list and isinstance(part, int):
            return get_args(option)[0]
        elif origin is dict and isinstance(part, str):
            return get_args(option)[1]
    return None


def _options(tp: Any) -> list[Any]:
    origin = get_origin(tp)
    if origin is Annotated:
        return _options(get_args(tp)[0])
    if origin is Union or origin is types.UnionType:
        return [o for arg in get_args(tp) if arg is not type(None) for o in _options(arg)]
    if origin is Literal:
        return []
    return [tp]


def _is_model(tp: Any) -> bool:
    return isinstance(tp, type) and issubclass(tp, BaseModel)
