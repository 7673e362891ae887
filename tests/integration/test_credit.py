"""Diaspora-backed credit on both databases: funding, matching and first loss; scoring on
remittance history; decisions; disbursement; repayments on time, late, and ahead (both
prepayment settings); sweeps from remittances; write-off and recovery. After every test
the journal's invariants hold (conftest), and the figures here match the postings."""

from __future__ import annotations

import threading
from dataclasses import replace
from datetime import timedelta
from decimal import Decimal

import pytest

from ledger.credit.accruals import accrue_interest
from ledger.credit.applications import (
    ApplicationNotSubmitted,
    InsufficientFundCash,
    cancel_application,
)
from ledger.credit.disbursement import DisbursementConflict
from ledger.credit.loans import get_loan, repayments_of, schedule_of
from ledger.credit.losses import charge_late_fees, write_off
from ledger.credit.products import create_product
from ledger.credit.repayments import LoanClosed, Overpayment, RepaymentExists
from ledger.credit.schedule import ScheduleTerms
from ledger.credit.schemes import (
    NotSchemeManager,
    add_matching_rule,
    fund_position,
    list_contributions,
    match_amount,
    pledge,
    receive,
)
from ledger.credit.sweeps import SweepsExceedRemittance, complete_and_sweep, set_sweep
from ledger.credit.terms import ProductTerms, ScoringRules
from ledger.errors import ValidationFailed
from ledger.journal import get_account
from ledger.parties.customers import CustomerNotFound
from tests.credit_support import (
    TERMS,
    CreditWorld,
    assert_loan_matches_postings,
    build_credit_world,
)
from tests.remittance_support import reserve


@pytest.fixture
def world(database, clock) -> CreditWorld:
    return build_credit_world(database, clock)


def posted(world: CreditWorld, role: str) -> int:
    return world.run(lambda c: get_account(c, world.scheme.account(role))).balances.posted_minor


def balance(world: CreditWorld, account_id: int) -> int:
    return world.run(lambda c: get_account(c, account_id)).balances.posted_minor


# ------------------------------------------------------------------ funding


def test_contributions_fund_the_scheme_and_say_each_investors_share(world):
    position = world.run(lambda c: fund_position(c, world.scheme))
    assert (position.capital_minor, position.first_loss_minor, position.cash_minor) == (
        3_000_000,
        500_000,
        3_500_000,
    )
    assert [(i.name, i.capital_minor, i.share_percent) for i in position.investors] == [
        ("Dilshod (Moscow)", 2_000_000, Decimal("66.67")),
        ("Malika (Berlin)", 1_000_000, Decimal("33.33")),
    ]
    assert position.available_minor == 3_500_000


def test_sponsors_match_only_received_contributions_up_to_their_caps(world):
    now = world.clock.now()

    def setup(c):
        add_matching_rule(
            c, world.scheme, sponsor_name="Government", ratio=Decimal(1), cap_minor=500_000, now=now
        )
        add_matching_rule(
            c,
            world.scheme,
            sponsor_name="Municipality",
            ratio=Decimal("0.5"),
            cap_minor=10_000_000,
            now=now,
        )
        return pledge(
            c,
            world.scheme,
            kind="investor",
            reference="INV-3",
            investor_name="Rustam",
            amount_minor=400_000,
            now=now,
        )

    pledged = world.run(setup)
    before = world.run(lambda c: fund_position(c, world.scheme))
    assert before.capital_minor == 3_000_000 and before.pledged_minor == 400_000
    received = world.run(lambda c: receive(c, world.scheme, pledged.id, now=now))
    assert [(r.kind, r.investor_name, r.amount_minor) for r in received] == [
        ("investor", "Rustam", 400_000),
        ("matching", "Government", 400_000),
        ("matching", "Municipality", 200_000),
    ]
    second = world.run(
        lambda c: pledge(
            c,
            world.scheme,
            kind="investor",
            reference="INV-4",
            investor_name="Rustam",
            amount_minor=400_000,
            now=now,
        )
    )
    again = world.run(lambda c: receive(c, world.scheme, second.id, now=now))
    # The government's cap has 100,000 left of 500,000.
    assert [(r.investor_name, r.amount_minor) for r in again[1:]] == [
        ("Government", 100_000),
        ("Municipality", 200_000),
    ]
    replay = world.run(lambda c: receive(c, world.scheme, second.id, now=now))
    assert [r.id for r in replay] == [r.id for r in again]
    # 3,000,000 before; two contributions of 400,000; matches 400,000 + 200,000 + 100,000 + 200,000.
    assert posted(world, "capital") == 3_000_000 + 800_000 + 900_000


