"""Posting transactions: balances, errors that write nothing, idempotency, rules, FX."""

from datetime import timedelta
from decimal import Decimal

import pytest

from ledger.errors import (
    AccountClosed,
    AccountCodeTaken,
    AccountNotEmpty,
    AccountNotFound,
    BalanceOverflow,
    CurrencyMismatch,
    IdempotencyConflict,
    InsufficientFunds,
    InvalidAmount,
    UnbalancedTransaction,
    ValidationFailed,
)
from ledger.journal import (
    AccountSpec,
    Rate,
    TransactionSpec,
    close_account,
    conversion_spec,
    credit,
    debit,
    ensure_position_account,
    get_account,
    get_transaction,
    open_account,
    post_transaction,
    posted_balance_as_of,
)
from ledger.limits import AMOUNT_MINOR_MAX
from tests.support import balances_of, cash, open_accounts, row_counts, transfer, wallet


def post(database, clock, spec):
    return database.run(lambda s: post_transaction(s, spec, clock=clock))


def test_posting_moves_balances_on_both_sides(database, clock):
    bank, alice = open_accounts(database, clock, cash("bank"), wallet("alice"))
    record = post(database, clock, transfer(bank.id, alice.id, 15_000, description="top-up"))
    assert record.status == "posted"
    assert record.effective_at == clock.now()
    assert [(p.account_id, p.direction, p.amount_minor) for p in record.postings] == [
        (bank.id, "debit", 15_000),
        (alice.id, "credit", 15_000),
    ]
    assert balances_of(database, bank.id, alice.id) == [(15_000, 0, 15_000), (15_000, 0, 15_000)]
    stored = database.run(lambda s: get_transaction(s, record.id))
    assert stored == record


@pytest.mark.parametrize(
    ("make_spec", "error"),
    [
        (
            lambda a, b, c: TransactionSpec((debit(a, 5, "USD"), credit(b, 4, "USD"))),
            UnbalancedTransaction,
        ),
        (lambda a, b, c: TransactionSpec((debit(a, 5, "USD"),)), UnbalancedTransaction),
        (
            lambda a, b, c: TransactionSpec((debit(a, 5, "EUR"), credit(b, 5, "EUR"))),
            CurrencyMismatch,
        ),
        (
            lambda a, b, c: TransactionSpec((debit(a, 5, "USD"), credit(999_999, 5, "USD"))),
            AccountNotFound,
        ),
        (lambda a, b, c: transfer(b, c, 1), InsufficientFunds),
        (lambda a, b, c: TransactionSpec((debit(a, 0, "USD"), credit(b, 0, "USD"))), InvalidAmount),
    ],
)
def test_a_refused_transaction_writes_nothing(database, clock, make_spec, error):
    bank, alice, bob = open_accounts(database, clock, cash("bank"), wallet("alice"), wallet("bob"))
    before = row_counts(database), balances_of(database, bank.id, alice.id, bob.id)
    with pytest.raises(error) as caught:
        post(database, clock, make_spec(bank.id, alice.id, bob.id))
    assert caught.value.code == error.code
    assert (row_counts(database), balances_of(database, bank.id, alice.id, bob.id)) == before


def test_insufficient_funds_reports_what_is_available(database, clock):
    bank, alice, bob = open_accounts(database, clock, cash("bank"), wallet("alice"), wallet("bob"))
    post(database, clock, transfer(bank.id, alice.id, 1_000))
    with pytest.raises(InsufficientFunds) as caught:
        post(database, clock, transfer(alice.id, bob.id, 1_001))
    assert caught.value.details == {
        "account_id": alice.id,
        "available_minor": 1_000,
        "required_minor": 1_001,
        "floor_minor": 0,
        "currency": "USD",
    }
    post(database, clock, transfer(alice.id, bob.id, 1_000))  # exactly everything is fine
    assert balances_of(database, alice.id)[0] == (0, 0, 0)


