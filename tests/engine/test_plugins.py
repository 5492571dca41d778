"""Reloading the daemon file: sources, targets and notifiers follow it without a restart.

Unchanged entries keep their objects (and their state); changed or new ones are built again.
"""

from __future__ import annotations

from pathlib import Path

import yaml

from tests.engine.conftest import POLICY, RecordingTarget, build, rate
from watchdog.sources.scrape import ScrapeSource


async def test_a_changed_daemon_file_rebuilds_only_what_changed(
    tmp_path: Path, target: RecordingTarget
) -> None:
    h = build(tmp_path, policy=POLICY, script=lambda v, k: rate(1), target=target)
    kept_http = h.engine.sources["http"]
    kept_target = h.engine.rollbacks.targets["t"]
    daemon_file = tmp_path / "config" / "watchdog.yaml"
    daemon = yaml.safe_load(daemon_file.read_text())
    daemon["sources"]["m"]["url"] = "http://127.0.0.1:2/metrics"  # changed
    daemon["sources"]["extra"] = {"type": "scrape", "url": "http://127.0.0.1:3/metrics"}  # new
    daemon["notifiers"] = {"hook": {"type": "webhook", "url": "http://127.0.0.1:4/hook"}}
    daemon_file.write_text(yaml.safe_dump(daemon))

    await h.engine._reload()

    sources = h.engine.sources
    assert isinstance(sources["m"], ScrapeSource) and isinstance(sources["extra"], ScrapeSource)
    assert sources["http"] is kept_http
    assert h.engine.rollbacks.targets["t"] is kept_target  # unchanged target: same object
    assert "hook" in h.engine.announcer.dispatcher.notifiers
    # The verifier samples through the same mapping, so new verifications use the new sources at once.
    assert h.engine.verifier.sources is sources


async def test_an_invalid_daemon_file_changes_nothing(tmp_path: Path, target: RecordingTarget) -> None:
    h = build(tmp_path, policy=POLICY, script=lambda v, k: rate(1), target=target)
    before = dict(h.engine.sources)
    (tmp_path / "config" / "watchdog.yaml").write_text("sources: {m: {type: scrape}}\n")  # url missing
    await h.engine._reload()
    assert h.engine.sources == before
