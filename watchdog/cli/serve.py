"""`watchdog serve`: the daemon — HTTP API, engine ticks, and with --demo the bundled demo service.

SIGTERM and Ctrl-C drain: the running tick finishes, notifications get a last chance, and the leases this
instance holds are released, so another replica (or this one, restarted) resumes the work at once.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import gc
import logging
import secrets
import signal
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from watchdog.settings import Settings, load_settings

log = logging.getLogger("watchdog")


def register(sub: argparse._SubParsersAction[Any]) -> None:
    p = sub.add_parser(
        "serve", help="run the daemon", description="Run the daemon: API, engine and scheduler."
    )
    p.add_argument("--config", type=Path, help="config directory (default $WATCHDOG_CONFIG_DIR or config/)")
    p.add_argument("--host", help="listen address (default $WATCHDOG_HOST or 127.0.0.1)")
    p.add_argument("--port", type=int, help="listen port (default $WATCHDOG_PORT or 8080)")
    p.add_argument("--demo", action="store_true", help="also run the bundled demo service on 127.0.0.1:8081")
    p.add_argument("--demo-port", type=int, default=8081, help="port of the demo service (default 8081)")
    p.add_argument(
        "--workers",
        type=int,
        choices=range(5),
        metavar="N",
        help="engine processes sharing the work through leases (default $WATCHDOG_WORKERS, else the CPUs "
        "this process may use, at most 4; 0 = that default; 1 = one process)",
    )
    p.add_argument("--engine-worker", help=argparse.SUPPRESS)  # "index/count", on the workers serve starts
    p.set_defaults(handler=run)


def _demo_secret(settings: Settings) -> Settings:
    """The demo needs a webhook secret; one is made once and kept in the data dir (never in a config file)."""
    if settings.secrets.webhook_secret is not None:
        return settings
    path = settings.files.data_dir / "webhook.secret"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("whsec_" + base64.b64encode(secrets.token_bytes(32)).decode() + "\n")
        path.chmod(0o600)
    raw = path.read_text().strip()
    # Standard Webhooks secrets are base64 after the prefix; re-encode anything else into that form.
    body = raw.removeprefix("whsec_")
    try:
        base64.b64decode(body, validate=True)
    except ValueError:
        raw = "whsec_" + base64.b64encode(body.encode()).decode()
        path.write_text(raw + "\n")
    log.info("demo: webhook secret kept in %s (watchdog notify reads it from there)", path)
    from pydantic import SecretStr

    settings = settings.replace(webhook_secret=SecretStr(raw))
    settings.register_secrets()
    return settings


def _demo_config(settings: Settings, *, demo_port: int) -> Settings:
    """The example config names the demo on 8081; on another port the daemon runs a generated copy."""
    from watchdog.demo.config import demo_config_dir

    config_dir = demo_config_dir(settings.files.config_dir, port=demo_port, data_dir=settings.files.data_dir)
    if config_dir != settings.files.config_dir:
        log.info("demo: on port %d the daemon runs %s (config with the demo's port)", demo_port, config_dir)
        settings = settings.replace(config_dir=config_dir)
    return settings


def run(args: argparse.Namespace) -> int:
    overrides: dict[str, object] = {}
    if args.config:
        overrides["config_dir"] = args.config
    if args.host:
        overrides["host"] = args.host
    if args.port:
        overrides["port"] = args.port
    settings = load_settings(**overrides)
    from watchdog.errors import ConfigError
    from watchdog.telemetry import setup_logging

    setup_logging(level=settings.telemetry.log_level, fmt=settings.telemetry.log_format)
    if args.engine_worker is not None:
        from watchdog.cli.workers import run_worker

        index, count = (int(x) for x in args.engine_worker.split("/"))
        return asyncio.run(run_worker(settings, index=index, count=count))
    from watchdog.cli.ports import PortBusy

    if args.demo:
        settings = _demo_secret(settings)
        settings = _demo_config(settings, demo_port=args.demo_port)
    from watchdog.settings import weak_secrets

    weak = weak_secrets(settings.secrets)
    if weak:
        for words in weak:
            print(words)
        print("the daemon did not start: a secret setting above is too weak (docs/security.md)")
        return 1
    try:
        return asyncio.run(_serve(settings, demo=args.demo, demo_port=args.demo_port, workers=args.workers))
    except PortBusy as exc:
        print(f"watchdog serve: {exc}", file=sys.stderr)
        return 1
    except ConfigError as exc:
        for problem in exc.problems:
            print(problem)
        print("the daemon did not start: fix the problems above (watchdog check shows them too)")
        return 1


def _draining_server(config: Any) -> Any:
    """A uvicorn server whose SIGTERM only asks it to stop, so `_serve` can drain the engine and exit 0.

    uvicorn's own handling re-raises the signal after shutdown, which kills the process mid-drain.
    """
    import uvicorn

    class DrainingServer(uvicorn.Server):
        @contextlib.contextmanager
        def capture_signals(self) -> Iterator[None]:
            yield

        def stop_accepting(self, sig: int) -> None:
            log.info("received %s: draining", signal.Signals(sig).name)
            if self.should_exit and sig == signal.SIGINT:
                self.force_exit = True  # a second Ctrl-C
            self.should_exit = True

    return DrainingServer(config)


def release_leases(store: Any, *, owner: str) -> None:
    """After the drain: nothing of ours runs any more, so our leases need not lapse before others go on."""
    try:
        released = store.release_all(owner=owner)
    except Exception as exc:  # a broken store: the leases lapse by themselves after lease_seconds
        log.warning("could not release the leases of %s: %s", owner, exc)
        return
    log.info("released %d leases of instance %s", released, owner)


def freeze_startup_heap() -> None:
    """Moves every object made at start-up out of the collector's reach, once the daemon is built.

    Modules, the app, pydantic and SQLAlchemy's caches live as long as the process; left tracked, each
    full collection walks them all (60-260 ms measured by bench/intake.py), and every request in flight
    waits for it. Frozen, a collection only walks what was made since.
    """
    gc.collect()
    gc.freeze()


async def _serve(settings: Settings, *, demo: bool, demo_port: int = 8081, workers: int | None = None) -> int:
    import uvicorn

    from watchdog import __version__
    from watchdog.api.app import create_app
    from watchdog.engine.plugins import close_all
    from watchdog.engine.runtime import build_runtime
    from watchdog.errortracking import setup_sentry

    setup_sentry(
        dsn=settings.telemetry.sentry_dsn.get_secret_value() if settings.telemetry.sentry_dsn else None,
        environment=settings.telemetry.environment,
        release=f"deploy-watchdog@{__version__}",
    )
    from watchdog.cli.ports import bind, busy

    # Both ports are taken before anything starts or says "listening": a busy port is one line and exit 1.
    sock = bind(
        settings.listener.host,
        settings.listener.port,
        what="the daemon",
        hint="stop what holds it or pass --port",
    )
    demo_app = None
    if demo:
        from watchdog.demo.app import DemoApp
        from watchdog.demo.config import DEMO_HOST, DemoState

        try:
            demo_app = DemoApp(host=DEMO_HOST, port=demo_port, version="1.0.0").start()
        except OSError as exc:
            sock.close()
            hint = "pass --demo-port"
            raise busy(exc, host=DEMO_HOST, port=demo_port, what="the demo", hint=hint) from None
        log.info("demo: service 'demo' runs 1.0.0 on %s (healthz, metrics, POST /deploy)", demo_app.url)
        DemoState(
            daemon_url=f"http://{settings.listener.host}:{settings.listener.port}", demo_url=demo_app.url
        ).write(settings.files.data_dir)
    runtime = build_runtime(settings)
    from watchdog.cli import workers as engine_workers

    count = engine_workers.worker_count(settings, workers)

    def share(missing: frozenset[str]) -> None:
        # Until every worker runs, this engine claims every share and may take over the leases of the
        # workers not running: nothing waits for a worker's start-up, nor for the lease of one that died
        # (a dead worker's process is gone; one still starting is fenced by the lease epoch, which moves
        # when this engine takes a row over).
        runtime.engine.partition = (0, count) if not missing else None
        runtime.engine.adopt = missing

    # Started as soon as the store is migrated, so their imports overlap this process's start-up. Each is
    # its own replica, this process being the first; should this process fail before serving, they die
    # with it (PR_SET_PDEATHSIG).
    others = engine_workers.Workers(settings, count, on_missing=share).start()
    share(others.missing())
    app = create_app(runtime)
    config = uvicorn.Config(
        app, host=settings.listener.host, port=settings.listener.port, log_config=None, lifespan="off"
    )
    server = _draining_server(config)
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, server.stop_accepting, sig)
    await runtime.engine.start()
    log.info(
        "watchdog %s listening on http://%s:%d (config %s, store %s, instance %s)",
        __version__,
        settings.listener.host,
        settings.listener.port,
        settings.files.config_dir,
        settings.resolved_database_url.split("@")[-1],
        settings.engine.instance_id,
    )
    health = asyncio.create_task(runtime.store.health.run(interval=settings.engine.tick_seconds))
    freeze_startup_heap()
    try:
        await server.serve(sockets=[sock])
    finally:
        # Side by side: operator requests, the engine and the other workers each get their own drain time.
        await asyncio.gather(
            runtime.engine.requests.stop(),
            runtime.engine.stop(),
            others.stop(timeout=30),
        )
        await close_all(runtime.engine.sources.values())  # after the drain: nothing samples now
        health.cancel()
        release_leases(runtime.store, owner=settings.engine.instance_id)
        runtime.store.close()
        if demo_app is not None:
            demo_app.stop()
    return 0
