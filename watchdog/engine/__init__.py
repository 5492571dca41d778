"""The verification lifecycle: scheduling, leases, sampling, decisions, rollbacks and guard rails.

Everything it decides is written to the store before it acts.
"""