def test_a_match_is_rounded_down_and_capped():
    assert match_amount(Decimal("0.333"), 1_000, 10_000) == 333
    assert match_amount(Decimal(3), 1_000, 2_500) == 2_500
    assert match_amount(Decimal(1), 1_000, 0) == 0


# ------------------------------------------------------------------ scoring


def test_a_regular_remittance_history_makes_an_application_approved(world):
    application = world.apply(300_000, 12)
    assert (application.score_decision, application.status) == ("approved", "submitted")
    figures = application.score["figures"]
    assert figures["months_with_inflows"] == 11
    # 11 x 1,187.23 TJS over 12 months = 1,088.2942 TJS a month.
    assert figures["average_monthly_inflow_minor"] == "108829.4167"
    assert {r["code"]: r["outcome"] for r in application.score["reasons"]} == {
        "no_arrears": "pass",
        "regular_inflows": "pass",
        "amount_to_inflow": "pass",
        "installment_to_inflow": "pass",
    }


def test_an_installment_beyond_the_share_of_inflows_is_declined_or_reviewed(world):
    # 12 months at 24% on 5,000.00 TJS: about 472.80 a month, 0.43 of the inflow (limit 0.3).
    assert world.apply(500_000, 12).score_decision == "declined"
    # 3,500.00 over 12: about 330.96 a month, 0.304 of the inflow: within 25% beyond.
    reviewed = world.apply(350_000, 12)
    assert reviewed.score_decision == "review"
    reasons = {r["code"]: r for r in reviewed.score["reasons"]}
    assert reasons["installment_to_inflow"]["outcome"] == "review"


def test_without_remittance_history_an_application_is_declined(database, clock):
    world = build_credit_world(database, clock, history_months=0)
    application = world.apply(300_000, 12)
    assert application.score_decision == "declined"
    assert application.score["figures"]["months_with_inflows"] == 0


def test_applications_outside_the_products_ranges_are_refused(world):
    for principal, installments in ((99_999, 12), (5_000_001, 12), (300_000, 2), (300_000, 25)):
        with pytest.raises(ValidationFailed):
            world.apply(principal, installments)


def test_a_partner_applies_only_for_its_own_customers(world):
    with pytest.raises(CustomerNotFound):
        world.apply(customer_id=world.remit.others_customer.id)


# ------------------------------------------------------------------ decisions


def test_only_the_schemes_manager_decides(world):
    from ledger.credit.applications import decide

    application = world.apply()
    with pytest.raises(NotSchemeManager):
        world.run(
            lambda c: decide(
                c,
                world.other_manager,
                application.id,
                approve=True,
                note=None,
                now=world.clock.now(),
            )
        )


def test_approval_commits_the_funds_and_refuses_beyond_them(world):
    first = world.apply(3_000_000, 24)
    world.approve(first.id, note="override for the test")
    position = world.run(lambda c: fund_position(c, world.scheme))
    assert (position.committed_minor, position.available_minor) == (3_000_000, 500_000)
    second = world.apply(600_000, 12)
    with pytest.raises(InsufficientFundCash):
        world.approve(second.id, note="x")


def test_approving_against_a_declined_recommendation_needs_a_note(world):
    declined = world.apply(500_000, 12)
    with pytest.raises(ValidationFailed):
        world.approve(declined.id)
    assert world.approve(declined.id, note="guarantor in Moscow").status == "approved"


# ------------------------------------------------------------------ disbursement


