"""The one renderer, by property: whatever an event field holds, it lands as data where it is filled in.

URL parts parse back, PromQL parses with the value as one literal, JSON round-trips, `${...}` stays text.
"""

from __future__ import annotations

import json
import re
import unicodedata
from urllib.parse import parse_qs, unquote, urlsplit

import httpx
import promql_parser
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from watchdog.sources.selector import parse_selector
from watchdog.templating import Context, TemplateError, problems, render, render_json

SECRET = "s3cr3t-value-from-the-environment"
ENVIRON = {"SECRET": SECRET, "HOST": "api.example"}
HOSTILE = [
    "${SECRET}",
    "{{ artifact }}",
    '1.0"} or vector(0) #',
    "1.0/../../../evil?q=",
    "..",
    "1.0\nX-Injected: 1",
    "a'b\\c`d",
    "%2e%2e/%00",
    "ünïcødé ☃",
    "",
]

# Any text an event could carry (no lone surrogates: no encoding carries them, intake refuses them).
values = st.text(st.characters(exclude_categories=["Cs"]), max_size=40)
sneaky = st.lists(st.sampled_from(["${SECRET}", "{{ version }}", "{{ artifact }}", "$", "{", "}"]) | values)
tricky = sneaky.map("".join)
# Every placeholder an event fills (the stable_* names come from the store, escaped alike).
fields = st.sampled_from(
    ["version", "artifact", "service", "environment", "deployment_id", "previous_version"]
)
fast = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def fill(template: str, value: str, context: Context) -> str:
    return render(
        template, {"version": value, "artifact": "a"}, context=context, environ=ENVIRON, expand_env=True
    )


@fast
@given(tricky, fields)
def test_a_url_parses_back_to_the_same_path_segments_and_query(value: str, field: str) -> None:
    template = "https://${HOST}/deploys/{{ version }}/rollback?v={{ version }}&x=1#{{ version }}"
    url = render(
        template.replace("version", field),
        {field: value},
        context=Context.URL,
        environ=ENVIRON,
        expand_env=True,
    )
    parts = urlsplit(url)
    assert parts.hostname == "api.example"
    assert [unquote(s) for s in parts.path.split("/")] == ["", "deploys", value, "rollback"]
    assert parse_qs(parts.query, keep_blank_values=True) == {"v": [value], "x": ["1"]}
    assert unquote(parts.fragment) == value
    # What the HTTP client sends is the same path: nothing resolves a "..", nothing leaves /deploys/.
    sent = httpx.URL(url)
    assert [unquote(s) for s in sent.raw_path.decode().split("?")[0].split("/")] == [
        "",
        "deploys",
        value,
        "rollback",
    ]


@pytest.mark.parametrize("value", HOSTILE)
def test_event_values_never_reach_the_host(value: str) -> None:
    with pytest.raises(TemplateError, match="host"):
        fill("https://{{ version }}.example/x", value + "/evil", Context.URL)
    assert problems("https://{{ version }}.example/x", context=Context.URL, known={"version"})
    host = render("https://{{ service }}.example/x", {"service": "checkout"}, context=Context.URL)
    assert host == "https://checkout.example/x"


def _matchers(query: str) -> dict[str, tuple[str, str]]:
    # sum(rate(up{...}[30s])): aggregation -> call -> matrix selector -> vector selector.
    aggregation = promql_parser.parse(query)
    assert isinstance(aggregation, promql_parser.AggregateExpr)
    assert isinstance(aggregation.expr, promql_parser.Call)
    expr = aggregation.expr.args[0].vector_selector
    assert isinstance(expr, promql_parser.VectorSelector) and expr.name == "up"
    return {m.name: (str(m.op), m.value) for m in expr.matchers.matchers}


def _promql_safe(value: str) -> bool:
    return all(ch in "\n\t\r" or unicodedata.category(ch) != "Cc" for ch in value)


@fast
@given(tricky, fields)
@example(value='1.0"} or vector(0) #', field="version")
@example(value="a\\\"b'c\n", field="artifact")
def test_promql_parses_with_the_value_as_one_string_literal(value: str, field: str) -> None:
    template = (
        'sum(rate(up{version="{{ version }}", single=\'{{ version }}\', re=~"{{ version }}"}'
        "[{{ interval }}]))"
    ).replace("{{ version }}", "{{ " + field + " }}")
    values = {field: value, "interval": "30s"}
    if not _promql_safe(value):
        with pytest.raises(TemplateError, match="control character"):
            render(template, values, context=Context.PROMQL)
        return
    query = render(template, values, context=Context.PROMQL)
    matchers = _matchers(query)
    assert matchers["version"][1] == value and matchers["single"][1] == value
    assert set(matchers) == {"version", "single", "re"}
    # The regex matcher matches exactly the value and nothing else.
    pattern = matchers["re"][1]
    assert re.fullmatch(pattern, value, flags=re.DOTALL)
    assert not re.fullmatch(pattern, value + "x", flags=re.DOTALL)


