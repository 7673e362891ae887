"""Model-based property test of the journal (hypothesis state machine).

A small independent model (plain integers per account, no code shared with the
ledger's balance module) predicts whether each random operation is accepted or
refused for insufficient funds, and what every balance is afterwards. After each
step the database must agree with the model, every currency's trial balance must
be zero, and stored balances must equal the sums of postings. Rejected
operations must leave the database exactly as it was.
"""

from __future__ import annotations

import itertools
from collections import defaultdict
from dataclasses import dataclass

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    Bundle,
    RuleBasedStateMachine,
    consumes,
    initialize,
    invariant,
    multiple,
    rule,
    run_state_machine_as_test,
)

from ledger.errors import InsufficientFunds, LedgerError
from ledger.journal import (
    AccountSpec,
    PostingSpec,
    TransactionSpec,
    check_invariants,
    create_pending,
    get_account,
    open_account,
    post_pending,
    post_transaction,
    reverse_transaction,
    trial_balance,
    void_pending,
)
from tests.support import row_counts

_runs = itertools.count()


@dataclass
class ModelAccount:
    id: int
    currency: str
    debit_normal: bool
    floor: int | None
    posted: int = 0  # normal direction
    held_out: int = 0  # pending outflows
    held_in: int = 0  # pending inflows

    def signed(self, direction: str, amount: int) -> int:
        return amount if (direction == "debit") == self.debit_normal else -amount

    @property
    def available(self) -> int:
        return self.posted - self.held_out


