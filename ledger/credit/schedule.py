"""Loan schedules (repayment plans): a pure function of the terms, computed as Apache
Fineract's loan schedule generator computes them, to the cent.

``generate(terms, principal_minor, installments, disbursement_date, first_due_date)``
returns every installment: period, due date, principal, interest, fees, total and the
balance after it. The principal parts always add up to the loan exactly.

How Fineract computes (``LoanApplicationTerms``, the cumulative declining-balance and
flat generators; reproduced here and checked against its published schedules in
tests/unit/test_schedule.py):

* **Arithmetic**: rates and interest products at 12 significant digits, rounding
  half-even (Fineract's default ``MathContext``); every amount is then rounded
  half-even to the currency's minor unit.
* **Periodic rate**, interest calculated *per repayment period* (the default):
  annual / 12 monthly, annual / 52 weekly, 2 x annual / 52 every two weeks; the day
  count plays no part. Interest calculated *daily*: annual / days-in-year per day,
  times the days of the period (actual days; 30 a month with 30/360). Days-in-year is
  360 for 30/360 and actual/360, 365 for actual/365 and for actual/actual: Fineract's
  generator counts every year as 365 days (a true actual/actual would use 366 in leap
  years; we follow Fineract, to agree with it).
* **Declining balance, equal installments**: the installment (EMI) is the annuity on
  the whole principal over the installments after the principal grace, at the period
  rate (for daily interest: a 30-day month, 7-day week or 14-day fortnight), rounded to
  the installment multiple (half-even) if there is one, else to the minor unit. Each
  period's interest is the balance times that period's rate; its principal is the EMI
  less that interest; the last installment takes whatever principal remains (its total
  differs from the EMI) and the schedule ends early if the principal is repaid sooner.
* **Declining balance, equal principal**: principal / (installments - principal grace)
  each period (to the minor unit; the multiple does not apply), interest on the
  balance, the remainder in the last installment.
* **Flat**: total interest = principal x period rate x installments (for daily
  interest: x days from disbursement to the last due date), spread evenly over the
  interest-bearing installments, principal evenly over those after the grace; with a
  multiple, each installment's principal is moved so the installment is a multiple.
  The last installment takes the remaining principal and interest.
* **Grace on principal** (g periods): no principal in the first g installments
  (interest is paid); the principal is amortized over the rest.
* **Grace on interest payment** (h periods): the first h installments show no
  interest; declining balance carries it and adds it to the first installment after
  the grace (whose principal is the EMI less only its own interest); flat spreads the
  interest over the installments after the grace.
* **Dates**: the first due date defaults to one period after disbursement; later ones
  are the first plus k months (the day of month kept where the month has it, else its
  last day) or plus 7k / 14k days. The first period is charged a whole period's
  interest under per-period interest (Fineract without partial-period calculation) and
  its actual days under daily interest.

The installment (annuity) formula is evaluated exactly (60 digits) where Fineract uses
a Java double; the two can differ only when the annuity falls within about 1e-12 of a
rounding boundary.
"""

from __future__ import annotations

import calendar
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import ROUND_HALF_EVEN, Context, Decimal, localcontext
from typing import Literal

from ledger.errors import ValidationFailed
from ledger.limits import AMOUNT_MINOR_MAX
from ledger.money import exponent, validate_currency

Frequency = Literal["weekly", "biweekly", "monthly"]
InterestMethod = Literal["declining_balance", "flat"]
Amortization = Literal["equal_installments", "equal_principal"]
InterestPeriod = Literal["repayment_period", "daily"]
DayCount = Literal["30/360", "actual/365", "actual/360", "actual/actual"]

FREQUENCIES = ("weekly", "biweekly", "monthly")
INTEREST_METHODS = ("declining_balance", "flat")
AMORTIZATIONS = ("equal_installments", "equal_principal")
INTEREST_PERIODS = ("repayment_period", "daily")
DAY_COUNTS = ("30/360", "actual/365", "actual/360", "actual/actual")

#: Fineract's MathContext: 12 significant digits, half-even.
PRECISION = 12
#: Installments of one loan (ten years of weekly payments).
INSTALLMENTS_MAX = 520
RATE_PERCENT_MAX = Decimal(1000)

_DAYS_IN_YEAR = {"30/360": 360, "actual/360": 360, "actual/365": 365, "actual/actual": 365}
_PERIODS_PER_YEAR = {"weekly": 52, "biweekly": 52, "monthly": 12}
_EVERY = {"weekly": 1, "biweekly": 2, "monthly": 1}
_PMT_DAYS = {"weekly": 7, "biweekly": 14, "monthly": 30}


