"""The values of the remittance flow: what a partner asks for, what is recorded,
and the postings of one remittance (pure)."""

from __future__ import annotations

import hashlib
import json
import uuid
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from ledger.journal import (
    PostingSpec,
    TransactionRecord,
    credit,
    debit,
)
from ledger.journal.models import Account
from ledger.remittance.models import Remittance

remittances = Remittance.__table__
accounts = Account.__table__

Money = tuple[int, str]  # (minor units, currency)


@dataclass(frozen=True)
class RemittanceRequest:
    """What a partner asks for. Pricing is either ``quote_id`` or the explicit
    ``send``, ``fee`` and ``applied_rate``; ``receive``, if given, must match."""

    partner_reference: str
    corridor_code: str
    sender_name: str
    sender_country: str
    beneficiary_customer_id: uuid.UUID
    beneficiary_account_id: int | None = None
    quote_id: uuid.UUID | None = None
    send: Money | None = None
    fee: Money | None = None
    applied_rate: Decimal | None = None
    receive: Money | None = None
    effective_at: datetime | None = None
    expires_at: datetime | None = None

    def fingerprint(self) -> str:
        """What makes two requests with one reference the same request."""
        content = {
            "reference": self.partner_reference,
            "corridor": self.corridor_code,
            "sender": [self.sender_name, self.sender_country],
            "beneficiary": [str(self.beneficiary_customer_id), self.beneficiary_account_id],
            "quote": str(self.quote_id) if self.quote_id else None,
            "send": list(self.send) if self.send else None,
            "fee": list(self.fee) if self.fee else None,
            "rate": format(self.applied_rate, "f") if self.applied_rate is not None else None,
            "receive": list(self.receive) if self.receive else None,
            "effective_at": self.effective_at.isoformat() if self.effective_at else None,
            "expires_at": self.expires_at.isoformat() if self.expires_at else None,
        }
        text = json.dumps(content, sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(text.encode()).hexdigest()


@dataclass(frozen=True)
class RemittanceRecord:
    id: uuid.UUID
    partner_id: uuid.UUID
    partner_reference: str
    corridor_code: str
    quote_id: uuid.UUID | None
    sender_name: str
    sender_country: str
    beneficiary_customer_id: uuid.UUID
    beneficiary_account_id: int
    send_currency: str
    receive_currency: str
    send_minor: int
    fee_minor: int
    receive_minor: int
    mid_rate: Decimal
    applied_rate: Decimal
    rate_date: date
    rate_source: str
    total_cost: Decimal
    total_cost_percent: Decimal
    status: str
    transaction_id: uuid.UUID
    source: str
    import_id: uuid.UUID | None
    request_hash: str
    effective_at: datetime
    created_at: datetime
    expires_at: datetime | None
    resolved_at: datetime | None
    failure_reason: str | None
    replayed: bool = field(default=False, compare=False)
    #: The journal transaction as the command left it (None when read from storage).
    transaction: TransactionRecord | None = field(default=None, compare=False, repr=False)

    @property
    def charged_minor(self) -> int:
        """What the sender paid the partner: send amount plus fee."""
        return self.send_minor + self.fee_minor


_COLUMNS = tuple(
    name
    for name in RemittanceRecord.__dataclass_fields__
    if name not in ("replayed", "transaction")
)


def values_of(record: RemittanceRecord) -> dict[str, Any]:
    """The record as a row of the remittances table."""
    return {name: getattr(record, name) for name in _COLUMNS}


def record_of(row: Any) -> RemittanceRecord:
    return RemittanceRecord(**{name: getattr(row, name) for name in _COLUMNS})


def remittance_client_id(partner_id: uuid.UUID) -> str:
    return f"remittance:{partner_id}"


def wallet_suffix(customer_id: uuid.UUID, currency: str) -> str:
    """The partner-namespaced code of the wallet a beneficiary is credited to by
    default in ``currency`` (``partner:<slug>:wallet:<customer id>:<CUR>``)."""
    return f"wallet:{customer_id}:{currency}"


def wallet_code(partner_slug: str, customer_id: uuid.UUID, currency: str) -> str:
    return f"partner:{partner_slug}:{wallet_suffix(customer_id, currency)}"


def remittance_legs(
    *,
    settlement_account_id: int,
    fee_account_id: int,
    send_position_account_id: int,
    receive_position_account_id: int,
    beneficiary_account_id: int,
    send_currency: str,
    receive_currency: str,
    send_minor: int,
    fee_minor: int,
    receive_minor: int,
) -> tuple[PostingSpec, ...]:
    """The postings of one remittance (see the module docstring). Pure."""
    legs = [debit(settlement_account_id, send_minor + fee_minor, send_currency)]
    if fee_minor:
        legs.append(credit(fee_account_id, fee_minor, send_currency))
    legs += [
        credit(send_position_account_id, send_minor, send_currency),
        debit(receive_position_account_id, receive_minor, receive_currency),
        credit(beneficiary_account_id, receive_minor, receive_currency),
    ]
    return tuple(legs)
