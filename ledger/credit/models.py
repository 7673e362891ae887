"""Tables of diaspora-backed credit: schemes and their accounts, contributions,
matching rules, loan products, applications and decisions, loans, their schedules,
repayments with their allocations.

Money columns are ``*_minor`` integers in the scheme's currency; rates, ratios and
percentages are exact decimal text. What moved is in the journal; these rows say what
it was for. A loan's schedule is stored per version (a prepayment that lowers later
installments writes a new version; the old one stays on record). Repayments and
their allocations are never changed.
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
    Text,
    UniqueConstraint,
    Uuid,
)
from sqlalchemy.orm import Mapped, mapped_column

from ledger.db import Base, DecimalText, JSONObject, UTCDateTime
from ledger.limits import (
    FULL_NAME_LENGTH_MAX,
    PARTNER_REFERENCE_LENGTH_MAX,
    REASON_LENGTH_MAX,
    SLUG_LENGTH_MAX,
)

#: The accounts every scheme has, by role (see ledger.credit.schemes).
SCHEME_ACCOUNT_ROLES = (
    "cash",
    "capital",
    "first_loss",
    "portfolio",
    "interest_receivable",
    "fees_receivable",
    "interest_income",
    "fee_income",
    "recovery_income",
    "loss_reserve",
    "provision_expense",
    "written_off",
)
CONTRIBUTION_KINDS = ("investor", "matching", "first_loss")
CONTRIBUTION_STATUSES = ("pledged", "received", "cancelled")
APPLICATION_STATUSES = ("submitted", "approved", "declined", "disbursed", "cancelled")
SCORE_DECISIONS = ("approved", "declined", "review")
LOAN_STATUSES = ("active", "closed", "written_off")
REPAYMENT_SOURCES = ("direct", "sweep", "recovery")


class CreditScheme(Base):
    """A fund: a currency, a country, a manager, and its own accounts."""

    __tablename__ = "credit_schemes"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    slug: Mapped[str] = mapped_column(String(SLUG_LENGTH_MAX), unique=True)
    name: Mapped[str] = mapped_column(String(FULL_NAME_LENGTH_MAX))
    currency: Mapped[str] = mapped_column(String(3))
    country: Mapped[str] = mapped_column(String(2))
    manager_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("principals.id"))
    first_loss_percent: Mapped[Decimal] = mapped_column(DecimalText(40))
    accounts: Mapped[dict[str, Any]] = mapped_column(JSONObject)  # role -> account id
    # Provisioning rates by delinquency bucket (percent text); None: the defaults.
    provisioning: Mapped[dict[str, Any] | None] = mapped_column(JSONObject)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class MatchingRule(Base):
    """A sponsor matches investors' received contributions at ``ratio`` up to a cap."""

    __tablename__ = "matching_rules"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    scheme_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("credit_schemes.id"))
    sponsor_name: Mapped[str] = mapped_column(String(FULL_NAME_LENGTH_MAX))
    ratio: Mapped[Decimal] = mapped_column(DecimalText(40))
    cap_minor: Mapped[int] = mapped_column(BigInteger)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)

    __table_args__ = (
        CheckConstraint("cap_minor >= 0", name="cap"),
        Index("ix_matching_rules_scheme_id", "scheme_id"),
    )


class Contribution(Base):
    """Money pledged to a scheme and, once received, its capital or first-loss layer."""

    __tablename__ = "contributions"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    scheme_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("credit_schemes.id"))
    kind: Mapped[str] = mapped_column(String(10))
    reference: Mapped[str] = mapped_column(String(PARTNER_REFERENCE_LENGTH_MAX))
    investor_name: Mapped[str] = mapped_column(String(FULL_NAME_LENGTH_MAX))
    customer_id: Mapped[uuid.UUID | None] = mapped_column(Uuid, ForeignKey("customers.id"))
    matching_rule_id: Mapped[uuid.UUID | None] = mapped_column(
        Uuid, ForeignKey("matching_rules.id")
    )
    matches_id: Mapped[uuid.UUID | None] = mapped_column(Uuid, ForeignKey("contributions.id"))
    amount_minor: Mapped[int] = mapped_column(BigInteger)
    status: Mapped[str] = mapped_column(String(9))
    transaction_id: Mapped[uuid.UUID | None] = mapped_column(Uuid, ForeignKey("transactions.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    received_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Given back after receipt (refunds, disputes lost), net of reinstatements.
    returned_minor: Mapped[int] = mapped_column(BigInteger, server_default="0")

    __table_args__ = (
        CheckConstraint("amount_minor > 0", name="amount"),
        CheckConstraint("returned_minor BETWEEN 0 AND amount_minor", name="returned"),
        CheckConstraint("kind IN ('investor', 'matching', 'first_loss')", name="kind"),
        CheckConstraint("status IN ('pledged', 'received', 'cancelled')", name="status"),
        CheckConstraint("(status = 'received') = (received_at IS NOT NULL)", name="received"),
        UniqueConstraint("scheme_id", "reference"),
        Index("ix_contributions_scheme_id_kind", "scheme_id", "kind"),
    )


class LoanProduct(Base):
    """A loan product of a scheme; its terms are fixed (a change is a new product)."""

    __tablename__ = "loan_products"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    scheme_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("credit_schemes.id"))
    name: Mapped[str] = mapped_column(String(FULL_NAME_LENGTH_MAX))
    terms: Mapped[dict[str, Any]] = mapped_column(JSONObject)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)

    __table_args__ = (Index("ix_loan_products_scheme_id", "scheme_id"),)


