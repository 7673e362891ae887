"""Access and parties: principals, API keys, idempotent requests, customers,
partner-owned accounts; an index to list a client's transactions.

API keys store only a SHA-256 of the secret. Idempotent request records are
ordinary mutable rows (in flight, then done) and are purged after expiry.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-23
"""

from collections.abc import Sequence

import sqlalchemy as sa

from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TIMESTAMP = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "principals",
        sa.Column("id", sa.Uuid(), primary_key=True),
        sa.Column("slug", sa.String(64), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("role", sa.String(16), nullable=False),
        sa.Column("created_at", TIMESTAMP, nullable=False),
        sa.CheckConstraint(
            "role IN ('admin', 'partner', 'fund_manager')", name=op.f("ck_principals_role")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_principals")),
        sa.UniqueConstraint("slug", name=op.f("uq_principals_slug")),
    )
    op.create_table(
        "api_keys",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("principal_id", sa.Uuid(), nullable=False),
        sa.Column("label", sa.String(100), server_default="", nullable=False),
        sa.Column("secret_sha256", sa.String(64), nullable=False),
        sa.Column("created_at", TIMESTAMP, nullable=False),
        sa.Column("revoked_at", TIMESTAMP, nullable=True),
        sa.ForeignKeyConstraint(
            ["principal_id"], ["principals.id"], name=op.f("fk_api_keys_principal_id_principals")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_api_keys")),
    )
    op.create_index(op.f("ix_api_keys_principal_id"), "api_keys", ["principal_id"])
    op.create_table(
        "idempotent_requests",
        sa.Column("principal_id", sa.Uuid(), nullable=False),
        sa.Column("key", sa.String(255), nullable=False),
        sa.Column("fingerprint", sa.String(64), nullable=False),
        sa.Column("state", sa.String(9), nullable=False),
        sa.Column("response_status", sa.Integer(), nullable=True),
        sa.Column("response_body", sa.Text(), nullable=True),
        sa.Column("created_at", TIMESTAMP, nullable=False),
        sa.Column("locked_until", TIMESTAMP, nullable=False),
        sa.Column("expires_at", TIMESTAMP, nullable=False),
        sa.CheckConstraint(
            "state IN ('in_flight', 'done')", name=op.f("ck_idempotent_requests_state")
        ),
        sa.CheckConstraint(
            "(state = 'done') = (response_status IS NOT NULL AND response_body IS NOT NULL)",
            name=op.f("ck_idempotent_requests_response"),
        ),
        sa.PrimaryKeyConstraint("principal_id", "key", name=op.f("pk_idempotent_requests")),
    )
    op.create_index("ix_idempotent_requests_expires_at", "idempotent_requests", ["expires_at"])
    op.create_table(
        "customers",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("partner_id", sa.Uuid(), nullable=False),
        sa.Column("external_id", sa.String(100), nullable=False),
        sa.Column("full_name", sa.String(200), nullable=False),
        sa.Column("country", sa.String(2), nullable=False),
        sa.Column("kind", sa.String(17), nullable=False),
        sa.Column("created_at", TIMESTAMP, nullable=False),
        sa.CheckConstraint(
            "kind IN ('migrant', 'entrepreneur', 'diaspora_investor', 'sponsor')",
            name=op.f("ck_customers_kind"),
        ),
        sa.CheckConstraint("length(country) = 2", name=op.f("ck_customers_country")),
        sa.ForeignKeyConstraint(
            ["partner_id"], ["principals.id"], name=op.f("fk_customers_partner_id_principals")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_customers")),
        sa.UniqueConstraint(
            "partner_id", "external_id", name=op.f("uq_customers_partner_id_external_id")
        ),
    )
    op.create_index("ix_customers_partner_id_id", "customers", ["partner_id", "id"])
    op.create_table(
        "partner_accounts",
        sa.Column("account_id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("partner_id", sa.Uuid(), nullable=False),
        sa.Column("customer_id", sa.Uuid(), nullable=True),
        sa.ForeignKeyConstraint(
            ["account_id"], ["accounts.id"], name=op.f("fk_partner_accounts_account_id_accounts")
        ),
        sa.ForeignKeyConstraint(
            ["partner_id"],
            ["principals.id"],
            name=op.f("fk_partner_accounts_partner_id_principals"),
        ),
        sa.ForeignKeyConstraint(
            ["customer_id"],
            ["customers.id"],
            name=op.f("fk_partner_accounts_customer_id_customers"),
        ),
        sa.PrimaryKeyConstraint("account_id", name=op.f("pk_partner_accounts")),
    )
    op.create_index(
        "ix_partner_accounts_partner_id_account_id",
        "partner_accounts",
        ["partner_id", "account_id"],
    )
    op.create_index("ix_partner_accounts_customer_id", "partner_accounts", ["customer_id"])
    op.create_index("ix_transactions_client_id_id", "transactions", ["client_id", "id"])


def downgrade() -> None:
    op.drop_index("ix_transactions_client_id_id", table_name="transactions")
    op.drop_table("partner_accounts")
    op.drop_table("customers")
    op.drop_table("idempotent_requests")
    op.drop_table("api_keys")
    op.drop_table("principals")
