"""A portfolio's figures from its loan tape (pure). Amounts are minor units of the
portfolio's one currency; ratios are exact decimals rounded half-even to four places
(0.0123 is 1.23%), ``None`` where the denominator is zero.

Definitions (as the microfinance industry uses them; where Fineract's reports differ,
it is said):

* **Gross loan portfolio** (GLP): outstanding principal of active loans. Accrued
  interest and fees are not in it (as in MIX/SEEP; Fineract's "portfolio at risk"
  report also uses principal only).
* **PAR30 / PAR90**: outstanding principal of active loans more than 30 (90) days past
  due, **the whole outstanding principal of each such loan**, over GLP. (Fineract's
  arrears reports show the overdue amount; this is the PAR ratio.)
* **Delinquency buckets**: loans and outstanding principal per bucket.
* **Write-off ratio**: principal written off to date over principal disbursed to date
  (a cumulative loss rate; MIX's annual ratio divides the year's write-offs by the
  average GLP instead).
* **Portfolio yield**: interest accrued and fees charged in the period (origination
  and late fees), over the average GLP of the period, annualised by 365 / its days.
  The average is the daily snapshots' GLP in the period with today's; without
  snapshots, today's GLP.
* **Fund utilisation**: GLP over the scheme's capital (investors' and sponsors'
  matching, not the first-loss layer): how much of the fund is lent out.
* **Borrowers' remittance inflows**: completed remittances to the borrowers of active
  loans in the 365 days to the date; the average is per borrower per month.
* **Breakdowns** by borrower country, partner, product and corridor (the borrower's
  main remittance corridor): loans, GLP and PAR30 of each.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from datetime import date
from decimal import ROUND_HALF_EVEN, Decimal
from typing import Any

from ledger.credit.delinquency import bucket_labels
from ledger.portfolio.tape import TapeRow

RATIO_PLACES = Decimal("0.0001")


def ratio(numerator: int | Decimal, denominator: int | Decimal) -> str | None:
    """numerator / denominator to four places, half-even, as text (None over zero)."""
    if not denominator:
        return None
    value = (Decimal(numerator) / Decimal(denominator)).quantize(RATIO_PLACES, ROUND_HALF_EVEN)
    return format(value, "f")


def _par(rows: Iterable[TapeRow], days: int) -> int:
    return sum(r.outstanding_principal_minor for r in rows if r.days_past_due > days)


def _breakdown(active: Sequence[TapeRow], key: str) -> list[dict[str, Any]]:
    groups: dict[str, list[TapeRow]] = defaultdict(list)
    for row in active:
        groups[getattr(row, key) or "unknown"].append(row)
    result = []
    for name in sorted(groups):
        members = groups[name]
        glp = sum(r.outstanding_principal_minor for r in members)
        result.append(
            {
                "key": name,
                "loans": len(members),
                "gross_loan_portfolio_minor": glp,
                "par30_ratio": ratio(_par(members, 30), glp),
            }
        )
    return result


def portfolio_figures(
    tape: Sequence[TapeRow],
    *,
    as_of: date,
    period_start: date,
    currency: str,
    capital_minor: int,
    investors: Sequence[tuple[str, int]],
    earlier_portfolio_minor: Sequence[int] = (),
    edges: Sequence[int] = (30, 60, 90, 180),
) -> dict[str, Any]:
    """The figures of ``tape`` (see the module docstring); ``earlier_portfolio_minor``:
    the GLP of the period's earlier daily snapshots, for the average."""
    active = [r for r in tape if r.status == "active"]
    glp = sum(r.outstanding_principal_minor for r in active)
    disbursed_total = sum(r.principal_minor for r in tape)
    written_off = sum(r.written_off_minor for r in tape)
    buckets = []
    for label in bucket_labels(edges):
        members = [r for r in active if r.bucket == label]
        outstanding = sum(r.outstanding_principal_minor for r in members)
        buckets.append(
            {
                "bucket": label,
                "loans": len(members),
                "outstanding_minor": outstanding,
                "ratio": ratio(outstanding, glp),
            }
        )
    days = (as_of - period_start).days + 1
    portfolios = [*earlier_portfolio_minor, glp]
    average_glp = Decimal(sum(portfolios)) / len(portfolios)
    income = sum(r.income_in_period_minor for r in tape)
    yield_ratio = ratio(Decimal(income) * 365 / days, average_glp) if days > 0 else None
    borrowers = {r.customer_id: r for r in active}
    inflow_total = sum(r.inflow_minor for r in borrowers.values())
    par30, par90 = _par(active, 30), _par(active, 90)
    capital_shares = [
        {"name": name, "amount_minor": amount, "share": ratio(amount, capital_minor)}
        for name, amount in investors
    ]
    return {
        "as_of": as_of.isoformat(),
        "period": {"from": period_start.isoformat(), "to": as_of.isoformat()},
        "currency": currency,
        "loans": len(tape),
        "active_loans": len(active),
        "gross_loan_portfolio_minor": glp,
        "disbursed_in_period_minor": sum(
            r.principal_minor for r in tape if r.disbursed_on >= period_start
        ),
        "repaid_in_period_minor": sum(r.repaid_in_period_minor for r in tape),
        "par30": {"amount_minor": par30, "ratio": ratio(par30, glp)},
        "par90": {"amount_minor": par90, "ratio": ratio(par90, glp)},
        "delinquency": buckets,
        "disbursed_total_minor": disbursed_total,
        "written_off_total_minor": written_off,
        "write_off_ratio": ratio(written_off, disbursed_total),
        "income_in_period_minor": income,
        "average_portfolio_minor": int(average_glp.quantize(Decimal(1), ROUND_HALF_EVEN)),
        "portfolio_yield": yield_ratio,
        "capital_minor": capital_minor,
        "fund_utilization": ratio(glp, capital_minor),
        "investors": capital_shares,
        "borrower_inflows": {
            "borrowers": len(borrowers),
            "total_minor": inflow_total,
            "average_monthly_per_borrower_minor": (
                int(
                    (Decimal(inflow_total) / len(borrowers) / 12).quantize(
                        Decimal(1), ROUND_HALF_EVEN
                    )
                )
                if borrowers
                else 0
            ),
        },
        "breakdowns": {
            "country": _breakdown(active, "country"),
            "partner": _breakdown(active, "partner"),
            "product": _breakdown(active, "product"),
            "corridor": _breakdown(active, "corridor"),
        },
    }
