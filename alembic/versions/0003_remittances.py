"""Remittances: corridors, pricing versions, FX mid-rates, quotes, remittances, partner
liquidity, bulk imports.

What the database enforces besides the columns' CHECKs:
* corridor_pricing and fx_rates are append-only (a new price is a new row; a rate,
  once quotes were priced on it, never changes);
* quotes are never updated (expired, unused ones may be deleted);
* a remittance changes once, from reserved to completed, failed or expired, and
  only its status, resolved_at and failure_reason change; it is never deleted.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-01
"""

from collections.abc import Sequence

import sqlalchemy as sa

from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TIMESTAMP = sa.DateTime(timezone=True)
JSON_OBJECT = sa.JSON().with_variant(sa.dialects.postgresql.JSONB(), "postgresql")

#: Columns of a remittance that never change.
FIXED_REMITTANCE_COLUMNS = (
    "id",
    "partner_id",
    "partner_reference",
    "corridor_code",
    "quote_id",
    "sender_name",
    "sender_country",
    "beneficiary_customer_id",
    "beneficiary_account_id",
    "send_currency",
    "receive_currency",
    "send_minor",
    "fee_minor",
    "receive_minor",
    "mid_rate",
    "applied_rate",
    "rate_date",
    "rate_source",
    "total_cost",
    "total_cost_percent",
    "transaction_id",
    "source",
    "import_id",
    "request_hash",
    "effective_at",
    "created_at",
    "expires_at",
)


