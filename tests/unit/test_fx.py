from decimal import ROUND_DOWN, Decimal

import pytest

from ledger.errors import InvalidAmount, ValidationFailed
from ledger.journal.fx import Rate, conversion_spec, convert
from ledger.journal.validation import check_balanced


def test_conversion_rounds_once_in_the_quote_currency():
    rate = Rate("RUB", "TJS", Decimal("0.1193"), "cbr")
    # 10,000.00 RUB * 0.1193 = 1,193.00 TJS exactly
    assert convert(1_000_000, rate) == 119_300
    # 123.45 RUB * 0.1193 = 14.727585 TJS -> 14.73 half-even, 14.72 down
    assert convert(12_345, rate) == 1_473
    assert convert(12_345, rate, rounding=ROUND_DOWN) == 1_472


def test_conversion_into_a_zero_decimal_currency():
    rate = Rate("USD", "JPY", Decimal("151.237"), "ecb")
    assert convert(1_999, rate) == 3_023  # 19.99 * 151.237 = 3023.22763


def test_conversion_spec_balances_each_currency_and_records_the_rate():
    rate = Rate("RUB", "TJS", Decimal("0.1193"), "cbr")
    spec = conversion_spec(
        source_account_id=1,
        target_account_id=2,
        amount_minor=1_000_000,
        rate=rate,
        position_account_ids={"RUB": 10, "TJS": 11},
    )
    check_balanced(spec.postings)
    by_currency = {(p.currency, p.direction): (p.account_id, p.amount_minor) for p in spec.postings}
    assert by_currency == {
        ("RUB", "debit"): (1, 1_000_000),
        ("RUB", "credit"): (10, 1_000_000),
        ("TJS", "debit"): (11, 119_300),
        ("TJS", "credit"): (2, 119_300),
    }
    assert spec.metadata["fx"]["rate"] == "0.1193"
    assert spec.metadata["fx"]["source"] == "cbr"
    assert spec.metadata["fx"]["rounding"] == "ROUND_HALF_EVEN"


@pytest.mark.parametrize("value", [0.1193, Decimal(0), Decimal(-1), Decimal("NaN")])
def test_rates_are_positive_decimals(value):
    with pytest.raises(InvalidAmount):
        Rate("RUB", "TJS", value, "cbr")


def test_rate_needs_two_currencies_and_a_source():
    with pytest.raises(ValidationFailed):
        Rate("RUB", "RUB", Decimal(1), "cbr")
    with pytest.raises(ValidationFailed):
        Rate("RUB", "TJS", Decimal(1), "")


def test_an_amount_too_small_to_convert_is_refused():
    rate = Rate("UZS", "USD", Decimal("0.00008"), "cbu")
    with pytest.raises(InvalidAmount):
        conversion_spec(
            source_account_id=1,
            target_account_id=2,
            amount_minor=1,
            rate=rate,
            position_account_ids={"UZS": 3, "USD": 4},
        )
