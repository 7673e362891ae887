"""Journal: accounts, transactions, postings, seals; constraints and triggers.

The database enforces what ``ledger.journal.engine`` checks in code:

PostgreSQL -- statement-level triggers, so a 1,000-transaction batch costs a
few queries, not thousands. The journal writes a transaction's row and its
postings in one statement (writable CTEs); both triggers run after it, see
both, and check:
* postings: debits = credits per currency; the account exists and holds the
  posting's currency; the transaction exists with the same effective_at; it
  arrived with exactly ``postings_count`` postings numbered below that count.
  As (transaction_id, leg) is the primary key, no posting can be added to a
  transaction afterwards: every free leg number is at least the count.
  Postings are never updated or deleted.
* transactions: every new row has postings; a reversal mirrors the posted
  transaction it reverses; only pending rows change, and only to posted or
  voided; never deleted; posted rows join the seal queue.
These replace per-row foreign keys on postings (accounts and transactions are
never deleted, so existence at insert time is existence forever).
* accounts: balance floor CHECK; code, type and currency never change; never
  deleted.
* seals: never updated or deleted.

The checking functions run with sequential scans and hash/merge joins priced
out: each check must be an index probe per inserted row, whatever the journal's
size. (Left to itself, with LIMIT 1 and young statistics, the planner would
sometimes scan every posting on every insert.)

SQLite -- row triggers for append-only postings and seals, the transaction
status rule, the seal queue, and the same CHECK constraints; the balance and
currency checks of postings are code-only there.

Revision ID: 0001
Revises:
Create Date: 2026-11-23
"""

from collections.abc import Sequence

import sqlalchemy as sa

from alembic import op

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BIGINT_KEY = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
JSON_OBJECT = sa.JSON().with_variant(sa.dialects.postgresql.JSONB(), "postgresql")
TIMESTAMP = sa.DateTime(timezone=True)
GENESIS_HASH = "0" * 64

AVAILABLE = (
    "CASE WHEN type IN ('asset', 'expense') "
    "THEN CAST(debits_posted_minor AS NUMERIC) - credits_posted_minor - credits_pending_minor "
    "ELSE CAST(credits_posted_minor AS NUMERIC) - debits_posted_minor - debits_pending_minor END"
)
FLOOR = "CASE WHEN allow_overdraft THEN -overdraft_limit_minor ELSE 0 END"


