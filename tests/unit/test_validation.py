from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ledger.errors import (
    InvalidAmount,
    LimitExceeded,
    UnbalancedTransaction,
    UnknownCurrency,
    ValidationFailed,
)
from ledger.journal.types import PostingSpec, TransactionSpec, credit, debit
from ledger.journal.validation import canonical_json, fingerprint, validate_transaction_spec
from ledger.limits import POSTINGS_PER_TRANSACTION_MAX

NOW = datetime(2026, 3, 1, tzinfo=UTC)


def check(spec, pending=False):
    validate_transaction_spec(spec, pending=pending, now=NOW)


def test_a_balanced_transaction_passes():
    check(TransactionSpec((debit(1, 500, "USD"), credit(2, 500, "USD"))))


def test_each_currency_must_balance_on_its_own():
    fx = (
        debit(1, 1000, "RUB"),
        credit(2, 1000, "RUB"),
        debit(3, 119, "TJS"),
        credit(4, 119, "TJS"),
    )
    check(TransactionSpec(fx))
    crossed = (debit(1, 1000, "RUB"), credit(4, 1000, "TJS"))
    with pytest.raises(UnbalancedTransaction) as caught:
        check(TransactionSpec(crossed))
    assert caught.value.details["imbalance_minor"] == {"RUB": 1000, "TJS": -1000}
    assert "RUB debits exceed credits by 10.00 RUB" in caught.value.message


@pytest.mark.parametrize("count", [0, 1])
def test_fewer_than_two_postings_is_unbalanced(count):
    postings = (debit(1, 5, "USD"),)[:count]
    with pytest.raises(UnbalancedTransaction):
        check(TransactionSpec(postings))


def test_too_many_postings_is_a_limit():
    legs = POSTINGS_PER_TRANSACTION_MAX // 2 + 1
    postings = [debit(1, 1, "USD") for _ in range(legs)] + [
        credit(2, 1, "USD") for _ in range(legs)
    ]
    with pytest.raises(LimitExceeded):
        check(TransactionSpec(postings))


@pytest.mark.parametrize("amount", [0, -5, 2**63, True, 1.5, "5"])
def test_amounts_are_positive_64_bit_integers(amount):
    with pytest.raises(InvalidAmount):
        check(TransactionSpec((PostingSpec(1, "debit", amount, "USD"), credit(2, 5, "USD"))))


def test_direction_account_and_currency_are_checked():
    with pytest.raises(ValidationFailed):
        check(TransactionSpec((PostingSpec(1, "up", 5, "USD"), credit(2, 5, "USD"))))
    with pytest.raises(ValidationFailed):
        check(TransactionSpec((PostingSpec(0, "debit", 5, "USD"), credit(2, 5, "USD"))))
    with pytest.raises(UnknownCurrency):
        check(TransactionSpec((debit(1, 5, "ABC"), credit(2, 5, "ABC"))))


@pytest.mark.parametrize(
    "metadata",
    [
        {"rate": 0.1},
        {"nested": {"deep": [1, 2, {"x": 1.5}]}},
        [],
        {1: "x"},
        {"when": datetime(2026, 1, 1, tzinfo=UTC)},
    ],
)
def test_metadata_is_plain_json_without_floats(metadata):
    with pytest.raises(ValidationFailed):
        check(TransactionSpec((debit(1, 5, "USD"), credit(2, 5, "USD")), metadata=metadata))


def test_metadata_size_and_depth_are_bounded():
    spec = TransactionSpec((debit(1, 5, "USD"), credit(2, 5, "USD")), metadata={"x": "a" * 9000})
    with pytest.raises(LimitExceeded):
        check(spec)
    deep = {"a": {"b": {"c": {"d": {"e": {"f": {"g": {"h": {"i": 1}}}}}}}}}
    with pytest.raises(LimitExceeded):
        check(TransactionSpec((debit(1, 5, "USD"), credit(2, 5, "USD")), metadata=deep))


def test_times_must_be_timezone_aware():
    naive = datetime(2026, 1, 1)
    with pytest.raises(ValidationFailed):
        check(TransactionSpec((debit(1, 5, "USD"), credit(2, 5, "USD")), effective_at=naive))


def test_only_pending_transactions_expire_and_only_in_the_future():
    legs = (debit(1, 5, "USD"), credit(2, 5, "USD"))
    later = NOW + timedelta(hours=1)
    check(TransactionSpec(legs, expires_at=later), pending=True)
    with pytest.raises(ValidationFailed):
        check(TransactionSpec(legs, expires_at=later), pending=False)
    with pytest.raises(ValidationFailed):
        check(TransactionSpec(legs, expires_at=NOW), pending=True)


@pytest.mark.parametrize("key", ["", "has space", "é", "x" * 256])
def test_idempotency_keys_are_printable_ascii(key):
    with pytest.raises(ValidationFailed):
        check(TransactionSpec((debit(1, 5, "USD"), credit(2, 5, "USD")), idempotency_key=key))


def test_canonical_json_is_stable():
    assert canonical_json({"b": 1, "a": [1, "é"]}) == '{"a":[1,"é"],"b":1}'
    assert fingerprint({"a": 1, "b": 2}) == fingerprint({"b": 2, "a": 1})


legs = st.lists(
    st.tuples(
        st.integers(min_value=1, max_value=50),
        st.integers(min_value=1, max_value=10**12),
        st.sampled_from(["USD", "JPY", "TJS"]),
    ),
    min_size=1,
    max_size=10,
)


@given(legs)
def test_any_mirrored_set_of_legs_balances_and_any_nudge_does_not(pairs):
    postings = []
    for account, amount, currency in pairs:
        postings.append(debit(account, amount, currency))
        postings.append(credit(account + 1, amount, currency))
    check(TransactionSpec(postings))
    nudged = list(postings)
    first = nudged[0]
    nudged[0] = PostingSpec(
        first.account_id, first.direction, first.amount_minor + 1, first.currency
    )
    with pytest.raises(UnbalancedTransaction):
        check(TransactionSpec(nudged))
