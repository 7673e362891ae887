"""A credit world for tests, on top of the remittance world: a fund manager and a TJS
scheme with investors' capital and a sponsor's first-loss layer, a loan product, and a
borrower whose remittance history (eleven monthly remittances) makes them bankable."""

from __future__ import annotations

import io
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

from ledger.access import PrincipalRecord, create_principal
from ledger.credit.applications import apply, decide
from ledger.credit.disbursement import disburse
from ledger.credit.loans import get_loan, loan_standing
from ledger.credit.products import ProductRecord, create_product
from ledger.credit.repayments import repay
from ledger.credit.schedule import ScheduleTerms
from ledger.credit.schemes import SchemeRecord, create_scheme, pledge, receive
from ledger.credit.terms import Charge, ProductTerms, ScoringRules
from ledger.errors import AccountNotFound
from ledger.journal import (
    AccountSpec,
    TransactionSpec,
    credit,
    debit,
    get_account_by_code,
    open_account,
    post_transaction,
)
from ledger.remittance.imports import import_remittances
from tests.remittance_support import POLICY, World, build_world, load_day_rates

TERMS = ProductTerms(
    currency="TJS",
    min_principal_minor=100_000,
    max_principal_minor=5_000_000,
    min_installments=3,
    max_installments=24,
    schedule=ScheduleTerms("TJS", Decimal(24)),
    origination_fee=Charge("percent", Decimal("0.02")),
    late_fee=Charge("flat", Decimal(5_000)),
    late_fee_after_days=7,
    scoring=ScoringRules(min_regular_months=6, max_amount_multiple=Decimal(6)),
)

HEADER = (
    "partner_reference,corridor,sender_name,sender_country,beneficiary_external_id,"
    "send_amount,fee,rate,completed_at\n"
)


@dataclass
class CreditWorld:
    remit: World
    manager: PrincipalRecord
    other_manager: PrincipalRecord
    scheme: SchemeRecord
    product: ProductRecord

    @property
    def clock(self) -> Any:
        return self.remit.clock

    def run(self, work: Any) -> Any:
        return self.remit.run(work)

    def apply(self, principal_minor: int = 300_000, installments: int = 12, **changes: Any):
        values = {
            "customer_id": self.remit.beneficiary.id,
            "scheme_id": self.scheme.id,
            "product_id": self.product.id,
            "principal_minor": principal_minor,
            "installments": installments,
            "purpose": "sewing workshop",
            "description": "two machines and fabric",
        }
        values.update(changes)
        return self.run(lambda c: apply(c, self.remit.partner, now=self.clock.now(), **values))

    def approve(self, application_id: Any, note: str | None = None):
        return self.run(
            lambda c: decide(
                c, self.manager, application_id, approve=True, note=note, now=self.clock.now()
            )
        )

    def disburse(self, application_id: Any, **options: Any):
        return self.run(
            lambda c: disburse(c, self.manager, application_id, now=self.clock.now(), **options)
        )

    def loan(self, principal_minor: int = 300_000, installments: int = 12, **options: Any):
        """An approved and disbursed loan."""
        application = self.apply(principal_minor, installments)
        self.approve(application.id)
        return self.disburse(application.id, **options)

    def standing(self, loan_id: Any, on: date | None = None):
        day = on or self.clock.now().date()
        return self.run(lambda c: loan_standing(c, get_loan(c, loan_id), as_of=day))

    def repay(self, loan_id: Any, amount_minor: int, reference: str, **options: Any):
        return self.run(
            lambda c: repay(
                c,
                loan_id,
                amount_minor=amount_minor,
                reference=reference,
                now=self.clock.now(),
                **options,
            )
        )

    def fund_wallet(self, account_id: int, amount_minor: int, reference: str) -> None:
        """Money for the borrower to repay with: a cash deposit at the partner."""

        def work(c: Any) -> None:
            try:
                cash = get_account_by_code(c, "test:partner-cash:TJS").id
            except AccountNotFound:
                spec = AccountSpec(
                    "test:partner-cash:TJS", "cash", "asset", "TJS", allow_overdraft=True
                )
                cash = open_account(c, spec, now=self.clock.now()).id
            post_transaction(
                c,
                TransactionSpec(
                    (debit(cash, amount_minor, "TJS"), credit(account_id, amount_minor, "TJS")),
                    idempotency_key=f"deposit:{reference}",
                    client_id="tests",
                ),
            )

        self.run(work)


