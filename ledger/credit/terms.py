"""A loan product's terms: what it lends, how its schedule is shaped, what it charges,
how repayments are allocated, and the scoring rules its applications meet. Pure
values with their validation and their stored (JSON) form.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from decimal import ROUND_HALF_EVEN, Decimal, InvalidOperation
from typing import Any, Literal

from ledger.credit.schedule import ScheduleTerms
from ledger.errors import ValidationFailed
from ledger.limits import AMOUNT_MINOR_MAX

FeeKind = Literal["percent", "flat"]
AllocationOrder = Literal["penalties_fees_interest_principal", "interest_principal_penalties_fees"]
Prepayment = Literal["reduce_term", "reduce_installments"]

ALLOCATION_ORDERS: dict[str, tuple[str, ...]] = {
    # Fineract's default ("penalties, fees, interest, principal order").
    "penalties_fees_interest_principal": ("penalty", "fee", "interest", "principal"),
    # Interest and principal before charges ("interest, principal, penalties, fees").
    "interest_principal_penalties_fees": ("interest", "principal", "penalty", "fee"),
}
PREPAYMENTS = ("reduce_term", "reduce_installments")
FEE_KINDS = ("percent", "flat")


@dataclass(frozen=True)
class Charge:
    """A fee: a percentage (``value`` a fraction: 0.02 is 2%) or a flat amount (minor)."""

    kind: FeeKind
    value: Decimal

    def amount_minor(self, base_minor: int) -> int:
        """The fee on ``base_minor``: a percentage rounded half-even to the minor unit."""
        if self.kind == "flat":
            return int(self.value)
        return int((self.value * base_minor).quantize(Decimal(1), ROUND_HALF_EVEN))


@dataclass(frozen=True)
class ScoringRules:
    """What an application must show, from the applicant's remittance history."""

    min_regular_months: int = 6  # months with inflows, of the last 12
    max_amount_multiple: Decimal = Decimal(6)  # principal <= k x average monthly inflow
    max_installment_share: Decimal = Decimal("0.3")  # installment <= s x average inflow
    max_volatility: Decimal | None = None  # coefficient of variation; None: not checked


@dataclass(frozen=True)
class ProductTerms:
    currency: str
    min_principal_minor: int
    max_principal_minor: int
    min_installments: int
    max_installments: int
    schedule: ScheduleTerms
    origination_fee: Charge = field(default_factory=lambda: Charge("percent", Decimal(0)))
    late_fee: Charge = field(default_factory=lambda: Charge("flat", Decimal(0)))
    late_fee_after_days: int = 7
    allocation_order: AllocationOrder = "penalties_fees_interest_principal"
    prepayment: Prepayment = "reduce_term"
    scoring: ScoringRules = field(default_factory=ScoringRules)

    def validate(self) -> None:
        if self.schedule.currency != self.currency:
            raise ValidationFailed("the schedule is in the product's currency", field="currency")
        if not 0 < self.min_principal_minor <= self.max_principal_minor <= AMOUNT_MINOR_MAX:
            raise ValidationFailed("0 < minimum principal <= maximum principal", field="principal")
        if not 1 <= self.min_installments <= self.max_installments:
            raise ValidationFailed("1 <= minimum installments <= maximum", field="installments")
        self.schedule.validate(self.max_installments)
        if self.schedule.grace_on_principal >= self.min_installments or (
            self.schedule.grace_on_interest >= self.min_installments
        ):
            raise ValidationFailed(
                "grace periods are fewer than the minimum installments", field="grace"
            )
        for name, charge in (
            ("origination_fee", self.origination_fee),
            ("late_fee", self.late_fee),
        ):
            if charge.kind not in FEE_KINDS:
                raise ValidationFailed(f"{name} is a percent or a flat amount", field=name)
            if charge.value < 0 or (charge.kind == "percent" and charge.value >= 1):
                raise ValidationFailed(
                    f"{name}: a percentage is a fraction in [0, 1), a flat fee >= 0", field=name
                )
            if charge.kind == "flat" and charge.value != int(charge.value):
                raise ValidationFailed(f"{name}: a flat fee is whole minor units", field=name)
        if not 0 <= self.late_fee_after_days <= 365:
            raise ValidationFailed("late fees start 0 to 365 days after due", field="late_fee")
        if self.allocation_order not in ALLOCATION_ORDERS:
            raise ValidationFailed(
                f"allocation order is one of {', '.join(ALLOCATION_ORDERS)}",
                field="allocation_order",
            )
        if self.prepayment not in PREPAYMENTS:
            raise ValidationFailed(
                f"prepayment is one of {', '.join(PREPAYMENTS)}", field="prepayment"
            )
        rules = self.scoring
        if not 0 <= rules.min_regular_months <= 12:
            raise ValidationFailed("minimum regular months is 0 to 12", field="scoring")
        if rules.max_amount_multiple <= 0 or not 0 < rules.max_installment_share <= 1:
            raise ValidationFailed(
                "the amount multiple is positive; the installment share in (0, 1]",
                field="scoring",
            )

    def check_request(self, principal_minor: int, installments: int) -> None:
        """An application's amount and term within the product's ranges."""
        if not self.min_principal_minor <= principal_minor <= self.max_principal_minor:
            raise ValidationFailed(
                "the amount is outside the product's range", field="amount", **self.ranges()
            )
        if not self.min_installments <= installments <= self.max_installments:
            raise ValidationFailed(
                "the term is outside the product's range", field="installments", **self.ranges()
            )

    def ranges(self) -> dict[str, int]:
        return {
            "min_principal_minor": self.min_principal_minor,
            "max_principal_minor": self.max_principal_minor,
            "min_installments": self.min_installments,
            "max_installments": self.max_installments,
        }


