"""Loan schedules: Apache Fineract's published schedules to the cent, published
amortization tables, numpy-financial's annuities, every setting, rounding edges, and
the invariants (principal sums to the loan, balances never negative, dates increase)."""

from __future__ import annotations

import itertools
from datetime import date
from decimal import Decimal

import numpy_financial as npf
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ledger.credit.schedule import (
    AMORTIZATIONS,
    DAY_COUNTS,
    FREQUENCIES,
    INTEREST_METHODS,
    INTEREST_PERIODS,
    ScheduleTerms,
    add_months,
    annuity,
    annuity_rate,
    generate,
)
from ledger.errors import ValidationFailed

# ------------------------------------------------------------- Fineract's schedules
#
# Fineract's end-to-end scenarios RS01-RS07 (fineract-e2e-tests-runner, features for
# C2490-C2497; products from LoanProductsRequestFactory): EUR 5,000.00 at 12% a year,
# 18 monthly installments, disbursed 2022-11-01, installment amounts in multiples of 1
# EUR. Each row: installment number, principal, interest, total, balance after.

FINERACT = {
    "currency": "EUR",
    "annual_rate_percent": Decimal(12),
    "installment_multiple_minor": 100,
}


def rows(schedule, numbers):
    by_number = {i.number: i for i in schedule.installments}
    return [
        (
            n,
            by_number[n].principal_minor,
            by_number[n].interest_minor,
            by_number[n].total_minor,
            by_number[n].balance_after_minor,
        )
        for n in numbers
    ]


def fineract(**settings_) -> object:
    return generate(ScheduleTerms(**FINERACT, **settings_), 500_000, 18, date(2022, 11, 1))


def test_fineract_rs02_declining_balance_equal_installments():
    schedule = fineract()
    assert schedule.installment_minor == 30_500  # PMT 304.91, to a multiple of 1 EUR
    assert schedule.total_interest_minor == 48_822
    assert rows(schedule, [1, 2, 3, 12, 17, 18]) == [
        (1, 25_500, 5_000, 30_500, 474_500),
        (2, 25_755, 4_745, 30_500, 448_745),
        (3, 26_013, 4_487, 30_500, 422_732),
        (12, 28_450, 2_050, 30_500, 176_595),
        (17, 29_901, 599, 30_500, 30_022),
        (18, 30_022, 300, 30_322, 0),
    ]


def test_fineract_rs03_daily_interest_actual_days():
    schedule = fineract(interest_period="daily", day_count="actual/actual")
    assert schedule.installment_minor == 30_500
    assert schedule.total_interest_minor == 48_733
    # December has 30 days in the first period, then 31; February 2023 28; February 2024
    # 29 days, counted over 365 (Fineract's year), 8.53 on 894.75.
    assert rows(schedule, [1, 2, 4, 16, 18]) == [
        (1, 25_568, 4_932, 30_500, 474_432),
        (2, 25_665, 4_835, 30_500, 448_767),
        (4, 26_608, 3_892, 30_500, 396_233),
        (16, 29_647, 853, 30_500, 59_828),
        (18, 29_938, 295, 30_233, 0),
    ]


def test_fineract_rs04_equal_principal():
    schedule = fineract(amortization="equal_principal")
    assert schedule.total_interest_minor == 47_500
    assert [i.interest_minor for i in schedule.installments[:4]] == [5_000, 4_722, 4_444, 4_167]
    assert rows(schedule, [1, 17, 18]) == [
        (1, 27_778, 5_000, 32_778, 472_222),
        (17, 27_778, 556, 28_334, 27_774),
        (18, 27_774, 278, 28_052, 0),
    ]


def test_fineract_rs01_flat_equal_installments():
    schedule = fineract(interest_method="flat")
    assert schedule.total_interest_minor == 90_000
    assert {(i.principal_minor, i.interest_minor) for i in schedule.installments[:17]} == {
        (27_800, 5_000)
    }
    assert rows(schedule, [18]) == [(18, 27_400, 5_000, 32_400, 0)]


def test_fineract_rs05_grace_on_principal():
    schedule = fineract(grace_on_principal=3)
    assert schedule.installment_minor == 36_100  # the annuity over the 15 periods after grace
    assert schedule.total_interest_minor == 55_887
    assert rows(schedule, [1, 3, 4, 5, 18]) == [
        (1, 0, 5_000, 5_000, 500_000),
        (3, 0, 5_000, 5_000, 500_000),
        (4, 31_100, 5_000, 36_100, 468_900),
        (5, 31_411, 4_689, 36_100, 437_489),
        (18, 35_136, 351, 35_487, 0),
    ]


