from datetime import date
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ledger.remittance.history import summarize


def test_a_steady_sender_has_full_regularity_and_no_volatility():
    inflows = [(date(2026, m, 5), 100_000) for m in range(1, 12)] + [(date(2025, 12, 20), 100_000)]
    summary = summarize(inflows, currency="TJS", as_of=date(2026, 11, 30))
    assert summary.regularity == 12
    assert summary.average_minor == Decimal("100000.0000")
    assert summary.volatility == Decimal("0.0000")
    assert summary.months[0].month == date(2025, 12, 1)


def test_seasonal_sender_skipped_months_count_as_zero():
    # Construction season: April to October, 200.00 a month; nothing in winter.
    inflows = [(date(2026, m, 10), 20_000) for m in range(4, 11)]
    summary = summarize(inflows, currency="KGS", as_of=date(2026, 12, 31))
    assert summary.regularity == 7
    assert summary.total_minor == 140_000
    # mean 140000/12 = 11666.67; by hand sd = sqrt((7*(20000-m)^2 + 5*m^2)/12) = 9860.3
    assert summary.average_minor == Decimal("11666.6667")
    assert summary.volatility == Decimal("0.8452")


def test_inflows_outside_the_window_or_after_as_of_are_ignored():
    inflows = [(date(2024, 1, 1), 5), (date(2026, 11, 29), 7), (date(2026, 11, 30), 9)]
    summary = summarize(inflows, currency="UZS", as_of=date(2026, 11, 29), months=3)
    assert summary.total_minor == 7
    assert [m.count for m in summary.months] == [0, 0, 1]


def test_no_inflows_means_no_volatility():
    summary = summarize([], currency="TJS", as_of=date(2026, 1, 1))
    assert summary.regularity == 0 and summary.volatility is None


def test_refuses_non_positive_inflows():
    with pytest.raises(ValueError, match="positive"):
        summarize([(date(2026, 1, 1), 0)], currency="TJS", as_of=date(2026, 1, 2))


@given(
    st.lists(
        st.tuples(st.dates(date(2025, 1, 1), date(2026, 12, 31)), st.integers(1, 10**9)),
        max_size=60,
    )
)
def test_the_series_adds_up_to_the_inflows_in_the_window(inflows):
    as_of = date(2026, 6, 15)
    summary = summarize(inflows, currency="TJS", as_of=as_of)
    inside = [a for d, a in inflows if date(2025, 7, 1) <= d <= as_of]
    assert summary.total_minor == sum(inside)
    assert sum(m.count for m in summary.months) == len(inside)
    assert 0 <= summary.regularity <= 12
