"""Tables of the payment providers' side of the books.

* ``payment_collections``: a contribution being paid through a provider (a Stripe
  PaymentIntent, a bank transfer awaiting its statement line); one per contribution
  and provider.
* ``provider_events``: every event a provider sent, by its own id, with what became of
  it; the unique id is what makes a redelivered event a no-op.
* ``settlement_items``: each movement of money the provider reported and the ledger
  booked to the scheme's clearing account (a Stripe balance transaction: a charge, a
  refund, a dispute's withdrawal or reinstatement), with gross, fee and net as the
  provider reported them, and the payout that took it to the bank once known.
* ``provider_payouts``: the provider's transfers to the fund's bank.
* ``reconciliation_runs``: each reconciliation of a payout and what it found (kept:
  a discrepancy is resolved by people, and the record says when it was seen).
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    Uuid,
)
from sqlalchemy.orm import Mapped, mapped_column

from ledger.db import Base, JSONObject, UTCDateTime

PROVIDERS = ("stripe", "bank_transfer")
COLLECTION_STATUSES = ("open", "succeeded")
EVENT_STATUSES = ("received", "processed", "ignored", "failed")
#: Provider ids (Stripe's are < 255 characters).
EXTERNAL_ID_LENGTH_MAX = 255


class PaymentCollection(Base):
    __tablename__ = "payment_collections"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    provider: Mapped[str] = mapped_column(String(20))
    scheme_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("credit_schemes.id"))
    contribution_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("contributions.id"))
    external_id: Mapped[str] = mapped_column(String(EXTERNAL_ID_LENGTH_MAX))
    amount_minor: Mapped[int] = mapped_column(BigInteger)
    currency: Mapped[str] = mapped_column(String(3))
    status: Mapped[str] = mapped_column(String(9))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    succeeded_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    __table_args__ = (
        CheckConstraint("amount_minor > 0", name="amount"),
        CheckConstraint("status IN ('open', 'succeeded')", name="status"),
        UniqueConstraint("provider", "contribution_id"),
        UniqueConstraint("provider", "external_id"),
    )


class ProviderEvent(Base):
    __tablename__ = "provider_events"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    provider: Mapped[str] = mapped_column(String(20))
    external_id: Mapped[str] = mapped_column(String(EXTERNAL_ID_LENGTH_MAX))
    type: Mapped[str] = mapped_column(String(100))
    status: Mapped[str] = mapped_column(String(9))
    payload: Mapped[dict[str, Any]] = mapped_column(JSONObject)
    attempts: Mapped[int] = mapped_column(Integer)
    error: Mapped[str | None] = mapped_column(Text)
    received_at: Mapped[datetime] = mapped_column(UTCDateTime)
    processed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    __table_args__ = (
        CheckConstraint("status IN ('received', 'processed', 'ignored', 'failed')", name="status"),
        UniqueConstraint("provider", "external_id"),
        Index("ix_provider_events_status", "provider", "status"),
    )


class ProviderPayout(Base):
    __tablename__ = "provider_payouts"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    provider: Mapped[str] = mapped_column(String(20))
    external_id: Mapped[str] = mapped_column(String(EXTERNAL_ID_LENGTH_MAX))
    amount_minor: Mapped[int] = mapped_column(BigInteger)
    currency: Mapped[str] = mapped_column(String(3))
    status: Mapped[str] = mapped_column(String(20))
    # Journal transactions of the payout: key -> {scheme_id, transaction_id, net} (a
    # payout mixes schemes' money; items booked after it add theirs).
    transactions: Mapped[dict[str, Any]] = mapped_column(JSONObject)
    # What could not be attributed to a scheme (foreign charges, account fees).
    unattributed_minor: Mapped[int] = mapped_column(BigInteger)
    paid_at: Mapped[datetime] = mapped_column(UTCDateTime)
    booked_at: Mapped[datetime] = mapped_column(UTCDateTime)

    __table_args__ = (UniqueConstraint("provider", "external_id"),)


class PayoutItem(Base):
    """Every item a payout contained, as the provider listed it (booked or not): an
    item booked after its payout was booked still finds the payout that took it."""

    __tablename__ = "payout_items"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    payout_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("provider_payouts.id"))
    provider: Mapped[str] = mapped_column(String(20))
    external_id: Mapped[str] = mapped_column(String(EXTERNAL_ID_LENGTH_MAX))
    kind: Mapped[str] = mapped_column(String(30))
    source_id: Mapped[str] = mapped_column(String(EXTERNAL_ID_LENGTH_MAX))
    net_minor: Mapped[int] = mapped_column(BigInteger)

    __table_args__ = (UniqueConstraint("provider", "external_id"),)


class SettlementItem(Base):
    __tablename__ = "settlement_items"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    provider: Mapped[str] = mapped_column(String(20))
    external_id: Mapped[str] = mapped_column(String(EXTERNAL_ID_LENGTH_MAX))
    kind: Mapped[str] = mapped_column(String(30))
    source_id: Mapped[str] = mapped_column(String(EXTERNAL_ID_LENGTH_MAX))
    collection_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("payment_collections.id"))
    scheme_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("credit_schemes.id"))
    # Signed, as the provider reports: a charge is positive, a refund negative; the
    # fee is what the provider kept (negative when it gave a fee back).
    amount_minor: Mapped[int] = mapped_column(BigInteger)
    fee_minor: Mapped[int] = mapped_column(BigInteger)
    net_minor: Mapped[int] = mapped_column(BigInteger)
    currency: Mapped[str] = mapped_column(String(3))
    available_on: Mapped[datetime] = mapped_column(UTCDateTime)
    payout_id: Mapped[uuid.UUID | None] = mapped_column(Uuid, ForeignKey("provider_payouts.id"))
    transaction_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("transactions.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)

    __table_args__ = (
        CheckConstraint("net_minor = amount_minor - fee_minor", name="net"),
        UniqueConstraint("provider", "external_id"),
        Index("ix_settlement_items_payout_id", "payout_id"),
        Index("ix_settlement_items_collection_id", "collection_id"),
    )


class ReconciliationRun(Base):
    __tablename__ = "reconciliation_runs"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    provider: Mapped[str] = mapped_column(String(20))
    payout_external_id: Mapped[str] = mapped_column(String(EXTERNAL_ID_LENGTH_MAX))
    discrepancies: Mapped[int] = mapped_column(Integer)
    report: Mapped[dict[str, Any]] = mapped_column(JSONObject)
    ran_at: Mapped[datetime] = mapped_column(UTCDateTime)

    __table_args__ = (
        Index("ix_reconciliation_runs_payout", "provider", "payout_external_id", "ran_at"),
    )
