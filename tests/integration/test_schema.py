"""The schema comes from migrations, agrees with the models, and guards itself."""

import re
import uuid
from datetime import UTC, datetime

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError

from ledger.db import Base
from ledger.journal import post_transaction
from ledger.migrations import current_revision, head_revision
from tests.support import cash, open_accounts, transfer, wallet

NOW = datetime(2026, 3, 1, tzinfo=UTC)


def test_models_and_migrations_agree(database):
    with database.engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        differences = compare_metadata(context, Base.metadata)
    assert differences == []


def test_database_is_at_the_head_revision(database):
    assert current_revision(database.engine) == head_revision()


def _post_one(database, clock):
    source, target = open_accounts(database, clock, cash("cash"), wallet("wallet"))
    record = database.run(
        lambda s: post_transaction(s, transfer(source.id, target.id, 500), clock=clock)
    )
    return source, target, record


def _refused(database, sql, **params):
    with pytest.raises(IntegrityError, match="journal"), database.engine.begin() as connection:
        connection.execute(text(sql), params)


def test_postings_can_be_neither_updated_nor_deleted(database, clock):
    _, _, record = _post_one(database, clock)
    tid = _id(database, record.id)
    _refused(database, "UPDATE postings SET amount_minor = 1 WHERE transaction_id = :t", t=tid)
    _refused(database, "DELETE FROM postings WHERE transaction_id = :t", t=tid)


def test_posted_transactions_cannot_change_or_disappear(database, clock):
    _, _, record = _post_one(database, clock)
    tid = _id(database, record.id)
    _refused(database, "UPDATE transactions SET status = 'voided' WHERE id = :t", t=tid)
    _refused(database, "UPDATE transactions SET description = 'x' WHERE id = :t", t=tid)
    _refused(database, "DELETE FROM transactions WHERE id = :t", t=tid)


def test_accounts_keep_their_identity_and_are_never_deleted(database, clock):
    source, _, _ = _post_one(database, clock)
    _refused(database, "UPDATE accounts SET currency = 'EUR' WHERE id = :a", a=source.id)
    _refused(database, "DELETE FROM accounts WHERE id = :a", a=source.id)


def test_balance_floor_is_a_database_check(database, clock):
    _, target, _ = _post_one(database, clock)
    with pytest.raises(IntegrityError), database.engine.begin() as connection:
        connection.execute(
            text("UPDATE accounts SET debits_posted_minor = 501 WHERE id = :a"), {"a": target.id}
        )


def _id(database, value: uuid.UUID):
    """UUIDs as the dialect stores them (SQLite: 32 hex characters)."""
    return value if database.dialect == "postgresql" else value.hex


# ------------------------------------------------------------- PostgreSQL-only triggers


def _together(connection, transaction_id, legs, *, reverses=None, effective_at=NOW):
    """Write a transaction and its postings in one statement, as the journal does."""
    values = ", ".join(
        f"(:t, {leg}, {a}, '{d}', {m}, '{c}', :e)" for leg, (a, d, m, c) in enumerate(legs)
    )
    connection.execute(
        text(
            "WITH t AS (INSERT INTO transactions (id, status, effective_at, created_at, metadata,"
            f" reverses_id, postings_count) VALUES (:t, 'posted', :e, :e, '{{}}', :r, {len(legs)}))"
            " INSERT INTO postings (transaction_id, leg, account_id, direction, amount_minor,"
            f" currency, effective_at) VALUES {values}"
        ),
        {"t": transaction_id, "e": effective_at, "r": reverses},
    )


def _postings_only(connection, transaction_id, legs, effective_at=NOW):
    values = ", ".join(
        f"(:t, {leg}, {a}, '{d}', {m}, '{c}', :e)" for leg, (a, d, m, c) in enumerate(legs)
    )
    connection.execute(
        text(
            "INSERT INTO postings (transaction_id, leg, account_id, direction, amount_minor,"
            f" currency, effective_at) VALUES {values}"
        ),
        {"t": transaction_id, "e": effective_at},
    )


