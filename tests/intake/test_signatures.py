"""Signature schemes against their published vectors, and the replay window.

Pure functions: no app, no store.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TypedDict

import pytest

from watchdog.errors import IntakeError
from watchdog.intake.signatures import (
    sign_github,
    sign_standard,
    standard_key,
    verify_github,
    verify_standard,
    verify_token,
)


class Vector(TypedDict):
    secret: str
    msg_id: str
    timestamp: int
    body: bytes
    signature: str


VECTOR: Vector = {
    "secret": "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
    "msg_id": "msg_p5jXN8AQM9LWM0D4loKWxJek",
    "timestamp": 1614265330,
    "body": b'{"test": 2432232314}',
    "signature": "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=",
}
AT_VECTOR = datetime.fromtimestamp(1614265330, UTC)


def test_standard_webhooks_vector() -> None:
    got = sign_standard(
        secret=str(VECTOR["secret"]),
        msg_id=str(VECTOR["msg_id"]),
        timestamp=int(str(VECTOR["timestamp"])),
        body=bytes(VECTOR["body"]),
    )
    assert got == VECTOR["signature"]


def _verify(
    *, signature: str, secrets: list[str], now: datetime = AT_VECTOR, body: bytes = b'{"test": 2432232314}'
) -> None:
    verify_standard(
        msg_id="msg_p5jXN8AQM9LWM0D4loKWxJek",
        timestamp="1614265330",
        signature=signature,
        body=body,
        secrets=secrets,
        now=now,
    )


def test_vector_verifies_among_several_signatures_and_secrets() -> None:
    _verify(
        signature=f"v1a,xyz v1,bm90LWl0 {VECTOR['signature']}",
        secrets=["whsec_b3RoZXI=", str(VECTOR["secret"])],
    )


@pytest.mark.parametrize(
    ("signature", "body", "code"),
    [
        ("v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=", b'{"test": 2432232315}', "bad_signature"),
        ("v1,AAAA", b'{"test": 2432232314}', "bad_signature"),
        ("v2,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=", b'{"test": 2432232314}', "bad_signature"),
    ],
)
def test_standard_refusals(signature: str, body: bytes, code: str) -> None:
    with pytest.raises(IntakeError) as err:
        _verify(signature=signature, secrets=[str(VECTOR["secret"])], body=body)
    assert (err.value.status, err.value.code) == (401, code)


@pytest.mark.parametrize(("offset", "ok"), [(-300, True), (300, True), (-301, False), (301, False)])
def test_replay_window_is_five_minutes_either_way(offset: int, ok: bool) -> None:
    now = datetime.fromtimestamp(1614265330 + offset, UTC)
    if ok:
        _verify(signature=str(VECTOR["signature"]), secrets=[str(VECTOR["secret"])], now=now)
        return
    with pytest.raises(IntakeError) as err:
        _verify(signature=str(VECTOR["signature"]), secrets=[str(VECTOR["secret"])], now=now)
    assert err.value.code == "stale_timestamp"


def test_non_base64_secret_is_used_as_bytes() -> None:
    assert standard_key("not base64!") == b"not base64!"
    assert standard_key("whsec_aGVsbG8=") == b"hello"


def test_github_vector() -> None:
    secret, body = "It's a Secret to Everybody", b"Hello, World!"
    expected = "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17"
    assert sign_github(secret=secret, body=body) == expected
    verify_github(header=expected, body=body, secret=secret)
    for header in (None, "", "sha256=00", expected.replace("sha256", "sha1")):
        with pytest.raises(IntakeError):
            verify_github(header=header, body=body, secret=secret)


def test_token() -> None:
    verify_token(given="abc", expected="abc", header="X-Gitlab-Token")
    for given in (None, "", "abd", "abcd"):
        with pytest.raises(IntakeError) as err:
            verify_token(given=given, expected="abc", header="X-Gitlab-Token")
        assert err.value.code == "bad_signature"
