"""Payment providers: collections of contributions, providers' events by id, the
settlement items booked to clearing, payouts, reconciliation runs; contributions keep
what was returned of them (refunds, disputes).

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-02
"""

from collections.abc import Sequence

import sqlalchemy as sa

from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TIMESTAMP = sa.DateTime(timezone=True)
JSON_OBJECT = sa.JSON().with_variant(sa.dialects.postgresql.JSONB(), "postgresql")


def upgrade() -> None:
    op.create_table(
        "provider_events",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("provider", sa.String(length=20), nullable=False),
        sa.Column("external_id", sa.String(length=255), nullable=False),
        sa.Column("type", sa.String(length=100), nullable=False),
        sa.Column("status", sa.String(length=9), nullable=False),
        sa.Column("payload", JSON_OBJECT, nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("received_at", TIMESTAMP, nullable=False),
        sa.Column("processed_at", TIMESTAMP, nullable=True),
        sa.CheckConstraint(
            "status IN ('received', 'processed', 'ignored', 'failed')",
            name=op.f("ck_provider_events_status"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_provider_events")),
        sa.UniqueConstraint(
            "provider", "external_id", name=op.f("uq_provider_events_provider_external_id")
        ),
    )
    with op.batch_alter_table("provider_events", schema=None) as batch_op:
        batch_op.create_index("ix_provider_events_status", ["provider", "status"], unique=False)

    op.create_table(
        "provider_payouts",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("provider", sa.String(length=20), nullable=False),
        sa.Column("external_id", sa.String(length=255), nullable=False),
        sa.Column("amount_minor", sa.BigInteger(), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("transactions", JSON_OBJECT, nullable=False),
        sa.Column("unattributed_minor", sa.BigInteger(), nullable=False),
        sa.Column("paid_at", TIMESTAMP, nullable=False),
        sa.Column("booked_at", TIMESTAMP, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_provider_payouts")),
        sa.UniqueConstraint(
            "provider", "external_id", name=op.f("uq_provider_payouts_provider_external_id")
        ),
    )
    op.create_table(
        "payout_items",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("payout_id", sa.Uuid(), nullable=False),
        sa.Column("provider", sa.String(length=20), nullable=False),
        sa.Column("external_id", sa.String(length=255), nullable=False),
        sa.Column("kind", sa.String(length=30), nullable=False),
        sa.Column("source_id", sa.String(length=255), nullable=False),
        sa.Column("net_minor", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["payout_id"],
            ["provider_payouts.id"],
            name=op.f("fk_payout_items_payout_id_provider_payouts"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_payout_items")),
        sa.UniqueConstraint(
            "provider", "external_id", name=op.f("uq_payout_items_provider_external_id")
        ),
    )
    op.create_table(
        "reconciliation_runs",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("provider", sa.String(length=20), nullable=False),
        sa.Column("payout_external_id", sa.String(length=255), nullable=False),
        sa.Column("discrepancies", sa.Integer(), nullable=False),
        sa.Column("report", JSON_OBJECT, nullable=False),
        sa.Column("ran_at", TIMESTAMP, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_reconciliation_runs")),
    )
    with op.batch_alter_table("reconciliation_runs", schema=None) as batch_op:
        batch_op.create_index(
            "ix_reconciliation_runs_payout",
            ["provider", "payout_external_id", "ran_at"],
            unique=False,
        )

    op.create_table(
        "payment_collections",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("provider", sa.String(length=20), nullable=False),
        sa.Column("scheme_id", sa.Uuid(), nullable=False),
        sa.Column("contribution_id", sa.Uuid(), nullable=False),
        sa.Column("external_id", sa.String(length=255), nullable=False),
        sa.Column("amount_minor", sa.BigInteger(), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("status", sa.String(length=9), nullable=False),
        sa.Column("created_at", TIMESTAMP, nullable=False),
        sa.Column("succeeded_at", TIMESTAMP, nullable=True),
        sa.CheckConstraint(
            "status IN ('open', 'succeeded')", name=op.f("ck_payment_collections_status")
        ),
        sa.CheckConstraint("amount_minor > 0", name=op.f("ck_payment_collections_amount")),
        sa.ForeignKeyConstraint(
            ["contribution_id"],
            ["contributions.id"],
            name=op.f("fk_payment_collections_contribution_id_contributions"),
        ),
        sa.ForeignKeyConstraint(
            ["scheme_id"],
            ["credit_schemes.id"],
            name=op.f("fk_payment_collections_scheme_id_credit_schemes"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_payment_collections")),
        sa.UniqueConstraint(
            "provider",
            "contribution_id",
            name=op.f("uq_payment_collections_provider_contribution_id"),
        ),
        sa.UniqueConstraint(
            "provider", "external_id", name=op.f("uq_payment_collections_provider_external_id")
        ),
    )
    op.create_table(
        "settlement_items",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("provider", sa.String(length=20), nullable=False),
        sa.Column("external_id", sa.String(length=255), nullable=False),
        sa.Column("kind", sa.String(length=30), nullable=False),
        sa.Column("source_id", sa.String(length=255), nullable=False),
        sa.Column("collection_id", sa.Uuid(), nullable=False),
        sa.Column("scheme_id", sa.Uuid(), nullable=False),
        sa.Column("amount_minor", sa.BigInteger(), nullable=False),
        sa.Column("fee_minor", sa.BigInteger(), nullable=False),
        sa.Column("net_minor", sa.BigInteger(), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("available_on", TIMESTAMP, nullable=False),
        sa.Column("payout_id", sa.Uuid(), nullable=True),
        sa.Column("transaction_id", sa.Uuid(), nullable=False),
        sa.Column("created_at", TIMESTAMP, nullable=False),
        sa.CheckConstraint(
            "net_minor = amount_minor - fee_minor", name=op.f("ck_settlement_items_net")
        ),
        sa.ForeignKeyConstraint(
            ["collection_id"],
            ["payment_collections.id"],
            name=op.f("fk_settlement_items_collection_id_payment_collections"),
        ),
        sa.ForeignKeyConstraint(
            ["payout_id"],
            ["provider_payouts.id"],
            name=op.f("fk_settlement_items_payout_id_provider_payouts"),
        ),
        sa.ForeignKeyConstraint(
            ["scheme_id"],
            ["credit_schemes.id"],
            name=op.f("fk_settlement_items_scheme_id_credit_schemes"),
        ),
        sa.ForeignKeyConstraint(
            ["transaction_id"],
            ["transactions.id"],
            name=op.f("fk_settlement_items_transaction_id_transactions"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_settlement_items")),
        sa.UniqueConstraint(
            "provider", "external_id", name=op.f("uq_settlement_items_provider_external_id")
        ),
    )
    with op.batch_alter_table("settlement_items", schema=None) as batch_op:
        batch_op.create_index("ix_settlement_items_collection_id", ["collection_id"], unique=False)
        batch_op.create_index("ix_settlement_items_payout_id", ["payout_id"], unique=False)

    with op.batch_alter_table("contributions", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("returned_minor", sa.BigInteger(), server_default="0", nullable=False)
        )
        batch_op.create_check_constraint(
            op.f("ck_contributions_returned"), "returned_minor BETWEEN 0 AND amount_minor"
        )


def downgrade() -> None:
    with op.batch_alter_table("contributions", schema=None) as batch_op:
        batch_op.drop_constraint(op.f("ck_contributions_returned"), type_="check")
        batch_op.drop_column("returned_minor")

    with op.batch_alter_table("settlement_items", schema=None) as batch_op:
        batch_op.drop_index("ix_settlement_items_payout_id")
        batch_op.drop_index("ix_settlement_items_collection_id")

    op.drop_table("settlement_items")
    op.drop_table("payment_collections")
    with op.batch_alter_table("reconciliation_runs", schema=None) as batch_op:
        batch_op.drop_index("ix_reconciliation_runs_payout")

    op.drop_table("reconciliation_runs")
    op.drop_table("payout_items")
    op.drop_table("provider_payouts")
    with op.batch_alter_table("provider_events", schema=None) as batch_op:
        batch_op.drop_index("ix_provider_events_status")

    op.drop_table("provider_events")
