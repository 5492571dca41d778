"""Deploy-target adapters behind one protocol (base.Target): kubernetes, helm, argocd, webhook, command.

Each redeploys a previous stable artifact and reports what it did.
"""