def test_disbursement_pays_the_borrower_and_fixes_the_schedule(world):
    loan = world.loan(300_000, 12)
    # 2% origination: 60.00 of 3,000.00; the borrower gets 2,940.00.
    assert (loan.origination_fee_minor, loan.status) == (6_000, "active")
    # The wallet held the eleven remittances (13,059.53 TJS) and now the loan too.
    assert balance(world, loan.borrower_account_id) == 11 * 118_723 + 294_000
    assert posted(world, "portfolio") == 300_000
    assert posted(world, "cash") == 3_500_000 - 294_000
    assert posted(world, "fee_income") == 6_000
    schedule = world.run(lambda c: schedule_of(c, get_loan(c, loan.id)))
    assert len(schedule) == 12 and sum(i.principal_minor for i in schedule) == 300_000
    assert schedule[0].due_date == world.clock.now().date().replace(month=4)
    again = world.disburse(loan.application_id)
    assert again.id == loan.id
    position = world.run(lambda c: fund_position(c, world.scheme))
    assert position.committed_minor == 0


# ------------------------------------------------------------------ repayments


def first_installment(world, loan):
    return world.run(lambda c: schedule_of(c, get_loan(c, loan.id)))[0]


def test_an_on_time_repayment_pays_the_first_installment(world):
    loan = world.loan(300_000, 12)
    first = first_installment(world, loan)
    world.clock.set(world.clock.now().replace(month=4))
    payment = world.repay(loan.id, first.principal_minor + first.interest_minor, "P-1")
    assert (payment.interest_minor, payment.principal_minor, payment.prepaid_minor) == (
        first.interest_minor,
        first.principal_minor,
        0,
    )
    standing = world.standing(loan.id)
    assert standing.installments[0].settled and standing.days_past_due == 0
    assert standing.outstanding_principal_minor == 300_000 - first.principal_minor
    assert posted(world, "portfolio") == 300_000 - first.principal_minor
    # Paid before any accrual ran: received in advance, earned as the days are accrued.
    assert posted(world, "interest_receivable") == -first.interest_minor
    assert posted(world, "interest_income") == 0
    day = first.period_start
    while day < first.due_date:
        day += timedelta(days=1)
        world.run(
            lambda c, d=day: accrue_interest(
                c, d, now=world.clock.now(), effective_at=world.clock.now()
            )
        )
    # On the due date the accrual is the schedule's interest, to the cent.
    assert posted(world, "interest_income") == first.interest_minor
    assert posted(world, "interest_receivable") == 0
    assert_loan_matches_postings(world.remit.database, loan.id, as_of=world.clock.now().date())


def test_a_repayment_replays_by_reference_and_refuses_another_amount(world):
    loan = world.loan()
    first = world.repay(loan.id, 10_000, "P-1")
    again = world.repay(loan.id, 10_000, "P-1")
    assert again.id == first.id and again.replayed
    with pytest.raises(RepaymentExists):
        world.repay(loan.id, 10_001, "P-1")


def test_a_late_installment_is_charged_and_the_penalty_paid_first(world):
    loan = world.loan(300_000, 12)
    first = first_installment(world, loan)
    world.clock.set(world.clock.now().replace(month=4, day=10))  # 9 days late
    charged = world.run(
        lambda c: charge_late_fees(
            c, loan.id, as_of=world.clock.now().date(), now=world.clock.now()
        )
    )
    assert charged == [(1, 5_000)]
    again = world.run(
        lambda c: charge_late_fees(
            c, loan.id, as_of=world.clock.now().date(), now=world.clock.now()
        )
    )
    assert again == []
    standing = world.standing(loan.id)
    assert (standing.days_past_due, standing.overdue_minor) == (
        9,
        first.principal_minor + first.interest_minor + 5_000,
    )
    payment = world.repay(loan.id, 20_000, "P-late")
    assert payment.allocation[0] == {
        "installment": 1,
        "component": "penalty",
        "amount_minor": 5_000,
    }
    assert (
        payment.allocation[1]["component"] == "fee"
        or payment.allocation[1]["component"] == "interest"
    )
    assert posted(world, "fees_receivable") == 0


def test_an_other_allocation_order_pays_interest_and_principal_first(database, clock):
    world = build_credit_world(database, clock)
    terms = replace(TERMS, allocation_order="interest_principal_penalties_fees")
    product = world.run(
        lambda c: create_product(c, world.scheme, name="IPPF", terms=terms, now=clock.now())
    )
    application = world.apply(product_id=product.id)
    world.approve(application.id)
    loan = world.disburse(application.id)
    world.clock.set(world.clock.now().replace(month=4, day=10))
    world.run(lambda c: charge_late_fees(c, loan.id, as_of=clock.now().date(), now=clock.now()))
    payment = world.repay(loan.id, 20_000, "P-1")
    assert [a["component"] for a in payment.allocation] == ["interest", "principal"]


