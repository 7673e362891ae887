"""The scheduler and the portfolio: run records, loan accruals, the loans' running
figures (accrued and paid interest, delinquency), provisioning rates per scheme,
portfolio snapshots, partners' platform fee agreements and charges.

Interest is now accrued day by day into interest receivable, and repayments credit
interest receivable (not income): the scheme's interest receivable account may go
below zero when interest is paid ahead of its accrual (interest received in advance).
Loans repaid before this revision recognised interest when paid, so their accrued
interest starts equal to what they paid.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-01
"""

from collections.abc import Sequence

import sqlalchemy as sa

from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TIMESTAMP = sa.DateTime(timezone=True)
JSON_OBJECT = sa.JSON().with_variant(sa.dialects.postgresql.JSONB(), "postgresql")


def upgrade() -> None:
    op.create_table(
        "job_runs",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("job", sa.String(40), nullable=False),
        sa.Column("business_date", sa.Date(), nullable=False),
        sa.Column("status", sa.String(9), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("started_at", TIMESTAMP, nullable=False),
        sa.Column("finished_at", TIMESTAMP, nullable=False),
        sa.Column("result", JSON_OBJECT, nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.CheckConstraint("status IN ('succeeded', 'failed')", name=op.f("ck_job_runs_status")),
        sa.CheckConstraint("attempts > 0", name=op.f("ck_job_runs_attempts")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_job_runs")),
        sa.UniqueConstraint("job", "business_date", name=op.f("uq_job_runs_job_business_date")),
    )
    with op.batch_alter_table("loans") as batch:
        batch.add_column(
            sa.Column("accrued_interest_minor", sa.BigInteger(), server_default="0", nullable=False)
        )
        batch.add_column(
            sa.Column("interest_paid_minor", sa.BigInteger(), server_default="0", nullable=False)
        )
        batch.add_column(
            sa.Column("days_past_due", sa.Integer(), server_default="0", nullable=False)
        )
        batch.add_column(
            sa.Column("delinquency_bucket", sa.String(12), server_default="current", nullable=False)
        )
    op.execute(
        "UPDATE loans SET interest_paid_minor = COALESCE((SELECT SUM(r.interest_minor) "
        "FROM repayments r WHERE r.loan_id = loans.id AND r.source <> 'recovery'), 0)"
    )
    op.execute("UPDATE loans SET accrued_interest_minor = interest_paid_minor")
    op.execute(
        sa.text("UPDATE accounts SET allow_overdraft = :yes WHERE code LIKE :codes").bindparams(
            yes=True, codes="scheme:%:interest_receivable"
        )
    )
    with op.batch_alter_table("credit_schemes") as batch:
        batch.add_column(sa.Column("provisioning", JSON_OBJECT, nullable=True))
    op.create_table(
        "loan_accruals",
        sa.Column("loan_id", sa.Uuid(), nullable=False),
        sa.Column("business_date", sa.Date(), nullable=False),
        sa.Column("scheme_id", sa.Uuid(), nullable=False),
        sa.Column("amount_minor", sa.BigInteger(), nullable=False),
        sa.Column("transaction_id", sa.Uuid(), nullable=True),
        sa.CheckConstraint("amount_minor <> 0", name=op.f("ck_loan_accruals_amount")),
        sa.ForeignKeyConstraint(
            ["loan_id"], ["loans.id"], name=op.f("fk_loan_accruals_loan_id_loans")
        ),
        sa.ForeignKeyConstraint(
            ["scheme_id"],
            ["credit_schemes.id"],
            name=op.f("fk_loan_accruals_scheme_id_credit_schemes"),
        ),
        sa.ForeignKeyConstraint(
            ["transaction_id"],
            ["transactions.id"],
            name=op.f("fk_loan_accruals_transaction_id_transactions"),
        ),
        sa.PrimaryKeyConstraint("loan_id", "business_date", name=op.f("pk_loan_accruals")),
    )
    op.create_index(
        "ix_loan_accruals_scheme_id_business_date",
        "loan_accruals",
        ["scheme_id", "business_date"],
    )
    op.create_table(
        "portfolio_snapshots",
        sa.Column("scheme_id", sa.Uuid(), nullable=False),
        sa.Column("business_date", sa.Date(), nullable=False),
        sa.Column("figures", JSON_OBJECT, nullable=False),
        sa.Column("created_at", TIMESTAMP, nullable=False),
        sa.ForeignKeyConstraint(
            ["scheme_id"],
            ["credit_schemes.id"],
            name=op.f("fk_portfolio_snapshots_scheme_id_credit_schemes"),
        ),
        sa.PrimaryKeyConstraint("scheme_id", "business_date", name=op.f("pk_portfolio_snapshots")),
    )
    op.create_table(
        "platform_fee_agreements",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("partner_id", sa.Uuid(), nullable=False),
        sa.Column("percent", sa.String(40), nullable=False),
        sa.Column("starts_on", sa.Date(), nullable=False),
        sa.Column("created_at", TIMESTAMP, nullable=False),
        sa.ForeignKeyConstraint(
            ["partner_id"],
            ["principals.id"],
            name=op.f("fk_platform_fee_agreements_partner_id_principals"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_platform_fee_agreements")),
        sa.UniqueConstraint(
            "partner_id", "starts_on", name=op.f("uq_platform_fee_agreements_partner_id_starts_on")
        ),
    )
    op.create_table(
        "platform_fee_charges",
        sa.Column("partner_id", sa.Uuid(), nullable=False),
        sa.Column("month", sa.Date(), nullable=False),
        sa.Column("currency", sa.String(3), nullable=False),
        sa.Column("volume_minor", sa.BigInteger(), nullable=False),
        sa.Column("percent", sa.String(40), nullable=False),
        sa.Column("fee_minor", sa.BigInteger(), nullable=False),
        sa.Column("transaction_id", sa.Uuid(), nullable=True),
        sa.Column("created_at", TIMESTAMP, nullable=False),
        sa.CheckConstraint(
            "volume_minor >= 0 AND fee_minor >= 0", name=op.f("ck_platform_fee_charges_amounts")
        ),
        sa.ForeignKeyConstraint(
            ["partner_id"],
            ["principals.id"],
            name=op.f("fk_platform_fee_charges_partner_id_principals"),
        ),
        sa.ForeignKeyConstraint(
            ["transaction_id"],
            ["transactions.id"],
            name=op.f("fk_platform_fee_charges_transaction_id_transactions"),
        ),
        sa.PrimaryKeyConstraint(
            "partner_id", "month", "currency", name=op.f("pk_platform_fee_charges")
        ),
    )


def downgrade() -> None:
    for table in (
        "platform_fee_charges",
        "platform_fee_agreements",
        "portfolio_snapshots",
        "loan_accruals",
        "job_runs",
    ):
        op.drop_table(table)
    with op.batch_alter_table("credit_schemes") as batch:
        batch.drop_column("provisioning")
    with op.batch_alter_table("loans") as batch:
        for column in (
            "delinquency_bucket",
            "days_past_due",
            "interest_paid_minor",
            "accrued_interest_minor",
        ):
            batch.drop_column(column)
