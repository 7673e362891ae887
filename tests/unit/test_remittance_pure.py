"""The pure parts of remittances: the postings of one remittance, explicit pricing,
corridor lines of the cost report, the liquidity position and its alarm."""

from __future__ import annotations

import uuid
from collections import defaultdict
from datetime import UTC, datetime
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ledger.errors import InvalidAmount
from ledger.journal.types import AccountRecord, Balances
from ledger.remittance.liquidity import LiquidityAccounts, position_of
from ledger.remittance.pricing import price_explicit
from ledger.remittance.records import remittance_legs
from ledger.remittance.reports import PartnerCost, Usd200, summarize_corridors

amounts = st.integers(min_value=1, max_value=10**15)


@given(send=amounts, fee=st.integers(min_value=0, max_value=10**12), receive=amounts)
def test_a_remittance_balances_in_each_currency_and_pays_exactly_what_was_priced(
    send, fee, receive
):
    legs = remittance_legs(
        settlement_account_id=1,
        fee_account_id=2,
        send_position_account_id=3,
        receive_position_account_id=4,
        beneficiary_account_id=5,
        send_currency="RUB",
        receive_currency="TJS",
        send_minor=send,
        fee_minor=fee,
        receive_minor=receive,
    )
    net: dict[str, int] = defaultdict(int)
    for leg in legs:
        assert leg.amount_minor > 0  # no zero legs (a zero fee has none)
        net[leg.currency] += leg.amount_minor if leg.direction == "debit" else -leg.amount_minor
    assert net == {"RUB": 0, "TJS": 0}
    by_account = {leg.account_id: (leg.direction, leg.amount_minor) for leg in legs}
    assert by_account[1] == ("debit", send + fee)
    assert by_account[5] == ("credit", receive)
    assert (2 in by_account) == (fee > 0)


def test_explicit_pricing_measures_the_margin_against_the_mid_rate():
    # 10,000.00 RUB at 0.1187232 when mid is 0.1192: margin cost 10,000 x 0.0004768 / 0.1192
    # = 40.00 RUB; with the 150.00 fee, 190.00 = 1.90%; 1,187.232 TJS rounds down.
    price = price_explicit(
        1_000_000,
        fee_minor=15_000,
        applied_rate=Decimal("0.1187232"),
        mid_rate=Decimal("0.1192"),
        send_currency="RUB",
        receive_currency="TJS",
    )
    assert price.receive_minor == 118_723
    assert price.fx_margin_cost == Decimal("40")
    assert price.total_cost_percent == Decimal("1.90")


def test_a_rate_better_than_mid_lowers_the_cost_below_the_fee():
    price = price_explicit(
        100_000,
        fee_minor=1_000,
        applied_rate=Decimal("0.1200"),
        mid_rate=Decimal("0.1192"),
        send_currency="RUB",
        receive_currency="TJS",
    )
    assert price.fx_margin_cost < 0
    assert price.total_cost_percent < Decimal("1.00")


def test_a_send_that_buys_nothing_is_refused():
    with pytest.raises(InvalidAmount):
        price_explicit(
            1,
            fee_minor=0,
            applied_rate=Decimal("0.1"),
            mid_rate=Decimal("0.1"),
            send_currency="RUB",
            receive_currency="TJS",
        )


def _line(partner: int, count: int, percent_sum: str, usd200: str | None) -> PartnerCost:
    return PartnerCost(
        corridor_code="RU-RUB-TJ-TJS",
        partner_id=uuid.UUID(int=partner),
        send_currency="RUB",
        count=count,
        volume_minor=count * 100,
        fees_minor=0,
        average_cost_percent=None,
        weighted_cost_percent=None,
        usd200=None
        if usd200 is None
        else Usd200(
            1, 1, 1, Decimal(usd200), Decimal(90), Decimal("0.12"), datetime.now(UTC).date()
        ),
        unavailable=None if usd200 else "no price",
        percent_sum=Decimal(percent_sum),
    )


def test_a_corridor_averages_remittances_alike_and_usd_200_figures_over_partners():
    lines = [_line(1, 3, "6.00", "1.50"), _line(2, 1, "5.50", "5.50"), _line(3, 0, "0", None)]
    (corridor,) = summarize_corridors(lines)
    assert (corridor.count, corridor.partners, corridor.volume_minor) == (4, 3, 400)
    assert corridor.average_cost_percent == Decimal("2.88")  # 11.50 / 4 = 2.875, half-even
    assert corridor.usd200_average_percent == Decimal("3.50")  # (1.50 + 5.50) / 2
    assert (corridor.above_5_percent, corridor.within_3_percent) == (False, False)
    assert (lines[1].above_5_percent, lines[0].within_3_percent) == (True, True)
    assert lines[2].above_5_percent is None


def _account(available: int, posted: int, cap: int | None) -> AccountRecord:
    return AccountRecord(
        id=1,
        code="s",
        name="s",
        type="liability",
        currency="RUB",
        owner_reference=None,
        allow_overdraft=cap is not None,
        overdraft_limit_minor=cap,
        metadata={},
        created_at=datetime.now(UTC),
        closed_at=None,
        balances=Balances("RUB", posted, posted - available, available),
    )


@pytest.mark.parametrize(
    ("available", "cap", "percent", "alarm"),
    [
        (100, 1_000, Decimal("0.00"), False),
        (-799, 1_000, Decimal("79.90"), False),
        (-800, 1_000, Decimal("80.00"), True),
        (-1, 3, Decimal("33.33"), False),  # rounded down, never up to the threshold
        (1, 0, None, False),
        (0, 0, None, True),
    ],
)
def test_the_alarm_rings_at_the_threshold_share_of_the_cap(available, cap, percent, alarm):
    accounts = LiquidityAccounts(uuid.UUID(int=1), "RUB", 1, 2, 80)
    figures = position_of(accounts, _account(available, 500, cap), _account(0, 7, None))
    assert (figures.cap_used_percent, figures.alarm) == (percent, alarm)
    assert figures.headroom_minor == available + cap
    assert figures.fees_earned_minor == 7