@pytest.mark.parametrize("setting", ["reduce_term", "reduce_installments"])
def test_a_prepayment_shortens_the_term_or_lowers_the_installments(database, clock, setting):
    world = build_credit_world(database, clock)
    product = world.run(
        lambda c: create_product(
            c, world.scheme, name=setting, terms=replace(TERMS, prepayment=setting), now=clock.now()
        )
    )
    application = world.apply(product_id=product.id)
    world.approve(application.id)
    loan = world.disburse(application.id)
    before = world.run(lambda c: schedule_of(c, get_loan(c, loan.id)))
    first = before[0]
    world.fund_wallet(loan.borrower_account_id, 200_000, "D-1")
    # The first installment and 1,000.00 of principal ahead.
    payment = world.repay(loan.id, first.principal_minor + first.interest_minor + 100_000, "PRE")
    assert payment.prepaid_minor == 100_000
    loan_now = world.run(lambda c: get_loan(c, loan.id))
    after = world.run(lambda c: schedule_of(c, loan_now))
    assert loan_now.schedule_version == 2
    assert sum(i.principal_minor for i in after) + 100_000 == 300_000
    assert after[0] == first  # what was due now is kept
    old_future, new_future = before[2:], after[2:]
    if setting == "reduce_term":
        assert len(after) < len(before)
        assert max(i.principal_minor + i.interest_minor for i in new_future) <= max(
            i.principal_minor + i.interest_minor for i in old_future
        )
    else:
        assert len(after) == len(before)
        assert new_future[0].principal_minor + new_future[0].interest_minor < (
            old_future[0].principal_minor + old_future[0].interest_minor
        )
    assert world.standing(loan.id).outstanding_principal_minor == (
        300_000 - first.principal_minor - 100_000
    )
    assert_loan_matches_postings(database, loan.id, as_of=clock.now().date())


def test_paying_everything_closes_the_loan_and_then_payments_are_refused(world):
    loan = world.loan(300_000, 12)
    world.fund_wallet(loan.borrower_account_id, 100_000, "D-1")
    payoff = world.standing(loan.id).payoff_minor
    with pytest.raises(Overpayment):
        world.repay(loan.id, payoff + 1, "TOO-MUCH")
    world.repay(loan.id, payoff, "ALL")
    assert world.run(lambda c: get_loan(c, loan.id)).status == "closed"
    assert posted(world, "portfolio") == 0
    with pytest.raises(LoanClosed):
        world.repay(loan.id, 100, "AFTER")
    assert_loan_matches_postings(world.remit.database, loan.id, as_of=world.clock.now().date())


# ------------------------------------------------------------------ sweeps


def test_a_completed_remittance_is_swept_into_the_loan(world):
    loan = world.loan(300_000, 12)
    world.run(
        lambda c: set_sweep(c, world.remit.partner.id, loan.id, percent=Decimal("0.5"), cap="due")
    )
    remittance = reserve(world.remit, world.remit.explicit("SWEEP-1"))
    completed, swept = world.run(
        lambda c: complete_and_sweep(
            c, world.remit.partner.id, remittance.id, now=world.clock.now()
        )
    )
    first = first_installment(world, loan)
    due = first.principal_minor + first.interest_minor
    # Half of 1,187.23 TJS is 593.61; what is due (the next installment) is less.
    (repayment,) = swept
    assert (repayment.source, repayment.remittance_id) == ("sweep", completed.id)
    assert repayment.amount_minor == min(59_361, due)
    assert world.standing(loan.id).installments[0].settled
    (stored,) = world.run(lambda c: repayments_of(c, loan.id))
    assert stored.remittance_id == remittance.id


