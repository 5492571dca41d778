"""Binds the daemon's and the demo's listening sockets before anything says "listening".

A busy port is one line naming the port and what holds it, then exit 1; never a traceback.
"""

from __future__ import annotations

import errno
import socket

from watchdog.errors import WatchdogError


class PortBusy(WatchdogError):
    """The port cannot be bound; the message is the one line the operator sees."""


def bind(host: str, port: int, *, what: str, hint: str) -> socket.socket:
    """A listening TCP socket on (host, port); PortBusy when another process holds it or it is not allowed."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    # Same as uvicorn: a restart may re-bind while old connections sit in TIME_WAIT.
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
        sock.listen(2048)
    except OSError as exc:
        sock.close()
        raise busy(exc, host=host, port=port, what=what, hint=hint) from None
    return sock


def busy(exc: OSError, *, host: str, port: int, what: str, hint: str) -> PortBusy:
    """The one-line error for a failed bind (also for servers that bind their own socket)."""
    if exc.errno == errno.EADDRINUSE:
        return PortBusy(f"{what}: port {port} on {host} is already in use; {hint}")
    return PortBusy(f"{what}: cannot listen on {host}:{port}: {exc.strerror or exc}; {hint}")
