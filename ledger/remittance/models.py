"""Tables of corridors, pricing, FX mid-rates, quotes, remittances, partner liquidity
and bulk imports.

Money columns are ``*_minor`` integers in the currency named beside them; rates
and cost figures are exact decimal text (``DecimalText``), never floats, on both
databases. Pricing versions and mid-rates are append-only (a correction is a new
version or, for a rate, refused: quotes were priced on it). A remittance's row
changes once, from ``reserved`` to ``completed``, ``failed`` or ``expired``, and
its money columns never change (triggers in migration 0003).
"""

from __future__ import annotations

import uuid
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    Date,
    ForeignKey,
    Index,
    Integer,
    String,
    UniqueConstraint,
    Uuid,
)
from sqlalchemy.orm import Mapped, mapped_column

from ledger.db import Base, DecimalText, JSONObject, UTCDateTime
from ledger.limits import (
    FULL_NAME_LENGTH_MAX,
    PARTNER_REFERENCE_LENGTH_MAX,
    RATE_SOURCE_LENGTH_MAX,
    REASON_LENGTH_MAX,
)

REMITTANCE_STATUSES = ("reserved", "completed", "failed", "expired")
REMITTANCE_SOURCES = ("api", "import")

#: ``RU-RUB-TJ-TJS``: sending country and currency, receiving country and currency.
CORRIDOR_CODE_LENGTH = 13


class Corridor(Base):
    """Where money goes: sending country and currency to receiving country and currency."""

    __tablename__ = "corridors"

    code: Mapped[str] = mapped_column(String(CORRIDOR_CODE_LENGTH), primary_key=True)
    send_country: Mapped[str] = mapped_column(String(2))
    send_currency: Mapped[str] = mapped_column(String(3))
    receive_country: Mapped[str] = mapped_column(String(2))
    receive_currency: Mapped[str] = mapped_column(String(3))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)

    __table_args__ = (
        CheckConstraint("send_currency <> receive_currency", name="two_currencies"),
        CheckConstraint(
            "code = send_country || '-' || send_currency || '-' || receive_country || '-' "
            "|| receive_currency",
            name="code",
        ),
    )


class CorridorPricing(Base):
    """A partner's price on a corridor from ``created_at`` on: fee schedule and FX margin.
    Append-only: a new price is a new row; quotes keep the id of the one they used."""

    __tablename__ = "corridor_pricing"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    partner_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("principals.id"))
    corridor_code: Mapped[str] = mapped_column(
        String(CORRIDOR_CODE_LENGTH), ForeignKey("corridors.code")
    )
    fee_schedule: Mapped[dict[str, Any]] = mapped_column(JSONObject)
    fx_margin: Mapped[Decimal] = mapped_column(DecimalText(40))
    rate_source: Mapped[str] = mapped_column(String(RATE_SOURCE_LENGTH_MAX))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)

    __table_args__ = (
        Index(
            "ix_corridor_pricing_partner_id_corridor_code_created_at",
            "partner_id",
            "corridor_code",
            "created_at",
        ),
    )


class FxRate(Base):
    """A reference mid-rate: ``1 base = mid_rate quote`` on ``rate_date`` from ``source``."""

    __tablename__ = "fx_rates"

    base: Mapped[str] = mapped_column(String(3), primary_key=True)
    quote: Mapped[str] = mapped_column(String(3), primary_key=True)
    source: Mapped[str] = mapped_column(String(RATE_SOURCE_LENGTH_MAX), primary_key=True)
    rate_date: Mapped[date] = mapped_column(Date, primary_key=True)
    mid_rate: Mapped[Decimal] = mapped_column(DecimalText(40))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)

    __table_args__ = (CheckConstraint("base <> quote", name="two_currencies"),)


class Quote(Base):
    """A priced offer to a partner, valid until ``expires_at``; used by at most one
    remittance."""

    __tablename__ = "quotes"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    partner_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("principals.id"))
    corridor_code: Mapped[str] = mapped_column(
        String(CORRIDOR_CODE_LENGTH), ForeignKey("corridors.code")
    )
    pricing_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("corridor_pricing.id"))
    send_currency: Mapped[str] = mapped_column(String(3))
    receive_currency: Mapped[str] = mapped_column(String(3))
    send_minor: Mapped[int] = mapped_column(BigInteger)
    fee_minor: Mapped[int] = mapped_column(BigInteger)
    receive_minor: Mapped[int] = mapped_column(BigInteger)
    mid_rate: Mapped[Decimal] = mapped_column(DecimalText(40))
    applied_rate: Mapped[Decimal] = mapped_column(DecimalText(60))
    fx_margin: Mapped[Decimal] = mapped_column(DecimalText(40))
    rate_date: Mapped[date] = mapped_column(Date)
    rate_source: Mapped[str] = mapped_column(String(RATE_SOURCE_LENGTH_MAX))
    total_cost: Mapped[Decimal] = mapped_column(DecimalText(80))
    total_cost_percent: Mapped[Decimal] = mapped_column(DecimalText(20))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)

    __table_args__ = (
        CheckConstraint("send_minor > 0 AND fee_minor >= 0 AND receive_minor > 0", name="amounts"),
        Index("ix_quotes_partner_id_id", "partner_id", "id"),
        Index("ix_quotes_expires_at", "expires_at"),
    )


