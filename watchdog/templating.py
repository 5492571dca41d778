"""The one renderer for every template in a policy or daemon file: `${NAME}` then `{{ name }}`, in one pass.

Each placeholder's value is escaped for the place it lands in, and a filled-in value is never parsed again.
"""

from __future__ import annotations

import os
import re
import unicodedata
from collections.abc import Callable, Collection, Iterable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any
from urllib.parse import quote

from watchdog.errors import ConfigError
from watchdog.redact import REDACTOR


class Context(StrEnum):
    """Where a template's text goes; it decides how a placeholder's value is escaped."""

    URL = "url"  # path segment or query/fragment by position (percent-encoded); host: plain names only
    PROMQL = "promql"  # inside "..." or '...' (escaped per the PromQL lexer); bare: identifier characters
    SELECTOR = "selector"  # a scrape check's series selector: the PromQL rules
    DATADOG = "datadog"  # a Datadog tag value, normalised the way Datadog normalises tags
    SENTRY = "sentry"  # Sentry search: inside "..." escaped; bare: no spaces, quotes or brackets
    JSON = "json"  # one JSON string: kept as text, the encoder quotes it
    ARGV = "argv"  # one argv item or environment value: kept as text, NUL refused
    HEADER = "header"  # an HTTP header value: control characters refused
    TEXT = "text"  # compared as is (an http check's expected JSON value)


# The names each kind of template may use. Sources sample a deploy; targets restore one.
SOURCE_NAMES = frozenset(
    {
        "service",
        "environment",
        "version",
        "artifact",
        "deployment_id",
        "interval",
        "stable_version",
        "stable_artifact",
        "previous_version",
    }
)
TARGET_NAMES = frozenset(
    {"service", "environment", "version", "artifact", "failed_version", "failed_artifact", "deployment_id"}
)
# Values the daemon makes or the policy files constrain (names, ids, durations): safe outside quotes.
CONSTRAINED = frozenset({"service", "environment", "deployment_id", "interval"})

_TOKEN = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}|\{\{\s*([^{}]*?)\s*\}\}")
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_PROMQL_BARE = re.compile(r"[A-Za-z0-9_:]*")
_SENTRY_BARE = re.compile(r"[\w.:/@+-]+")
_HOST = re.compile(r"[A-Za-z0-9._-]+")
_REGEX_META = set("\\.+*?()|[]{}^$")
_STRING_ESCAPES = {"\\": "\\\\", "\n": "\\n", "\t": "\\t", "\r": "\\r"}


class TemplateError(ConfigError):
    """A template that cannot be filled safely: an unknown name, or a value that cannot land there."""


@dataclass(frozen=True)
class Slot:
    """One `{{ name }}` and where it sits: a URL part, or the quote of the literal it is inside."""

    name: str
    where: str  # url: host | path | query; promql/sentry: '"', "'", "`" or "" (outside a literal)
    regex: bool = False  # inside the string of a =~ or !~ matcher


Token = str | Slot | tuple[str]  # literal text | placeholder | ("ENV",) reference


def tokens(template: str, context: Context) -> list[Token]:
    """The template cut into literal text, `${NAME}` references (1-tuples) and placeholder slots."""
    out: list[Token] = []
    scan = _Scanner(context)
    pos = 0
    for m in _TOKEN.finditer(template):
        literal = template[pos : m.start()]
        scan.feed(literal)
        if literal:
            out.append(literal)
        if m.group(1) is not None:
            out.append((m.group(1),))
            scan.feed("x")  # a reference is opaque text: it moves the scanner like one plain character
        else:
            out.append(scan.slot(m.group(2)))
        pos = m.end()
    if template[pos:]:
        out.append(template[pos:])
    return out


def placeholders_in(template: str) -> set[str]:
    return {m.group(2) for m in _TOKEN.finditer(template) if m.group(2) is not None}


def env_names(template: str) -> list[str]:
    return [m.group(1) for m in _TOKEN.finditer(template) if m.group(1) is not None]