def test_a_sweep_capped_at_the_outstanding_pays_the_loan_off(world):
    loan = world.loan(100_000, 3)
    world.run(
        lambda c: set_sweep(
            c, world.remit.partner.id, loan.id, percent=Decimal(1), cap="outstanding"
        )
    )
    payoff = world.standing(loan.id).payoff_minor  # less than the 1,187.23 TJS arriving
    remittance = reserve(world.remit, world.remit.explicit("SWEEP-ALL"))
    _, (repayment,) = world.run(
        lambda c: complete_and_sweep(
            c, world.remit.partner.id, remittance.id, now=world.clock.now()
        )
    )
    assert repayment.amount_minor == payoff < 118_723
    assert repayment.prepaid_minor > 0
    assert world.run(lambda c: get_loan(c, loan.id)).status == "closed"
    assert_loan_matches_postings(world.remit.database, loan.id, as_of=world.clock.now().date())


def test_a_loan_not_opted_in_is_not_swept(world):
    loan = world.loan()
    remittance = reserve(world.remit, world.remit.explicit("NO-SWEEP"))
    _, swept = world.run(
        lambda c: complete_and_sweep(
            c, world.remit.partner.id, remittance.id, now=world.clock.now()
        )
    )
    assert swept == [] and world.run(lambda c: repayments_of(c, loan.id)) == []


# ------------------------------------------------------------------ losses


def test_a_write_off_is_absorbed_by_the_first_loss_layer_first(world):
    loan = world.loan(300_000, 12)
    # First-loss limit: 10% of 3,000.00 disbursed = 300.00; the layer holds 5,000.00.
    world.clock.set(world.clock.now() + timedelta(days=200))
    written = world.run(
        lambda c: write_off(c, world.manager, loan.id, now=world.clock.now(), reason="absconded")
    )
    assert (written.status, written.written_off_minor) == ("written_off", 300_000)
    assert posted(world, "portfolio") == 0
    assert posted(world, "first_loss") == 500_000 - 30_000
    assert posted(world, "written_off") == 270_000
    # Later money is a recovery, up to what was written off.
    world.fund_wallet(loan.borrower_account_id, 10_000, "D-1")
    recovery = world.repay(loan.id, 10_000, "REC-1")
    assert recovery.source == "recovery"
    assert posted(world, "recovery_income") == 10_000
    with pytest.raises(Overpayment):
        world.repay(loan.id, 300_000, "REC-2")
    assert_loan_matches_postings(world.remit.database, loan.id, as_of=world.clock.now().date())


def test_only_the_schemes_manager_writes_off(world):
    loan = world.loan()
    with pytest.raises(NotSchemeManager):
        world.run(
            lambda c: write_off(c, world.other_manager, loan.id, now=world.clock.now(), reason="x")
        )


@pytest.mark.slow
def test_concurrent_approvals_never_commit_more_than_the_fund_has(postgres_database, clock):
    """Eight approvals of 1,000.00 race for a fund with 3,500.00 available: three pass."""
    import threading

    world = build_credit_world(postgres_database, clock)
    pending = [world.apply(100_000 * 10, 12) for _ in range(8)]
    outcomes, lock, start = [], threading.Lock(), threading.Barrier(8)

    def approver(application_id):
        start.wait()
        try:
            world.approve(application_id, note="race")
            result = "approved"
        except InsufficientFundCash:
            result = "refused"
        except Exception as error:  # any other outcome fails the count, by name
            result = repr(error)
        with lock:
            outcomes.append(result)

    threads = [threading.Thread(target=approver, args=(a.id,)) for a in pending]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(outcomes) == ["approved"] * 3 + ["refused"] * 5
    assert world.run(lambda c: fund_position(c, world.scheme)).available_minor == 500_000


# ------------------------------------------------------------------ review findings


def test_sweeps_of_one_borrower_never_take_more_than_the_remittance(world):
    first, second = world.loan(300_000, 12), world.loan(300_000, 12)
    partner = world.remit.partner.id
    world.run(lambda c: set_sweep(c, partner, first.id, percent=Decimal("0.6"), cap="outstanding"))
    with pytest.raises(SweepsExceedRemittance):
        world.run(lambda c: set_sweep(c, partner, second.id, percent=Decimal("0.6")))
    world.run(lambda c: set_sweep(c, partner, second.id, percent=Decimal("0.4"), cap="outstanding"))
    wallet = balance(world, first.borrower_account_id)
    remittance = reserve(world.remit, world.remit.explicit("SWEEP-TWO"))
    _, swept = world.run(
        lambda c: complete_and_sweep(c, partner, remittance.id, now=world.clock.now())
    )
    # 60% and 40% of 1,187.23 TJS, rounded down: 712.33 + 474.89 = 1,187.22 of 1,187.23.
    assert [r.amount_minor for r in swept] == [71_233, 47_489]
    assert balance(world, first.borrower_account_id) == wallet + 118_723 - 71_233 - 47_489