class RemittanceImport(Base):
    """One uploaded file of completed remittances and what became of its rows."""

    __tablename__ = "remittance_imports"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    partner_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("principals.id"))
    filename: Mapped[str] = mapped_column(String(200))
    file_sha256: Mapped[str] = mapped_column(String(64))
    rows_total: Mapped[int] = mapped_column(Integer)
    accepted: Mapped[int] = mapped_column(Integer)
    duplicates: Mapped[int] = mapped_column(Integer)
    rejected: Mapped[int] = mapped_column(Integer)
    report: Mapped[dict[str, Any]] = mapped_column(JSONObject)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)

    __table_args__ = (Index("ix_remittance_imports_partner_id_id", "partner_id", "id"),)


class Remittance(Base):
    """A remittance posted by a partner: priced, reserved, then completed or not."""

    __tablename__ = "remittances"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    partner_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("principals.id"))
    partner_reference: Mapped[str] = mapped_column(String(PARTNER_REFERENCE_LENGTH_MAX))
    corridor_code: Mapped[str] = mapped_column(
        String(CORRIDOR_CODE_LENGTH), ForeignKey("corridors.code")
    )
    quote_id: Mapped[uuid.UUID | None] = mapped_column(Uuid, ForeignKey("quotes.id"), unique=True)
    sender_name: Mapped[str] = mapped_column(String(FULL_NAME_LENGTH_MAX))
    sender_country: Mapped[str] = mapped_column(String(2))
    beneficiary_customer_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("customers.id"))
    beneficiary_account_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("accounts.id"))
    send_currency: Mapped[str] = mapped_column(String(3))
    receive_currency: Mapped[str] = mapped_column(String(3))
    send_minor: Mapped[int] = mapped_column(BigInteger)
    fee_minor: Mapped[int] = mapped_column(BigInteger)
    receive_minor: Mapped[int] = mapped_column(BigInteger)
    mid_rate: Mapped[Decimal] = mapped_column(DecimalText(40))
    applied_rate: Mapped[Decimal] = mapped_column(DecimalText(60))
    rate_date: Mapped[date] = mapped_column(Date)
    rate_source: Mapped[str] = mapped_column(String(RATE_SOURCE_LENGTH_MAX))
    total_cost: Mapped[Decimal] = mapped_column(DecimalText(80))
    total_cost_percent: Mapped[Decimal] = mapped_column(DecimalText(20))
    status: Mapped[str] = mapped_column(String(9))
    transaction_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("transactions.id"))
    source: Mapped[str] = mapped_column(String(6))
    import_id: Mapped[uuid.UUID | None] = mapped_column(Uuid, ForeignKey("remittance_imports.id"))
    request_hash: Mapped[str] = mapped_column(String(64))
    effective_at: Mapped[datetime] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    resolved_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    failure_reason: Mapped[str | None] = mapped_column(String(REASON_LENGTH_MAX))

    __table_args__ = (
        CheckConstraint("status IN ('reserved', 'completed', 'failed', 'expired')", name="status"),
        CheckConstraint("source IN ('api', 'import')", name="source"),
        CheckConstraint("send_minor > 0 AND fee_minor >= 0 AND receive_minor > 0", name="amounts"),
        CheckConstraint("send_currency <> receive_currency", name="two_currencies"),
        CheckConstraint("(status = 'reserved') = (resolved_at IS NULL)", name="resolution"),
        UniqueConstraint("partner_id", "partner_reference"),
        Index("ix_remittances_partner_id_id", "partner_id", "id"),
        Index(
            "ix_remittances_beneficiary_customer_id_effective_at",
            "beneficiary_customer_id",
            "effective_at",
        ),
        Index("ix_remittances_status_expires_at", "status", "expires_at"),
        Index("ix_remittances_corridor_code_effective_at", "corridor_code", "effective_at"),
        Index("ix_remittances_transaction_id", "transaction_id"),
    )


class PartnerLiquidity(Base):
    """A partner's prefunded position in one currency: the settlement account it draws
    remittances from (its overdraft limit is the net debit cap) and the account its
    fees are credited to."""

    __tablename__ = "partner_liquidity"

    partner_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("principals.id"), primary_key=True
    )
    currency: Mapped[str] = mapped_column(String(3), primary_key=True)
    settlement_account_id: Mapped[int] = mapped_column(
        BigInteger, ForeignKey("accounts.id"), unique=True
    )
    fee_account_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("accounts.id"), unique=True)
    alarm_threshold_percent: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)

    __table_args__ = (
        CheckConstraint(
            "alarm_threshold_percent BETWEEN 1 AND 100", name="alarm_threshold_percent"
        ),
    )


class PlatformFeeAgreement(Base):
    """A partner's platform fee: ``percent`` of the send amount of its completed
    remittances, charged monthly, from ``starts_on`` (a new agreement is a new row)."""

    __tablename__ = "platform_fee_agreements"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    partner_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("principals.id"))
    percent: Mapped[Decimal] = mapped_column(DecimalText(40))
    starts_on: Mapped[date] = mapped_column(Date)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)

    __table_args__ = (UniqueConstraint("partner_id", "starts_on"),)


class PlatformFeeCharge(Base):
    """One month's platform fee of one partner in one send currency, as charged."""

    __tablename__ = "platform_fee_charges"

    partner_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("principals.id"), primary_key=True
    )
    month: Mapped[date] = mapped_column(Date, primary_key=True)  # its first day
    currency: Mapped[str] = mapped_column(String(3), primary_key=True)
    volume_minor: Mapped[int] = mapped_column(BigInteger)
    percent: Mapped[Decimal] = mapped_column(DecimalText(40))
    fee_minor: Mapped[int] = mapped_column(BigInteger)
    transaction_id: Mapped[uuid.UUID | None] = mapped_column(Uuid, ForeignKey("transactions.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)

    __table_args__ = (CheckConstraint("volume_minor >= 0 AND fee_minor >= 0", name="amounts"),)
