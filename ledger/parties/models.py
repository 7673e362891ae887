"""Tables of partners' customers and of which partner owns which account."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    ForeignKey,
    Index,
    String,
    UniqueConstraint,
    Uuid,
)
from sqlalchemy.orm import Mapped, mapped_column

from ledger.db import Base, UTCDateTime
from ledger.limits import EXTERNAL_ID_LENGTH_MAX, FULL_NAME_LENGTH_MAX

CUSTOMER_KINDS = ("migrant", "entrepreneur", "diaspora_investor", "sponsor")


class Customer(Base):
    """A partner's customer: the minimum personal data the ledger needs."""

    __tablename__ = "customers"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    partner_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("principals.id"))
    external_id: Mapped[str] = mapped_column(String(EXTERNAL_ID_LENGTH_MAX))
    full_name: Mapped[str] = mapped_column(String(FULL_NAME_LENGTH_MAX))
    country: Mapped[str] = mapped_column(String(2))
    kind: Mapped[str] = mapped_column(String(17))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)

    __table_args__ = (
        UniqueConstraint("partner_id", "external_id"),
        CheckConstraint(
            "kind IN ('migrant', 'entrepreneur', 'diaspora_investor', 'sponsor')", name="kind"
        ),
        CheckConstraint("length(country) = 2", name="country"),
        Index("ix_customers_partner_id_id", "partner_id", "id"),
    )


class PartnerAccount(Base):
    """Which partner owns an account (and for which of its customers, if any)."""

    __tablename__ = "partner_accounts"

    account_id: Mapped[int] = mapped_column(
        BigInteger,
        ForeignKey("accounts.id"),
        primary_key=True,
        autoincrement=False,
    )
    partner_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("principals.id"))
    customer_id: Mapped[uuid.UUID | None] = mapped_column(Uuid, ForeignKey("customers.id"))

    __table_args__ = (
        Index("ix_partner_accounts_partner_id_account_id", "partner_id", "account_id"),
        Index("ix_partner_accounts_customer_id", "customer_id"),
    )