class LoanApplication(Base):
    """An application through a partner, its score (with every reason and figure) and
    the fund manager's decision."""

    __tablename__ = "loan_applications"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    partner_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("principals.id"))
    customer_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("customers.id"))
    scheme_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("credit_schemes.id"))
    product_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("loan_products.id"))
    principal_minor: Mapped[int] = mapped_column(BigInteger)
    installments: Mapped[int] = mapped_column(Integer)
    purpose: Mapped[str] = mapped_column(String(REASON_LENGTH_MAX))
    description: Mapped[str] = mapped_column(Text)
    score_decision: Mapped[str] = mapped_column(String(8))
    score: Mapped[dict[str, Any]] = mapped_column(JSONObject)  # reasons and figures
    status: Mapped[str] = mapped_column(String(9))
    decided_by: Mapped[uuid.UUID | None] = mapped_column(Uuid, ForeignKey("principals.id"))
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    decision_note: Mapped[str | None] = mapped_column(String(REASON_LENGTH_MAX))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)

    __table_args__ = (
        CheckConstraint("principal_minor > 0 AND installments > 0", name="terms"),
        CheckConstraint("score_decision IN ('approved', 'declined', 'review')", name="score"),
        CheckConstraint(
            "status IN ('submitted', 'approved', 'declined', 'disbursed', 'cancelled')",
            name="status",
        ),
        Index("ix_loan_applications_partner_id_id", "partner_id", "id"),
        Index("ix_loan_applications_scheme_id_status", "scheme_id", "status"),
    )


class Loan(Base):
    """A disbursed loan: who, how much, where from and to; its figures are its
    schedule's and its postings'."""

    __tablename__ = "loans"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    application_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("loan_applications.id"), unique=True
    )
    scheme_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("credit_schemes.id"))
    product_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("loan_products.id"))
    partner_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("principals.id"))
    customer_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("customers.id"))
    borrower_account_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("accounts.id"))
    currency: Mapped[str] = mapped_column(String(3))
    principal_minor: Mapped[int] = mapped_column(BigInteger)
    origination_fee_minor: Mapped[int] = mapped_column(BigInteger)
    status: Mapped[str] = mapped_column(String(11))
    schedule_version: Mapped[int] = mapped_column(Integer)
    disbursement_transaction_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("transactions.id")
    )
    sweep_percent: Mapped[Decimal | None] = mapped_column(DecimalText(40))
    sweep_cap: Mapped[str | None] = mapped_column(String(11))
    disbursed_at: Mapped[datetime] = mapped_column(UTCDateTime)
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    written_off_minor: Mapped[int] = mapped_column(BigInteger)
    write_off_transaction_id: Mapped[uuid.UUID | None] = mapped_column(
        Uuid, ForeignKey("transactions.id")
    )
    # Kept by the repayments and the scheduler's jobs (set-based work reads them):
    # interest accrued so far, interest paid so far, and the delinquency of the last
    # business date the delinquency job ran for.
    accrued_interest_minor: Mapped[int] = mapped_column(BigInteger, server_default="0")
    interest_paid_minor: Mapped[int] = mapped_column(BigInteger, server_default="0")
    days_past_due: Mapped[int] = mapped_column(Integer, server_default="0")
    delinquency_bucket: Mapped[str] = mapped_column(String(12), server_default="current")

    __table_args__ = (
        CheckConstraint("status IN ('active', 'closed', 'written_off')", name="status"),
        CheckConstraint("principal_minor > 0 AND origination_fee_minor >= 0", name="amounts"),
        CheckConstraint(
            "sweep_cap IS NULL OR sweep_cap IN ('due', 'outstanding')", name="sweep_cap"
        ),
        Index("ix_loans_partner_id_id", "partner_id", "id"),
        Index("ix_loans_customer_id", "customer_id"),
        Index("ix_loans_scheme_id_status", "scheme_id", "status"),
    )