@dataclass(frozen=True)
class ScheduleTerms:
    """The parts of a loan product that shape its schedule."""

    currency: str
    annual_rate_percent: Decimal  # nominal: 12 is 12% a year
    frequency: Frequency = "monthly"
    interest_method: InterestMethod = "declining_balance"
    amortization: Amortization = "equal_installments"
    interest_period: InterestPeriod = "repayment_period"
    day_count: DayCount = "actual/365"
    grace_on_principal: int = 0
    grace_on_interest: int = 0
    installment_multiple_minor: int | None = None  # 100: whole units of a 2-decimal currency

    def validate(self, installments: int) -> None:
        validate_currency(self.currency)
        choices = (
            ("frequency", self.frequency, FREQUENCIES),
            ("interest_method", self.interest_method, INTEREST_METHODS),
            ("amortization", self.amortization, AMORTIZATIONS),
            ("interest_period", self.interest_period, INTEREST_PERIODS),
            ("day_count", self.day_count, DAY_COUNTS),
        )
        for name, value, allowed in choices:
            if value not in allowed:
                raise ValidationFailed(f"{name} is one of {', '.join(allowed)}", field=name)
        rate = self.annual_rate_percent
        if (
            not isinstance(rate, Decimal)
            or not rate.is_finite()
            or not 0 <= rate <= RATE_PERCENT_MAX
        ):
            raise ValidationFailed(
                f"the annual rate is a percentage from 0 to {RATE_PERCENT_MAX}",
                field="annual_rate_percent",
            )
        if not 1 <= installments <= INSTALLMENTS_MAX:
            raise ValidationFailed(
                f"a loan has 1 to {INSTALLMENTS_MAX} installments", field="installments"
            )
        for name, grace in (
            ("grace_on_principal", self.grace_on_principal),
            ("grace_on_interest", self.grace_on_interest),
        ):
            if not isinstance(grace, int) or not 0 <= grace < installments:
                raise ValidationFailed(f"{name} is 0 to one less than the installments", field=name)
        multiple = self.installment_multiple_minor
        if multiple is not None and (not isinstance(multiple, int) or multiple < 1):
            raise ValidationFailed(
                "the installment multiple is a positive amount", field="installment_multiple"
            )


@dataclass(frozen=True)
class Installment:
    number: int
    period_start: date
    due_date: date
    principal_minor: int
    interest_minor: int
    fee_minor: int
    balance_after_minor: int

    @property
    def total_minor(self) -> int:
        return self.principal_minor + self.interest_minor + self.fee_minor


@dataclass(frozen=True)
class Schedule:
    currency: str
    principal_minor: int
    installments: tuple[Installment, ...]
    installment_minor: int | None  # the EMI of equal installments (None otherwise)

    @property
    def total_interest_minor(self) -> int:
        return sum(i.interest_minor for i in self.installments)

    @property
    def total_minor(self) -> int:
        return sum(i.total_minor for i in self.installments)

    @property
    def largest_installment_minor(self) -> int:
        return max(i.total_minor for i in self.installments)


# ------------------------------------------------------------------ dates


def add_months(day: date, months: int) -> date:
    """``day`` plus ``months`` calendar months, clamped to the end of a shorter month."""
    month_index = day.month - 1 + months
    year, month = day.year + month_index // 12, month_index % 12 + 1
    return date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


def _step(frequency: str, start: date, count: int) -> date:
    if frequency == "monthly":
        return add_months(start, count)
    return start + timedelta(days=7 * _EVERY[frequency] * count)


def due_dates(
    frequency: str, installments: int, disbursement: date, first_due: date | None
) -> list[date]:
    try:
        first = first_due or _step(frequency, disbursement, 1)
        dates = [_step(frequency, first, k) for k in range(installments)]
    except (OverflowError, ValueError):  # past 9999-12-31
        raise ValidationFailed(
            "the schedule would run past the last representable date (9999-12-31)",
            field="installments",
        ) from None
    if first <= disbursement:
        raise ValidationFailed("the first due date is after disbursement", field="first_due_date")
    return dates


def days_30_360(start: date, end: date) -> int:
    """Days between two dates counting each whole month as 30 (as Fineract's 30-day
    months do: a period fraction times 30), and the days beyond them as they are."""
    months = 0
    while add_months(start, months + 1) <= end:
        months += 1
    return 30 * months + (end - add_months(start, months)).days


# ------------------------------------------------------------------ rates


#: Fineract's MathContext as a Decimal context: its operations round to 12
#: significant digits half-even, as each of Fineract's BigDecimal operations does.
FINERACT = Context(prec=PRECISION, rounding=ROUND_HALF_EVEN)
_ONE = Decimal(1)


