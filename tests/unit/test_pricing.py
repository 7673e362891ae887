"""Remittance pricing: worked examples checked by hand, and properties."""

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ledger.errors import InvalidAmount, ValidationFailed
from ledger.remittance.pricing import FeeSchedule, FeeTier, price_receive, price_send

NO_FEE_USD = FeeSchedule("USD", (FeeTier(0, 0, Decimal(0)),))


def flat(currency: str, fixed_minor: int) -> FeeSchedule:
    return FeeSchedule(currency, (FeeTier(0, fixed_minor, Decimal(0)),))


def test_fee_2_99_plus_0_4_percent_margin_on_200_usd_costs_about_1_9_percent():
    # By hand: fee 2.99 + margin 200 x 0.004 = 0.80 -> 3.79 of 200 = 1.895% -> 1.90 (half-even
    # on the third decimal 5 after 9: 1.895 -> 1.90). Receive: 200 x 12.0 x 0.996 = 2390.40 TJS.
    price = price_send(
        20_000,
        send_currency="USD",
        receive_currency="TJS",
        mid_rate=Decimal("12.0"),
        margin=Decimal("0.004"),
        fees=flat("USD", 299),
    )
    assert price.fee_minor == 299
    assert price.fx_margin_cost == Decimal("0.800")
    assert price.total_cost == Decimal("3.790")
    assert price.total_cost_percent == Decimal("1.90")
    assert price.receive_minor == 239_040
    assert price.charged_minor == 20_299


def test_a_no_fee_send_with_a_3_5_percent_margin_costs_3_5_percent():
    price = price_send(
        20_000,
        send_currency="USD",
        receive_currency="KGS",
        mid_rate=Decimal("87.45"),
        margin=Decimal("0.035"),
        fees=NO_FEE_USD,
    )
    assert price.fee_minor == 0
    assert price.total_cost_percent == Decimal("3.50")
    # 200 x 87.45 x 0.965 = 16877.85 exactly
    assert price.receive_minor == 1_687_785


def test_fee_tiers_minimum_and_maximum_apply_to_the_send_amount():
    schedule = FeeSchedule(
        "RUB",
        (
            FeeTier(0, 5_000, Decimal("0")),  # 50 RUB flat below 10,000 RUB
            FeeTier(1_000_000, 0, Decimal("0.01")),  # 1% from 10,000 RUB
        ),
        minimum_minor=3_000,
        maximum_minor=50_000,
    )
    assert schedule.fee_minor(500_000) == 5_000
    assert schedule.fee_minor(1_000_000) == 10_000
    assert schedule.fee_minor(10_000_000) == 50_000  # 1,000 RUB capped at 500
    assert (
        FeeSchedule("RUB", (FeeTier(0, 0, Decimal("0.001")),), minimum_minor=3_000).fee_minor(
            100_000
        )
        == 3_000
    )


def test_the_fee_is_rounded_once_half_up():
    schedule = FeeSchedule("USD", (FeeTier(0, 0, Decimal("0.015")),))
    assert schedule.exact_fee(3_100) == Decimal("0.46500")
    assert schedule.fee_minor(3_100) == 47  # 0.465 -> 0.47
    assert schedule.fee_minor(3_099) == 46  # 0.46485 -> 0.46


def test_the_receive_amount_is_rounded_down_once():
    price = price_send(
        1,  # 0.01 USD
        send_currency="USD",
        receive_currency="UZS",
        mid_rate=Decimal("12650.77"),
        margin=Decimal("0.01"),
        fees=NO_FEE_USD,
    )
    # 0.01 x 12650.77 x 0.99 = 125.242623 -> 125.24
    assert price.receive_minor == 12_524


def test_zero_decimal_currencies_round_to_whole_units():
    price = price_send(
        10_000,
        send_currency="USD",
        receive_currency="JPY",
        mid_rate=Decimal("151.237"),
        margin=Decimal("0.02"),
        fees=flat("USD", 0),
    )
    assert price.receive_minor == 14_821  # 100 x 151.237 x 0.98 = 14821.226


@pytest.mark.parametrize(
    ("send_minor", "margin", "error"),
    [
        (0, "0.01", InvalidAmount),
        (-5, "0.01", InvalidAmount),
        (100, "1", ValidationFailed),
        (100, "-0.01", ValidationFailed),
    ],
)
def test_bad_amounts_and_margins_are_refused(send_minor, margin, error):
    with pytest.raises(error):
        price_send(
            send_minor,
            send_currency="USD",
            receive_currency="TJS",
            mid_rate=Decimal(10),
            margin=Decimal(margin),
            fees=NO_FEE_USD,
        )


def test_fees_in_another_currency_than_the_send_currency_are_refused():
    with pytest.raises(ValidationFailed):
        price_send(
            100,
            send_currency="RUB",
            receive_currency="TJS",
            mid_rate=Decimal(10),
            margin=Decimal(0),
            fees=NO_FEE_USD,
        )


rates = st.decimals(min_value=Decimal("0.0001"), max_value=Decimal("20000"), places=4)
margins = st.decimals(min_value=Decimal(0), max_value=Decimal("0.10"), places=4)


@given(
    receive=st.integers(min_value=1, max_value=10**10),
    mid=rates,
    margin=margins,
)
def test_a_receive_quote_delivers_at_least_the_amount_with_the_smallest_send(receive, mid, margin):
    kwargs = {
        "send_currency": "RUB",
        "receive_currency": "TJS",
        "mid_rate": mid,
        "margin": margin,
        "fees": FeeSchedule("RUB", (FeeTier(0, 100, Decimal("0.01")),)),
    }
    price = price_receive(receive, **kwargs)
    assert price.receive_minor >= receive
    if price.send_minor > 1:  # one minor unit less would not deliver it
        try:
            smaller = price_send(price.send_minor - 1, **kwargs).receive_minor
        except InvalidAmount:
            smaller = 0  # buys nothing at all
        assert smaller < receive


@given(send=st.integers(min_value=1, max_value=10**12), mid=rates, margin=margins)
def test_the_cost_percentage_is_fee_plus_margin_over_send(send, mid, margin):
    fees = FeeSchedule("RUB", (FeeTier(0, 1_000, Decimal("0.005")),), maximum_minor=100_000)
    try:
        price = price_send(
            send,
            send_currency="RUB",
            receive_currency="KGS",
            mid_rate=mid,
            margin=margin,
            fees=fees,
        )
    except InvalidAmount:
        return  # too small to buy one minor unit: refused, never rounded up
    exact = (fees.exact_fee(send) + Decimal(send) / 100 * margin) / (Decimal(send) / 100) * 100
    assert abs(price.total_cost_percent - exact) <= Decimal("0.005")
    assert price.receive_minor <= Decimal(send) / 100 * mid * (1 - margin) * 100
