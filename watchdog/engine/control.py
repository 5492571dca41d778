"""The stable version's side of a check with compare_to: control, sampled at the same instant as the check.

The control queries run through the same source protocol as a twin of the check; their values join the
check's measurement as control_* roles, so the store, the replay and `simulate` all see one sample.
"""

from __future__ import annotations

from watchdog.analysis.models import Measurement
from watchdog.policy.checks import CONTROL_ROLES, ErrorRateCheck, HttpCheck, compare_to
from watchdog.sources.base import AnyCheck


def control_twin(check: AnyCheck) -> AnyCheck | None:
    """The check with its queries (and source) swapped for the control's; None without a control."""
    if isinstance(check, HttpCheck) or compare_to(check) != "control":
        return None
    if isinstance(check, ErrorRateCheck):
        ec = check.control
        if ec is None:
            return None
        update = {"errors": ec.errors, "requests": ec.requests, "source": ec.source or check.source}
        return check.model_copy(update={**update, "name": twin_name(check.name)})
    vc = check.control
    if vc is None:
        return None
    update = {"query": vc.query, "source": vc.source or check.source, "name": twin_name(check.name)}
    return check.model_copy(update=update)


def twin_name(name: str) -> str:
    """A distinct name, so per-check source state (a scrape's previous counter reading) never mixes."""
    return f"{name} (control)"


def merge(check: AnyCheck, own: Measurement, control: Measurement) -> Measurement:
    """The check's measurement with the control's values as control_<role>; no data when the control broke."""
    roles = CONTROL_ROLES.get(check.type, ())
    values = dict(own.values)
    note = own.note
    for role in roles:
        plain = role.removeprefix("control_")
        values[role] = None if control.error is not None else control.values.get(plain)
    if control.error is not None:
        why = f"control: {control.error}"
        note = why if note is None else f"{note}; {why}"
    return Measurement(values=values, error=own.error, note=note)