@fast
@given(tricky)
def test_a_scrape_selector_reads_the_value_back(value: str) -> None:
    if not _promql_safe(value):
        return
    selector = parse_selector(
        render('m{v="{{ version }}",w=~"{{ version }}"}', {"version": value}, context=Context.SELECTOR)
    )
    assert selector.matchers[0].value == value
    assert selector.matches({"v": value, "w": value}) and not selector.matches({"v": value, "w": value + "x"})


@pytest.mark.parametrize("value", ['1.0"} or vector(0) #', "1 or vector(1)", "a b", "x)"])
def test_promql_refuses_an_event_value_outside_a_string(value: str) -> None:
    with pytest.raises(TemplateError, match="outside a quoted PromQL string"):
        render("sum(up) > {{ version }}", {"version": value}, context=Context.PROMQL)
    assert problems("sum(up) > {{ version }}", context=Context.PROMQL, known={"version"})
    # A service name is a policy file's own name: it may build a metric name.
    assert render("{{ service }}_requests_total", {"service": "checkout"}, context=Context.PROMQL) == (
        "checkout_requests_total"
    )


@fast
@given(tricky)
def test_datadog_tag_values_cannot_close_the_scope(value: str) -> None:
    query = render(
        "avg:trace.duration{service:checkout,version:{{ version }}}",
        {"version": value},
        context=Context.DATADOG,
    )
    assert re.fullmatch(
        r"avg:trace\.duration\{service:checkout,version:[^{},\s()*!]*\}", query, flags=re.UNICODE
    )


@fast
@given(tricky)
def test_json_round_trips_and_argv_is_one_item(value: str) -> None:
    body = {"ref": "main", "inputs": {"version": "{{ version }}", "n": 3}, "list": ["x-{{ version }}"]}
    sent = json.loads(json.dumps(render_json(body, {"version": value})))
    assert sent == {"ref": "main", "inputs": {"version": value, "n": 3}, "list": [f"x-{value}"]}
    if "\0" not in value and _promql_safe(value):
        assert render("--to={{ version }}", {"version": value}, context=Context.ARGV) == f"--to={value}"


@fast
@given(tricky, st.sampled_from(list(Context)))
def test_no_reference_inside_a_value_is_ever_expanded(value: str, context: Context) -> None:
    templates = {
        Context.URL: "https://h.example/x/{{ version }}?t=${SECRET}",
        Context.PROMQL: 'up{v="{{ version }}"}',
        Context.SELECTOR: 'up{v="{{ version }}"}',
        Context.SENTRY: 'release:"{{ version }}"',
    }
    template = templates.get(context, "${SECRET}:{{ version }}")
    try:
        out = render(template, {"version": value}, context=context, environ=ENVIRON, expand_env=True)
    except TemplateError:
        return  # refused is safe too: nothing was sent
    # The policy's own reference is expanded once; the value's never is.
    assert out.count(SECRET) == template.count("${SECRET}")


@pytest.mark.parametrize("value", HOSTILE)
def test_headers_refuse_line_breaks(value: str) -> None:
    if any(unicodedata.category(ch) == "Cc" for ch in value):
        with pytest.raises(TemplateError, match="control character"):
            fill("Bearer ${SECRET} {{ version }}", value, Context.HEADER)
    else:
        assert fill("v={{ version }}", value, Context.HEADER) == f"v={value}"


def test_unknown_names_are_errors_in_every_context() -> None:
    for context in Context:
        with pytest.raises(TemplateError, match="unknown placeholder"):
            render("x {{ verison }}", {"version": "1"}, context=context)
        assert problems("x {{ verison }}", context=context, known={"version"}) == [
            "unknown placeholder '{{ verison }}'; known: version"
        ]
    with pytest.raises(TemplateError, match="NOPE is not set"):
        render("${NOPE}", {}, context=Context.URL, environ={}, expand_env=True)
    # Without expansion a reference is left as written (a PromQL query has no environment).
    assert render("${NOPE}", {}, context=Context.PROMQL) == "${NOPE}"
