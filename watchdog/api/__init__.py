"""The HTTP API: events, webhooks, deployments, gates, incidents, admin, health and metrics.

FastAPI, built by create_app from a Runtime.
"""