class LoanAccrual(Base):
    """A loan's interest accrued on one business date (negative: a reversal, when a
    prepayment lowered the interest already accrued). The journal holds one
    transaction per scheme and date: these rows say which loans it was for."""

    __tablename__ = "loan_accruals"

    loan_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("loans.id"), primary_key=True)
    business_date: Mapped[date] = mapped_column(Date, primary_key=True)
    scheme_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("credit_schemes.id"))
    amount_minor: Mapped[int] = mapped_column(BigInteger)
    transaction_id: Mapped[uuid.UUID | None] = mapped_column(Uuid, ForeignKey("transactions.id"))

    __table_args__ = (
        CheckConstraint("amount_minor <> 0", name="amount"),
        Index("ix_loan_accruals_scheme_id_business_date", "scheme_id", "business_date"),
    )


class LoanInstallment(Base):
    """One installment of one version of a loan's schedule (what is due; what was paid
    is in the repayments' allocations)."""

    __tablename__ = "loan_installments"

    loan_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("loans.id"), primary_key=True)
    version: Mapped[int] = mapped_column(Integer, primary_key=True)
    number: Mapped[int] = mapped_column(Integer, primary_key=True)
    period_start: Mapped[date] = mapped_column(Date)
    due_date: Mapped[date] = mapped_column(Date)
    principal_minor: Mapped[int] = mapped_column(BigInteger)
    interest_minor: Mapped[int] = mapped_column(BigInteger)
    fee_minor: Mapped[int] = mapped_column(BigInteger)

    __table_args__ = (
        CheckConstraint(
            "principal_minor >= 0 AND interest_minor >= 0 AND fee_minor >= 0", name="amounts"
        ),
    )


class LoanCharge(Base):
    """A charge added to a loan after disbursement: a late fee on an installment."""

    __tablename__ = "loan_charges"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    loan_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("loans.id"))
    installment_number: Mapped[int] = mapped_column(Integer)
    kind: Mapped[str] = mapped_column(String(8))
    amount_minor: Mapped[int] = mapped_column(BigInteger)
    charged_on: Mapped[date] = mapped_column(Date)
    transaction_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("transactions.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)

    __table_args__ = (
        CheckConstraint("amount_minor > 0", name="amount"),
        CheckConstraint("kind IN ('late_fee')", name="kind"),
        UniqueConstraint("loan_id", "installment_number", "kind"),
    )


class Repayment(Base):
    """Money applied to a loan, and how it was allocated (never changed)."""

    __tablename__ = "repayments"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    loan_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("loans.id"))
    reference: Mapped[str] = mapped_column(String(PARTNER_REFERENCE_LENGTH_MAX))
    source: Mapped[str] = mapped_column(String(8))
    remittance_id: Mapped[uuid.UUID | None] = mapped_column(Uuid, ForeignKey("remittances.id"))
    amount_minor: Mapped[int] = mapped_column(BigInteger)
    principal_minor: Mapped[int] = mapped_column(BigInteger)
    interest_minor: Mapped[int] = mapped_column(BigInteger)
    fee_minor: Mapped[int] = mapped_column(BigInteger)
    penalty_minor: Mapped[int] = mapped_column(BigInteger)
    prepaid_minor: Mapped[int] = mapped_column(BigInteger)
    allocation: Mapped[list[Any]] = mapped_column(JSONObject)
    request_hash: Mapped[str] = mapped_column(String(64))
    transaction_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("transactions.id"))
    effective_at: Mapped[datetime] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)

    __table_args__ = (
        CheckConstraint("amount_minor > 0", name="amount"),
        CheckConstraint("source IN ('direct', 'sweep', 'recovery')", name="source"),
        CheckConstraint(
            "amount_minor = principal_minor + interest_minor + fee_minor + penalty_minor",
            name="allocated",
        ),
        UniqueConstraint("loan_id", "reference"),
        Index("ix_repayments_loan_id_effective_at", "loan_id", "effective_at"),
        Index("ix_repayments_remittance_id", "remittance_id"),
    )