def test_fineract_rs07_grace_on_principal_and_on_interest_payment():
    schedule = fineract(grace_on_principal=6, grace_on_interest=3)
    assert schedule.installment_minor == 44_400
    assert schedule.total_interest_minor == 63_109
    assert rows(schedule, [1, 3, 4, 5, 6, 7, 8, 18]) == [
        (1, 0, 0, 0, 500_000),
        (3, 0, 0, 0, 500_000),
        (4, 0, 20_000, 20_000, 500_000),  # three deferred months and its own
        (5, 0, 5_000, 5_000, 500_000),
        (6, 0, 5_000, 5_000, 500_000),
        (7, 39_400, 5_000, 44_400, 460_600),
        (8, 39_794, 4_606, 44_400, 420_806),
        (18, 44_266, 443, 44_709, 0),
    ]


# ------------------------------------------------------------- published tables


@pytest.mark.parametrize(
    ("principal", "rate", "years", "payment", "first_interest"),
    [
        # The textbook 30-year mortgages: 100,000 at 6% pays 599.55 a month,
        # 200,000 at 4.5% pays 1,013.37; the first month's interest is a month's rate.
        (10_000_000, "6", 30, 59_955, 50_000),
        (20_000_000, "4.5", 30, 101_337, 75_000),
        # 10,000 over 3 years at 5%: 299.71 a month (the usual car-loan example).
        (1_000_000, "5", 3, 29_971, 4_167),
    ],
)
def test_published_amortization_tables(principal, rate, years, payment, first_interest):
    terms = ScheduleTerms("USD", Decimal(rate))
    schedule = generate(terms, principal, 12 * years, date(2026, 1, 15))
    first = schedule.installments[0]
    assert (schedule.installment_minor, first.interest_minor) == (payment, first_interest)
    assert first.principal_minor == payment - first_interest
    assert sum(i.principal_minor for i in schedule.installments) == principal


@settings(max_examples=200, deadline=None)
@given(
    principal=st.integers(min_value=10_000, max_value=10**10),
    rate=st.decimals(min_value=Decimal("0.5"), max_value=Decimal(60), places=2),
    periods=st.integers(min_value=2, max_value=120),
    frequency=st.sampled_from(FREQUENCIES),
)
def test_the_installment_is_numpy_financials_annuity(principal, rate, periods, frequency):
    terms = ScheduleTerms("USD", rate, frequency=frequency)
    schedule = generate(terms, principal, periods, date(2026, 3, 1))
    expected = npf.pmt(float(annuity_rate(terms)), periods, -principal)
    assert abs(schedule.installment_minor - expected) <= 0.5 + 1e-6 * expected
    # The first period's interest is numpy-financial's ipmt (both on the full principal);
    # later ones follow our rounded balances, which the invariants below check.
    first = abs(npf.ipmt(float(annuity_rate(terms)), 1, periods, -principal))
    assert abs(schedule.installments[0].interest_minor - first) <= 0.5 + 1e-6 * first
    assert len(schedule.installments) <= periods


def test_a_zero_rate_spreads_the_principal_evenly():
    schedule = generate(ScheduleTerms("TJS", Decimal(0)), 100_000, 3, date(2026, 1, 1))
    assert [(i.principal_minor, i.interest_minor) for i in schedule.installments] == [
        (33_333, 0),
        (33_333, 0),
        (33_334, 0),
    ]


# ------------------------------------------------------------- dates and frequencies


def test_monthly_due_dates_keep_the_day_or_take_the_months_last():
    assert add_months(date(2026, 1, 31), 1) == date(2026, 2, 28)
    assert add_months(date(2028, 1, 31), 1) == date(2028, 2, 29)
    schedule = generate(
        ScheduleTerms("TJS", Decimal(24)), 120_000, 4, date(2026, 1, 5), date(2026, 1, 31)
    )
    assert [i.due_date for i in schedule.installments] == [
        date(2026, 1, 31),
        date(2026, 2, 28),
        date(2026, 3, 31),
        date(2026, 4, 30),
    ]
    assert schedule.installments[0].period_start == date(2026, 1, 5)


@pytest.mark.parametrize(
    ("frequency", "days", "rate"), [("weekly", 7, 1 / 52), ("biweekly", 14, 2 / 52)]
)
def test_weekly_and_biweekly_periods(frequency, days, rate):
    schedule = generate(
        ScheduleTerms("KGS", Decimal(26), frequency=frequency), 1_000_000, 10, date(2026, 3, 2)
    )
    dates = [i.due_date for i in schedule.installments]
    assert all((b - a).days == days for a, b in itertools.pairwise([date(2026, 3, 2), *dates]))
    # The first week's interest: 10,000.00 x 26% / 52 (x 2 every two weeks).
    assert schedule.installments[0].interest_minor == round(1_000_000 * 0.26 * rate)


