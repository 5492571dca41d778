"""Validation rules beyond types, on one environment's merged policy: references, windows, limits.

Each finding is (keys inside the policy, message); the loader turns the keys into file:line:col.
"""

from __future__ import annotations

import difflib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from watchdog.policy.checks import ErrorRateCheck, HttpCheck, LatencyCheck, MetricCheck
from watchdog.policy.durations import format_duration
from watchdog.policy.service import EnvironmentPolicy, RollbackVerification, Verification
from watchdog.templating import SOURCE_NAMES, TARGET_NAMES, Context, problems

AnyCheck = HttpCheck | ErrorRateCheck | LatencyCheck | MetricCheck
Loc = tuple[int | str, ...]
Finding = tuple[Loc, str]

PLACEHOLDERS = tuple(sorted(SOURCE_NAMES - {"interval"}))
# How each source kind reads a query, so a placeholder is checked for the place it lands in.
QUERY_CONTEXTS = {
    "prometheus": Context.PROMQL,
    "datadog": Context.DATADOG,
    "sentry": Context.SENTRY,
    "scrape": Context.SELECTOR,
}
# Where each key of a target's or source's settings goes.
KEY_CONTEXTS = {"url": Context.URL, "headers": Context.HEADER, "body": Context.JSON}


@dataclass(frozen=True)
class Known:
    """The names a policy may refer to: from config/watchdog.yaml, and the service's environments."""

    sources: Sequence[str]
    targets: Sequence[str]
    notifiers: Sequence[str]
    environments: Sequence[str]
    source_kinds: Mapping[str, str] = field(default_factory=dict)  # source name -> type


def unknown_name(kind: str, name: str, known: Sequence[str]) -> str:
    close = difflib.get_close_matches(name, list(known), n=1, cutoff=0.6)
    hint = f"did you mean '{close[0]}'? " if close else ""
    names = ", ".join(sorted(known)) or "none"
    return f"unknown {kind} '{name}'; {hint}{kind}s defined in config/watchdog.yaml: {names}"


def check_policy(policy: EnvironmentPolicy, *, known: Known, environment: str) -> list[Finding]:
    out: list[Finding] = []
    out += _window(policy.verification, ("verification",))
    out += _window(policy.rollback.verification, ("rollback", "verification"))
    if policy.target is not None and policy.target not in known.targets:
        out.append((("target",), unknown_name("target", policy.target, known.targets)))
    for key in ("on_failure", "on_inconclusive"):
        if getattr(policy, key) == "rollback" and policy.target is None:
            out.append(
                (
                    (key,),
                    f"{key} is rollback but no target is set: name a deploy target under target: "
                    "(one of config/watchdog.yaml's targets), or choose alert",
                )
            )
    for i, name in enumerate(policy.notify):
        if name not in known.notifiers:
            out.append((("notify", i), unknown_name("notifier", name, known.notifiers)))
    if policy.silence is not None and policy.silence.alertmanager not in known.notifiers:
        name = policy.silence.alertmanager
        out.append((("silence", "alertmanager"), unknown_name("notifier", name, known.notifiers)))
    gate = policy.require_verified_in
    if gate is not None:
        if gate == environment:
            out.append(
                (("require_verified_in",), f"require_verified_in names this environment ({gate}) itself")
            )
        elif gate not in known.environments:
            envs = ", ".join(known.environments)
            out.append(
                (
                    ("require_verified_in",),
                    f"require_verified_in names environment '{gate}', which this service does not have "
                    f"(its environments: {envs})",
                )
            )
    out += _checks(policy.checks, prefix=("checks",), known=known)
    out += rollback_check_findings(policy, known=known)
    return out


def rollback_check_findings(policy: EnvironmentPolicy, *, known: Known) -> list[Finding]:
    """Names in rollback.verification.checks must be the environment's checks; whole checks validate."""
    chosen = policy.rollback.verification.checks
    if isinstance(chosen, str):
        return []
    prefix: Loc = ("rollback", "verification", "checks")
    names = [c.name for c in policy.checks]
    out: list[Finding] = []
    for i, item in enumerate(chosen):
        if isinstance(item, str) and item not in names:
            close = difflib.get_close_matches(item, names, n=1, cutoff=0.6)
            hint = f"did you mean '{close[0]}'? " if close else ""
            listed = ", ".join(names) or "none"
            out.append(((*prefix, i), f"unknown check '{item}'; {hint}this environment's checks: {listed}"))
    whole = [(i, c) for i, c in enumerate(chosen) if not isinstance(c, str)]
    seen: set[str] = set()
    for i, check in whole:
        if check.name in seen:
            out.append(((*prefix, i, "name"), f"check name '{check.name}' is used twice in this environment"))
        seen.add(check.name)
        out += [
            ((*prefix, i, *loc), f"check '{check.name}': {msg}")
            for loc, msg in check_rules(check, known=known)
        ]
    return out


def _window(v: Verification | RollbackVerification, prefix: Loc) -> list[Finding]:
    name = ".".join(str(p) for p in prefix)
    dur, every = format_duration(v.duration), format_duration(v.interval)
    if v.duration <= 0:
        return [((*prefix, "duration"), f"{name}.duration must be longer than 0s")]
    if v.interval <= 0:
        return [((*prefix, "interval"), f"{name}.interval must be longer than 0s")]
    out: list[Finding] = []
    if v.interval > v.duration:
        out.append(
            (
                (*prefix, "interval"),
                f"{name}.interval ({every}) is longer than its duration ({dur}): no sample would be taken",
            )
        )
    if v.warmup >= v.duration:
        out.append(
            (
                (*prefix, "warmup"),
                f"{name}.warmup ({format_duration(v.warmup)}) is not shorter than its duration ({dur}): "
                "every sample would be a warm-up sample and nothing would be judged",
            )
        )
    return out


