"""The exception tree drawn in watchdog/errors.py is the whole tree: every error class defined is in it.

Private helpers (`_Stop`, `_RetryableAnswer`) are control flow inside one module and stay out of it.
"""

from __future__ import annotations

import importlib
import inspect
import pkgutil

import watchdog
from watchdog import errors
from watchdog.errors import Refused, WatchdogError


def _error_classes() -> dict[str, type[BaseException]]:
    found: dict[str, type[BaseException]] = {}
    for info in pkgutil.walk_packages(watchdog.__path__, "watchdog."):
        if ".migrations" in info.name or info.name == "watchdog.__main__":
            continue
        module = importlib.import_module(info.name)
        for name, obj in vars(module).items():
            ours = inspect.isclass(obj) and obj.__module__ == info.name and not name.startswith("_")
            if ours and issubclass(obj, BaseException):
                found[f"{info.name}.{name}"] = obj
    return found


def test_every_error_class_is_under_the_root_and_in_the_drawing() -> None:
    classes = _error_classes()
    assert "watchdog.cli.client.Failure" in classes and "watchdog.notify.base.NotifyError" in classes
    outside = [name for name, cls in classes.items() if not issubclass(cls, WatchdogError)]
    drawing = errors.__doc__ or ""
    undrawn = [n for n, c in classes.items() if c is not WatchdogError and f"── {c.__name__} " not in drawing]
    assert outside == [] and undrawn == []


def test_a_refusal_carries_its_action_and_reason_but_no_http_status() -> None:
    refusal = Refused("promote", "deployment is rolled_back")
    assert (refusal.code, refusal.reason) == ("promote_refused", "deployment is rolled_back")
    assert not hasattr(refusal, "status")