def make_machine(database, clock, steps: int):
    class JournalMachine(RuleBasedStateMachine):
        posted = Bundle("posted")
        holds = Bundle("holds")

        @initialize()
        def open_accounts(self):
            run = next(_runs)
            self.accounts: dict[int, ModelAccount] = {}
            layout = [
                ("bank", "asset", True, None),  # overdraft unbounded: the source of funds
                ("alice", "liability", False, None),
                ("bob", "liability", False, None),
                ("shop", "liability", True, 5_000),  # overdraft up to 50.00
                ("fees", "income", False, None),
            ]
            for currency in ("USD", "JPY"):
                for name, kind, allow, limit in layout:
                    spec = AccountSpec(
                        f"p{run}:{name}:{currency}",
                        name,
                        kind,
                        currency,
                        allow_overdraft=allow,
                        overdraft_limit_minor=limit,
                    )
                    record = database.run(
                        lambda s, spec=spec: open_account(s, spec, now=clock.now())
                    )
                    floor = (None if limit is None else -limit) if allow else 0
                    self.accounts[record.id] = ModelAccount(
                        record.id, currency, kind in ("asset", "expense"), floor
                    )

        # --- helpers -------------------------------------------------------------

        def _legs(self, data) -> tuple[PostingSpec, ...]:
            currency = data.draw(st.sampled_from(["USD", "JPY"]))
            ids = [a.id for a in self.accounts.values() if a.currency == currency]
            debits = data.draw(st.lists(st.integers(1, 20_000), min_size=1, max_size=3))
            total = sum(debits)
            cut = data.draw(st.integers(1, min(3, total)))
            credits = [total // cut] * cut
            credits[0] += total - sum(credits)
            legs = [
                PostingSpec(data.draw(st.sampled_from(ids)), "debit", amount, currency)
                for amount in debits
            ]
            legs += [
                PostingSpec(data.draw(st.sampled_from(ids)), "credit", amount, currency)
                for amount in credits
                if amount > 0
            ]
            return tuple(legs)

        def _predict(self, legs, *, pending: bool) -> bool:
            """Would the ledger accept these legs? (Only balance floors can refuse.)"""
            change: dict[int, int] = defaultdict(int)
            for leg in legs:
                account = self.accounts[leg.account_id]
                signed = account.signed(leg.direction, leg.amount_minor)
                if not pending or signed < 0:
                    change[leg.account_id] += signed
            for account_id, delta in change.items():
                account = self.accounts[account_id]
                after = account.available + delta
                if delta < 0 and account.floor is not None and after < account.floor:
                    return False
            return True

        def _apply(self, legs, *, pending: bool, release: bool = False):
            """Book legs as posted, or as held (or release what they held)."""
            for leg in legs:
                account = self.accounts[leg.account_id]
                signed = account.signed(leg.direction, leg.amount_minor)
                if not pending:
                    account.posted += signed
                    continue
                change = -abs(signed) if release else abs(signed)
                if signed < 0:
                    account.held_out += change
                else:
                    account.held_in += change

        def _expect_refusal(self, action):
            before = row_counts(database)
            try:
                database.run(action)
            except InsufficientFunds:
                assert row_counts(database) == before
                return
            raise AssertionError("the model expected insufficient funds")

        # --- rules ---------------------------------------------------------------

        @rule(target=posted, data=st.data())
        def post(self, data):
            legs = self._legs(data)
            spec = TransactionSpec(legs)
            if not self._predict(legs, pending=False):
                self._expect_refusal(lambda s: post_transaction(s, spec, clock=clock))
                return multiple()  # nothing to add to the bundle
            record = database.run(lambda s: post_transaction(s, spec, clock=clock))
            self._apply(legs, pending=False)
            return (record.id, legs)

        @rule(target=holds, data=st.data())
        def hold(self, data):
            legs = self._legs(data)
            spec = TransactionSpec(legs)
            if not self._predict(legs, pending=True):
                self._expect_refusal(lambda s: create_pending(s, spec, clock=clock))
                return multiple()
            record = database.run(lambda s: create_pending(s, spec, clock=clock))
            self._apply(legs, pending=True)
            return (record.id, legs)

        @rule(target=posted, held=consumes(holds))
        def capture(self, held):
            transaction_id, legs = held
            record = database.run(lambda s: post_pending(s, transaction_id, clock=clock))
            self._apply(legs, pending=True, release=True)
            self._apply(legs, pending=False)
            return (record.id, legs)

        @rule(held=consumes(holds))
        def void(self, held):
            transaction_id, legs = held
            database.run(lambda s: void_pending(s, transaction_id, clock=clock))
            self._apply(legs, pending=True, release=True)

        @rule(original=consumes(posted))
        def reverse(self, original):
            transaction_id, legs = original
            mirror = tuple(
                PostingSpec(
                    leg.account_id,
                    "credit" if leg.direction == "debit" else "debit",
                    leg.amount_minor,
                    leg.currency,
                )
                for leg in legs
            )
            if not self._predict(mirror, pending=False):
                self._expect_refusal(lambda s: reverse_transaction(s, transaction_id, clock=clock))
                return
            database.run(lambda s: reverse_transaction(s, transaction_id, clock=clock))
            self._apply(mirror, pending=False)

        @rule(data=st.data())
        def post_something_invalid(self, data):
            legs = list(self._legs(data))
            broken = data.draw(st.sampled_from(["unbalanced", "currency", "account"]))
            first = legs[0]
            if broken == "unbalanced":
                legs[0] = PostingSpec(
                    first.account_id, first.direction, first.amount_minor + 1, first.currency
                )
            elif broken == "currency":
                other = "JPY" if first.currency == "USD" else "USD"
                legs = [
                    PostingSpec(leg.account_id, leg.direction, leg.amount_minor, other)
                    for leg in legs
                ]
            else:
                legs[0] = PostingSpec(10**9, first.direction, first.amount_minor, first.currency)
            before = row_counts(database)
            try:
                database.run(
                    lambda s: post_transaction(s, TransactionSpec(tuple(legs)), clock=clock)
                )
            except LedgerError:
                assert row_counts(database) == before
            else:
                raise AssertionError(f"a {broken} transaction was accepted")

        # --- invariants ----------------------------------------------------------

        @invariant()
        def balances_match_the_model(self):
            def read(session):
                return {
                    account_id: get_account(session, account_id).balances
                    for account_id in self.accounts
                }

            for account_id, balances in database.run(read).items():
                model = self.accounts[account_id]
                assert balances.posted_minor == model.posted, account_id
                assert balances.pending_minor == model.held_in - model.held_out, account_id
                assert balances.available_minor == model.available, account_id
                if model.floor is not None:
                    assert balances.available_minor >= model.floor

        @invariant()
        def journal_is_sound(self):
            assert all(line.balanced for line in database.run(trial_balance))
            assert database.run(check_invariants) == []

    JournalMachine.TestCase.settings = settings(
        max_examples=steps,
        stateful_step_count=20,
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
    )
    return JournalMachine


def test_journal_agrees_with_a_model_of_balances_and_rules(database, clock):
    examples = 25 if database.dialect == "sqlite" else 12
    machine = make_machine(database, clock, examples)
    run_state_machine_as_test(machine, settings=machine.TestCase.settings)