def test_a_sweep_skips_a_loan_closed_meanwhile(world):
    loan = world.loan(100_000, 3)
    partner = world.remit.partner.id
    world.run(lambda c: set_sweep(c, partner, loan.id, percent=Decimal(1), cap="outstanding"))
    world.fund_wallet(loan.borrower_account_id, 100_000, "D-1")
    world.repay(loan.id, world.standing(loan.id).payoff_minor, "ALL")
    remittance = reserve(world.remit, world.remit.explicit("AFTER-CLOSE"))
    completed, swept = world.run(
        lambda c: complete_and_sweep(c, partner, remittance.id, now=world.clock.now())
    )
    assert (completed.status, swept) == ("completed", [])


def test_a_partners_reference_cannot_take_a_sweeps_name(world):
    loan = world.loan()
    with pytest.raises(ValidationFailed):
        world.repay(loan.id, 1_000, "sweep:0193a0b2-0000-7000-8000-000000000000")


def test_a_loan_with_only_a_late_fee_left_can_be_written_off(database, clock):
    world = build_credit_world(database, clock)
    terms = replace(TERMS, allocation_order="interest_principal_penalties_fees", min_installments=1)
    product = world.run(
        lambda c: create_product(c, world.scheme, name="IPPF", terms=terms, now=clock.now())
    )
    application = world.apply(100_000, 1, product_id=product.id)
    world.approve(application.id, note="a one-month bridge loan")
    loan = world.disburse(application.id)
    world.clock.set(world.clock.now() + timedelta(days=45))
    charged = world.run(
        lambda c: charge_late_fees(c, loan.id, as_of=clock.now().date(), now=clock.now())
    )
    assert charged
    world.fund_wallet(loan.borrower_account_id, 200_000, "D-1")
    # Everything but the late fee (interest and principal come first in this order).
    payoff = world.standing(loan.id).payoff_minor
    fee = charged[0][1]
    world.repay(loan.id, payoff - fee, "ALMOST")
    left = world.standing(loan.id)
    assert (left.outstanding_principal_minor, left.unpaid_charges_minor) == (0, fee)
    written = world.run(
        lambda c: write_off(c, world.manager, loan.id, now=clock.now(), reason="fee only")
    )
    assert (written.status, written.written_off_minor) == ("written_off", 0)
    assert posted(world, "fees_receivable") == 0
    assert_loan_matches_postings(database, loan.id, as_of=clock.now().date())


def test_an_approved_application_cancelled_gives_its_cash_back(world):
    application = world.apply(3_000_000, 24)
    world.approve(application.id, note="override for the test")
    assert world.run(lambda c: fund_position(c, world.scheme)).committed_minor == 3_000_000
    cancelled = world.run(
        lambda c: cancel_application(
            c, world.manager, application.id, note="applicant emigrated", now=world.clock.now()
        )
    )
    assert cancelled.status == "cancelled"
    assert world.run(lambda c: fund_position(c, world.scheme)).committed_minor == 0
    with pytest.raises(ApplicationNotSubmitted):
        world.disburse(application.id)
    # The partner withdraws its own submitted application; another manager cannot.
    submitted = world.apply(300_000, 12)
    with pytest.raises(NotSchemeManager):
        world.run(
            lambda c: cancel_application(
                c, world.other_manager, submitted.id, note=None, now=world.clock.now()
            )
        )
    withdrawn = world.run(
        lambda c: cancel_application(
            c, world.remit.partner, submitted.id, note=None, now=world.clock.now()
        )
    )
    assert withdrawn.status == "cancelled"


