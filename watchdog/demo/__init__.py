"""The bundled demo service that `make run` and the end-to-end tests deploy, break and roll back.

`DemoApp` serves /healthz, /metrics, POST /deploy and POST /chaos, and generates its own traffic.
"""

from __future__ import annotations

from watchdog.demo.app import DemoApp

__all__ = ["DemoApp"]
