"""create_app(runtime): the FastAPI application with every route, the dashboard (GET /) included.

The Runtime is held on app.state; nothing global, so tests build as many apps as they like.
"""

from __future__ import annotations

import asyncio

from fastapi import FastAPI

from watchdog.api import (
    dashboard,
    deps,
    errors,
    routes_admin,
    routes_backtests,
    routes_deployments,
    routes_events,
    routes_gates,
    routes_health,
    routes_incidents,
    routes_stats,
)
from watchdog.engine.runtime import Runtime

ROUTERS = (
    routes_events.router,
    routes_deployments.router,
    routes_admin.router,
    routes_backtests.router,
    routes_gates.router,
    routes_incidents.router,
    routes_health.router,
    routes_stats.router,
    dashboard.router,
)


def create_app(runtime: Runtime) -> FastAPI:
    app = FastAPI(
        title="Deploy Watchdog",
        version="0.1.0",
        description="Verifies every deploy after it lands and rolls back the bad ones.",
    )
    app.state.runtime = runtime
    # One writer at a time on SQLite (see routes_events); PostgreSQL takes concurrent intake as it comes.
    if runtime.store.url.startswith("sqlite"):
        app.state.intake_write_lock = asyncio.Lock()
    errors.install(app)
    app.add_middleware(deps.ReadGuard, runtime=runtime)
    for router in ROUTERS:
        app.include_router(router)
    return app
