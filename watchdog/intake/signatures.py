"""Webhook authentication: Standard Webhooks (our generic route), GitHub HMAC, and shared tokens.

Always over the raw body bytes, before parsing; every comparison is constant-time (hmac.compare_digest).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
from collections.abc import Sequence
from datetime import datetime

from watchdog.intake.refusals import bad_signature, stale_timestamp

TOLERANCE_S = 300  # Standard Webhooks and the libraries: +/- 5 minutes
MIN_KEY_BYTES = 16  # below this a key can be guessed; Standard Webhooks itself asks for 24 to 64


def standard_key(secret: str) -> bytes:
    """The HMAC key of a Standard Webhooks secret: base64 after an optional `whsec_`.

    A secret that is not base64 is used as its UTF-8 bytes, so a hand-made secret still works between
    `watchdog notify` and the daemon (other senders should use `whsec_` secrets).
    """
    raw = secret.strip()
    raw = raw.removeprefix("whsec_")
    try:
        return base64.b64decode(raw, validate=True)
    except (binascii.Error, ValueError):
        return raw.encode()


def key_problem(secret: str, *, standard: bool) -> str | None:
    """Why `secret` is too weak to authenticate anything, or None (the words never quote the value)."""
    raw = secret.strip()
    if standard and raw.startswith("whsec_"):
        try:
            key = base64.b64decode(raw.removeprefix("whsec_"), validate=True)
        except (binascii.Error, ValueError):
            return "whsec_ must be followed by base64 (such as whsec_ + base64 of 32 random bytes)"
    else:
        key = standard_key(raw) if standard else raw.encode()
    if len(key) < MIN_KEY_BYTES:
        return (
            f"the key is {len(key)} bytes; at least {MIN_KEY_BYTES} are needed "
            f"(make one with: echo {'whsec_' if standard else ''}$(head -c 32 /dev/urandom | base64))"
        )
    return None


def standard_secrets(setting: str) -> list[str]:
    """Several secrets, space-separated, are all accepted while a secret is rotated."""
    return [s for s in setting.split() if s]


def sign_standard(*, secret: str, msg_id: str, timestamp: int, body: bytes) -> str:
    """The `webhook-signature` value: `v1,<base64 HMAC-SHA256(key, "id.timestamp.body")>`."""
    signed = f"{msg_id}.{timestamp}.".encode() + body
    digest = hmac.new(standard_key(secret), signed, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode()


def verify_standard(
    *, msg_id: str, timestamp: str, signature: str, body: bytes, secrets: Sequence[str], now: datetime
) -> None:
    """Accepts when any `v1,` signature matches any secret, then refuses a timestamp out of tolerance."""
    try:
        ts = int(timestamp)
    except ValueError:
        raise bad_signature("webhook-timestamp: expected unix seconds") from None
    given = [part.split(",", 1)[1] for part in signature.split() if part.startswith("v1,")]
    if not given:
        raise bad_signature("webhook-signature: no v1 signature")
    matched = False
    for secret in secrets:
        expected = sign_standard(secret=secret, msg_id=msg_id, timestamp=ts, body=body).split(",", 1)[1]
        for candidate in given:
            # No early exit: every pair is compared so timing says nothing about which one matched.
            matched |= hmac.compare_digest(expected.encode(), candidate.encode())
    if not matched:
        raise bad_signature("webhook-signature does not match the body")
    # Checked after the signature so only a genuine (but old or early) message hears "stale".
    skew = now.timestamp() - ts
    if abs(skew) > TOLERANCE_S:
        direction = "old" if skew > 0 else "in the future"
        raise stale_timestamp(f"webhook-timestamp is {abs(int(skew))} s {direction}; the limit is +/- 300 s")


def sign_github(*, secret: str, body: bytes) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def verify_github(*, header: str | None, body: bytes, secret: str) -> None:
    if not header:
        raise bad_signature("X-Hub-Signature-256: header required")
    if not hmac.compare_digest(sign_github(secret=secret, body=body).encode(), header.strip().encode()):
        raise bad_signature("X-Hub-Signature-256 does not match the body")


def verify_token(*, given: str | None, expected: str, header: str) -> None:
    """A plain shared secret (GitLab, our Argo CD template): no HMAC, so pair it with TLS."""
    if not given:
        raise bad_signature(f"{header}: header required")
    if not hmac.compare_digest(given.encode(), expected.encode()):
        raise bad_signature(f"{header} does not match")
