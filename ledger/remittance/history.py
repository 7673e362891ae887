"""Remittance history statistics: the pure part credit scoring relies on.

A customer's inflows (completed remittances credited to them, in the receive
currency) become a monthly series over the last ``months`` calendar months up to
and including the month of ``as_of``; months without inflows count as zero,
because a skipped month is information (remittances are seasonal and irregular).

* ``regularity``: months with at least one inflow.
* ``average_minor``: mean monthly amount over the window (zeros included), as a
  Decimal of minor units (not money: a statistic, never posted).
* ``volatility``: coefficient of variation, population standard deviation over
  the mean (0 for a perfectly steady sender; None when nothing arrived).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from decimal import Decimal, localcontext

STATISTIC_PLACES = Decimal("0.0001")


@dataclass(frozen=True)
class MonthlyInflow:
    month: date  # first day of the month
    count: int
    amount_minor: int


@dataclass(frozen=True)
class HistorySummary:
    currency: str
    months: tuple[MonthlyInflow, ...]  # oldest first
    regularity: int
    total_minor: int
    average_minor: Decimal
    volatility: Decimal | None


def _month_start(day: date) -> date:
    return date(day.year, day.month, 1)


def months_back(month: date, count: int) -> list[date]:
    """``count`` month starts ending with ``month``, oldest first."""
    result = []
    year, number = month.year, month.month
    for _ in range(count):
        result.append(date(year, number, 1))
        number -= 1
        if number == 0:
            year, number = year - 1, 12
    return result[::-1]


def summarize(
    inflows: Iterable[tuple[date, int]], *, currency: str, as_of: date, months: int = 12
) -> HistorySummary:
    """Summarize ``(day, amount_minor)`` inflows over the window ending at ``as_of``."""
    if months < 1:
        raise ValueError("the window has at least one month")
    window = months_back(_month_start(as_of), months)
    first = window[0]
    counts = dict.fromkeys(window, 0)
    amounts = dict.fromkeys(window, 0)
    for day, amount_minor in inflows:
        if amount_minor <= 0:
            raise ValueError("inflows are positive amounts")
        month = _month_start(day)
        if first <= month <= window[-1] and day <= as_of:
            counts[month] += 1
            amounts[month] += amount_minor
    series = tuple(MonthlyInflow(m, counts[m], amounts[m]) for m in window)
    total = sum(amounts.values())
    with localcontext() as context:
        context.prec = 50
        mean = Decimal(total) / months
        if total == 0:
            volatility = None
        else:
            variance = sum((Decimal(a) - mean) ** 2 for a in amounts.values()) / months
            volatility = (variance.sqrt() / mean).quantize(STATISTIC_PLACES)
        average = mean.quantize(STATISTIC_PLACES)
    return HistorySummary(
        currency=currency,
        months=series,
        regularity=sum(1 for m in window if counts[m] > 0),
        total_minor=total,
        average_minor=average,
        volatility=volatility,
    )