def period_rate(terms: ScheduleTerms, start: date, end: date) -> Decimal:
    """The rate of one period as Fineract computes it (12 significant digits)."""
    annual = terms.annual_rate_percent
    if terms.interest_period == "repayment_period":
        per_period = FINERACT.divide(
            FINERACT.divide(annual, _PERIODS_PER_YEAR[terms.frequency]), 100
        )
        return FINERACT.multiply(per_period, _EVERY[terms.frequency])
    one_day = FINERACT.divide(FINERACT.divide(annual, _DAYS_IN_YEAR[terms.day_count]), 100)
    # 30-day months apply to monthly periods; weeks count their actual days.
    thirty = terms.day_count == "30/360" and terms.frequency == "monthly"
    days = days_30_360(start, end) if thirty else (end - start).days
    return FINERACT.multiply(one_day, days)


def annuity_rate(terms: ScheduleTerms) -> Decimal:
    """The rate Fineract uses for the installment (EMI): a standard period's."""
    annual = terms.annual_rate_percent
    if terms.interest_period == "repayment_period":
        per_period = FINERACT.divide(
            FINERACT.divide(annual, _PERIODS_PER_YEAR[terms.frequency]), 100
        )
        return FINERACT.multiply(per_period, _EVERY[terms.frequency])
    one_day = FINERACT.divide(FINERACT.divide(annual, _DAYS_IN_YEAR[terms.day_count]), 100)
    return FINERACT.multiply(one_day, _PMT_DAYS[terms.frequency])


def interest_on(balance_minor: int, rate: Decimal) -> int:
    """Balance x rate at 12 digits, then half-even to the minor unit (Fineract's
    ``multiplyRetainScale`` followed by the Money constructor)."""
    product = FINERACT.multiply(Decimal(balance_minor), rate)
    return int(product.quantize(_ONE, ROUND_HALF_EVEN))


def round_to_multiple(amount_minor: Decimal | int, multiple_minor: int) -> int:
    """The nearest multiple, ties to even (Fineract's ``roundToMultiplesOf``)."""
    units = (Decimal(amount_minor) / multiple_minor).quantize(Decimal(1), ROUND_HALF_EVEN)
    return int(units) * multiple_minor


def annuity(principal_minor: int, rate: Decimal, periods: int) -> Decimal:
    """The level payment that repays ``principal_minor`` in ``periods`` at ``rate``,
    exact to 60 digits (unrounded, in minor units)."""
    if rate == 0:
        return Decimal(principal_minor) / periods
    with localcontext() as context:
        context.prec = 60
        growth = (1 + rate) ** periods
        return Decimal(principal_minor) * rate * growth / (growth - 1)


def _emi(terms: ScheduleTerms, principal_minor: int, periods: int) -> int:
    exact = annuity(principal_minor, annuity_rate(terms), periods)
    if terms.installment_multiple_minor:
        return round_to_multiple(exact, terms.installment_multiple_minor)
    return int(exact.quantize(Decimal(1), ROUND_HALF_EVEN))


# ------------------------------------------------------------------ generation


def generate(
    terms: ScheduleTerms,
    principal_minor: int,
    installments: int,
    disbursement_date: date,
    first_due_date: date | None = None,
) -> Schedule:
    """The schedule of a loan of ``principal_minor`` repaid in ``installments``."""
    terms.validate(installments)
    dates = due_dates(terms.frequency, installments, disbursement_date, first_due_date)
    return generate_on_dates(terms, principal_minor, disbursement_date, dates)


def generate_on_dates(
    terms: ScheduleTerms,
    principal_minor: int,
    start_date: date,
    dates: Sequence[date],
    *,
    carried_interest_minor: int = 0,
) -> Schedule:
    """The schedule over given due dates (the first period from ``start_date``):
    ``generate``'s arithmetic, and a rebuilt schedule's after a prepayment, which keeps
    the loan's due dates. ``carried_interest_minor`` is interest of earlier periods
    under grace on interest, not yet billed: the first installment after the grace
    bills it."""
    terms.validate(len(dates))
    if not isinstance(principal_minor, int) or not 0 < principal_minor <= AMOUNT_MINOR_MAX:
        raise ValidationFailed("the principal is a positive amount", field="principal")
    dates = list(dates)
    starts = [start_date, *dates[:-1]]
    if terms.interest_method == "flat":
        rows = _flat(terms, principal_minor, len(dates), starts, dates, carried_interest_minor)
        emi = None
    else:
        rows, emi = _declining(
            terms, principal_minor, len(dates), starts, dates, carried_interest_minor
        )
    return Schedule(terms.currency, principal_minor, tuple(rows), emi)


