from decimal import ROUND_DOWN, ROUND_HALF_EVEN, ROUND_HALF_UP, Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st
from moneyed import Money

from ledger.errors import AmountPrecisionError, InvalidAmount, UnknownCurrency
from ledger.limits import AMOUNT_MINOR_MAX
from ledger.money import (
    allocate,
    exponent,
    format_minor,
    from_minor,
    money_to_minor,
    round_to_minor,
    to_minor,
    to_money,
)


@pytest.mark.parametrize(
    ("code", "places"),
    [
        ("USD", 2),
        ("JPY", 0),
        ("KWD", 3),
        ("CLF", 4),
        ("TJS", 2),
        ("UZS", 2),
        ("KGS", 2),
        ("KZT", 2),
        ("RUB", 2),
    ],
)
def test_exponents_come_from_iso_data(code, places):
    assert exponent(code) == places


@pytest.mark.parametrize(
    ("amount", "code", "minor"),
    [
        ("150.00", "TJS", 15000),
        ("150", "TJS", 15000),
        ("0.01", "USD", 1),
        ("1.500", "USD", 150),  # trailing zeros are exact, so accepted
        ("1000", "JPY", 1000),
        ("1.234", "KWD", 1234),
        ("-2.50", "USD", -250),
        (Decimal("19.99"), "USD", 1999),
        (7, "USD", 700),
    ],
)
def test_to_minor_is_exact(amount, code, minor):
    assert to_minor(amount, code) == minor


@pytest.mark.parametrize(
    ("amount", "code"),
    [
        ("0.001", "USD"),
        ("1.5", "JPY"),
        ("0.0001", "KWD"),
        ("10.005", "TJS"),
        # Longer than Decimal's default 28 digits: must not be rounded to 1.00 first.
        ("1.000000000000000000000000000001", "USD"),
        ("12345678901234567.000000000000000000001", "USD"),
    ],
)
def test_more_decimals_than_the_currency_allows_is_refused(amount, code):
    with pytest.raises(AmountPrecisionError) as caught:
        to_minor(amount, code)
    assert caught.value.code == "too_many_decimals"
    assert caught.value.details["decimals_allowed"] == exponent(code)


@pytest.mark.parametrize(
    "amount", [1.5, 0.1, True, None, "abc", "1e3", "NaN", "Infinity", "", "1.2.3"]
)
def test_non_decimal_input_is_refused(amount):
    with pytest.raises(InvalidAmount):
        to_minor(amount, "USD")


def test_amounts_beyond_64_bits_are_refused():
    with pytest.raises(InvalidAmount):
        to_minor(str(AMOUNT_MINOR_MAX + 1), "JPY")
    assert to_minor(str(AMOUNT_MINOR_MAX), "JPY") == AMOUNT_MINOR_MAX


@pytest.mark.parametrize("code", ["usd", "US", "ZZZ", "XAU", "XXX", "XTS", 840, ""])
def test_unknown_or_unholdable_currencies_are_refused(code):
    with pytest.raises(UnknownCurrency):
        to_minor("1", code)


@given(
    st.integers(min_value=-AMOUNT_MINOR_MAX, max_value=AMOUNT_MINOR_MAX),
    st.sampled_from(["USD", "JPY", "KWD", "CLF", "TJS"]),
)
def test_minor_units_round_trip_through_decimal_and_money(minor, code):
    assert to_minor(from_minor(minor, code), code) == minor
    assert money_to_minor(to_money(minor, code)) == (minor, code)


def test_money_edges_use_py_moneyed():
    money = to_money(15000, "TJS")
    assert money == Money("150.00", "TJS")
    assert format_minor(15000, "TJS") == "150.00 TJS"
    assert format_minor(5, "JPY") == "5 JPY"


def test_rounding_is_explicit_and_follows_the_mode():
    assert round_to_minor(Decimal("1.005"), "USD", ROUND_HALF_EVEN) == 100
    assert round_to_minor(Decimal("1.015"), "USD", ROUND_HALF_EVEN) == 102
    assert round_to_minor(Decimal("1.005"), "USD", ROUND_HALF_UP) == 101
    assert round_to_minor(Decimal("1.009"), "USD", ROUND_DOWN) == 100
    assert round_to_minor(Decimal("2.5"), "JPY", ROUND_HALF_EVEN) == 2
    with pytest.raises(InvalidAmount):
        round_to_minor(1.005, "USD", ROUND_HALF_EVEN)


def test_allocate_splits_without_losing_a_cent():
    assert allocate(100, [1, 1, 1]) == [34, 33, 33]
    assert allocate(-100, [1, 1, 1]) == [-34, -33, -33]
    assert allocate(5, [Decimal("0.5"), Decimal("0.25"), Decimal("0.25")]) == [3, 1, 1]
    assert allocate(0, [3, 7]) == [0, 0]
    with pytest.raises(ValueError, match="zero"):
        allocate(10, [0, 0])
    with pytest.raises(TypeError):
        allocate(10, [0.5, 0.5])


@given(
    st.integers(min_value=-(10**15), max_value=10**15),
    st.lists(st.integers(min_value=0, max_value=10**6), min_size=1, max_size=12).filter(any),
)
def test_allocate_always_sums_to_the_total_and_stays_within_one_unit(total, ratios):
    parts = allocate(total, ratios)
    assert sum(parts) == total
    weight = sum(ratios)
    for part, ratio in zip(parts, ratios, strict=True):
        exact = Decimal(total) * ratio / weight
        assert abs(Decimal(part) - exact) < 1
