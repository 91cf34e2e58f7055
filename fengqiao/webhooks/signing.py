"""Standard Webhooks signatures (https://www.standardwebhooks.com/).

The secret is ``whsec_`` + base64 of 32 random bytes; the HMAC key is the decoded
bytes. The signed content is ``"{webhook-id}.{webhook-timestamp}.{body}"`` and
the header ``webhook-signature`` holds space-separated ``v1,<base64 HMAC-SHA256>``
entries (several while a rotated secret is still valid). ``verify`` is what a
receiver does; the tests use it and the ``standardwebhooks`` library's algorithm.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import secrets
from collections.abc import Iterable, Mapping

PREFIX = "whsec_"
TOLERANCE_SECONDS = 5 * 60


class InvalidSignature(Exception):
    """The signature, timestamp or secret does not check out."""


def new_secret() -> str:
    return PREFIX + base64.b64encode(secrets.token_bytes(32)).decode("ascii")


def _key(secret: str) -> bytes:
    raw = secret[len(PREFIX) :] if secret.startswith(PREFIX) else secret
    try:
        return base64.b64decode(raw, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise InvalidSignature("The secret is not valid base64.") from exc


def sign(secret: str, msg_id: str, timestamp: int, body: bytes) -> str:
    """One ``v1,<signature>`` entry."""
    content = f"{msg_id}.{timestamp}.".encode() + body
    digest = hmac.new(_key(secret), content, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode("ascii")


def headers(secrets_: Iterable[str], msg_id: str, timestamp: int, body: bytes) -> dict[str, str]:
    """The three Standard Webhooks headers, signed with every secret given (current first)."""
    return {
        "webhook-id": msg_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": " ".join(sign(s, msg_id, timestamp, body) for s in secrets_),
    }


def verify(
    secret: str, headers_: Mapping[str, str], body: bytes, *, now: float, tolerance: int = TOLERANCE_SECONDS
) -> None:
    """Check a received request as a receiver would; raises ``InvalidSignature``."""
    lower = {k.lower(): v for k, v in headers_.items()}
    msg_id = lower.get("webhook-id", "")
    stamp = lower.get("webhook-timestamp", "")
    signatures = lower.get("webhook-signature", "")
    if not msg_id or not stamp or not signatures:
        raise InvalidSignature("Missing webhook headers.")
    try:
        timestamp = int(stamp)
    except ValueError as exc:
        raise InvalidSignature("Bad timestamp.") from exc
    if abs(now - timestamp) > tolerance:
        raise InvalidSignature("Timestamp outside the tolerance.")
    expected = sign(secret, msg_id, timestamp, body).split(",", 1)[1]
    for entry in signatures.split(" "):
        version, _sep, value = entry.partition(",")
        if version == "v1" and hmac.compare_digest(value, expected):
            return
    raise InvalidSignature("No matching signature.")