def _checks(checks: Sequence[AnyCheck], *, prefix: Loc, known: Known) -> list[Finding]:
    out: list[Finding] = []
    seen: set[str] = set()
    for i, check in enumerate(checks):
        at: Loc = (*prefix, i)
        if check.name in seen:
            out.append(((*at, "name"), f"check name '{check.name}' is used twice in this environment"))
        seen.add(check.name)
        out += [((*at, *loc), f"check '{check.name}': {msg}") for loc, msg in check_rules(check, known=known)]
    return out


def check_rules(check: AnyCheck, *, known: Known) -> list[Finding]:
    """Findings for one check, with keys relative to the check."""
    if isinstance(check, HttpCheck):
        out: list[Finding] = []
        if not check.url.strip():
            out.append((("url",), "an http check needs a url to probe"))
        out += _placeholders(("url",), check.url, Context.URL)
        for key, value in check.headers.items():
            out += _placeholders(("headers", key), value, Context.HEADER)
        for key, value in check.expect.json_.items():
            if isinstance(value, str):
                out += _placeholders(("expect", "json", key), value, Context.TEXT)
        return out
    out = _source(check, known=known)
    context = QUERY_CONTEXTS.get(known.source_kinds.get(check.source or "", ""))
    if context is not None:
        for role, query in _query_texts(check).items():
            out += _placeholders((role,), query, context, (*PLACEHOLDERS, "interval"))
    if isinstance(check, ErrorRateCheck):
        if not check.errors.strip() or not check.requests.strip():
            missing = [k for k in ("errors", "requests") if not getattr(check, k).strip()]
            out.append(((missing[0],), "an error_rate check needs both an errors query and a requests query"))
        if check.max is not None and not 0 <= check.max <= 1:
            out.append((("max",), f"max is a fraction of requests between 0 and 1, not {check.max:g}"))
    elif not check.query.strip():
        out.append((("query",), f"a {check.type} check needs a query"))
    low, high = getattr(check, "min", None), check.max
    if low is not None and high is not None and low > high:
        out.append((("min",), f"min ({low:g}) is greater than max ({high:g})"))
    if check.baseline is not None and check.baseline.max_ratio is not None and check.baseline.max_ratio <= 1:
        ratio = check.baseline.max_ratio
        out.append((("baseline", "max_ratio"), f"baseline.max_ratio must be more than 1, not {ratio:g}"))
    confidence = getattr(check, "confidence", None)
    if confidence is not None and not 0.5 < confidence < 1:
        out.append(
            (("confidence",), f"confidence must lie between 0.5 and 1 (such as 0.95), not {confidence:g}")
        )
    out += _control_rules(check)
    limits = [check.max, check.baseline, getattr(check, "min", None)]
    if all(limit is None for limit in limits):
        out.append(((), "sets no limit, so it can never fail: give max, baseline (or min for a metric)"))
    return out


def _control_rules(check: ErrorRateCheck | LatencyCheck | MetricCheck) -> list[Finding]:
    compare = "before" if check.baseline is None else check.baseline.compare_to
    if compare == "control" and check.control is None:
        want = "errors and requests" if isinstance(check, ErrorRateCheck) else "query"
        return [
            (("control",), f"compare_to: control needs a `control:` block with the stable version's {want}")
        ]
    return []


def _source(check: ErrorRateCheck | LatencyCheck | MetricCheck, *, known: Known) -> list[Finding]:
    if check.source is None:
        names = ", ".join(sorted(known.sources)) or "none"
        return [(("source",), f"a {check.type} check needs a source (defined: {names})")]
    if check.source not in known.sources:
        return [(("source",), unknown_name("source", check.source, known.sources))]
    return []


def _query_texts(check: ErrorRateCheck | LatencyCheck | MetricCheck) -> dict[str, str]:
    if isinstance(check, ErrorRateCheck):
        return {"errors": check.errors, "requests": check.requests}
    return {"query": check.query}


def _placeholders(
    loc: Loc, text: str, context: Context, allowed: Sequence[str] = PLACEHOLDERS
) -> list[Finding]:
    return [(loc, message) for message in problems(text, context=context, known=allowed)]


def target_placeholders(template: object, loc: Loc, context: Context | None = None) -> list[Finding]:
    """Unknown or unsafe `{{ name }}` placeholders anywhere in a target's argv, URL, headers or body."""
    if context is None and len(loc) == 3:
        # ("targets", name, key): the key says where its strings go; argv and env are program arguments.
        context = KEY_CONTEXTS.get(str(loc[2]), Context.ARGV)
    if isinstance(template, str):
        return _placeholders(loc, template, context or Context.ARGV, tuple(sorted(TARGET_NAMES)))
    if isinstance(template, dict):
        return [f for k, value in template.items() for f in target_placeholders(value, (*loc, k), context)]
    if isinstance(template, list):
        return [f for i, value in enumerate(template) for f in target_placeholders(value, (*loc, i), context)]
    return []


def source_placeholders(config: object, loc: Loc) -> list[Finding]:
    """A scrape source's URL may name the service and environment; nothing else in a source is filled."""
    url = config.get("url") if isinstance(config, dict) and config.get("type") == "scrape" else None
    if not isinstance(url, str):
        return []
    return _placeholders((*loc, "url"), url, Context.URL, ("environment", "service"))