def _transaction_only(connection, transaction_id, effective_at=NOW):
    connection.execute(
        text(
            "INSERT INTO transactions (id, status, effective_at, created_at, metadata,"
            " postings_count) VALUES (:t, 'posted', :e, :e, '{}', 2)"
        ),
        {"t": transaction_id, "e": effective_at},
    )


def _refused_raw(database, match, write):
    with pytest.raises(IntegrityError, match=match), database.engine.begin() as connection:
        write(connection)


@pytest.mark.postgresql
def test_postgresql_refuses_unbalanced_postings(postgres_database, clock):
    a, b = open_accounts(postgres_database, clock, cash("a"), cash("b"))
    legs = [(a.id, "debit", 5, "USD"), (b.id, "credit", 4, "USD")]
    _refused_raw(postgres_database, "does not balance", lambda c: _together(c, uuid.uuid4(), legs))


@pytest.mark.postgresql
def test_postgresql_refuses_a_single_posting(postgres_database, clock):
    (a,) = open_accounts(postgres_database, clock, cash("a"))
    legs = [(a.id, "debit", 5, "USD")]
    _refused_raw(postgres_database, "postings_count", lambda c: _together(c, uuid.uuid4(), legs))


@pytest.mark.postgresql
def test_postgresql_refuses_postings_in_another_currency_than_the_account(postgres_database, clock):
    a, b = open_accounts(postgres_database, clock, cash("a", "USD"), cash("b", "USD"))
    legs = [(a.id, "debit", 5, "EUR"), (b.id, "credit", 5, "EUR")]
    _refused_raw(postgres_database, "currency", lambda c: _together(c, uuid.uuid4(), legs))


@pytest.mark.postgresql
def test_postgresql_refuses_postings_to_a_missing_account(postgres_database, clock):
    (a,) = open_accounts(postgres_database, clock, cash("a"))
    legs = [(a.id, "debit", 5, "USD"), (987_654, "credit", 5, "USD")]
    _refused_raw(postgres_database, "is missing", lambda c: _together(c, uuid.uuid4(), legs))


@pytest.mark.postgresql
def test_postgresql_refuses_postings_without_their_transaction(postgres_database, clock):
    a, b = open_accounts(postgres_database, clock, cash("a"), cash("b"))
    legs = [(a.id, "debit", 5, "USD"), (b.id, "credit", 5, "USD")]
    _refused_raw(
        postgres_database,
        "do not match a transaction written with them",
        lambda c: _postings_only(c, uuid.uuid4(), legs),
    )


@pytest.mark.postgresql
def test_postgresql_refuses_a_transaction_without_postings(postgres_database):
    _refused_raw(postgres_database, "no postings", lambda c: _transaction_only(c, uuid.uuid4()))


@pytest.mark.postgresql
def test_postgresql_refuses_a_transaction_and_its_postings_in_separate_statements(
    postgres_database, clock
):
    a, b = open_accounts(postgres_database, clock, cash("a"), cash("b"))
    tid = uuid.uuid4()
    legs = [(a.id, "debit", 5, "USD"), (b.id, "credit", 5, "USD")]

    def in_two_statements(connection):
        _transaction_only(connection, tid)
        _postings_only(connection, tid, legs)

    _refused_raw(postgres_database, "no postings", in_two_statements)


@pytest.mark.postgresql
def test_postgresql_refuses_postings_added_to_a_recorded_transaction(postgres_database, clock):
    source, target, record = _post_one(postgres_database, clock)
    more = [(source.id, "debit", 1, "USD"), (target.id, "credit", 1, "USD")]

    def append(connection):
        connection.execute(
            text(
                "INSERT INTO postings (transaction_id, leg, account_id, direction, amount_minor,"
                " currency, effective_at) VALUES (:t, 5, :a, 'debit', 1, 'USD', :e),"
                " (:t, 6, :b, 'credit', 1, 'USD', :e)"
            ),
            {"t": record.id, "a": more[0][0], "b": more[1][0], "e": record.effective_at},
        )

    _refused_raw(postgres_database, "do not match a transaction", append)


