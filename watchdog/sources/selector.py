"""The series selector a `scrape` check's query holds: `name{label="v",other=~"re",x!="y",z!~"re"}`.

A small PromQL-compatible subset (no functions, no ranges); regexes are fully anchored as in PromQL.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

from watchdog.errors import ConfigError

_NAME = re.compile(r"[a-zA-Z_:][a-zA-Z0-9_:]*")
_LABEL = re.compile(r"[a-zA-Z_][a-zA-Z0-9_]*")
_OPS = ("=~", "!~", "!=", "=")
_ESCAPES = {"n": "\n", "r": "\r", "t": "\t", "\\": "\\", '"': '"', "'": "'"}


class SelectorError(ConfigError):
    """A selector that cannot be parsed; the message points at the character."""


@dataclass(frozen=True)
class Matcher:
    label: str
    op: str  # one of = != =~ !~
    value: str
    pattern: re.Pattern[str] | None = None

    def matches(self, labels: Mapping[str, str]) -> bool:
        # A missing label matches as the empty string, as in PromQL.
        actual = labels.get(self.label, "")
        if self.op == "=":
            return actual == self.value
        if self.op == "!=":
            return actual != self.value
        assert self.pattern is not None
        found = self.pattern.fullmatch(actual) is not None
        return found if self.op == "=~" else not found


@dataclass(frozen=True)
class Selector:
    name: str
    matchers: tuple[Matcher, ...] = ()

    def matches(self, labels: Mapping[str, str]) -> bool:
        return all(m.matches(labels) for m in self.matchers)


def parse_selector(text: str) -> Selector:
    """Parses `metric_name{...}`; raises SelectorError naming the position of the first problem."""
    parser = _Parser(text)
    return parser.selector()


class _Parser:
    def __init__(self, text: str) -> None:
        self.text = text
        self.pos = 0

    def fail(self, message: str) -> SelectorError:
        return SelectorError(f"bad selector {self.text!r}: {message} at char {self.pos + 1}")

    def skip(self) -> None:
        while self.pos < len(self.text) and self.text[self.pos].isspace():
            self.pos += 1

    def take(self, pattern: re.Pattern[str], what: str) -> str:
        self.skip()
        m = pattern.match(self.text, self.pos)
        if m is None:
            raise self.fail(f"expected {what}")
        self.pos = m.end()
        return m.group(0)

    def selector(self) -> Selector:
        if not self.text.strip():
            raise SelectorError("bad selector '': expected a metric name such as http_requests_total")
        name = self.take(_NAME, "a metric name")
        matchers: list[Matcher] = []
        self.skip()
        if self.pos < len(self.text) and self.text[self.pos] == "{":
            self.pos += 1
            matchers = self.matchers()
        self.skip()
        if self.pos != len(self.text):
            raise self.fail(f"unexpected {self.text[self.pos]!r}")
        return Selector(name=name, matchers=tuple(matchers))

    def matchers(self) -> list[Matcher]:
        out: list[Matcher] = []
        while True:
            self.skip()
            if self.pos < len(self.text) and self.text[self.pos] == "}":
                self.pos += 1
                return out
            label = self.take(_LABEL, "a label name or '}'")
            self.skip()
            op = next((o for o in _OPS if self.text.startswith(o, self.pos)), None)
            if op is None:
                raise self.fail("expected one of = != =~ !~")
            self.pos += len(op)
            value = self.string()
            pattern = None
            if op in ("=~", "!~"):
                try:
                    pattern = re.compile(value)
                except re.error as exc:
                    raise self.fail(f"bad regular expression {value!r} ({exc})") from None
            out.append(Matcher(label=label, op=op, value=value, pattern=pattern))
            self.skip()
            if self.pos < len(self.text) and self.text[self.pos] == ",":
                self.pos += 1
            elif not (self.pos < len(self.text) and self.text[self.pos] == "}"):
                raise self.fail("expected ',' or '}'")

    def string(self) -> str:
        self.skip()
        if self.pos >= len(self.text) or self.text[self.pos] not in "\"'":
            raise self.fail("expected a quoted label value")
        quote = self.text[self.pos]
        self.pos += 1
        chars: list[str] = []
        while self.pos < len(self.text):
            ch = self.text[self.pos]
            if ch == "\\" and self.pos + 1 < len(self.text):
                nxt = self.text[self.pos + 1]
                chars.append(_ESCAPES.get(nxt, "\\" + nxt))
                self.pos += 2
                continue
            if ch == quote:
                self.pos += 1
                return "".join(chars)
            chars.append(ch)
            self.pos += 1
        raise self.fail("unterminated string")