def test_thirty_360_counts_every_month_as_thirty_days():
    daily = generate(
        ScheduleTerms("USD", Decimal(12), interest_period="daily", day_count="30/360"),
        1_200_000,
        12,
        date(2026, 1, 31),
    )
    # Every period is 30 days: 12,000.00 x 12% / 360 x 30 = 120.00 in the first.
    assert daily.installments[0].interest_minor == 12_000


def test_actual_360_charges_more_than_actual_365():
    terms = {"interest_period": "daily", "annual_rate_percent": Decimal(20)}
    a360 = generate(
        ScheduleTerms("TJS", day_count="actual/360", **terms), 500_000, 6, date(2026, 1, 1)
    )
    a365 = generate(
        ScheduleTerms("TJS", day_count="actual/365", **terms), 500_000, 6, date(2026, 1, 1)
    )
    # January: 31 days. 5,000.00 x 20% x 31 / 360 = 86.11; / 365 = 84.93.
    assert (a360.installments[0].interest_minor, a365.installments[0].interest_minor) == (
        8_611,
        8_493,
    )
    assert a360.total_interest_minor > a365.total_interest_minor


# ------------------------------------------------------------- rounding edges


def test_a_zero_decimal_currency_rounds_to_whole_units():
    schedule = generate(ScheduleTerms("JPY", Decimal("15")), 100_000, 7, date(2026, 4, 1))
    assert sum(i.principal_minor for i in schedule.installments) == 100_000
    assert schedule.installments[0].interest_minor == 1_250  # 100,000 x 15% / 12


def test_a_tiny_loan_still_adds_up():
    schedule = generate(ScheduleTerms("TJS", Decimal(36)), 7, 12, date(2026, 1, 1))
    assert sum(i.principal_minor for i in schedule.installments) == 7
    assert all(i.balance_after_minor >= 0 for i in schedule.installments)


def test_a_long_weekly_loan_repays_exactly():
    schedule = generate(
        ScheduleTerms("UZS", Decimal(28), frequency="weekly"), 5_000_000_000, 520, date(2026, 1, 1)
    )
    assert len(schedule.installments) == 520
    assert sum(i.principal_minor for i in schedule.installments) == 5_000_000_000


def test_a_large_multiple_may_end_the_loan_early():
    # Installments in multiples of 1,000.00 on a 10,000.00 loan: the annuity (about
    # 2,091.01 over 5 months at 24%) rounds to 2,000.00; the last takes the rest.
    schedule = generate(
        ScheduleTerms("TJS", Decimal(24), installment_multiple_minor=100_000),
        1_000_000,
        5,
        date(2026, 1, 1),
    )
    assert schedule.installment_minor == 200_000
    assert sum(i.principal_minor for i in schedule.installments) == 1_000_000
    assert schedule.installments[-1].total_minor != 200_000


# ------------------------------------------------------------- invariants

terms_strategy = st.builds(
    ScheduleTerms,
    currency=st.sampled_from(["TJS", "KGS", "UZS", "KZT", "JPY", "KWD"]),
    annual_rate_percent=st.decimals(min_value=0, max_value=Decimal(100), places=2),
    frequency=st.sampled_from(FREQUENCIES),
    interest_method=st.sampled_from(INTEREST_METHODS),
    amortization=st.sampled_from(AMORTIZATIONS),
    interest_period=st.sampled_from(INTEREST_PERIODS),
    day_count=st.sampled_from(DAY_COUNTS),
    installment_multiple_minor=st.none() | st.sampled_from([1, 10, 100, 1_000]),
)


@settings(max_examples=400, deadline=None)
@given(
    terms=terms_strategy,
    principal=st.integers(min_value=1, max_value=10**12),
    installments=st.integers(min_value=1, max_value=60),
    grace=st.tuples(st.integers(0, 59), st.integers(0, 59)),
    start=st.dates(min_value=date(2000, 1, 1), max_value=date(2090, 12, 31)),
)
def test_every_schedule_repays_exactly_with_balances_never_negative(
    terms, principal, installments, grace, start
):
    terms = ScheduleTerms(
        **{
            **terms.__dict__,
            "grace_on_principal": grace[0] % installments,
            "grace_on_interest": grace[1] % installments,
        }
    )
    schedule = generate(terms, principal, installments, start)
    items = schedule.installments
    assert sum(i.principal_minor for i in items) == principal
    assert all(i.balance_after_minor >= 0 for i in items)
    assert all(i.principal_minor >= 0 and i.interest_minor >= 0 for i in items)
    assert items[-1].balance_after_minor == 0
    dates = [start] + [i.due_date for i in items]
    assert all(a < b for a, b in itertools.pairwise(dates))
    assert [i.number for i in items] == list(range(1, len(items) + 1))
    assert 1 <= len(items) <= installments
    befores = [principal] + [i.balance_after_minor for i in items]
    for before, item in zip(befores, items, strict=False):
        assert before - item.principal_minor == item.balance_after_minor


