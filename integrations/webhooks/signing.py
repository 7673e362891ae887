"""Signatures on webhook deliveries, the way Stripe signs its own.

Header ``Ledger-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256>``, the HMAC over
``"<t>.<raw body>"`` with the endpoint's secret. A receiver recomputes it, compares in
constant time, and refuses a timestamp too far from its clock (replays).
"""

from __future__ import annotations

import hashlib
import hmac

SIGNATURE_HEADER = "Ledger-Signature"
EVENT_ID_HEADER = "Ledger-Event-Id"
#: The largest clock difference a receiver should accept, in seconds.
TOLERANCE_SECONDS = 300


def signature(secret: str, timestamp: int, body: bytes) -> str:
    signed = str(timestamp).encode() + b"." + body
    return hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest()


def signature_header(secret: str, timestamp: int, body: bytes) -> str:
    return f"t={timestamp},v1={signature(secret, timestamp, body)}"


def verify(
    secret: str, header: str, body: bytes, *, now: int, tolerance: int = TOLERANCE_SECONDS
) -> bool:
    """What a receiver does: a v1 signature of this body, made recently."""
    try:
        parts = dict(item.split("=", 1) for item in header.split(","))
        timestamp = int(parts["t"])
    except (KeyError, ValueError):
        return False
    if abs(now - timestamp) > tolerance:
        return False
    return hmac.compare_digest(parts.get("v1", ""), signature(secret, timestamp, body))