def grace_interest_carried(
    terms: ScheduleTerms,
    principal_minor: int,
    schedule: Sequence[tuple[date, date, int]],
    prepayments: Sequence[tuple[date, int]],
    through: int,
) -> int:
    """Interest of the installments ``1..through`` that grace on interest deferred (they
    showed none) when the installment that bills it comes after ``through``: what a
    schedule rebuilt after ``through`` must still bill. ``schedule`` is the loan's
    ``(period_start, due_date, principal_minor)`` in order; ``prepayments`` the principal
    prepaid ``(day, amount)``, which lowers the balance of periods starting after it.
    Interest per period as the generator computes it: on the balance at the period's
    start (flat: on the principal then outstanding), at the period's rate."""
    if not 0 < through <= terms.grace_on_interest:
        return 0  # no grace, or installment grace + 1 (which bills it) is not rebuilt
    upto = through
    first_start, first_due, _ = schedule[0]
    fixed = period_rate(terms, first_start, first_due)
    carried, scheduled_before = 0, 0
    for start, due, principal in schedule[:upto]:
        prepaid = sum(amount for day, amount in prepayments if day < start)
        if terms.interest_method == "flat":
            balance = principal_minor - prepaid
        else:
            balance = principal_minor - scheduled_before - prepaid
        rate = (
            fixed
            if terms.interest_period == "repayment_period" or terms.interest_method == "flat"
            else period_rate(terms, start, due)
        )
        carried += interest_on(balance, rate)
        scheduled_before += principal
    return carried


def _declining(
    terms: ScheduleTerms,
    principal_minor: int,
    count: int,
    starts: list[date],
    dates: list[date],
    carried_in: int = 0,
) -> tuple[list[Installment], int | None]:
    grace_principal, grace_interest = terms.grace_on_principal, terms.grace_on_interest
    amortizing = count - grace_principal
    equal_installments = terms.amortization == "equal_installments"
    emi = _emi(terms, principal_minor, amortizing) if equal_installments else None
    fixed_principal = int(
        (Decimal(principal_minor) / amortizing).quantize(Decimal(1), ROUND_HALF_EVEN)
    )
    balance, carried = principal_minor, carried_in
    rows = []
    fixed_rate = (
        period_rate(terms, starts[0], dates[0])
        if terms.interest_period == "repayment_period"
        else None
    )
    for index in range(count):
        number = index + 1
        rate = (
            fixed_rate
            if fixed_rate is not None
            else period_rate(terms, starts[index], dates[index])
        )
        interest = interest_on(balance, rate)
        shown = interest
        if number <= grace_interest:
            carried, shown = carried + interest, 0
        elif carried and interest > 0:
            shown, carried = interest + carried, 0
        if number <= grace_principal:
            principal = 0
        elif equal_installments:
            assert emi is not None
            principal = max(emi - interest, 0)
        else:
            principal = fixed_principal
        last = number == count or principal >= balance
        if last:
            principal = balance
            shown += carried
            carried = 0
        balance -= principal
        rows.append(Installment(number, starts[index], dates[index], principal, shown, 0, balance))
        if last:
            break
    return rows, emi


def _flat(
    terms: ScheduleTerms,
    principal_minor: int,
    count: int,
    starts: list[date],
    dates: list[date],
    carried_in: int = 0,
) -> list[Installment]:
    grace_principal, grace_interest = terms.grace_on_principal, terms.grace_on_interest
    if terms.interest_period == "daily":
        rate = period_rate(terms, starts[0], dates[-1])  # the whole term's days at once
        total_interest = interest_on(principal_minor, rate)
    else:
        with localcontext() as context:
            context.prec, context.rounding = PRECISION, ROUND_HALF_EVEN
            rate = period_rate(terms, starts[0], dates[0]) * count
        total_interest = interest_on(principal_minor, rate)
    per_interest = int(
        (Decimal(total_interest) / (count - grace_interest)).quantize(Decimal(1), ROUND_HALF_EVEN)
    )
    per_principal = int(
        (Decimal(principal_minor) / (count - grace_principal)).quantize(Decimal(1), ROUND_HALF_EVEN)
    )
    balance, interest_left = principal_minor, total_interest
    rows = []
    for index in range(count):
        number = index + 1
        # Never more interest than is left: on a tiny loan the even share, rounded up,
        # times the installments could exceed the total (and turn the last negative).
        interest = 0 if number <= grace_interest else min(per_interest, interest_left)
        principal = 0 if number <= grace_principal else per_principal
        if principal and terms.installment_multiple_minor:
            multiple = terms.installment_multiple_minor
            principal = max(
                round_to_multiple(principal, multiple)
                + round_to_multiple(interest, multiple)
                - interest,
                0,
            )
        if number == count:
            principal, interest = balance, interest_left
        principal = min(principal, balance)
        balance -= principal
        interest_left -= interest
        if number == grace_interest + 1:  # the first billed installment: any carry-in
            interest += carried_in
        rows.append(
            Installment(number, starts[index], dates[index], principal, interest, 0, balance)
        )
    return rows


def minor_per_unit(currency: str) -> int:
    """Minor units in one major unit (100 for TJS, 1 for JPY)."""
    return 10 ** exponent(currency)
