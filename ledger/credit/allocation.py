"""A loan's standing and how a payment is allocated. Pure functions over plain values.

What a loan owes is its schedule (the current version), plus its charges (late fees),
less what its repayments were allocated to. From those:

* an installment is **overdue** once its due date has passed with something unpaid;
  **days past due** count from the oldest such due date;
* **what is due** on a day: every installment due on or before it, and the next one
  (a payment ahead of its due date pays the coming installment, as microfinance
  borrowers pay);
* a payment is allocated to what is due, **installment by installment, oldest first**,
  and within each installment in the product's order (by default penalties, fees,
  interest, principal: Fineract's default; or interest, principal, penalties, fees);
* whatever is left is a **prepayment** of principal: it reduces the principal of the
  installments after the next one, whose schedule is then rebuilt (shorter, or with
  lower installments: the product's setting; see ``ledger.credit.loans``).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date

COMPONENTS = ("penalty", "fee", "interest", "principal")


@dataclass(frozen=True)
class ScheduledInstallment:
    number: int
    period_start: date
    due_date: date
    principal_minor: int
    interest_minor: int
    fee_minor: int


@dataclass(frozen=True)
class Allocation:
    """Part of a payment applied to one component of one installment (``installment``
    None: a principal prepayment beyond the installments due)."""

    installment: int | None
    component: str
    amount_minor: int

    def as_dict(self) -> dict[str, object]:
        return {
            "installment": self.installment,
            "component": self.component,
            "amount_minor": self.amount_minor,
        }


@dataclass(frozen=True)
class InstallmentStanding:
    number: int
    period_start: date
    due_date: date
    due: dict[str, int]  # component -> amount scheduled or charged
    paid: dict[str, int]  # component -> amount allocated so far

    @property
    def outstanding(self) -> dict[str, int]:
        return {c: self.due.get(c, 0) - self.paid.get(c, 0) for c in COMPONENTS}

    @property
    def outstanding_minor(self) -> int:
        return sum(self.outstanding.values())

    @property
    def total_minor(self) -> int:
        return sum(self.due.values())

    @property
    def settled(self) -> bool:
        return self.outstanding_minor == 0


@dataclass(frozen=True)
class Standing:
    """A loan's figures on one day."""

    principal_minor: int
    installments: tuple[InstallmentStanding, ...]
    prepaid_principal_minor: int
    as_of: date
    charges_by_installment: dict[int, int] = field(default_factory=dict)

    @property
    def outstanding_principal_minor(self) -> int:
        paid = sum(i.paid.get("principal", 0) for i in self.installments)
        return self.principal_minor - paid - self.prepaid_principal_minor

    def overdue(self) -> list[InstallmentStanding]:
        return [i for i in self.installments if i.due_date < self.as_of and not i.settled]

    @property
    def overdue_minor(self) -> int:
        return sum(i.outstanding_minor for i in self.overdue())

    @property
    def days_past_due(self) -> int:
        late = self.overdue()
        return (self.as_of - late[0].due_date).days if late else 0

    def next_unpaid(self) -> InstallmentStanding | None:
        return next((i for i in self.installments if not i.settled), None)

    def due_now(self) -> list[InstallmentStanding]:
        """Unsettled installments due on or before ``as_of``, and the next one."""
        chosen = []
        for item in self.installments:
            if item.settled:
                continue
            chosen.append(item)
            if item.due_date > self.as_of:
                break
        return chosen

    @property
    def due_now_minor(self) -> int:
        return sum(i.outstanding_minor for i in self.due_now())

    @property
    def future_principal_minor(self) -> int:
        """Principal of the installments after those due now (what a prepayment reduces)."""
        due = {i.number for i in self.due_now()}
        return sum(i.outstanding["principal"] for i in self.installments if i.number not in due)

    @property
    def payoff_minor(self) -> int:
        """Everything due now plus the principal after it: the most one payment takes."""
        return self.due_now_minor + self.future_principal_minor

    @property
    def closed(self) -> bool:
        return all(i.settled for i in self.installments)

    @property
    def unpaid_charges_minor(self) -> int:
        return sum(i.outstanding["penalty"] + i.outstanding["fee"] for i in self.installments)


def standing(
    principal_minor: int,
    schedule: Sequence[ScheduledInstallment],
    charges: Iterable[tuple[int, int]],
    allocations: Iterable[Allocation],
    *,
    as_of: date,
) -> Standing:
    """The loan's standing from its schedule, its charges ``(installment, amount)`` (late
    fees, which are penalties) and every allocation of its repayments."""
    penalties: dict[int, int] = {}
    for number, amount in charges:
        penalties[number] = penalties.get(number, 0) + amount
    paid: dict[int, dict[str, int]] = {}
    prepaid = 0
    for allocation in allocations:
        if allocation.installment is None:
            prepaid += allocation.amount_minor
            continue
        by_component = paid.setdefault(allocation.installment, {})
        by_component[allocation.component] = (
            by_component.get(allocation.component, 0) + allocation.amount_minor
        )
    items = tuple(
        InstallmentStanding(
            number=item.number,
            period_start=item.period_start,
            due_date=item.due_date,
            due={
                "penalty": penalties.get(item.number, 0),
                "fee": item.fee_minor,
                "interest": item.interest_minor,
                "principal": item.principal_minor,
            },
            paid=dict(paid.get(item.number, {})),
        )
        for item in schedule
    )
    return Standing(principal_minor, items, prepaid, as_of, penalties)


def allocate(
    position: Standing, amount_minor: int, order: Sequence[str]
) -> tuple[list[Allocation], int]:
    """Allocate ``amount_minor`` to what is due (see the module docstring). Returns the
    allocations and what is left over: the principal prepayment."""
    left = amount_minor
    result: list[Allocation] = []
    for item in position.due_now():
        outstanding = item.outstanding
        for component in order:
            take = min(outstanding[component], left)
            if take > 0:
                result.append(Allocation(item.number, component, take))
                left -= take
        if left == 0:
            break
    return result, left