def test_overdraft_limit_is_the_floor(database, clock):
    bank, merchant = open_accounts(
        database,
        clock,
        cash("bank"),
        wallet("merchant", allow_overdraft=True, overdraft_limit_minor=5_000),
    )
    post(database, clock, transfer(merchant.id, bank.id, 5_000))
    assert balances_of(database, merchant.id)[0] == (-5_000, 0, -5_000)
    with pytest.raises(InsufficientFunds):
        post(database, clock, transfer(merchant.id, bank.id, 1))
    # Inflows are always welcome, even below the floor's edge.
    post(database, clock, transfer(bank.id, merchant.id, 1))


def test_an_unlimited_overdraft_has_no_floor(database, clock):
    equity, bank = open_accounts(
        database,
        clock,
        AccountSpec("equity", "Owners", "equity", "USD", allow_overdraft=True),
        cash("bank"),
    )
    post(database, clock, transfer(equity.id, bank.id, 10**15))
    assert balances_of(database, equity.id)[0][0] == -(10**15)


def test_same_idempotency_key_and_content_returns_the_original(database, clock):
    bank, alice = open_accounts(database, clock, cash("bank"), wallet("alice"))
    spec = transfer(bank.id, alice.id, 700, idempotency_key="order-1", client_id="partner-a")
    first = post(database, clock, spec)
    counts = row_counts(database)
    clock.advance(timedelta(minutes=5))
    again = post(database, clock, spec)
    assert again.id == first.id
    assert again.replayed and not first.replayed
    assert row_counts(database) == counts
    assert balances_of(database, alice.id)[0] == (700, 0, 700)


def test_same_key_with_other_content_is_a_conflict(database, clock):
    bank, alice = open_accounts(database, clock, cash("bank"), wallet("alice"))
    post(database, clock, transfer(bank.id, alice.id, 700, idempotency_key="order-1"))
    counts = row_counts(database)
    with pytest.raises(IdempotencyConflict):
        post(database, clock, transfer(bank.id, alice.id, 701, idempotency_key="order-1"))
    assert row_counts(database) == counts


def test_keys_are_scoped_per_client(database, clock):
    bank, alice = open_accounts(database, clock, cash("bank"), wallet("alice"))
    a = post(database, clock, transfer(bank.id, alice.id, 1, idempotency_key="k", client_id="a"))
    b = post(database, clock, transfer(bank.id, alice.id, 1, idempotency_key="k", client_id="b"))
    assert a.id != b.id


def test_a_refused_request_can_be_retried_with_its_key(database, clock):
    bank, alice, bob = open_accounts(database, clock, cash("bank"), wallet("alice"), wallet("bob"))
    spec = transfer(alice.id, bob.id, 300, idempotency_key="pay-1")
    with pytest.raises(InsufficientFunds):
        post(database, clock, spec)
    post(database, clock, transfer(bank.id, alice.id, 300))
    assert post(database, clock, spec).replayed is False


def test_closed_accounts_refuse_postings_and_only_empty_accounts_close(database, clock):
    bank, alice = open_accounts(database, clock, cash("bank"), wallet("alice"))
    post(database, clock, transfer(bank.id, alice.id, 100))
    with pytest.raises(AccountNotEmpty):
        database.run(lambda s: close_account(s, alice.id, now=clock.now()))
    post(database, clock, transfer(alice.id, bank.id, 100))
    closed = database.run(lambda s: close_account(s, alice.id, now=clock.now()))
    assert closed.closed_at == clock.now()
    with pytest.raises(AccountClosed):
        post(database, clock, transfer(bank.id, alice.id, 1))
    with pytest.raises(AccountClosed):
        database.run(lambda s: close_account(s, alice.id, now=clock.now()))


def test_account_codes_are_unique_and_specs_validated(database, clock):
    open_accounts(database, clock, wallet("alice"))
    with pytest.raises(AccountCodeTaken):
        open_accounts(database, clock, wallet("alice"))
    for bad in (
        AccountSpec("has space", "x", "asset", "USD"),
        AccountSpec("ok", "", "asset", "USD"),
        AccountSpec("ok", "x", "revenue", "USD"),  # type: ignore[arg-type]
        AccountSpec("ok", "x", "asset", "usd"),
        AccountSpec("ok", "x", "asset", "USD", overdraft_limit_minor=5),
        AccountSpec("ok", "x", "asset", "USD", allow_overdraft=True, overdraft_limit_minor=-1),
    ):
        with pytest.raises(ValidationFailed):
            database.run(lambda s, spec=bad: open_account(s, spec, now=clock.now()))