@pytest.mark.postgresql
def test_postgresql_refuses_a_reversal_that_is_not_a_mirror(postgres_database, clock):
    source, target, record = _post_one(postgres_database, clock)
    short = [(target.id, "debit", 499, "USD"), (source.id, "credit", 499, "USD")]
    _refused_raw(
        postgres_database,
        "not the mirror",
        lambda c: _together(c, uuid.uuid4(), short, reverses=record.id),
    )


@pytest.mark.postgresql
def test_postgresql_accepts_well_formed_raw_rows_and_queues_them_for_sealing(
    postgres_database, clock
):
    a, b = open_accounts(postgres_database, clock, cash("a"), cash("b"))
    tid = uuid.uuid4()
    with postgres_database.engine.begin() as c:
        _together(c, tid, [(a.id, "debit", 5, "USD"), (b.id, "credit", 5, "USD")])
        # Keep the stored totals true to the postings so the invariants still hold.
        c.execute(text("UPDATE accounts SET debits_posted_minor = 5 WHERE id = :a"), {"a": a.id})
        c.execute(text("UPDATE accounts SET credits_posted_minor = 5 WHERE id = :b"), {"b": b.id})
    with postgres_database.engine.connect() as c:
        queued = c.execute(text("SELECT transaction_id FROM journal_seal_queue")).scalars().all()
    assert queued == [tid]


@pytest.mark.postgresql
def test_postgresql_refuses_postings_that_reuse_a_recorded_transactions_legs(
    postgres_database, clock
):
    source, target, record = _post_one(postgres_database, clock)

    def reuse(connection):
        connection.execute(
            text(
                "INSERT INTO postings (transaction_id, leg, account_id, direction, amount_minor,"
                " currency, effective_at) VALUES (:t, 0, :a, 'debit', 1, 'USD', :e),"
                " (:t, 1, :b, 'credit', 1, 'USD', :e)"
            ),
            {"t": record.id, "a": source.id, "b": target.id, "e": record.effective_at},
        )

    _refused_raw(postgres_database, "pk_postings", reuse)


@pytest.mark.postgresql
def test_postgresql_refuses_fewer_postings_than_the_transaction_declares(postgres_database, clock):
    a, b = open_accounts(postgres_database, clock, cash("a"), cash("b"))
    legs = [(a.id, "debit", 5, "USD"), (b.id, "credit", 5, "USD")]

    def short(connection):
        values = ", ".join(
            f"(:t, {leg}, {x}, '{d}', {m}, '{c}', :e)" for leg, (x, d, m, c) in enumerate(legs)
        )
        connection.execute(
            text(
                "WITH t AS (INSERT INTO transactions (id, status, effective_at, created_at,"
                " metadata, postings_count) VALUES (:t, 'posted', :e, :e, '{}', 3))"
                " INSERT INTO postings (transaction_id, leg, account_id, direction, amount_minor,"
                f" currency, effective_at) VALUES {values}"
            ),
            {"t": uuid.uuid4(), "e": NOW},
        )

    _refused_raw(postgres_database, "do not match a transaction", short)


def _declared_check_names(dialect) -> set[str]:
    from sqlalchemy.schema import CreateTable

    names = set()
    for table in Base.metadata.sorted_tables:
        ddl = str(CreateTable(table).compile(dialect=dialect))
        names |= set(re.findall(r"CONSTRAINT (ck_\w+) CHECK", ddl))
    return names


def _database_check_names(connection) -> set[str]:
    if connection.dialect.name == "postgresql":
        rows = connection.execute(
            text(
                "SELECT conname FROM pg_constraint WHERE contype = 'c'"
                " AND connamespace = 'public'::regnamespace"
            )
        )
        return {row[0] for row in rows}
    ddl = connection.execute(text("SELECT sql FROM sqlite_master WHERE type = 'table'"))
    return {name for (sql,) in ddl if sql for name in re.findall(r"CONSTRAINT (ck_\w+)", sql)}


def test_check_constraints_carry_the_models_names(database):
    """Alembic does not compare CHECK constraints; the code relies on their names."""
    with database.engine.connect() as connection:
        assert _database_check_names(connection) == _declared_check_names(connection.dialect)
