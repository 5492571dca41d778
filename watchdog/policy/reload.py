"""Holds the last good PolicySet and swaps in a new one only when the files on disk are valid again.

A broken edit never takes the daemon's policies away: it is logged, and the previous set stays current.
"""

from __future__ import annotations

import logging
from pathlib import Path

from watchdog.errors import ConfigError, Problem
from watchdog.policy.loader import PolicySet, file_stamps, load_config_dir

log = logging.getLogger("watchdog.policy")


class PolicyHolder:
    def __init__(self, config_dir: Path, *, initial: PolicySet | None = None) -> None:
        """Loads `config_dir` at once unless `initial` is given; raises ConfigError when it is invalid."""
        self.config_dir = Path(config_dir)
        self._current = initial if initial is not None else load_config_dir(self.config_dir)
        # The stamps of the files last tried, valid or not, so a broken file is reported once.
        self._tried = self._current.stamps

    @property
    def current(self) -> PolicySet:
        return self._current

    def reload(self) -> list[Problem]:
        """Loads the files again; on problems, logs each one and keeps the previous set."""
        self._tried = file_stamps(self.config_dir)
        try:
            new = load_config_dir(self.config_dir)
        except ConfigError as exc:
            for problem in exc.problems:
                log.error("policy reload refused: %s", problem)
            log.error("kept the previous policies (%s problems in %s)", len(exc.problems), self.config_dir)
            return list(exc.problems)
        self._current = new
        log.info("policies reloaded from %s: %s", self.config_dir, new.summary())
        return []

    def reload_if_changed(self) -> list[Problem]:
        """Reloads only when a file was added, removed or changed since the last try (a stat per file)."""
        if file_stamps(self.config_dir) == self._tried:
            return []
        return self.reload()