def upgrade() -> None:
    op.create_table(
        "accounts",
        sa.Column("id", BIGINT_KEY, primary_key=True, autoincrement=True),
        sa.Column("code", sa.String(200), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("type", sa.String(10), nullable=False),
        sa.Column("currency", sa.String(3), nullable=False),
        sa.Column("owner_reference", sa.String(200), nullable=True),
        sa.Column("allow_overdraft", sa.Boolean(), server_default=sa.text("false"), nullable=False),
        sa.Column("overdraft_limit_minor", sa.BigInteger(), nullable=True),
        sa.Column("metadata", JSON_OBJECT, nullable=False),
        sa.Column("created_at", TIMESTAMP, nullable=False),
        sa.Column("closed_at", TIMESTAMP, nullable=True),
        sa.Column(
            "debits_posted_minor", sa.BigInteger(), server_default=sa.text("0"), nullable=False
        ),
        sa.Column(
            "credits_posted_minor", sa.BigInteger(), server_default=sa.text("0"), nullable=False
        ),
        sa.Column(
            "debits_pending_minor", sa.BigInteger(), server_default=sa.text("0"), nullable=False
        ),
        sa.Column(
            "credits_pending_minor", sa.BigInteger(), server_default=sa.text("0"), nullable=False
        ),
        sa.PrimaryKeyConstraint("id", name="pk_accounts"),
        sa.UniqueConstraint("code", name="uq_accounts_code"),
        sa.CheckConstraint(
            "type IN ('asset', 'liability', 'equity', 'income', 'expense')",
            name=op.f("ck_accounts_type"),
        ),
        sa.CheckConstraint("length(currency) = 3", name=op.f("ck_accounts_currency")),
        sa.CheckConstraint(
            "overdraft_limit_minor IS NULL OR (allow_overdraft AND overdraft_limit_minor >= 0)",
            name=op.f("ck_accounts_overdraft_limit"),
        ),
        sa.CheckConstraint(
            "debits_posted_minor >= 0 AND credits_posted_minor >= 0 "
            "AND debits_pending_minor >= 0 AND credits_pending_minor >= 0",
            name=op.f("ck_accounts_totals_non_negative"),
        ),
        sa.CheckConstraint(f"{AVAILABLE} >= {FLOOR}", name=op.f("ck_accounts_balance_floor")),
    )
    op.create_index("ix_accounts_owner_reference", "accounts", ["owner_reference"])

    op.create_table(
        "transactions",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("client_id", sa.String(64), server_default="", nullable=False),
        sa.Column("idempotency_key", sa.String(255), nullable=True),
        sa.Column("request_hash", sa.String(64), nullable=True),
        sa.Column("description", sa.String(500), server_default="", nullable=False),
        sa.Column("status", sa.String(8), nullable=False),
        sa.Column("effective_at", TIMESTAMP, nullable=False),
        sa.Column("created_at", TIMESTAMP, nullable=False),
        sa.Column("expires_at", TIMESTAMP, nullable=True),
        sa.Column("resolved_at", TIMESTAMP, nullable=True),
        sa.Column("reverses_id", sa.Uuid(), nullable=True),
        sa.Column("pending_id", sa.Uuid(), nullable=True),
        sa.Column("metadata", JSON_OBJECT, nullable=False),
        sa.Column("postings_count", sa.SmallInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_transactions"),
        sa.ForeignKeyConstraint(
            ["reverses_id"], ["transactions.id"], name="fk_transactions_reverses_id_transactions"
        ),
        sa.ForeignKeyConstraint(
            ["pending_id"], ["transactions.id"], name="fk_transactions_pending_id_transactions"
        ),
        sa.CheckConstraint(
            "status IN ('pending', 'posted', 'voided')", name=op.f("ck_transactions_status")
        ),
        sa.CheckConstraint(
            "postings_count >= 2 AND postings_count <= 64",
            name=op.f("ck_transactions_postings_count"),
        ),
        sa.CheckConstraint(
            "(idempotency_key IS NULL) = (request_hash IS NULL)",
            name=op.f("ck_transactions_idempotency_hash"),
        ),
        sa.CheckConstraint(
            "reverses_id IS NULL OR status = 'posted'", name=op.f("ck_transactions_reversal_posted")
        ),
        sa.CheckConstraint(
            "pending_id IS NULL OR status = 'posted'", name=op.f("ck_transactions_capture_posted")
        ),
    )
    for name, columns, present in (
        (
            "uq_transactions_client_id_idempotency_key",
            ["client_id", "idempotency_key"],
            "idempotency_key",
        ),
        ("uq_transactions_reverses_id", ["reverses_id"], "reverses_id"),
        ("uq_transactions_pending_id", ["pending_id"], "pending_id"),
    ):
        condition = sa.text(f"{present} IS NOT NULL")
        op.create_index(
            name,
            "transactions",
            columns,
            unique=True,
            postgresql_where=condition,
            sqlite_where=condition,
        )
    op.create_index(
        "ix_transactions_pending_expires_at",
        "transactions",
        ["expires_at"],
        postgresql_where=sa.text("status = 'pending'"),
        sqlite_where=sa.text("status = 'pending'"),
    )

    op.create_table(
        "postings",
        sa.Column("transaction_id", sa.Uuid(), nullable=False),
        sa.Column("leg", sa.SmallInteger(), autoincrement=False, nullable=False),
        sa.Column("account_id", sa.BigInteger(), nullable=False),
        sa.Column("direction", sa.String(6), nullable=False),
        sa.Column("amount_minor", sa.BigInteger(), nullable=False),
        sa.Column("currency", sa.String(3), nullable=False),
        sa.Column("effective_at", TIMESTAMP, nullable=False),
        sa.PrimaryKeyConstraint("transaction_id", "leg", name="pk_postings"),
        sa.CheckConstraint("direction IN ('debit', 'credit')", name=op.f("ck_postings_direction")),
        sa.CheckConstraint("amount_minor > 0", name=op.f("ck_postings_amount_positive")),
        sa.CheckConstraint("leg >= 0 AND leg < 64", name=op.f("ck_postings_leg")),
    )
    op.create_index(
        "ix_postings_account_id_effective_at",
        "postings",
        ["account_id", "effective_at", "transaction_id", "leg"],
    )

    op.create_table(
        "journal_seal_queue",
        sa.Column("transaction_id", sa.Uuid(), nullable=False),
        sa.PrimaryKeyConstraint("transaction_id", name="pk_journal_seal_queue"),
    )
    op.create_table(
        "journal_seals",
        sa.Column("sequence", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("transaction_id", sa.Uuid(), nullable=False),
        sa.Column("previous_hash", sa.String(64), nullable=False),
        sa.Column("hash", sa.String(64), nullable=False),
        sa.Column("sealed_at", TIMESTAMP, nullable=False),
        sa.PrimaryKeyConstraint("sequence", name="pk_journal_seals"),
        sa.ForeignKeyConstraint(
            ["transaction_id"],
            ["transactions.id"],
            name="fk_journal_seals_transaction_id_transactions",
        ),
        sa.UniqueConstraint("transaction_id", name="uq_journal_seals_transaction_id"),
    )
    op.create_table(
        "journal_seal_head",
        sa.Column("id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("sequence", sa.BigInteger(), nullable=False),
        sa.Column("hash", sa.String(64), nullable=False),
        sa.Column("sealed_at", TIMESTAMP, nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_journal_seal_head"),
        sa.CheckConstraint("id = 1", name=op.f("ck_journal_seal_head_single_row")),
    )
    op.execute(
        f"INSERT INTO journal_seal_head (id, sequence, hash) VALUES (1, 0, '{GENESIS_HASH}')"
    )

    if op.get_bind().dialect.name == "postgresql":
        for statement in POSTGRESQL_TRIGGERS:
            op.execute(statement)
    else:
        for statement in SQLITE_TRIGGERS:
            op.execute(statement)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        for function in (
            "journal_refuse_change",
            "journal_check_postings",
            "journal_check_transactions",
            "journal_guard_transaction_update",
            "journal_queue_resolved",
            "journal_guard_account_identity",
        ):
            op.execute(f"DROP FUNCTION IF EXISTS {function}() CASCADE")
        op.execute(
            "DROP FUNCTION IF EXISTS journal_add_totals(bigint[], bigint[], bigint[], bigint[], "
            "bigint[])"
        )
    for table in (
        "journal_seal_head",
        "journal_seals",
        "journal_seal_queue",
        "postings",
        "transactions",
        "accounts",
    ):
        op.drop_table(table)


POSTGRESQL_TRIGGERS = [
    """
    CREATE FUNCTION journal_refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        RAISE EXCEPTION 'journal: % on % is refused: the journal is append-only',
            TG_OP, TG_TABLE_NAME
            USING ERRCODE = 'integrity_constraint_violation';
    END $$
    """,
    # Postings: checked per statement, all of a transaction's postings together.
    """
    CREATE FUNCTION journal_check_postings() RETURNS trigger LANGUAGE plpgsql
    SET enable_seqscan = off SET enable_hashjoin = off SET enable_mergejoin = off AS $$
    DECLARE
        found record;
    BEGIN
        WITH per_transaction AS (
            SELECT transaction_id, count(*) AS legs, max(leg) AS last_leg,
                   min(effective_at) AS first_at, max(effective_at) AS last_at
              FROM inserted GROUP BY transaction_id
        )
        SELECT
            (SELECT n.transaction_id FROM per_transaction n
               LEFT JOIN transactions t ON t.id = n.transaction_id
              WHERE t.id IS NULL OR n.legs <> t.postings_count
                 OR n.last_leg >= t.postings_count
                 OR n.first_at <> t.effective_at OR n.last_at <> t.effective_at
              LIMIT 1) AS unattached,
            (SELECT transaction_id FROM inserted GROUP BY transaction_id, currency
              HAVING sum(CASE WHEN direction = 'debit' THEN amount_minor::numeric
                              ELSE -amount_minor::numeric END) <> 0 LIMIT 1) AS unbalanced,
            (SELECT u.account_id FROM (SELECT DISTINCT account_id, currency FROM inserted) u
               LEFT JOIN accounts a ON a.id = u.account_id
              WHERE a.currency IS DISTINCT FROM u.currency OR a.closed_at IS NOT NULL
              LIMIT 1) AS mismatched
        INTO found;
        IF found.unattached IS NOT NULL THEN
            RAISE EXCEPTION 'journal: postings of % do not match a transaction written with '
                'them (its postings_count, legs or effective_at)', found.unattached
                USING ERRCODE = 'integrity_constraint_violation';
        END IF;
        IF found.unbalanced IS NOT NULL THEN
            RAISE EXCEPTION 'journal: transaction % does not balance', found.unbalanced
                USING ERRCODE = 'integrity_constraint_violation';
        END IF;
        IF found.mismatched IS NOT NULL THEN
            RAISE EXCEPTION 'journal: account % is missing, closed, or does not hold the '
                'posting''s currency', found.mismatched
                USING ERRCODE = 'integrity_constraint_violation',
                      CONSTRAINT = 'journal_posting_account';
        END IF;
        RETURN NULL;
    END $$
    """,
    """
    CREATE TRIGGER postings_checked AFTER INSERT ON postings
        REFERENCING NEW TABLE AS inserted
        FOR EACH STATEMENT EXECUTE FUNCTION journal_check_postings()
    """,
    # Balance changes are added, never overwritten, and applied to accounts in
    # ascending id order: a nested loop over the sorted ids, so concurrent
    # writers lock accounts in one global order and cannot deadlock. PL/pgSQL
    # rather than SQL: it keeps the plan between calls.
    """
    CREATE FUNCTION journal_add_totals(
        ids bigint[], debits_posted bigint[], credits_posted bigint[],
        debits_pending bigint[], credits_pending bigint[]
    ) RETURNS void LANGUAGE plpgsql
    SET enable_seqscan = off SET enable_hashjoin = off SET enable_mergejoin = off AS $$
    BEGIN
        UPDATE accounts AS a SET
            debits_posted_minor = a.debits_posted_minor + v.debits_posted,
            credits_posted_minor = a.credits_posted_minor + v.credits_posted,
            debits_pending_minor = a.debits_pending_minor + v.debits_pending,
            credits_pending_minor = a.credits_pending_minor + v.credits_pending
        FROM unnest(ids, debits_posted, credits_posted, debits_pending, credits_pending)
            AS v(id, debits_posted, credits_posted, debits_pending, credits_pending)
        WHERE a.id = v.id;
    END
    $$
    """,
    """
    CREATE TRIGGER postings_append_only BEFORE UPDATE OR DELETE ON postings
        FOR EACH ROW EXECUTE FUNCTION journal_refuse_change()
    """,
    """
    CREATE TRIGGER postings_no_truncate BEFORE TRUNCATE ON postings
        FOR EACH STATEMENT EXECUTE FUNCTION journal_refuse_change()
    """,
    # Transactions: new rows must come with their postings (inserted just before).
    """
    CREATE FUNCTION journal_check_transactions() RETURNS trigger LANGUAGE plpgsql
    SET enable_seqscan = off SET enable_hashjoin = off SET enable_mergejoin = off AS $$
    DECLARE
        found record;
    BEGIN
        SELECT
            (SELECT i.id FROM inserted i
              WHERE NOT EXISTS (SELECT 1 FROM postings p WHERE p.transaction_id = i.id)
              LIMIT 1) AS bare,
            (SELECT i.id FROM inserted i JOIN transactions o ON o.id = i.reverses_id
              WHERE o.status <> 'posted' LIMIT 1) AS reverses_unposted,
            (SELECT i.id FROM inserted i
              WHERE i.reverses_id IS NOT NULL AND EXISTS (
                (SELECT account_id, CASE direction WHEN 'debit' THEN 'credit' ELSE 'debit' END,
                        amount_minor, currency
                   FROM postings WHERE transaction_id = i.reverses_id
                 EXCEPT ALL
                 SELECT account_id, direction, amount_minor, currency
                   FROM postings WHERE transaction_id = i.id)
                UNION ALL
                (SELECT account_id, direction, amount_minor, currency
                   FROM postings WHERE transaction_id = i.id
                 EXCEPT ALL
                 SELECT account_id, CASE direction WHEN 'debit' THEN 'credit' ELSE 'debit' END,
                        amount_minor, currency
                   FROM postings WHERE transaction_id = i.reverses_id))
              LIMIT 1) AS not_mirror
        INTO found;
        IF found.bare IS NOT NULL THEN
            RAISE EXCEPTION 'journal: transaction % has no postings', found.bare
                USING ERRCODE = 'integrity_constraint_violation';
        END IF;
        IF found.reverses_unposted IS NOT NULL THEN
            RAISE EXCEPTION 'journal: % reverses a transaction that is not posted',
                found.reverses_unposted USING ERRCODE = 'integrity_constraint_violation';
        END IF;
        IF found.not_mirror IS NOT NULL THEN
            RAISE EXCEPTION 'journal: % is not the mirror of the transaction it reverses',
                found.not_mirror USING ERRCODE = 'integrity_constraint_violation';
        END IF;
        INSERT INTO journal_seal_queue (transaction_id)
            SELECT id FROM inserted WHERE status = 'posted';
        RETURN NULL;
    END $$
    """,
    """
    CREATE TRIGGER transactions_checked AFTER INSERT ON transactions
        REFERENCING NEW TABLE AS inserted
        FOR EACH STATEMENT EXECUTE FUNCTION journal_check_transactions()
    """,
    """
    CREATE FUNCTION journal_guard_transaction_update() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        IF OLD.status <> 'pending' THEN
            RAISE EXCEPTION 'journal: transaction % is %; it can no longer change',
                OLD.id, OLD.status
                USING ERRCODE = 'integrity_constraint_violation';
        END IF;
        IF NEW.status NOT IN ('posted', 'voided') THEN
            RAISE EXCEPTION 'journal: a pending transaction only becomes posted or voided'
                USING ERRCODE = 'integrity_constraint_violation';
        END IF;
        IF (NEW.id, NEW.client_id, NEW.idempotency_key, NEW.request_hash, NEW.description,
            NEW.effective_at, NEW.created_at, NEW.expires_at, NEW.reverses_id, NEW.pending_id,
            NEW.metadata)
           IS DISTINCT FROM
           (OLD.id, OLD.client_id, OLD.idempotency_key, OLD.request_hash, OLD.description,
            OLD.effective_at, OLD.created_at, OLD.expires_at, OLD.reverses_id, OLD.pending_id,
            OLD.metadata) THEN
            RAISE EXCEPTION 'journal: only status and resolved_at of a pending transaction change'
                USING ERRCODE = 'integrity_constraint_violation';
        END IF;
        RETURN NEW;
    END $$
    """,
    """
    CREATE TRIGGER transactions_guarded BEFORE UPDATE ON transactions
        FOR EACH ROW EXECUTE FUNCTION journal_guard_transaction_update()
    """,
    """
    CREATE FUNCTION journal_queue_resolved() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        INSERT INTO journal_seal_queue (transaction_id)
            SELECT id FROM resolved WHERE status = 'posted';
        RETURN NULL;
    END $$
    """,
    """
    CREATE TRIGGER transactions_posted_queued AFTER UPDATE ON transactions
        REFERENCING NEW TABLE AS resolved
        FOR EACH STATEMENT EXECUTE FUNCTION journal_queue_resolved()
    """,
    """
    CREATE TRIGGER transactions_no_delete BEFORE DELETE ON transactions
        FOR EACH ROW EXECUTE FUNCTION journal_refuse_change()
    """,
    """
    CREATE TRIGGER transactions_no_truncate BEFORE TRUNCATE ON transactions
        FOR EACH STATEMENT EXECUTE FUNCTION journal_refuse_change()
    """,
    """
    CREATE FUNCTION journal_guard_account_identity() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        IF (NEW.id, NEW.code, NEW.type, NEW.currency) IS DISTINCT FROM
           (OLD.id, OLD.code, OLD.type, OLD.currency) THEN
            RAISE EXCEPTION 'journal: account % keeps its id, code, type and currency', OLD.id
                USING ERRCODE = 'integrity_constraint_violation';
        END IF;
        RETURN NEW;
    END $$
    """,
    # Fires only when one of these columns is in the SET list, never on balance updates.
    """
    CREATE TRIGGER accounts_identity_fixed BEFORE UPDATE OF id, code, type, currency ON accounts
        FOR EACH ROW EXECUTE FUNCTION journal_guard_account_identity()
    """,
    """
    CREATE TRIGGER accounts_no_delete BEFORE DELETE ON accounts
        FOR EACH ROW EXECUTE FUNCTION journal_refuse_change()
    """,
    """
    CREATE TRIGGER accounts_no_truncate BEFORE TRUNCATE ON accounts
        FOR EACH STATEMENT EXECUTE FUNCTION journal_refuse_change()
    """,
    """
    CREATE TRIGGER seals_append_only BEFORE UPDATE OR DELETE ON journal_seals
        FOR EACH ROW EXECUTE FUNCTION journal_refuse_change()
    """,
    """
    CREATE TRIGGER seals_no_truncate BEFORE TRUNCATE ON journal_seals
        FOR EACH STATEMENT EXECUTE FUNCTION journal_refuse_change()
    """,
]

_REFUSE = "SELECT RAISE(ABORT, 'journal: {what} is refused: the journal is append-only')"

SQLITE_TRIGGERS = [
    f"CREATE TRIGGER postings_no_update BEFORE UPDATE ON postings "
    f"BEGIN {_REFUSE.format(what='UPDATE on postings')}; END",
    f"CREATE TRIGGER postings_no_delete BEFORE DELETE ON postings "
    f"BEGIN {_REFUSE.format(what='DELETE on postings')}; END",
    f"CREATE TRIGGER transactions_no_delete BEFORE DELETE ON transactions "
    f"BEGIN {_REFUSE.format(what='DELETE on transactions')}; END",
    """
    CREATE TRIGGER transactions_guarded BEFORE UPDATE ON transactions
    WHEN OLD.status <> 'pending' OR NEW.status NOT IN ('posted', 'voided')
      OR NEW.id IS NOT OLD.id OR NEW.client_id IS NOT OLD.client_id
      OR NEW.idempotency_key IS NOT OLD.idempotency_key
      OR NEW.request_hash IS NOT OLD.request_hash OR NEW.description IS NOT OLD.description
      OR NEW.effective_at IS NOT OLD.effective_at OR NEW.created_at IS NOT OLD.created_at
      OR NEW.expires_at IS NOT OLD.expires_at OR NEW.reverses_id IS NOT OLD.reverses_id
      OR NEW.pending_id IS NOT OLD.pending_id OR NEW.metadata IS NOT OLD.metadata
    BEGIN
      SELECT RAISE(ABORT, 'journal: only a pending transaction changes, to posted or voided');
    END
    """,
    """
    CREATE TRIGGER transactions_posted_queued_on_insert AFTER INSERT ON transactions
    WHEN NEW.status = 'posted'
    BEGIN INSERT INTO journal_seal_queue (transaction_id) VALUES (NEW.id); END
    """,
    """
    CREATE TRIGGER transactions_posted_queued_on_update AFTER UPDATE OF status ON transactions
    WHEN NEW.status = 'posted' AND OLD.status <> 'posted'
    BEGIN INSERT INTO journal_seal_queue (transaction_id) VALUES (NEW.id); END
    """,
    """
    CREATE TRIGGER accounts_identity_fixed BEFORE UPDATE OF id, code, type, currency ON accounts
    WHEN NEW.id IS NOT OLD.id OR NEW.code IS NOT OLD.code OR NEW.type IS NOT OLD.type
      OR NEW.currency IS NOT OLD.currency
    BEGIN SELECT RAISE(ABORT, 'journal: an account keeps its id, code, type and currency'); END
    """,
    f"CREATE TRIGGER accounts_no_delete BEFORE DELETE ON accounts "
    f"BEGIN {_REFUSE.format(what='DELETE on accounts')}; END",
    f"CREATE TRIGGER seals_no_update BEFORE UPDATE ON journal_seals "
    f"BEGIN {_REFUSE.format(what='UPDATE on journal_seals')}; END",
    f"CREATE TRIGGER seals_no_delete BEFORE DELETE ON journal_seals "
    f"BEGIN {_REFUSE.format(what='DELETE on journal_seals')}; END",
]
