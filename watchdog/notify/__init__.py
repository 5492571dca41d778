"""Notifications of verdicts and rollbacks: Slack, Datadog events, generic webhooks.

Retried with backoff; never delay a rollback.
"""