def remittance_history(world: World, months: int = 11, amount: str = "10000.00") -> None:
    """One completed remittance a month to the beneficiary, on the 15th of each of the
    ``months`` months before the world's clock (1,187.23 TJS each for 10,000.00 RUB)."""
    now = world.clock.now()
    lines = []
    for back in range(1, months + 1):
        month = (now.month - back - 1) % 12 + 1
        year = now.year + (now.month - back - 1) // 12
        day = date(year, month, 15)
        load_day_rates(world, day)
        lines.append(
            f"H-{day:%Y%m},RU-RUB-TJ-TJS,Rustam Karimov,RU,b-1,{amount},150.00,0.1187232,"
            f"{datetime(day.year, day.month, day.day, 10, tzinfo=UTC).isoformat()}\n"
        )
    report = import_remittances(
        world.database,
        world.partner,
        io.StringIO(HEADER + "".join(lines)),
        filename="history.csv",
        now=now,
        policy=POLICY,
    )
    assert report.accepted == months, report.rejections


def build_credit_world(database: Any, clock: Any, *, history_months: int = 11) -> CreditWorld:
    remit = build_world(database, clock)
    if history_months:
        remittance_history(remit, history_months)
    now = clock.now()

    def build(c: Any) -> CreditWorld:
        manager = create_principal(c, slug="fund", name="Fund", role="fund_manager", now=now)
        other = create_principal(c, slug="fund-2", name="Fund 2", role="fund_manager", now=now)
        scheme = create_scheme(
            c,
            manager,
            slug="tj-enterprise",
            name="Tajik Enterprise Fund",
            currency="TJS",
            country="TJ",
            first_loss_percent=Decimal(10),
            now=now,
        )
        product = create_product(c, scheme, name="Workshop loan", terms=TERMS, now=now)
        return CreditWorld(remit, manager, other, scheme, product)

    world = database.run(build)

    def fund(c: Any) -> None:
        for reference, name, kind, amount in (
            ("INV-1", "Dilshod (Moscow)", "investor", 2_000_000),
            ("INV-2", "Malika (Berlin)", "investor", 1_000_000),
            ("FL-1", "Aga Khan Foundation (demo)", "first_loss", 500_000),
        ):
            made = pledge(
                c,
                world.scheme,
                kind=kind,
                reference=reference,
                investor_name=name,
                amount_minor=amount,
                now=now,
            )
            receive(c, world.scheme, made.id, now=now)

    database.run(fund)
    return world


def days(n: int) -> timedelta:
    return timedelta(days=n)


def assert_loan_matches_postings(database: Any, loan_id: Any, *, as_of: date) -> None:
    """The loan's figures (from its schedule, charges and allocations) are what its own
    journal transactions say: outstanding principal on the portfolio, interest accrued
    less paid on the receivable, unpaid late fees still receivable, and the borrower's
    account movements."""
    from sqlalchemy import func, select

    from ledger.credit.accruals import accruals
    from ledger.credit.loans import charges_of, repayments_of
    from ledger.credit.schemes import get_scheme
    from ledger.journal.queries import load_transactions

    def check(c: Any) -> None:
        loan = get_loan(c, loan_id)
        scheme = get_scheme(c, loan.scheme_id)
        paid = repayments_of(c, loan.id)
        ids = [loan.disbursement_transaction_id, *(r.transaction_id for r in paid)]
        ids += [row.transaction_id for row in charges_of(c, loan.id)]
        ids += [loan.write_off_transaction_id] if loan.write_off_transaction_id else []
        net: dict[int, int] = {}
        for transaction in load_transactions(c, ids):
            assert transaction.status == "posted"
            for leg in transaction.postings:
                sign = 1 if leg.direction == "debit" else -1
                net[leg.account_id] = net.get(leg.account_id, 0) + sign * leg.amount_minor
        position = loan_standing(c, loan, as_of=as_of)
        outstanding = position.outstanding_principal_minor if loan.status == "active" else 0
        assert net.get(scheme.account("portfolio"), 0) == outstanding
        regular = [r for r in paid if r.source != "recovery"]
        interest_paid = sum(r.interest_minor for r in regular)
        assert loan.interest_paid_minor == interest_paid
        # Accruals are one journal transaction per scheme and day; the loan's share of
        # them is its loan_accruals rows. What it accrued less what it paid is its
        # interest receivable (none once written off: the write-off reverses the rest).
        booked = c.execute(
            select(func.coalesce(func.sum(accruals.c.amount_minor), 0)).where(
                accruals.c.loan_id == loan.id
            )
        ).scalar_one()
        receivable = booked + net.get(scheme.account("interest_receivable"), 0)
        if loan.status == "written_off":
            assert receivable == 0
        else:
            assert booked == loan.accrued_interest_minor
            assert receivable == loan.accrued_interest_minor - interest_paid
        unpaid_fees = sum(i.outstanding["penalty"] for i in position.installments)
        assert net.get(scheme.account("fees_receivable"), 0) == (
            unpaid_fees if loan.status == "active" else 0
        )
        moved = -(loan.principal_minor - loan.origination_fee_minor) + sum(
            r.amount_minor for r in paid
        )
        assert net.get(loan.borrower_account_id, 0) == moved

    database.run(check)