def problems(template: str, *, context: Context, known: Collection[str]) -> list[str]:
    """What `watchdog check` says about a template: unknown names, and event values in unsafe places."""
    out: list[str] = []
    for tok in tokens(template, context):
        if not isinstance(tok, Slot):
            continue
        if tok.name not in known:
            names = ", ".join(sorted(known))
            out.append(f"unknown placeholder '{{{{ {tok.name} }}}}'; known: {names}")
        elif tok.name not in CONSTRAINED and _bare(context, tok):
            out.append(f"'{{{{ {tok.name} }}}}' carries event data, so it must sit {_safe_place(context)}")
    return out


def render(
    template: str,
    values: Mapping[str, str],
    *,
    context: Context,
    environ: Mapping[str, str] | None = None,
    expand_env: bool = False,
) -> str:
    """The template filled: `${NAME}` from the environment (when asked), each `{{ name }}` escaped.

    Raises TemplateError for an unknown name, a missing variable, or a value that cannot land safely.
    """
    env = (os.environ if environ is None else environ) if expand_env else None
    parts: list[str] = []
    for tok in tokens(template, context):
        if isinstance(tok, str):
            parts.append(tok)
        elif isinstance(tok, tuple):
            if env is None:
                parts.append("${" + tok[0] + "}")
            elif tok[0] not in env:
                raise TemplateError(f"environment variable {tok[0]} is not set")
            else:
                REDACTOR.add(env[tok[0]])
                parts.append(env[tok[0]])
        else:
            if tok.name not in values:
                raise TemplateError(f"unknown placeholder {{{{ {tok.name} }}}}")
            parts.append(_escape(context, tok, values[tok.name]))
    return "".join(parts)


