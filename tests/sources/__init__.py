"""Tests of watchdog.sources."""
