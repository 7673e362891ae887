"""Credit: schemes and their accounts, matching rules, contributions, loan products,
applications with their scores, loans, schedules (per version), charges, repayments.

What the database enforces besides the columns' CHECKs: a loan's schedule versions,
its charges and its repayments (with their allocations) are never updated or
deleted; a repayment's parts add up to its amount.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-01
"""

from collections.abc import Sequence

import sqlalchemy as sa

from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TIMESTAMP = sa.DateTime(timezone=True)
JSON_OBJECT = sa.JSON().with_variant(sa.dialects.postgresql.JSONB(), "postgresql")

APPEND_ONLY = ("loan_installments", "loan_charges", "repayments")


def upgrade() -> None:
    op.create_table(
        "credit_schemes",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("slug", sa.String(64), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("currency", sa.String(3), nullable=False),
        sa.Column("country", sa.String(2), nullable=False),
        sa.Column("manager_id", sa.Uuid(), nullable=False),
        sa.Column("first_loss_percent", sa.String(40), nullable=False),
        sa.Column("accounts", JSON_OBJECT, nullable=False),
        sa.Column("created_at", TIMESTAMP, nullable=False),
        sa.ForeignKeyConstraint(
            ["manager_id"], ["principals.id"], name=op.f("fk_credit_schemes_manager_id_principals")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_credit_schemes")),
        sa.UniqueConstraint("slug", name=op.f("uq_credit_schemes_slug")),
    )
    op.create_table(
        "matching_rules",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("scheme_id", sa.Uuid(), nullable=False),
        sa.Column("sponsor_name", sa.String(200), nullable=False),
        sa.Column("ratio", sa.String(40), nullable=False),
        sa.Column("cap_minor", sa.BigInteger(), nullable=False),
        sa.Column("created_at", TIMESTAMP, nullable=False),
        sa.CheckConstraint("cap_minor >= 0", name=op.f("ck_matching_rules_cap")),
        sa.ForeignKeyConstraint(
            ["scheme_id"],
            ["credit_schemes.id"],
            name=op.f("fk_matching_rules_scheme_id_credit_schemes"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_matching_rules")),
    )
    op.create_index("ix_matching_rules_scheme_id", "matching_rules", ["scheme_id"])
    op.create_table(
        "contributions",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("scheme_id", sa.Uuid(), nullable=False),
        sa.Column("kind", sa.String(10), nullable=False),
        sa.Column("reference", sa.String(100), nullable=False),
        sa.Column("investor_name", sa.String(200), nullable=False),
        sa.Column("customer_id", sa.Uuid(), nullable=True),
        sa.Column("matching_rule_id", sa.Uuid(), nullable=True),
        sa.Column("matches_id", sa.Uuid(), nullable=True),
        sa.Column("amount_minor", sa.BigInteger(), nullable=False),
        sa.Column("status", sa.String(9), nullable=False),
        sa.Column("transaction_id", sa.Uuid(), nullable=True),
        sa.Column("created_at", TIMESTAMP, nullable=False),
        sa.Column("received_at", TIMESTAMP, nullable=True),
        sa.CheckConstraint("amount_minor > 0", name=op.f("ck_contributions_amount")),
        sa.CheckConstraint(
            "kind IN ('investor', 'matching', 'first_loss')", name=op.f("ck_contributions_kind")
        ),
        sa.CheckConstraint(
            "(status = 'received') = (received_at IS NOT NULL)",
            name=op.f("ck_contributions_received"),
        ),
        sa.CheckConstraint(
            "status IN ('pledged', 'received', 'cancelled')", name=op.f("ck_contributions_status")
        ),
        sa.ForeignKeyConstraint(
            ["customer_id"], ["customers.id"], name=op.f("fk_contributions_customer_id_customers")
        ),
        sa.ForeignKeyConstraint(
            ["matches_id"],
            ["contributions.id"],
            name=op.f("fk_contributions_matches_id_contributions"),
        ),
        sa.ForeignKeyConstraint(
            ["matching_rule_id"],
            ["matching_rules.id"],
            name=op.f("fk_contributions_matching_rule_id_matching_rules"),
        ),
        sa.ForeignKeyConstraint(
            ["scheme_id"],
            ["credit_schemes.id"],
            name=op.f("fk_contributions_scheme_id_credit_schemes"),
        ),
        sa.ForeignKeyConstraint(
            ["transaction_id"],
            ["transactions.id"],
            name=op.f("fk_contributions_transaction_id_transactions"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_contributions")),
        sa.UniqueConstraint(
            "scheme_id", "reference", name=op.f("uq_contributions_scheme_id_reference")
        ),
    )
    op.create_index("ix_contributions_scheme_id_kind", "contributions", ["scheme_id", "kind"])
    op.create_table(
        "loan_products",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("scheme_id", sa.Uuid(), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("terms", JSON_OBJECT, nullable=False),
        sa.Column("created_at", TIMESTAMP, nullable=False),
        sa.ForeignKeyConstraint(
            ["scheme_id"],
            ["credit_schemes.id"],
            name=op.f("fk_loan_products_scheme_id_credit_schemes"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_loan_products")),
    )
    op.create_index("ix_loan_products_scheme_id", "loan_products", ["scheme_id"])
    op.create_table(
        "loan_applications",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("partner_id", sa.Uuid(), nullable=False),
        sa.Column("customer_id", sa.Uuid(), nullable=False),
        sa.Column("scheme_id", sa.Uuid(), nullable=False),
        sa.Column("product_id", sa.Uuid(), nullable=False),
        sa.Column("principal_minor", sa.BigInteger(), nullable=False),
        sa.Column("installments", sa.Integer(), nullable=False),
        sa.Column("purpose", sa.String(200), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("score_decision", sa.String(8), nullable=False),
        sa.Column("score", JSON_OBJECT, nullable=False),
        sa.Column("status", sa.String(9), nullable=False),
        sa.Column("decided_by", sa.Uuid(), nullable=True),
        sa.Column("decided_at", TIMESTAMP, nullable=True),
        sa.Column("decision_note", sa.String(200), nullable=True),
        sa.Column("created_at", TIMESTAMP, nullable=False),
        sa.CheckConstraint(
            "score_decision IN ('approved', 'declined', 'review')",
            name=op.f("ck_loan_applications_score"),
        ),
        sa.CheckConstraint(
            "status IN ('submitted', 'approved', 'declined', 'disbursed', 'cancelled')",
            name=op.f("ck_loan_applications_status"),
        ),
        sa.CheckConstraint(
            "principal_minor > 0 AND installments > 0", name=op.f("ck_loan_applications_terms")
        ),
        sa.ForeignKeyConstraint(
            ["customer_id"],
            ["customers.id"],
            name=op.f("fk_loan_applications_customer_id_customers"),
        ),
        sa.ForeignKeyConstraint(
            ["decided_by"],
            ["principals.id"],
            name=op.f("fk_loan_applications_decided_by_principals"),
        ),
        sa.ForeignKeyConstraint(
            ["partner_id"],
            ["principals.id"],
            name=op.f("fk_loan_applications_partner_id_principals"),
        ),
        sa.ForeignKeyConstraint(
            ["product_id"],
            ["loan_products.id"],
            name=op.f("fk_loan_applications_product_id_loan_products"),
        ),
        sa.ForeignKeyConstraint(
            ["scheme_id"],
            ["credit_schemes.id"],
            name=op.f("fk_loan_applications_scheme_id_credit_schemes"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_loan_applications")),
    )
    op.create_index("ix_loan_applications_partner_id_id", "loan_applications", ["partner_id", "id"])
    op.create_index(
        "ix_loan_applications_scheme_id_status", "loan_applications", ["scheme_id", "status"]
    )
    op.create_table(
        "loans",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("application_id", sa.Uuid(), nullable=False),
        sa.Column("scheme_id", sa.Uuid(), nullable=False),
        sa.Column("product_id", sa.Uuid(), nullable=False),
        sa.Column("partner_id", sa.Uuid(), nullable=False),
        sa.Column("customer_id", sa.Uuid(), nullable=False),
        sa.Column("borrower_account_id", sa.BigInteger(), nullable=False),
        sa.Column("currency", sa.String(3), nullable=False),
        sa.Column("principal_minor", sa.BigInteger(), nullable=False),
        sa.Column("origination_fee_minor", sa.BigInteger(), nullable=False),
        sa.Column("status", sa.String(11), nullable=False),
        sa.Column("schedule_version", sa.Integer(), nullable=False),
        sa.Column("disbursement_transaction_id", sa.Uuid(), nullable=False),
        sa.Column("sweep_percent", sa.String(40), nullable=True),
        sa.Column("sweep_cap", sa.String(11), nullable=True),
        sa.Column("disbursed_at", TIMESTAMP, nullable=False),
        sa.Column("closed_at", TIMESTAMP, nullable=True),
        sa.Column("written_off_minor", sa.BigInteger(), nullable=False),
        sa.Column("write_off_transaction_id", sa.Uuid(), nullable=True),
        sa.CheckConstraint(
            "principal_minor > 0 AND origination_fee_minor >= 0", name=op.f("ck_loans_amounts")
        ),
        sa.CheckConstraint(
            "status IN ('active', 'closed', 'written_off')", name=op.f("ck_loans_status")
        ),
        sa.CheckConstraint(
            "sweep_cap IS NULL OR sweep_cap IN ('due', 'outstanding')",
            name=op.f("ck_loans_sweep_cap"),
        ),
        sa.ForeignKeyConstraint(
            ["application_id"],
            ["loan_applications.id"],
            name=op.f("fk_loans_application_id_loan_applications"),
        ),
        sa.ForeignKeyConstraint(
            ["borrower_account_id"],
            ["accounts.id"],
            name=op.f("fk_loans_borrower_account_id_accounts"),
        ),
        sa.ForeignKeyConstraint(
            ["customer_id"], ["customers.id"], name=op.f("fk_loans_customer_id_customers")
        ),
        sa.ForeignKeyConstraint(
            ["disbursement_transaction_id"],
            ["transactions.id"],
            name=op.f("fk_loans_disbursement_transaction_id_transactions"),
        ),
        sa.ForeignKeyConstraint(
            ["write_off_transaction_id"],
            ["transactions.id"],
            name=op.f("fk_loans_write_off_transaction_id_transactions"),
        ),
        sa.ForeignKeyConstraint(
            ["partner_id"], ["principals.id"], name=op.f("fk_loans_partner_id_principals")
        ),
        sa.ForeignKeyConstraint(
            ["product_id"], ["loan_products.id"], name=op.f("fk_loans_product_id_loan_products")
        ),
        sa.ForeignKeyConstraint(
            ["scheme_id"], ["credit_schemes.id"], name=op.f("fk_loans_scheme_id_credit_schemes")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_loans")),
        sa.UniqueConstraint("application_id", name=op.f("uq_loans_application_id")),
    )
    op.create_index("ix_loans_customer_id", "loans", ["customer_id"])
    op.create_index("ix_loans_partner_id_id", "loans", ["partner_id", "id"])
    op.create_index("ix_loans_scheme_id_status", "loans", ["scheme_id", "status"])
    op.create_table(
        "loan_installments",
        sa.Column("loan_id", sa.Uuid(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("number", sa.Integer(), nullable=False),
        sa.Column("period_start", sa.Date(), nullable=False),
        sa.Column("due_date", sa.Date(), nullable=False),
        sa.Column("principal_minor", sa.BigInteger(), nullable=False),
        sa.Column("interest_minor", sa.BigInteger(), nullable=False),
        sa.Column("fee_minor", sa.BigInteger(), nullable=False),
        sa.CheckConstraint(
            "principal_minor >= 0 AND interest_minor >= 0 AND fee_minor >= 0",
            name=op.f("ck_loan_installments_amounts"),
        ),
        sa.ForeignKeyConstraint(
            ["loan_id"], ["loans.id"], name=op.f("fk_loan_installments_loan_id_loans")
        ),
        sa.PrimaryKeyConstraint("loan_id", "version", "number", name=op.f("pk_loan_installments")),
    )
    op.create_table(
        "loan_charges",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("loan_id", sa.Uuid(), nullable=False),
        sa.Column("installment_number", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(8), nullable=False),
        sa.Column("amount_minor", sa.BigInteger(), nullable=False),
        sa.Column("charged_on", sa.Date(), nullable=False),
        sa.Column("transaction_id", sa.Uuid(), nullable=False),
        sa.Column("created_at", TIMESTAMP, nullable=False),
        sa.CheckConstraint("amount_minor > 0", name=op.f("ck_loan_charges_amount")),
        sa.CheckConstraint("kind IN ('late_fee')", name=op.f("ck_loan_charges_kind")),
        sa.ForeignKeyConstraint(
            ["loan_id"], ["loans.id"], name=op.f("fk_loan_charges_loan_id_loans")
        ),
        sa.ForeignKeyConstraint(
            ["transaction_id"],
            ["transactions.id"],
            name=op.f("fk_loan_charges_transaction_id_transactions"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_loan_charges")),
        sa.UniqueConstraint(
            "loan_id",
            "installment_number",
            "kind",
            name=op.f("uq_loan_charges_loan_id_installment_number_kind"),
        ),
    )
    op.create_table(
        "repayments",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("loan_id", sa.Uuid(), nullable=False),
        sa.Column("reference", sa.String(100), nullable=False),
        sa.Column("source", sa.String(8), nullable=False),
        sa.Column("remittance_id", sa.Uuid(), nullable=True),
        sa.Column("amount_minor", sa.BigInteger(), nullable=False),
        sa.Column("principal_minor", sa.BigInteger(), nullable=False),
        sa.Column("interest_minor", sa.BigInteger(), nullable=False),
        sa.Column("fee_minor", sa.BigInteger(), nullable=False),
        sa.Column("penalty_minor", sa.BigInteger(), nullable=False),
        sa.Column("prepaid_minor", sa.BigInteger(), nullable=False),
        sa.Column("allocation", JSON_OBJECT, nullable=False),
        sa.Column("request_hash", sa.String(64), nullable=False),
        sa.Column("transaction_id", sa.Uuid(), nullable=False),
        sa.Column("effective_at", TIMESTAMP, nullable=False),
        sa.Column("created_at", TIMESTAMP, nullable=False),
        sa.CheckConstraint(
            "amount_minor = principal_minor + interest_minor + fee_minor + penalty_minor",
            name=op.f("ck_repayments_allocated"),
        ),
        sa.CheckConstraint("amount_minor > 0", name=op.f("ck_repayments_amount")),
        sa.CheckConstraint(
            "source IN ('direct', 'sweep', 'recovery')", name=op.f("ck_repayments_source")
        ),
        sa.ForeignKeyConstraint(
            ["loan_id"], ["loans.id"], name=op.f("fk_repayments_loan_id_loans")
        ),
        sa.ForeignKeyConstraint(
            ["remittance_id"],
            ["remittances.id"],
            name=op.f("fk_repayments_remittance_id_remittances"),
        ),
        sa.ForeignKeyConstraint(
            ["transaction_id"],
            ["transactions.id"],
            name=op.f("fk_repayments_transaction_id_transactions"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_repayments")),
        sa.UniqueConstraint("loan_id", "reference", name=op.f("uq_repayments_loan_id_reference")),
    )
    op.create_index("ix_repayments_loan_id_effective_at", "repayments", ["loan_id", "effective_at"])
    op.create_index("ix_repayments_remittance_id", "repayments", ["remittance_id"])

    if op.get_bind().dialect.name == "postgresql":
        op.execute(
            """
            CREATE FUNCTION credit_refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN
                RAISE EXCEPTION 'credit: % on % is refused: its rows are never changed',
                    TG_OP, TG_TABLE_NAME
                    USING ERRCODE = 'integrity_constraint_violation';
            END $$
            """
        )
        for table in APPEND_ONLY:
            op.execute(
                f"CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON {table} "
                "FOR EACH ROW EXECUTE FUNCTION credit_refuse_change()"
            )
    else:
        for table in APPEND_ONLY:
            for event in ("UPDATE", "DELETE"):
                op.execute(
                    f"CREATE TRIGGER {table}_no_{event.lower()} BEFORE {event} ON {table} "
                    f"BEGIN SELECT RAISE(ABORT, 'credit: {event} on {table} is refused: its "
                    "rows are never changed'); END"
                )


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP FUNCTION IF EXISTS credit_refuse_change() CASCADE")
    for table in (
        "repayments",
        "loan_charges",
        "loan_installments",
        "loans",
        "loan_applications",
        "loan_products",
        "contributions",
        "matching_rules",
        "credit_schemes",
    ):
        op.drop_table(table)
