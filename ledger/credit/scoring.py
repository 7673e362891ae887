"""Scoring a loan application on the applicant's remittance history. Pure.

Remittance history makes people without a credit file bankable: a migrant family that
receives money most months can carry an installment that is a modest share of it.
The product's rules (``ScoringRules``) and their outcomes:

| rule | passes | short of it (review) | far from it (declined) |
|---|---|---|---|
| months with inflows, of the last 12 | >= minimum | within 2 months below | more than 2 below |
| principal vs average monthly inflow | <= k x average | up to 25% beyond | beyond that |
| largest installment vs average inflow | <= s x average | up to 25% beyond | beyond that |
| volatility (coefficient of variation) | <= maximum, if set | above it | - |
| a loan in arrears | none | - | any |

The decision is ``declined`` if any rule declines, else ``review`` if any rule asks
for it, else ``approved``; it is the scheme's recommendation to the fund manager, who
decides. Every reason carries the figures that led to it, so the decision can be
audited as it was made. Averages are in minor units of the scheme's currency
(history in other currencies does not count: it is not what the loan is repaid in).
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from ledger.credit.terms import ScoringRules
from ledger.remittance.history import HistorySummary

SLACK = Decimal("1.25")  # how far beyond a limit is "review" rather than "declined"
REGULARITY_SLACK = 2


@dataclass(frozen=True)
class Reason:
    code: str
    outcome: str  # "pass", "review" or "declined"
    message: str
    figures: dict[str, Any]


@dataclass(frozen=True)
class Score:
    decision: str
    reasons: tuple[Reason, ...]
    figures: dict[str, Any]

    def as_dict(self) -> dict[str, Any]:
        return {
            "decision": self.decision,
            "figures": self.figures,
            "reasons": [
                {"code": r.code, "outcome": r.outcome, "message": r.message, "figures": r.figures}
                for r in self.reasons
            ],
        }


def _text(value: Decimal | None) -> str | None:
    return None if value is None else format(value, "f")


def score(
    history: HistorySummary,
    *,
    principal_minor: int,
    largest_installment_minor: int,
    rules: ScoringRules,
    loans_in_arrears: int,
) -> Score:
    """The decision on an application, with every reason and figure."""
    average = history.average_minor
    reasons: list[Reason] = []

    if loans_in_arrears:
        reasons.append(
            Reason(
                "loan_in_arrears",
                "declined",
                f"the applicant has {loans_in_arrears} loan(s) in arrears",
                {"loans_in_arrears": loans_in_arrears},
            )
        )
    else:
        reasons.append(Reason("no_arrears", "pass", "no loan in arrears", {"loans_in_arrears": 0}))

    regular, minimum = history.regularity, rules.min_regular_months
    if regular >= minimum:
        outcome = "pass"
    elif regular >= minimum - REGULARITY_SLACK:
        outcome = "review"
    else:
        outcome = "declined"
    reasons.append(
        Reason(
            "regular_inflows",
            outcome,
            f"remittances arrived in {regular} of the last {len(history.months)} months "
            f"(the product asks for {minimum})",
            {"months_with_inflows": regular, "minimum": minimum},
        )
    )

    for code, value, share, what in (
        ("amount_to_inflow", principal_minor, rules.max_amount_multiple, "the amount"),
        (
            "installment_to_inflow",
            largest_installment_minor,
            rules.max_installment_share,
            "the largest installment",
        ),
    ):
        limit = average * share
        if average == 0:
            outcome = "declined"
        elif value <= limit:
            outcome = "pass"
        elif value <= limit * SLACK:
            outcome = "review"
        else:
            outcome = "declined"
        ratio = None if average == 0 else (Decimal(value) / average).quantize(Decimal("0.0001"))
        reasons.append(
            Reason(
                code,
                outcome,
                f"{what} is {_text(ratio) or 'infinitely many'} times the average monthly "
                f"inflow (at most {format(share, 'f')})",
                {
                    "amount_minor": value,
                    "average_monthly_inflow_minor": _text(average),
                    "ratio": _text(ratio),
                    "limit": format(share, "f"),
                },
            )
        )

    if rules.max_volatility is not None:
        volatility = history.volatility
        steady = volatility is not None and volatility <= rules.max_volatility
        reasons.append(
            Reason(
                "volatility",
                "pass" if steady else "review",
                f"monthly inflows vary by {_text(volatility)} (coefficient of variation; at "
                f"most {format(rules.max_volatility, 'f')})",
                {"volatility": _text(volatility), "maximum": format(rules.max_volatility, "f")},
            )
        )

    outcomes = {reason.outcome for reason in reasons}
    decision = (
        "declined" if "declined" in outcomes else "review" if "review" in outcomes else "approved"
    )
    figures = {
        "currency": history.currency,
        "months_with_inflows": history.regularity,
        "average_monthly_inflow_minor": _text(average),
        "volatility": _text(history.volatility),
        "total_inflow_minor": history.total_minor,
        "principal_minor": principal_minor,
        "largest_installment_minor": largest_installment_minor,
        "months": [
            {"month": m.month.isoformat(), "count": m.count, "amount_minor": m.amount_minor}
            for m in history.months
        ],
    }
    return Score(decision, tuple(reasons), figures)