def test_fx_conversion_balances_per_currency_through_position_accounts(database, clock):
    sender, beneficiary = open_accounts(
        database, clock, wallet("sender", "RUB"), wallet("beneficiary", "TJS")
    )
    funding = open_accounts(database, clock, cash("bank:RUB", "RUB"))[0]
    post(database, clock, transfer(funding.id, sender.id, 2_000_000, "RUB"))

    def convert(session):
        positions = {
            currency: ensure_position_account(session, currency, now=clock.now())
            for currency in ("RUB", "TJS")
        }
        spec = conversion_spec(
            source_account_id=sender.id,
            target_account_id=beneficiary.id,
            amount_minor=1_000_000,
            rate=Rate("RUB", "TJS", Decimal("0.1193"), "cbr"),
            position_account_ids=positions,
        )
        return post_transaction(session, spec, clock=clock), positions

    record, positions = database.run(convert)
    assert record.metadata["fx"]["rate"] == "0.1193"
    assert balances_of(database, sender.id, beneficiary.id) == [
        (1_000_000, 0, 1_000_000),
        (119_300, 0, 119_300),
    ]
    rub = database.run(lambda s: get_account(s, positions["RUB"])).balances.posted_minor
    tjs = database.run(lambda s: get_account(s, positions["TJS"])).balances.posted_minor
    assert (rub, tjs) == (-1_000_000, 119_300)  # long TJS, short RUB
    # Position accounts are opened once.
    again = database.run(lambda s: ensure_position_account(s, "RUB", now=clock.now()))
    assert again == positions["RUB"]


def test_zero_and_three_decimal_currencies_post_exactly(database, clock):
    yen_bank, yen_wallet, kwd_bank, kwd_wallet = open_accounts(
        database,
        clock,
        cash("b:JPY", "JPY"),
        wallet("w:JPY", "JPY"),
        cash("b:KWD", "KWD"),
        wallet("w:KWD", "KWD"),
    )
    post(database, clock, transfer(yen_bank.id, yen_wallet.id, 1_999, "JPY"))
    post(database, clock, transfer(kwd_bank.id, kwd_wallet.id, 1_234, "KWD"))
    yen = database.run(lambda s: get_account(s, yen_wallet.id)).balances
    kwd = database.run(lambda s: get_account(s, kwd_wallet.id)).balances
    assert str(yen.posted.amount) == "1999"
    assert str(kwd.posted.amount) == "1.234"


def test_backdated_postings_change_as_of_balances_and_keep_record_time(database, clock):
    bank, alice = open_accounts(database, clock, cash("bank"), wallet("alice"))
    today = clock.now()
    post(database, clock, transfer(bank.id, alice.id, 100, effective_at=today - timedelta(days=10)))
    post(database, clock, transfer(bank.id, alice.id, 20, effective_at=today - timedelta(days=2)))
    backdated = post(
        database, clock, transfer(bank.id, alice.id, 3, effective_at=today - timedelta(days=5))
    )
    assert backdated.created_at == today
    as_of = [
        database.run(lambda s, d=d: posted_balance_as_of(s, alice.id, today - timedelta(days=d)))
        for d in (11, 10, 6, 5, 3, 2, 0)
    ]
    assert as_of == [0, 100, 100, 103, 103, 123, 123]


def test_totals_beyond_64_bits_are_refused_not_wrapped(database, clock):
    equity, wallet_account = open_accounts(
        database,
        clock,
        AccountSpec("equity", "Owners", "equity", "JPY", allow_overdraft=True),
        wallet("big", "JPY"),
    )
    post(database, clock, transfer(equity.id, wallet_account.id, AMOUNT_MINOR_MAX, "JPY"))
    counts = row_counts(database)
    with pytest.raises(BalanceOverflow):
        post(database, clock, transfer(equity.id, wallet_account.id, 1, "JPY"))
    assert row_counts(database) == counts
    balances = database.run(lambda s: get_account(s, wallet_account.id)).balances
    assert balances.posted_minor == AMOUNT_MINOR_MAX
