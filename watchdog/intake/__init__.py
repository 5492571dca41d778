"""Turns inbound webhooks (generic, GitHub, GitLab, Argo CD) into DeployEvents.

Verifies signatures and replay windows; refuses bad input with a code and words.
"""
