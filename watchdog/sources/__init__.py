"""Metric sources behind one protocol (base.Source): http, scrape, prometheus, datadog, sentry.

Each upstream problem becomes an inconclusive measurement with its reason.
"""