# ------------------------------------------------------------- refusals


@pytest.mark.parametrize(
    ("changes", "installments", "principal"),
    [
        ({"frequency": "daily"}, 12, 100),
        ({"annual_rate_percent": Decimal(-1)}, 12, 100),
        ({"grace_on_principal": 12}, 12, 100),
        ({"grace_on_interest": -1}, 12, 100),
        ({"installment_multiple_minor": 0}, 12, 100),
        ({"currency": "XXX"}, 12, 100),
        ({}, 0, 100),
        ({}, 521, 100),
        ({}, 12, 0),
    ],
)
def test_bad_terms_are_refused(changes, installments, principal):
    terms = ScheduleTerms(**{"currency": "TJS", "annual_rate_percent": Decimal(20), **changes})
    with pytest.raises(ValidationFailed):
        generate(terms, principal, installments, date(2026, 1, 1))


def test_the_first_due_date_must_follow_disbursement():
    with pytest.raises(ValidationFailed):
        generate(ScheduleTerms("TJS", Decimal(20)), 100, 3, date(2026, 1, 1), date(2026, 1, 1))


def test_the_annuity_is_exact():
    assert annuity(100, Decimal(0), 3) == Decimal(100) / 3
    assert round(annuity(10_000_000, Decimal("0.005"), 360), 4) == Decimal("59955.0525")


# ------------------------------------------------------------- every combination
#
# The first installment of each combination of method, amortization, interest period
# and frequency, against the formulas written out here independently of the generator:
# 12,000.00 TJS at 18% a year, 12 installments, disbursed 2026-01-10.

_P, _N, _RATE = 1_200_000, 12, Decimal("0.18")
_PERIOD = {"monthly": _RATE / 12, "weekly": _RATE / 52, "biweekly": _RATE * 2 / 52}
_DAYS = {"monthly": 31, "weekly": 7, "biweekly": 14}  # the first period from 2026-01-10


def _half_even(value: Decimal) -> int:
    return int(value.quantize(Decimal(1), "ROUND_HALF_EVEN"))


@pytest.mark.parametrize("frequency", FREQUENCIES)
@pytest.mark.parametrize("interest_period", INTEREST_PERIODS)
@pytest.mark.parametrize(
    ("method", "amortization"),
    [
        ("declining_balance", "equal_installments"),
        ("declining_balance", "equal_principal"),
        ("flat", "equal_installments"),
    ],
)
def test_the_first_installment_of_every_combination(
    method, amortization, interest_period, frequency
):
    terms = ScheduleTerms(
        "TJS",
        Decimal(18),
        frequency=frequency,
        interest_method=method,
        amortization=amortization,
        interest_period=interest_period,
        day_count="actual/365",
    )
    schedule = generate(terms, _P, _N, date(2026, 1, 10))
    first = schedule.installments[0]
    per_day = _RATE / 365
    first_rate = (
        _PERIOD[frequency] if interest_period == "repayment_period" else per_day * _DAYS[frequency]
    )
    if method == "flat":
        if interest_period == "repayment_period":
            total = _half_even(_P * _PERIOD[frequency] * _N)
        else:
            total = _half_even(
                _P * per_day * (schedule.installments[-1].due_date - date(2026, 1, 10)).days
            )
        assert first.interest_minor == _half_even(Decimal(total) / _N)
        assert first.principal_minor == _half_even(Decimal(_P) / _N)
        assert schedule.total_interest_minor == total
    else:
        assert first.interest_minor == _half_even(_P * first_rate)
        if amortization == "equal_principal":
            assert first.principal_minor == _half_even(Decimal(_P) / _N)
        else:
            annuity_rate_ = (
                _PERIOD[frequency]
                if interest_period == "repayment_period"
                else per_day * {"monthly": 30, "weekly": 7, "biweekly": 14}[frequency]
            )
            emi = _half_even(_P * annuity_rate_ / (1 - (1 + annuity_rate_) ** -_N))
            assert schedule.installment_minor == emi
            assert first.principal_minor == emi - first.interest_minor
    assert sum(i.principal_minor for i in schedule.installments) == _P