def render_json(value: Any, values: Mapping[str, str]) -> Any:
    """A copy of a JSON-like value with every string rendered; numbers, booleans, null and keys untouched."""
    if isinstance(value, str):
        return render(value, values, context=Context.JSON)
    if isinstance(value, dict):
        return {key: render_json(item, values) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [render_json(item, values) for item in value]
    return value


def strings_in(value: Any) -> Iterable[str]:
    """Every string value inside a JSON-like structure (keys are structure, not templates)."""
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for item in value.values():
            yield from strings_in(item)
    elif isinstance(value, list | tuple):
        for item in value:
            yield from strings_in(item)


# ---- escaping -------------------------------------------------------------------------------------


def _bare(context: Context, slot: Slot) -> bool:
    """Whether the slot sits where only plain names are safe."""
    if context is Context.URL:
        return slot.where == "host"
    if context in (Context.PROMQL, Context.SELECTOR, Context.SENTRY):
        return slot.where in ("", "`")
    return False


def _safe_place(context: Context) -> str:
    if context is Context.URL:
        return "in the URL's path or query, not its host"
    if context is Context.SENTRY:
        return 'inside a quoted value, such as release:"{{ version }}"'
    return 'inside a quoted string, such as version="{{ version }}"'


def _escape(context: Context, slot: Slot, value: str) -> str:
    if any(0xD800 <= ord(ch) <= 0xDFFF for ch in value):
        raise TemplateError(f"{{{{ {slot.name} }}}} holds a lone surrogate, which no encoding can carry")
    return _ESCAPERS[context](slot, value)


def _url(slot: Slot, value: str) -> str:
    if slot.where == "host":
        if not _HOST.fullmatch(value):
            raise TemplateError(f"{{{{ {slot.name} }}}} is not a plain host name part: {value!r}")
        return value
    encoded = quote(value, safe="")
    # "." and ".." would be dot segments that clients and servers resolve away: keep them as data.
    if slot.where == "path" and encoded in (".", ".."):
        return encoded.replace(".", "%2E")
    return encoded


def _promql(slot: Slot, value: str) -> str:
    if slot.where in ('"', "'"):
        text = "".join("\\" + ch if ch in _REGEX_META else ch for ch in value) if slot.regex else value
        return _quoted(slot, text, quote=slot.where)
    if slot.where == "" and _PROMQL_BARE.fullmatch(value):
        return value
    raise TemplateError(
        f"{{{{ {slot.name} }}}} = {value!r} cannot stand outside a quoted PromQL string; "
        f'write it inside one, such as version="{{{{ {slot.name} }}}}"'
    )


def _quoted(slot: Slot, value: str, *, quote: str) -> str:
    out: list[str] = []
    for ch in value:
        if ch in _STRING_ESCAPES:
            out.append(_STRING_ESCAPES[ch])
        elif ch == quote:
            out.append("\\" + ch)
        elif unicodedata.category(ch) == "Cc":
            raise TemplateError(
                f"{{{{ {slot.name} }}}} holds the control character {ch!r}, which a query string cannot carry"
            )
        else:
            out.append(ch)
    return "".join(out)


def _datadog(slot: Slot, value: str) -> str:
    # Datadog lower-cases tags and turns every other character into "_" when it stores them; a value
    # normalised the same way matches what was stored and cannot close the {...} scope or add a term.
    return "".join(ch if ch.isalnum() or ch in "_-:./" else "_" for ch in value.lower())


def _sentry(slot: Slot, value: str) -> str:
    if slot.where == '"':
        return _quoted(slot, value, quote='"')
    if slot.where == "" and _SENTRY_BARE.fullmatch(value):
        return value
    raise TemplateError(
        f"{{{{ {slot.name} }}}} = {value!r} cannot stand outside a quoted Sentry value; "
        f'write it inside one, such as release:"{{{{ {slot.name} }}}}"'
    )


def _refusing(*, allowed: str, where: str) -> Callable[[Slot, str], str]:
    def escape(slot: Slot, value: str) -> str:
        bad = [ch for ch in value if unicodedata.category(ch) == "Cc" and ch not in allowed]
        if bad:
            raise TemplateError(f"{{{{ {slot.name} }}}} holds the control character {bad[0]!r}, {where}")
        return value

    return escape


_ESCAPERS: dict[Context, Callable[[Slot, str], str]] = {
    Context.URL: _url,
    Context.PROMQL: _promql,
    Context.SELECTOR: _promql,
    Context.DATADOG: _datadog,
    Context.SENTRY: _sentry,
    Context.JSON: lambda slot, value: value,
    Context.TEXT: lambda slot, value: value,
    Context.ARGV: _refusing(allowed="\t\n\r", where="which a program argument cannot carry"),
    Context.HEADER: _refusing(allowed="\t", where="which an HTTP header value cannot carry"),
}


# ---- where a placeholder sits ---------------------------------------------------------------------


class _Scanner:
    """Follows the literal text of a template far enough to know where the next placeholder lands."""

    def __init__(self, context: Context) -> None:
        self.context = context
        self.seen = ""  # the literal text so far (URL) or since the last string literal opened
        self.quote = ""  # the open string literal's quote, "" outside one
        self.escaped = False
        self.regex = False
        self.text = ""

    def feed(self, literal: str) -> None:
        if self.context is Context.URL:
            self.text += literal
            return
        if self.context not in (Context.PROMQL, Context.SELECTOR, Context.SENTRY):
            return
        for ch in literal:
            if self.quote:
                if self.escaped:
                    self.escaped = False
                elif ch == "\\" and self.quote != "`":
                    self.escaped = True
                elif ch == self.quote:
                    self.quote = ""
            elif ch in "\"'`" and not (self.context is Context.SENTRY and ch != '"'):
                self.quote = ch
                self.regex = self.text.rstrip().endswith(("=~", "!~"))
                self.text = ""
            else:
                self.text += ch

    def slot(self, name: str) -> Slot:
        if not _NAME.fullmatch(name):
            return Slot(name=name, where="")
        if self.context is Context.URL:
            return Slot(name=name, where=_url_part(self.text))
        self.text += "x"  # filled text moves the scanner on; inside a literal it changes nothing
        return Slot(name=name, where=self.quote, regex=self.regex)


def _url_part(before: str) -> str:
    """host, path or query (fragment counts as query): the part of a URL that `before` ends in."""
    if "?" in before or "#" in before:
        return "query"
    rest = before.split("://", 1)[1] if "://" in before else before
    return "path" if "/" in rest else "host"


def check_templates(templates: Iterable[tuple[str, Context]], *, known: Collection[str], where: str) -> None:
    """Fails loudly at start-up for a misspelt or unsafe placeholder, rather than at 3 a.m."""
    found = sorted({p for text, context in templates for p in problems(text, context=context, known=known)})
    if found:
        raise ConfigError(f"{where}: " + "; ".join(found))
