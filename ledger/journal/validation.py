"""Checks that need no database: shape, amounts, balance per currency, metadata.

Pure functions over specs; the engine runs them before touching a row, so
invalid input is refused before any lock is taken.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections import defaultdict
from datetime import UTC, datetime
from typing import Any

from ledger.errors import (
    InvalidAmount,
    LimitExceeded,
    UnbalancedTransaction,
    ValidationFailed,
)
from ledger.journal.types import DIRECTIONS_SET, PostingSpec, TransactionSpec
from ledger.limits import (
    AMOUNT_MINOR_MAX,
    CLIENT_ID_LENGTH_MAX,
    DESCRIPTION_LENGTH_MAX,
    IDEMPOTENCY_KEY_LENGTH_MAX,
    METADATA_BYTES_MAX,
    METADATA_DEPTH_MAX,
    POSTINGS_PER_TRANSACTION_MAX,
    POSTINGS_PER_TRANSACTION_MIN,
)
from ledger.money import format_minor, validate_currency

_KEY_PATTERN = re.compile(r"^[\x21-\x7e]+$")  # printable ASCII, no spaces


def require_aware(moment: datetime, field: str) -> None:
    if not isinstance(moment, datetime):
        raise ValidationFailed(f"{field} must be a datetime", field=field)
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValidationFailed(f"{field} must carry a timezone", field=field)


def refuse_nul(text: str, field: str) -> None:
    """NUL characters are refused: PostgreSQL text cannot hold them."""
    if "\x00" in text:
        raise ValidationFailed(f"{field} must not contain NUL characters", field=field)


def validate_posting(posting: PostingSpec, index: int) -> None:
    if not isinstance(posting, PostingSpec):
        raise ValidationFailed(f"posting {index} is not a PostingSpec", posting=index)
    if (
        not isinstance(posting.account_id, int)
        or isinstance(posting.account_id, bool)
        or posting.account_id <= 0
    ):
        raise ValidationFailed(
            f"posting {index}: account id must be a positive integer", posting=index
        )
    if posting.direction not in DIRECTIONS_SET:
        raise ValidationFailed(f"posting {index}: direction must be debit or credit", posting=index)
    amount = posting.amount_minor
    if not isinstance(amount, int) or isinstance(amount, bool):
        raise InvalidAmount(
            f"posting {index}: amount must be an integer of minor units", posting=index
        )
    if amount <= 0:
        raise InvalidAmount(f"posting {index}: amount must be positive", posting=index)
    if amount > AMOUNT_MINOR_MAX:
        raise InvalidAmount(f"posting {index}: amount exceeds 64 bits", posting=index)
    validate_currency(posting.currency)


def check_balanced(postings: tuple[PostingSpec, ...]) -> None:
    """For each currency, debits must equal credits."""
    net: dict[str, int] = defaultdict(int)
    for posting in postings:
        net[posting.currency] += (
            posting.amount_minor if posting.direction == "debit" else -posting.amount_minor
        )
    off = {currency: amount for currency, amount in net.items() if amount != 0}
    if off:
        summary = ", ".join(
            f"{currency} debits exceed credits by {format_minor(amount, currency)}"
            if amount > 0
            else f"{currency} credits exceed debits by {format_minor(-amount, currency)}"
            for currency, amount in sorted(off.items())
        )
        raise UnbalancedTransaction(
            f"transaction does not balance: {summary}",
            imbalance_minor={currency: amount for currency, amount in sorted(off.items())},
        )


def validate_metadata(metadata: Any, field: str = "metadata") -> None:
    """A JSON object of strings, integers, booleans, nulls, lists and objects.

    Floats are refused: a monetary figure hidden in metadata must be a decimal
    string, never a binary fraction.
    """
    if not isinstance(metadata, dict):
        raise ValidationFailed(f"{field} must be an object", field=field)

    def walk(value: Any, depth: int) -> None:
        if depth > METADATA_DEPTH_MAX:
            raise LimitExceeded(f"{field} nests deeper than {METADATA_DEPTH_MAX}", field=field)
        if isinstance(value, dict):
            for key, item in value.items():
                if not isinstance(key, str):
                    raise ValidationFailed(f"{field} keys must be strings", field=field)
                refuse_nul(key, field)
                walk(item, depth + 1)
        elif isinstance(value, list):
            for item in value:
                walk(item, depth + 1)
        elif isinstance(value, str):
            refuse_nul(value, field)
        elif isinstance(value, float):
            raise ValidationFailed(
                f"{field} must not contain floating-point numbers; send decimals as strings",
                field=field,
            )
        elif value is not None and not isinstance(value, str | int | bool):
            raise ValidationFailed(
                f"{field} holds a {type(value).__name__}, which is not JSON", field=field
            )

    walk(metadata, 1)
    size = len(canonical_json(metadata).encode())
    if size > METADATA_BYTES_MAX:
        raise LimitExceeded(
            f"{field} is {size} bytes; at most {METADATA_BYTES_MAX} allowed", field=field
        )


def validate_transaction_spec(spec: TransactionSpec, *, pending: bool, now: datetime) -> None:
    """Everything about a transaction that can be checked without the database."""
    if not isinstance(spec, TransactionSpec):
        raise ValidationFailed("expected a TransactionSpec")
    count = len(spec.postings)
    if count < POSTINGS_PER_TRANSACTION_MIN:
        raise UnbalancedTransaction(
            f"a transaction needs at least {POSTINGS_PER_TRANSACTION_MIN} postings, got {count}"
        )
    if count > POSTINGS_PER_TRANSACTION_MAX:
        raise LimitExceeded(
            f"a transaction may have at most {POSTINGS_PER_TRANSACTION_MAX} postings, got {count}"
        )
    for index, posting in enumerate(spec.postings):
        validate_posting(posting, index)
    check_balanced(spec.postings)
    if not isinstance(spec.description, str):
        raise ValidationFailed("description must be text", field="description")
    refuse_nul(spec.description, "description")
    if len(spec.description) > DESCRIPTION_LENGTH_MAX:
        raise LimitExceeded(
            f"description is longer than {DESCRIPTION_LENGTH_MAX} characters", field="description"
        )
    if spec.effective_at is not None:
        require_aware(spec.effective_at, "effective_at")
    if spec.metadata != {}:  # an empty object is valid and common; skip the walk
        validate_metadata(spec.metadata)
    validate_idempotency(spec.idempotency_key, spec.client_id)
    if spec.expires_at is not None:
        if not pending:
            raise ValidationFailed("only pending transactions expire", field="expires_at")
        require_aware(spec.expires_at, "expires_at")
        if spec.expires_at <= now:
            raise ValidationFailed("expires_at must be in the future", field="expires_at")


def require_text(value: object, field: str, length_max: int) -> str:
    """Text of 1 to ``length_max`` characters, not blank, without NUL (names,
    references, reasons: every short text a caller gives)."""
    if not isinstance(value, str) or not value.strip() or len(value) > length_max:
        raise ValidationFailed(f"{field} must be 1 to {length_max} characters", field=field)
    refuse_nul(value, field)
    return value


def validate_idempotency(key: str | None, client_id: str) -> None:
    if not isinstance(client_id, str) or len(client_id) > CLIENT_ID_LENGTH_MAX:
        raise ValidationFailed(
            f"client_id must be text of at most {CLIENT_ID_LENGTH_MAX} characters",
            field="client_id",
        )
    if key is None:
        return
    if (
        not isinstance(key, str)
        or not 0 < len(key) <= IDEMPOTENCY_KEY_LENGTH_MAX
        or not _KEY_PATTERN.match(key)
    ):
        raise ValidationFailed(
            f"idempotency key must be 1 to {IDEMPOTENCY_KEY_LENGTH_MAX} printable ASCII "
            "characters without spaces",
            field="idempotency_key",
        )


def canonical_json(value: Any) -> str:
    """One byte-exact JSON text per value: sorted keys, no spaces, UTF-8."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def fingerprint(value: Any) -> str:
    """SHA-256 hex of the canonical JSON of ``value``."""
    return hashlib.sha256(canonical_json(value).encode()).hexdigest()


def iso(moment: datetime | None) -> str | None:
    """ISO 8601 in UTC, so one instant has one spelling whatever zone it came in."""
    return None if moment is None else moment.astimezone(UTC).isoformat()
