"""Tests of watchdog.demo."""
