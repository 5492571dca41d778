"""Inside the daemon bench/intake.py starts: where an event's time goes, written to a JSON file at shutdown.

Server-side request latency, each group-commit batch (size, write and COMMIT time, WAL checkpoints), GC
pauses and event-loop lag, so the bench can tell the store's tail from the loop's and the client's.
"""

from __future__ import annotations

import asyncio
import gc
import json
import struct
import threading
import time
from collections.abc import Awaitable, Callable, MutableMapping
from pathlib import Path
from typing import Any

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
App = Callable[[Scope, Receive, Send], Awaitable[None]]

# The WAL index (the -shm file) holds the checkpoint's progress, nBackfill, at byte 96 (SQLite's
# walIndexHdr, two copies of 48 bytes, then WalCkptInfo): it grows each time a checkpoint copies frames.
_BACKFILL = struct.Struct("=I")


class Probe:
    def __init__(self, db_path: Path) -> None:
        self._shm = Path(f"{db_path}-shm")
        self.requests: list[float] = []  # request in to response start, s
        self.batches: list[dict[str, Any]] = []
        # (generation, CPU s): thread CPU time, not wall, so a loaded machine's preemption is not counted
        self.gc_pauses: list[tuple[int, float]] = []
        self.loop_lag: list[float] = []
        self._local = threading.local()
        self._gc_start = 0.0
        self._loop_watch: asyncio.Task[None] | None = None

    def wrap_app(self, app: App, dump_to: Path) -> App:
        """The app, timing each POST /v1/events from the ASGI call to its response's first byte.

        The figures are written to `dump_to` at the lifespan's shutdown: uvicorn ends the process with
        the SIGTERM it caught once the server has stopped, so nothing after uvicorn.run would run.
        """

        async def timed(scope: Scope, receive: Receive, send: Send) -> None:
            if scope["type"] == "lifespan":

                async def receive_dumping() -> Message:
                    message = await receive()
                    if message["type"] == "lifespan.shutdown":
                        self.dump(dump_to)
                    return message

                await app(scope, receive_dumping, send)
                return
            if scope["type"] != "http" or scope["path"] != "/v1/events":
                await app(scope, receive, send)
                return
            start = time.perf_counter()
            if self._loop_watch is None:  # from the first event on (start-up's own collections don't count)
                self._loop_watch = asyncio.create_task(self.watch_loop())
                self.watch_gc()

            async def send_timed(message: Message) -> None:
                if message["type"] == "http.response.start":
                    self.requests.append(time.perf_counter() - start)
                await send(message)

            await app(scope, receive, send_timed)

        return timed

    def wrap_store(self, store: Any) -> None:
        """Times each batch the group commit writes, its COMMIT apart, and notes WAL checkpoints."""
        from sqlalchemy import event

        write = store.accept_events

        @event.listens_for(store._engine, "commit")
        def _before_commit(_conn: Any) -> None:
            self._local.commit_at = time.perf_counter()

        def accept_events(batch: list[Any]) -> Any:
            backfill, start, cpu = self._backfill(), time.perf_counter(), time.thread_time()
            self._local.commit_at = None
            try:
                return write(batch)
            finally:
                end, cpu = time.perf_counter(), time.thread_time() - cpu
                commit_at = self._local.commit_at
                self.batches.append(
                    {
                        "size": len(batch),
                        "write_s": end - start,
                        "write_cpu_s": cpu,
                        "commit_s": end - commit_at if commit_at is not None else 0.0,
                        "checkpointed": _checkpointed(backfill, self._backfill()),
                    }
                )

        store.accept_events = accept_events

    def watch_gc(self) -> None:
        def callback(phase: str, info: dict[str, int]) -> None:
            if phase == "start":
                self._gc_start = time.thread_time()
            else:
                self.gc_pauses.append((info["generation"], time.thread_time() - self._gc_start))

        gc.callbacks.append(callback)

    async def watch_loop(self, every: float = 0.005) -> None:
        """How late a short sleep wakes: how long the loop was held by something else."""
        while True:
            start = time.perf_counter()
            await asyncio.sleep(every)
            self.loop_lag.append(time.perf_counter() - start - every)

    def _backfill(self) -> int | None:
        try:
            with self._shm.open("rb") as f:
                f.seek(96)
                raw = f.read(4)
        except OSError:
            return None
        return _BACKFILL.unpack(raw)[0] if len(raw) == 4 else None

    def dump(self, path: Path) -> None:
        data = {
            "requests": self.requests,
            "batches": self.batches,
            "gc_pauses": self.gc_pauses,
            "loop_lag": self.loop_lag,
        }
        path.write_text(json.dumps(data))


def _checkpointed(before: int | None, after: int | None) -> bool:
    """Whether a checkpoint copied frames: nBackfill grew (it drops to 0 only when the WAL restarts)."""
    return before is not None and after is not None and (after > before or 0 < after < before)


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else 0.0


def summary(path: Path) -> dict[str, Any]:
    """The figures bench/intake.py reports from one daemon's probe file (times in ms)."""
    data = json.loads(path.read_text())
    batches = data["batches"]
    write = [b["write_s"] for b in batches]
    commit = [b["commit_s"] for b in batches]
    ckpt = [b["commit_s"] for b in batches if b["checkpointed"]]
    gen2 = [s for g, s in data["gc_pauses"] if g == 2]
    gc_cpu = sum(s for _, s in data["gc_pauses"])
    ms = 1000.0
    return {
        "server_p50_ms": round(_pct(data["requests"], 0.50) * ms, 2),
        "server_p99_ms": round(_pct(data["requests"], 0.99) * ms, 2),
        "server_max_ms": round(max(data["requests"], default=0.0) * ms, 2),
        "batches": len(batches),
        "batch_size_median": _pct([b["size"] for b in batches], 0.5),
        "batch_size_max": max((b["size"] for b in batches), default=0),
        "write_p50_ms": round(_pct(write, 0.50) * ms, 2),
        "write_p99_ms": round(_pct(write, 0.99) * ms, 2),
        "write_max_ms": round(max(write, default=0.0) * ms, 2),
        "write_cpu_ms_per_event": round(
            sum(b["write_cpu_s"] for b in batches) / max(1, sum(b["size"] for b in batches)) * ms, 3
        ),
        "commit_p50_ms": round(_pct(commit, 0.50) * ms, 2),
        "commit_max_ms": round(max(commit, default=0.0) * ms, 2),
        "checkpoints": len(ckpt),
        "checkpoint_commit_max_ms": round(max(ckpt, default=0.0) * ms, 2),
        "gc_collections": len(data["gc_pauses"]),
        "gc_gen2": len(gen2),
        "gc_max_cpu_ms": round(max((s for _, s in data["gc_pauses"]), default=0.0) * ms, 2),
        "gc_cpu_ms_per_event": round(gc_cpu / max(1, len(data["requests"])) * ms, 3),
        "loop_lag_p99_ms": round(_pct(data["loop_lag"], 0.99) * ms, 2),
        "loop_lag_max_ms": round(max(data["loop_lag"], default=0.0) * ms, 2),
    }
