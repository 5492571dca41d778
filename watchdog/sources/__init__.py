"""Metric sources behind one protocol (base.Source): http, scrape, prometheus, datadog, sentry, replay.

Each upstream problem becomes an inconclusive measurement with its reason.
"""