# ------------------------------------------------------------------ stored form


def _decimal(value: Any, field_name: str) -> Decimal:
    try:
        result = Decimal(str(value)) if not isinstance(value, Decimal) else value
    except InvalidOperation:
        raise ValidationFailed(f"{field_name} is a decimal", field=field_name) from None
    if isinstance(value, float) or not result.is_finite():
        raise ValidationFailed(f"{field_name} is a decimal string", field=field_name)
    return result


def terms_to_json(terms: ProductTerms) -> dict[str, Any]:
    schedule = terms.schedule
    return {
        "currency": terms.currency,
        "min_principal_minor": terms.min_principal_minor,
        "max_principal_minor": terms.max_principal_minor,
        "min_installments": terms.min_installments,
        "max_installments": terms.max_installments,
        "schedule": {
            "annual_rate_percent": format(schedule.annual_rate_percent, "f"),
            "frequency": schedule.frequency,
            "interest_method": schedule.interest_method,
            "amortization": schedule.amortization,
            "interest_period": schedule.interest_period,
            "day_count": schedule.day_count,
            "grace_on_principal": schedule.grace_on_principal,
            "grace_on_interest": schedule.grace_on_interest,
            "installment_multiple_minor": schedule.installment_multiple_minor,
        },
        "origination_fee": {
            "kind": terms.origination_fee.kind,
            "value": format(terms.origination_fee.value, "f"),
        },
        "late_fee": {"kind": terms.late_fee.kind, "value": format(terms.late_fee.value, "f")},
        "late_fee_after_days": terms.late_fee_after_days,
        "allocation_order": terms.allocation_order,
        "prepayment": terms.prepayment,
        "scoring": {
            "min_regular_months": terms.scoring.min_regular_months,
            "max_amount_multiple": format(terms.scoring.max_amount_multiple, "f"),
            "max_installment_share": format(terms.scoring.max_installment_share, "f"),
            "max_volatility": (
                None
                if terms.scoring.max_volatility is None
                else format(terms.scoring.max_volatility, "f")
            ),
        },
    }


def terms_from_json(data: dict[str, Any]) -> ProductTerms:
    schedule = data["schedule"]
    scoring = data["scoring"]
    return ProductTerms(
        currency=data["currency"],
        min_principal_minor=data["min_principal_minor"],
        max_principal_minor=data["max_principal_minor"],
        min_installments=data["min_installments"],
        max_installments=data["max_installments"],
        schedule=ScheduleTerms(
            currency=data["currency"],
            annual_rate_percent=_decimal(schedule["annual_rate_percent"], "annual_rate_percent"),
            frequency=schedule["frequency"],
            interest_method=schedule["interest_method"],
            amortization=schedule["amortization"],
            interest_period=schedule["interest_period"],
            day_count=schedule["day_count"],
            grace_on_principal=schedule["grace_on_principal"],
            grace_on_interest=schedule["grace_on_interest"],
            installment_multiple_minor=schedule["installment_multiple_minor"],
        ),
        origination_fee=Charge(
            data["origination_fee"]["kind"], _decimal(data["origination_fee"]["value"], "fee")
        ),
        late_fee=Charge(data["late_fee"]["kind"], _decimal(data["late_fee"]["value"], "fee")),
        late_fee_after_days=data["late_fee_after_days"],
        allocation_order=data["allocation_order"],
        prepayment=data["prepayment"],
        scoring=ScoringRules(
            min_regular_months=scoring["min_regular_months"],
            max_amount_multiple=_decimal(scoring["max_amount_multiple"], "max_amount_multiple"),
            max_installment_share=_decimal(
                scoring["max_installment_share"], "max_installment_share"
            ),
            max_volatility=(
                None
                if scoring["max_volatility"] is None
                else _decimal(scoring["max_volatility"], "max_volatility")
            ),
        ),
    )


def with_schedule(terms: ProductTerms, **changes: Any) -> ProductTerms:
    return replace(terms, schedule=replace(terms.schedule, **changes))
