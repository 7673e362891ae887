"""The schema comes from migrations, agrees with the models, and guards itself."""

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


def _insert_raw(connection, transaction_id, legs, status="posted", effective_at=NOW):
    for leg, (account_id, direction, amount, currency) in enumerate(legs):
        connection.execute(
            text(
                "INSERT INTO postings (transaction_id, leg, account_id, direction, amount_minor,"
                " currency, effective_at) VALUES (:t, :leg, :a, :d, :m, :c, :e)"
            ),
            {
                "t": transaction_id,
                "leg": leg,
                "a": account_id,
                "d": direction,
                "m": amount,
                "c": currency,
                "e": effective_at,
            },
        )


def _insert_all_legs(connection, transaction_id, legs, effective_at=NOW):
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


def _insert_transaction(connection, transaction_id, status="posted", effective_at=NOW):
    connection.execute(
        text(
            "INSERT INTO transactions (id, status, effective_at, created_at, metadata)"
            " VALUES (:t, :s, :e, :e, '{}')"
        ),
        {"t": transaction_id, "s": status, "e": effective_at},
    )


@pytest.mark.postgresql
def test_postgresql_refuses_unbalanced_postings(postgres_database, clock):
    a, b = open_accounts(postgres_database, clock, cash("a"), cash("b"))
    with (
        pytest.raises(IntegrityError, match="does not balance"),
        postgres_database.engine.begin() as c,
    ):
        _insert_all_legs(c, uuid.uuid4(), [(a.id, "debit", 5, "USD"), (b.id, "credit", 4, "USD")])


@pytest.mark.postgresql
def test_postgresql_refuses_a_single_posting(postgres_database, clock):
    (a,) = open_accounts(postgres_database, clock, cash("a"))
    with (
        pytest.raises(IntegrityError, match="fewer than two"),
        postgres_database.engine.begin() as c,
    ):
        _insert_all_legs(c, uuid.uuid4(), [(a.id, "debit", 5, "USD")])


@pytest.mark.postgresql
def test_postgresql_refuses_postings_in_another_currency_than_the_account(postgres_database, clock):
    a, b = open_accounts(postgres_database, clock, cash("a", "USD"), cash("b", "USD"))
    with pytest.raises(IntegrityError, match="currency"), postgres_database.engine.begin() as c:
        _insert_all_legs(c, uuid.uuid4(), [(a.id, "debit", 5, "EUR"), (b.id, "credit", 5, "EUR")])


@pytest.mark.postgresql
def test_postgresql_refuses_postings_split_over_statements(postgres_database, clock):
    a, b = open_accounts(postgres_database, clock, cash("a"), cash("b"))
    tid = uuid.uuid4()
    with pytest.raises(IntegrityError), postgres_database.engine.begin() as c:
        # Each statement alone is "one posting", which must be refused.
        _insert_raw(c, tid, [(a.id, "debit", 5, "USD"), (b.id, "credit", 5, "USD")])


@pytest.mark.postgresql
def test_postgresql_refuses_postings_added_to_a_recorded_transaction(postgres_database, clock):
    source, target, record = _post_one(postgres_database, clock)
    with pytest.raises(IntegrityError, match="is recorded"), postgres_database.engine.begin() as c:
        c.execute(
            text(
                "INSERT INTO postings (transaction_id, leg, account_id, direction, amount_minor,"
                " currency, effective_at) VALUES (:t, 5, :a, 'debit', 1, 'USD', :e),"
                " (:t, 6, :b, 'credit', 1, 'USD', :e)"
            ),
            {"t": record.id, "a": source.id, "b": target.id, "e": record.effective_at},
        )


@pytest.mark.postgresql
def test_postgresql_refuses_a_transaction_without_postings(postgres_database):
    with pytest.raises(IntegrityError, match="no postings"), postgres_database.engine.begin() as c:
        _insert_transaction(c, uuid.uuid4())


@pytest.mark.postgresql
def test_postgresql_refuses_postings_without_their_transaction(postgres_database, clock):
    a, b = open_accounts(postgres_database, clock, cash("a"), cash("b"))
    # The deferred foreign key fires at commit.
    with pytest.raises(IntegrityError, match="foreign key"), postgres_database.engine.begin() as c:
        _insert_all_legs(c, uuid.uuid4(), [(a.id, "debit", 5, "USD"), (b.id, "credit", 5, "USD")])


@pytest.mark.postgresql
def test_postgresql_refuses_a_reversal_that_is_not_a_mirror(postgres_database, clock):
    source, target, record = _post_one(postgres_database, clock)
    fake = uuid.uuid4()
    with (  # noqa: PT012 - the trigger fires on the second statement
        pytest.raises(IntegrityError, match="not the mirror"),
        postgres_database.engine.begin() as c,
    ):
        _insert_all_legs(
            c, fake, [(target.id, "debit", 499, "USD"), (source.id, "credit", 499, "USD")]
        )
        c.execute(
            text(
                "INSERT INTO transactions (id, status, effective_at, created_at, metadata,"
                " reverses_id) VALUES (:t, 'posted', :e, :e, '{}', :r)"
            ),
            {"t": fake, "e": NOW, "r": record.id},
        )


@pytest.mark.postgresql
def test_postgresql_accepts_well_formed_raw_rows_and_queues_them_for_sealing(
    postgres_database, clock
):
    a, b = open_accounts(postgres_database, clock, cash("a"), cash("b"))
    tid = uuid.uuid4()
    with postgres_database.engine.begin() as c:
        _insert_all_legs(c, tid, [(a.id, "debit", 5, "USD"), (b.id, "credit", 5, "USD")])
        _insert_transaction(c, tid)
        # Keep the stored totals true to the postings so the invariants still hold.
        c.execute(text("UPDATE accounts SET debits_posted_minor = 5 WHERE id = :a"), {"a": a.id})
        c.execute(text("UPDATE accounts SET credits_posted_minor = 5 WHERE id = :b"), {"b": b.id})
    with postgres_database.engine.connect() as c:
        queued = c.execute(text("SELECT transaction_id FROM journal_seal_queue")).scalars().all()
    assert queued == [tid]
