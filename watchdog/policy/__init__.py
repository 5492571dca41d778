"""The files SREs edit: threshold policies per service and the daemon's named connections.

Models live in checks/service/connections; loading with file:line errors in loader; merging in resolve.
"""

from __future__ import annotations