def upgrade() -> None:
    op.create_table(
        "corridors",
        sa.Column("code", sa.String(13), nullable=False),
        sa.Column("send_country", sa.String(2), nullable=False),
        sa.Column("send_currency", sa.String(3), nullable=False),
        sa.Column("receive_country", sa.String(2), nullable=False),
        sa.Column("receive_currency", sa.String(3), nullable=False),
        sa.Column("created_at", TIMESTAMP, nullable=False),
        sa.CheckConstraint(
            "send_currency <> receive_currency", name=op.f("ck_corridors_two_currencies")
        ),
        sa.CheckConstraint(
            "code = send_country || '-' || send_currency || '-' || receive_country || '-' "
            "|| receive_currency",
            name=op.f("ck_corridors_code"),
        ),
        sa.PrimaryKeyConstraint("code", name=op.f("pk_corridors")),
    )
    op.create_table(
        "corridor_pricing",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("partner_id", sa.Uuid(), nullable=False),
        sa.Column("corridor_code", sa.String(13), nullable=False),
        sa.Column("fee_schedule", JSON_OBJECT, nullable=False),
        sa.Column("fx_margin", sa.String(40), nullable=False),
        sa.Column("rate_source", sa.String(32), nullable=False),
        sa.Column("created_at", TIMESTAMP, nullable=False),
        sa.ForeignKeyConstraint(
            ["partner_id"],
            ["principals.id"],
            name=op.f("fk_corridor_pricing_partner_id_principals"),
        ),
        sa.ForeignKeyConstraint(
            ["corridor_code"],
            ["corridors.code"],
            name=op.f("fk_corridor_pricing_corridor_code_corridors"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_corridor_pricing")),
    )
    op.create_index(
        "ix_corridor_pricing_partner_id_corridor_code_created_at",
        "corridor_pricing",
        ["partner_id", "corridor_code", "created_at"],
    )
    op.create_table(
        "fx_rates",
        sa.Column("base", sa.String(3), nullable=False),
        sa.Column("quote", sa.String(3), nullable=False),
        sa.Column("source", sa.String(32), nullable=False),
        sa.Column("rate_date", sa.Date(), nullable=False),
        sa.Column("mid_rate", sa.String(40), nullable=False),
        sa.Column("created_at", TIMESTAMP, nullable=False),
        sa.CheckConstraint("base <> quote", name=op.f("ck_fx_rates_two_currencies")),
        sa.PrimaryKeyConstraint("base", "quote", "source", "rate_date", name=op.f("pk_fx_rates")),
    )
    op.create_table(
        "quotes",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("partner_id", sa.Uuid(), nullable=False),
        sa.Column("corridor_code", sa.String(13), nullable=False),
        sa.Column("pricing_id", sa.Uuid(), nullable=False),
        sa.Column("send_currency", sa.String(3), nullable=False),
        sa.Column("receive_currency", sa.String(3), nullable=False),
        sa.Column("send_minor", sa.BigInteger(), nullable=False),
        sa.Column("fee_minor", sa.BigInteger(), nullable=False),
        sa.Column("receive_minor", sa.BigInteger(), nullable=False),
        sa.Column("mid_rate", sa.String(40), nullable=False),
        sa.Column("applied_rate", sa.String(60), nullable=False),
        sa.Column("fx_margin", sa.String(40), nullable=False),
        sa.Column("rate_date", sa.Date(), nullable=False),
        sa.Column("rate_source", sa.String(32), nullable=False),
        sa.Column("total_cost", sa.String(80), nullable=False),
        sa.Column("total_cost_percent", sa.String(20), nullable=False),
        sa.Column("created_at", TIMESTAMP, nullable=False),
        sa.Column("expires_at", TIMESTAMP, nullable=False),
        sa.CheckConstraint(
            "send_minor > 0 AND fee_minor >= 0 AND receive_minor > 0",
            name=op.f("ck_quotes_amounts"),
        ),
        sa.ForeignKeyConstraint(
            ["partner_id"], ["principals.id"], name=op.f("fk_quotes_partner_id_principals")
        ),
        sa.ForeignKeyConstraint(
            ["corridor_code"], ["corridors.code"], name=op.f("fk_quotes_corridor_code_corridors")
        ),
        sa.ForeignKeyConstraint(
            ["pricing_id"],
            ["corridor_pricing.id"],
            name=op.f("fk_quotes_pricing_id_corridor_pricing"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_quotes")),
    )
    op.create_index("ix_quotes_partner_id_id", "quotes", ["partner_id", "id"])
    op.create_index("ix_quotes_expires_at", "quotes", ["expires_at"])
    op.create_table(
        "remittance_imports",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("partner_id", sa.Uuid(), nullable=False),
        sa.Column("filename", sa.String(200), nullable=False),
        sa.Column("file_sha256", sa.String(64), nullable=False),
        sa.Column("rows_total", sa.Integer(), nullable=False),
        sa.Column("accepted", sa.Integer(), nullable=False),
        sa.Column("duplicates", sa.Integer(), nullable=False),
        sa.Column("rejected", sa.Integer(), nullable=False),
        sa.Column("report", JSON_OBJECT, nullable=False),
        sa.Column("created_at", TIMESTAMP, nullable=False),
        sa.ForeignKeyConstraint(
            ["partner_id"],
            ["principals.id"],
            name=op.f("fk_remittance_imports_partner_id_principals"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_remittance_imports")),
    )
    op.create_index(
        "ix_remittance_imports_partner_id_id", "remittance_imports", ["partner_id", "id"]
    )
    op.create_table(
        "remittances",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("partner_id", sa.Uuid(), nullable=False),
        sa.Column("partner_reference", sa.String(100), nullable=False),
        sa.Column("corridor_code", sa.String(13), nullable=False),
        sa.Column("quote_id", sa.Uuid(), nullable=True),
        sa.Column("sender_name", sa.String(200), nullable=False),
        sa.Column("sender_country", sa.String(2), nullable=False),
        sa.Column("beneficiary_customer_id", sa.Uuid(), nullable=False),
        sa.Column("beneficiary_account_id", sa.BigInteger(), nullable=False),
        sa.Column("send_currency", sa.String(3), nullable=False),
        sa.Column("receive_currency", sa.String(3), nullable=False),
        sa.Column("send_minor", sa.BigInteger(), nullable=False),
        sa.Column("fee_minor", sa.BigInteger(), nullable=False),
        sa.Column("receive_minor", sa.BigInteger(), nullable=False),
        sa.Column("mid_rate", sa.String(40), nullable=False),
        sa.Column("applied_rate", sa.String(60), nullable=False),
        sa.Column("rate_date", sa.Date(), nullable=False),
        sa.Column("rate_source", sa.String(32), nullable=False),
        sa.Column("total_cost", sa.String(80), nullable=False),
        sa.Column("total_cost_percent", sa.String(20), nullable=False),
        sa.Column("status", sa.String(9), nullable=False),
        sa.Column("transaction_id", sa.Uuid(), nullable=False),
        sa.Column("source", sa.String(6), nullable=False),
        sa.Column("import_id", sa.Uuid(), nullable=True),
        sa.Column("request_hash", sa.String(64), nullable=False),
        sa.Column("effective_at", TIMESTAMP, nullable=False),
        sa.Column("created_at", TIMESTAMP, nullable=False),
        sa.Column("expires_at", TIMESTAMP, nullable=True),
        sa.Column("resolved_at", TIMESTAMP, nullable=True),
        sa.Column("failure_reason", sa.String(200), nullable=True),
        sa.CheckConstraint(
            "status IN ('reserved', 'completed', 'failed', 'expired')",
            name=op.f("ck_remittances_status"),
        ),
        sa.CheckConstraint("source IN ('api', 'import')", name=op.f("ck_remittances_source")),
        sa.CheckConstraint(
            "send_minor > 0 AND fee_minor >= 0 AND receive_minor > 0",
            name=op.f("ck_remittances_amounts"),
        ),
        sa.CheckConstraint(
            "send_currency <> receive_currency", name=op.f("ck_remittances_two_currencies")
        ),
        sa.CheckConstraint(
            "(status = 'reserved') = (resolved_at IS NULL)", name=op.f("ck_remittances_resolution")
        ),
        sa.ForeignKeyConstraint(
            ["partner_id"], ["principals.id"], name=op.f("fk_remittances_partner_id_principals")
        ),
        sa.ForeignKeyConstraint(
            ["corridor_code"],
            ["corridors.code"],
            name=op.f("fk_remittances_corridor_code_corridors"),
        ),
        sa.ForeignKeyConstraint(
            ["quote_id"], ["quotes.id"], name=op.f("fk_remittances_quote_id_quotes")
        ),
        sa.ForeignKeyConstraint(
            ["beneficiary_customer_id"],
            ["customers.id"],
            name=op.f("fk_remittances_beneficiary_customer_id_customers"),
        ),
        sa.ForeignKeyConstraint(
            ["beneficiary_account_id"],
            ["accounts.id"],
            name=op.f("fk_remittances_beneficiary_account_id_accounts"),
        ),
        sa.ForeignKeyConstraint(
            ["transaction_id"],
            ["transactions.id"],
            name=op.f("fk_remittances_transaction_id_transactions"),
        ),
        sa.ForeignKeyConstraint(
            ["import_id"],
            ["remittance_imports.id"],
            name=op.f("fk_remittances_import_id_remittance_imports"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_remittances")),
        sa.UniqueConstraint(
            "partner_id",
            "partner_reference",
            name=op.f("uq_remittances_partner_id_partner_reference"),
        ),
        sa.UniqueConstraint("quote_id", name=op.f("uq_remittances_quote_id")),
    )
    op.create_index("ix_remittances_partner_id_id", "remittances", ["partner_id", "id"])
    op.create_index(
        "ix_remittances_beneficiary_customer_id_effective_at",
        "remittances",
        ["beneficiary_customer_id", "effective_at"],
    )
    op.create_index("ix_remittances_status_expires_at", "remittances", ["status", "expires_at"])
    op.create_index(
        "ix_remittances_corridor_code_effective_at",
        "remittances",
        ["corridor_code", "effective_at"],
    )
    op.create_index("ix_remittances_transaction_id", "remittances", ["transaction_id"])
    op.create_table(
        "partner_liquidity",
        sa.Column("partner_id", sa.Uuid(), nullable=False),
        sa.Column("currency", sa.String(3), nullable=False),
        sa.Column("settlement_account_id", sa.BigInteger(), nullable=False),
        sa.Column("fee_account_id", sa.BigInteger(), nullable=False),
        sa.Column("alarm_threshold_percent", sa.Integer(), nullable=False),
        sa.Column("created_at", TIMESTAMP, nullable=False),
        sa.Column("updated_at", TIMESTAMP, nullable=False),
        sa.CheckConstraint(
            "alarm_threshold_percent BETWEEN 1 AND 100",
            name=op.f("ck_partner_liquidity_alarm_threshold_percent"),
        ),
        sa.ForeignKeyConstraint(
            ["partner_id"],
            ["principals.id"],
            name=op.f("fk_partner_liquidity_partner_id_principals"),
        ),
        sa.ForeignKeyConstraint(
            ["settlement_account_id"],
            ["accounts.id"],
            name=op.f("fk_partner_liquidity_settlement_account_id_accounts"),
        ),
        sa.ForeignKeyConstraint(
            ["fee_account_id"],
            ["accounts.id"],
            name=op.f("fk_partner_liquidity_fee_account_id_accounts"),
        ),
        sa.PrimaryKeyConstraint("partner_id", "currency", name=op.f("pk_partner_liquidity")),
        sa.UniqueConstraint(
            "settlement_account_id", name=op.f("uq_partner_liquidity_settlement_account_id")
        ),
        sa.UniqueConstraint("fee_account_id", name=op.f("uq_partner_liquidity_fee_account_id")),
    )
    triggers = (
        POSTGRESQL_TRIGGERS if op.get_bind().dialect.name == "postgresql" else SQLITE_TRIGGERS
    )
    for statement in triggers:
        op.execute(statement)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP FUNCTION IF EXISTS remittance_refuse_change() CASCADE")
        op.execute("DROP FUNCTION IF EXISTS remittance_guard_update() CASCADE")
    for table in (
        "partner_liquidity",
        "remittances",
        "remittance_imports",
        "quotes",
        "fx_rates",
        "corridor_pricing",
        "corridors",
    ):
        op.drop_table(table)


_CHANGED = " OR ".join(
    f"NEW.{column} IS DISTINCT FROM OLD.{column}" for column in FIXED_REMITTANCE_COLUMNS
)
_CHANGED_SQLITE = " OR ".join(
    f"NEW.{column} IS NOT OLD.{column}" for column in FIXED_REMITTANCE_COLUMNS
)

POSTGRESQL_TRIGGERS = [
    """
    CREATE FUNCTION remittance_refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        RAISE EXCEPTION 'remittances: % on % is refused: its rows are never changed',
            TG_OP, TG_TABLE_NAME
            USING ERRCODE = 'integrity_constraint_violation';
    END $$
    """,
    f"""
    CREATE FUNCTION remittance_guard_update() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        IF OLD.status <> 'reserved' OR NEW.status NOT IN ('completed', 'failed', 'expired')
           OR {_CHANGED} THEN
            RAISE EXCEPTION 'remittances: only a reserved remittance changes, once, to '
                'completed, failed or expired'
                USING ERRCODE = 'integrity_constraint_violation';
        END IF;
        RETURN NEW;
    END $$
    """,
    """
    CREATE TRIGGER corridor_pricing_append_only BEFORE UPDATE OR DELETE ON corridor_pricing
        FOR EACH ROW EXECUTE FUNCTION remittance_refuse_change()
    """,
    """
    CREATE TRIGGER fx_rates_append_only BEFORE UPDATE OR DELETE ON fx_rates
        FOR EACH ROW EXECUTE FUNCTION remittance_refuse_change()
    """,
    """
    CREATE TRIGGER quotes_no_update BEFORE UPDATE ON quotes
        FOR EACH ROW EXECUTE FUNCTION remittance_refuse_change()
    """,
    """
    CREATE TRIGGER remittances_guarded BEFORE UPDATE ON remittances
        FOR EACH ROW EXECUTE FUNCTION remittance_guard_update()
    """,
    """
    CREATE TRIGGER remittances_no_delete BEFORE DELETE ON remittances
        FOR EACH ROW EXECUTE FUNCTION remittance_refuse_change()
    """,
    """
    CREATE TRIGGER partner_liquidity_no_delete BEFORE DELETE ON partner_liquidity
        FOR EACH ROW EXECUTE FUNCTION remittance_refuse_change()
    """,
]

_REFUSE = "SELECT RAISE(ABORT, 'remittances: {what} is refused: its rows are never changed')"

SQLITE_TRIGGERS = [
    f"CREATE TRIGGER corridor_pricing_no_update BEFORE UPDATE ON corridor_pricing "
    f"BEGIN {_REFUSE.format(what='UPDATE on corridor_pricing')}; END",
    f"CREATE TRIGGER corridor_pricing_no_delete BEFORE DELETE ON corridor_pricing "
    f"BEGIN {_REFUSE.format(what='DELETE on corridor_pricing')}; END",
    f"CREATE TRIGGER fx_rates_no_update BEFORE UPDATE ON fx_rates "
    f"BEGIN {_REFUSE.format(what='UPDATE on fx_rates')}; END",
    f"CREATE TRIGGER fx_rates_no_delete BEFORE DELETE ON fx_rates "
    f"BEGIN {_REFUSE.format(what='DELETE on fx_rates')}; END",
    f"CREATE TRIGGER quotes_no_update BEFORE UPDATE ON quotes "
    f"BEGIN {_REFUSE.format(what='UPDATE on quotes')}; END",
    f"""
    CREATE TRIGGER remittances_guarded BEFORE UPDATE ON remittances
    WHEN OLD.status <> 'reserved' OR NEW.status NOT IN ('completed', 'failed', 'expired')
      OR {_CHANGED_SQLITE}
    BEGIN
      SELECT RAISE(ABORT, 'remittances: only a reserved remittance changes, once');
    END
    """,
    f"CREATE TRIGGER remittances_no_delete BEFORE DELETE ON remittances "
    f"BEGIN {_REFUSE.format(what='DELETE on remittances')}; END",
    f"CREATE TRIGGER partner_liquidity_no_delete BEFORE DELETE ON partner_liquidity "
    f"BEGIN {_REFUSE.format(what='DELETE on partner_liquidity')}; END",
]