def test_a_written_off_loan_counts_as_arrears_for_the_next_application(world):
    loan = world.loan(300_000, 12)
    world.run(lambda c: write_off(c, world.manager, loan.id, now=world.clock.now(), reason="x"))
    again = world.apply(300_000, 12)
    assert again.score_decision == "declined"
    assert "loan_in_arrears" in [reason["code"] for reason in again.score["reasons"]]


def test_a_prepayment_on_a_schedule_that_ended_early_within_grace_is_taken(world):
    # Whole-600.00 installments end a 1,000.00 loan after 2 of its 3 installments, with
    # 2 periods of grace on interest: one installment is left to rebuild.
    schedule = ScheduleTerms(
        "TJS", Decimal(24), grace_on_interest=2, installment_multiple_minor=60_000
    )
    terms = ProductTerms(
        "TJS", 10_000, 400_000, 3, 12, schedule, scoring=ScoringRules(0, Decimal(1000), Decimal(1))
    )
    product = world.run(
        lambda c: create_product(c, world.scheme, name="G", terms=terms, now=world.clock.now())
    )
    application = world.apply(100_000, 3, product_id=product.id)
    world.approve(application.id, note="ok")
    loan = world.disburse(application.id)
    assert len(world.run(lambda c: schedule_of(c, get_loan(c, loan.id)))) == 2
    world.fund_wallet(loan.borrower_account_id, 1_000_000, "W")
    position = world.standing(loan.id)
    assert position.payoff_minor > position.due_now_minor + 10_000
    payment = world.repay(loan.id, position.due_now_minor + 10_000, "PRE")
    assert payment.prepaid_minor == 10_000
    assert_loan_matches_postings(world.remit.database, loan.id, as_of=world.clock.now().date())


def test_matches_of_investors_with_similar_references_are_both_released(world):
    now = world.clock.now()
    world.run(
        lambda c: add_matching_rule(
            c, world.scheme, sponsor_name="Gov", ratio=Decimal(1), cap_minor=10_000_000, now=now
        )
    )
    made = [
        world.run(
            lambda c, suffix=suffix: pledge(
                c,
                world.scheme,
                kind="investor",
                reference="X" * 60 + suffix,
                investor_name=f"Investor {suffix}",
                amount_minor=1_000,
                now=now,
            )
        )
        for suffix in ("-A", "-B")
    ]
    for item in made:
        world.run(lambda c, item=item: receive(c, world.scheme, item.id, now=now))
    matches = [
        c
        for c in world.run(lambda c: list_contributions(c, world.scheme.id))
        if c.kind == "matching"
    ]
    assert sorted(m.matches_id for m in matches) == sorted(m.id for m in made)
    with pytest.raises(ValidationFailed):
        world.run(
            lambda c: pledge(
                c,
                world.scheme,
                kind="investor",
                reference="match:anything",
                investor_name="x",
                amount_minor=1_000,
                now=now,
            )
        )


def test_disbursing_again_with_other_options_is_a_conflict(world):
    application = world.apply()
    world.approve(application.id)
    loan = world.disburse(application.id)
    assert world.disburse(application.id).id == loan.id  # the same again: the loan
    first = first_installment(world, loan)
    assert world.disburse(application.id, first_due_date=first.due_date).id == loan.id
    with pytest.raises(DisbursementConflict):
        world.disburse(application.id, first_due_date=first.due_date + timedelta(days=3))


def test_concurrent_sweep_opt_ins_never_add_up_to_more_than_everything(postgres_database, clock):
    world = build_credit_world(postgres_database, clock)
    loans = [world.loan(100_000, 3) for _ in range(4)]
    partner = world.remit.partner.id
    barrier = threading.Barrier(len(loans))
    refused = []

    def opt_in(loan_id) -> None:
        barrier.wait()
        try:
            world.run(lambda c: set_sweep(c, partner, loan_id, percent=Decimal("0.9")))
        except SweepsExceedRemittance:
            refused.append(loan_id)

    threads = [threading.Thread(target=opt_in, args=(loan.id,)) for loan in loans]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(refused) == 3
    total = sum(
        (world.run(lambda c, i=loan.id: get_loan(c, i)).sweep_percent or Decimal(0))
        for loan in loans
    )
    assert total == Decimal("0.9")
