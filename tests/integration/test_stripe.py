"""Stripe on both databases, through the real SDK with a local HTTP client standing in
for Stripe's servers (tests/stripe_fake.py) and events signed with the SDK's helper:
collections, signatures, duplicate and out-of-order events, refunds (after a payout
too), disputes, payouts and their failure, reconciliation with each kind of
discrepancy, Stripe being down, and two deliveries of one event racing."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import func, select

from integrations.stripe.objects import stripe_amount
from integrations.stripe.provider import StripeProvider
from ledger.config import Settings
from ledger.credit.schemes import (
    add_matching_rule,
    fund_position,
    get_contribution,
    get_scheme,
    pledge,
)
from ledger.journal import check_invariants, get_account
from ledger.payments.errors import (
    InvalidSignature,
    ProviderFailed,
    ProviderUnavailable,
    UnsupportedCurrency,
)
from ledger.payments.provider_events import list_events, provider_events
from tests.credit_support import build_credit_world
from tests.stripe_fake import FakeStripe, signed

SECRET = "whsec_test_only_not_a_real_secret"
SETTINGS = Settings(stripe_api_key="sk_test_fake", stripe_webhook_secret=SECRET)


class StripeWorld:
    def __init__(self, database, clock):
        self.credit = build_credit_world(database, clock, history_months=0)
        self.database, self.clock = database, clock
        self.fake = FakeStripe(now=clock.now)
        self.stripe = StripeProvider(SETTINGS, http_client=self.fake)
        self.manager = self.credit.manager
        self.scheme = self.credit.scheme

    def run(self, work):
        return self.database.run(work)

    def pledge(self, reference: str, amount_minor: int, kind: str = "investor"):
        return self.run(
            lambda c: pledge(
                c,
                self.scheme,
                kind=kind,
                reference=reference,
                investor_name=f"Investor {reference}",
                amount_minor=amount_minor,
                now=self.clock.now(),
            )
        )

    def collect(self, reference: str, amount_minor: int, kind: str = "investor"):
        contribution = self.pledge(reference, amount_minor, kind)
        made = self.stripe.create_collection(
            self.database, self.manager, self.scheme.id, contribution.id, now=self.clock.now()
        )
        return contribution, made.instructions["payment_intent"]

    def deliver(self, event, *, at=None, secret=SECRET, tamper=False):
        body, headers = signed(event, secret, at=at or datetime.now(UTC), tamper=tamper)
        return self.stripe.handle(self.database, body, headers, now=self.clock.now())

    def posted(self, role: str) -> int:
        def read(c):
            scheme = get_scheme(c, self.scheme.id)
            if role not in scheme.accounts:
                return 0
            return get_account(c, scheme.account(role)).balances.posted_minor

        return self.run(read)

    def contribution(self, contribution_id):
        return self.run(lambda c: get_contribution(c, self.scheme.id, contribution_id))

    def reconcile(self, payout_id):
        return self.stripe.settlement_report(self.database, payout_id, now=self.clock.now())


@pytest.fixture
def world(database, clock):
    made = StripeWorld(database, clock)
    yield made
    assert database.run(check_invariants) == []


def event_count(world) -> int:
    return world.run(
        lambda c: c.execute(select(func.count()).select_from(provider_events)).scalar_one()
    )


def test_a_contribution_gets_one_payment_intent_with_its_metadata(world):
    contribution = world.pledge("INV-S1", 1_000_000)
    first = world.stripe.create_collection(
        world.database, world.manager, world.scheme.id, contribution.id, now=world.clock.now()
    )
    again = world.stripe.create_collection(
        world.database, world.manager, world.scheme.id, contribution.id, now=world.clock.now()
    )
    intent = world.fake.objects[first.instructions["payment_intent"]]
    assert first.instructions["client_secret"] == intent["client_secret"]
    assert again.instructions == first.instructions and again.record == first.record
    assert (intent["amount"], intent["currency"]) == (1_000_000, "tjs")
    assert intent["metadata"] == {
        "scheme_id": str(world.scheme.id),
        "contribution_id": str(contribution.id),
        "contribution_reference": "INV-S1",
    }
    created = [call for call in world.fake.calls if call[0] == "POST"]
    assert len(created) == 1  # the second answer came from the stored collection
    assert [o for o in world.fake.objects.values() if o["object"] == "payment_intent"] == [intent]


def test_another_managers_scheme_or_a_received_contribution_gets_no_intent(world):
    from ledger.credit.schemes import ContributionNotPledged, NotSchemeManager

    contribution = world.pledge("INV-S1", 1_000)
    with pytest.raises(NotSchemeManager):
        world.stripe.create_collection(
            world.database,
            world.credit.other_manager,
            world.scheme.id,
            contribution.id,
            now=world.clock.now(),
        )
    received = world.run(lambda c: get_contribution(c, world.scheme.id, contribution.id))
    from ledger.credit.schemes import receive

    world.run(lambda c: receive(c, world.scheme, received.id, now=world.clock.now()))
    with pytest.raises(ContributionNotPledged):
        world.stripe.create_collection(
            world.database, world.manager, world.scheme.id, contribution.id, now=world.clock.now()
        )
    assert world.fake.calls == []


def test_a_succeeded_payment_books_gross_fee_and_matching_once(world):
    world.run(
        lambda c: add_matching_rule(
            c,
            world.scheme,
            sponsor_name="Sponsor",
            ratio=Decimal(1),
            cap_minor=300_000,
            now=world.clock.now(),
        )
    )
    before = (world.posted("capital"), world.posted("cash"))
    contribution, intent = world.collect("INV-S1", 1_000_000)
    event = world.fake.succeed(intent, fee=29_030)
    outcome = world.deliver(event)
    assert (outcome.status, outcome.booked) == ("processed", 1)
    assert world.contribution(contribution.id).status == "received"
    # Gross to capital, the match (capped at 3,000.00) to capital and cash, the fee
    # to expense, the rest on Stripe's balance until its payout.
    assert world.posted("capital") - before[0] == 1_000_000 + 300_000
    assert world.posted("cash") - before[1] == 300_000
    assert (world.posted("stripe_clearing"), world.posted("payment_fees")) == (970_970, 29_030)
    # Stripe delivers it again: stored once, nothing booked again.
    again = world.deliver(event)
    assert again.status == "duplicate"
    assert world.posted("stripe_clearing") == 970_970 and event_count(world) == 1


@pytest.mark.parametrize(
    "make",
    [
        lambda e: {"tamper": True},
        lambda e: {"secret": SECRET + "x"},
        lambda e: {"at": datetime.now(UTC) - timedelta(seconds=301)},
    ],
    ids=["tampered", "wrong secret", "too old"],
)
def test_a_bad_signature_is_refused_and_stores_nothing(world, make):
    contribution, intent = world.collect("INV-S1", 10_000)
    event = world.fake.succeed(intent)
    with pytest.raises(InvalidSignature):
        world.deliver(event, **make(event))
    assert event_count(world) == 0
    assert world.contribution(contribution.id).status == "pledged"
    with pytest.raises(InvalidSignature):
        world.stripe.handle(world.database, b"{}", {}, now=world.clock.now())  # unsigned


def test_a_refund_overtaking_the_success_books_both_and_the_success_then_nothing(world):
    contribution, intent = world.collect("INV-S1", 1_000_000)
    succeeded = world.fake.succeed(intent, fee=30_000)
    refunded = world.fake.refund(intent, 400_000)
    first = world.deliver(refunded)
    assert (first.status, first.booked) == ("processed", 2)
    late = world.deliver(succeeded)
    assert (late.status, late.booked) == ("processed", 0)
    found = world.contribution(contribution.id)
    assert (found.status, found.returned_minor, found.kept_minor) == ("received", 400_000, 600_000)
    assert world.posted("stripe_clearing") == 1_000_000 - 30_000 - 400_000
    position = world.run(lambda c: fund_position(c, get_scheme(c, world.scheme.id)))
    share = next(i for i in position.investors if i.name == "Investor INV-S1")
    assert share.capital_minor == 600_000


def test_a_refund_after_the_payout_takes_clearing_below_zero_until_the_next(world):
    contribution, intent = world.collect("INV-S1", 1_000_000)
    world.deliver(world.fake.succeed(intent, fee=30_000))
    cash = world.posted("cash")
    paid = world.fake.pay_out()
    assert world.deliver(paid).status == "processed"
    assert world.posted("cash") - cash == 970_000 and world.posted("stripe_clearing") == 0
    world.deliver(world.fake.refund(intent, 1_000_000))
    assert world.posted("stripe_clearing") == -1_000_000  # Stripe takes it from the next
    found = world.contribution(contribution.id)
    assert (found.returned_minor, found.kept_minor) == (1_000_000, 0)
    report = world.reconcile(paid["data"]["object"]["id"])
    assert report["discrepancies"] == 0 and len(report["matched"]) == 1
    second = world.fake.pay_out()
    world.deliver(second)
    assert world.posted("stripe_clearing") == 0
    assert world.posted("cash") - cash == 970_000 - 1_000_000
    assert world.reconcile(second["data"]["object"]["id"])["discrepancies"] == 0


def test_a_dispute_withdraws_the_money_and_its_fee_and_a_won_one_gives_it_back(world):
    contribution, intent = world.collect("INV-S1", 500_000)
    world.deliver(world.fake.succeed(intent, fee=15_000))
    capital = world.posted("capital")
    opened = world.fake.dispute(intent, fee=1_500)
    assert world.deliver(opened).booked == 1
    assert world.posted("capital") == capital - 500_000
    assert world.posted("payment_fees") == 15_000 + 1_500
    assert world.contribution(contribution.id).returned_minor == 500_000
    dispute_id = opened["data"]["object"]["id"]
    assert world.deliver(world.fake.win_dispute(dispute_id, fee_back=1_500)).booked == 1
    assert world.posted("capital") == capital
    assert world.posted("payment_fees") == 15_000
    assert world.contribution(contribution.id).returned_minor == 0
    assert world.posted("stripe_clearing") == 500_000 - 15_000


def test_a_payout_that_fails_after_it_was_paid_is_undone_and_its_return_paid_out(world):
    _, intent = world.collect("INV-S1", 200_000)
    world.deliver(world.fake.succeed(intent, fee=6_000))
    cash = world.posted("cash")
    paid = world.fake.pay_out()
    world.deliver(paid)
    assert world.posted("cash") - cash == 194_000
    failed = world.fake.fail_payout(paid["data"]["object"]["id"])
    assert world.deliver(failed).status == "processed"
    assert (world.posted("cash"), world.posted("stripe_clearing")) == (cash, 194_000)
    assert world.deliver(failed).status == "duplicate"
    # Stripe pays the returned amount out again with the next payout.
    again = world.fake.pay_out()
    world.deliver(again)
    assert (world.posted("cash") - cash, world.posted("stripe_clearing")) == (194_000, 0)
    report = world.reconcile(again["data"]["object"]["id"])
    assert report["discrepancies"] == 0 and [m["kind"] for m in report["matched"]] == [
        "payout_failure"
    ]


def test_a_payout_paid_event_arriving_after_it_failed_books_nothing(world):
    """Stripe down when "paid" came; meanwhile the payout failed: whatever arrives
    when, the payout is acted on as Stripe has it now."""
    _, intent = world.collect("INV-S1", 200_000)
    world.deliver(world.fake.succeed(intent, fee=6_000))
    cash = world.posted("cash")
    paid = world.fake.pay_out()
    failed = world.fake.fail_payout(paid["data"]["object"]["id"])
    assert world.deliver(failed).status == "processed"
    assert world.deliver(paid).status == "processed"
    assert (world.posted("cash"), world.posted("stripe_clearing")) == (cash, 194_000)


def test_only_booked_items_are_moved_and_a_late_one_moves_when_booked(world):
    """A charge whose event had not arrived when its payout was booked stays on
    clearing, and moves to cash when its event comes; an item that is never booked
    (refused as a mismatch) never moves."""
    _, early = world.collect("INV-A", 100_000)
    _, late = world.collect("INV-B", 200_000)
    world.deliver(world.fake.succeed(early, fee=3_000))
    late_event = world.fake.succeed(late, fee=6_000)
    cash = world.posted("cash")
    payout = world.fake.pay_out()
    world.deliver(payout)
    assert (world.posted("cash") - cash, world.posted("stripe_clearing")) == (97_000, 0)
    world.deliver(late_event)
    assert (world.posted("cash") - cash, world.posted("stripe_clearing")) == (291_000, 0)
    report = world.reconcile(payout["data"]["object"]["id"])
    assert report["discrepancies"] == 0 and len(report["matched"]) == 2
    # Later payouts do not count the late one as missing on Stripe's side.
    world.clock.advance(timedelta(days=5))
    world.deliver(next_payout := world.fake.pay_out())
    assert world.reconcile(next_payout["data"]["object"]["id"])["missing_theirs"] == []


def test_reconciliation_reports_each_kind_of_discrepancy_and_corrects_none(world):
    _, matched = world.collect("INV-A", 100_000)
    _, unbooked = world.collect("INV-B", 200_000)
    _, held_back = world.collect("INV-C", 300_000)
    _, changed = world.collect("INV-D", 400_000)
    world.deliver(world.fake.succeed(matched, fee=3_000))
    world.fake.succeed(unbooked, fee=6_000)  # its event never arrives
    world.deliver(world.fake.succeed(held_back, fee=9_000))
    world.deliver(world.fake.succeed(changed, fee=12_000))
    held_transaction = world.fake.charge_of(held_back)["balance_transaction"]
    changed_transaction = world.fake.objects[world.fake.charge_of(changed)["balance_transaction"]]
    changed_transaction.update(fee=12_500, net=400_000 - 12_500)  # Stripe changed its fee
    world.clock.advance(timedelta(days=3))  # everything is available by the payout
    payout = world.fake.pay_out(leave=(held_transaction,))
    payout_id = payout["data"]["object"]["id"]
    world.fake.objects[payout_id]["amount"] += 1  # and its total disagrees with its items
    clearing, cash = world.posted("stripe_clearing"), world.posted("cash")
    report = world.reconcile(payout_id)
    assert [line["source"] for line in report["matched"]] == [
        world.fake.objects[matched]["latest_charge"]
    ]
    (missing_ours,) = report["missing_ours"]
    assert missing_ours["source"] == world.fake.objects[unbooked]["latest_charge"]
    assert missing_ours["ours"] is None and missing_ours["scheme_id"] == str(world.scheme.id)
    (missing_theirs,) = report["missing_theirs"]
    assert (missing_theirs["item"], missing_theirs["theirs"]) == (held_transaction, None)
    (difference,) = report["differences"]
    assert difference["theirs"]["fee"] == {"amount": "125.00", "currency": "TJS"}
    assert difference["ours"]["fee"] == {"amount": "120.00", "currency": "TJS"}
    assert report["total_difference"] == {"amount": "0.01", "currency": "TJS"}
    assert report["discrepancies"] == 4 and report["booked_payout"] is False
    # Nothing was corrected: the books are as before, and the run is on record.
    assert (world.posted("stripe_clearing"), world.posted("cash")) == (clearing, cash)
    from ledger.payments.models import ReconciliationRun

    runs = world.run(lambda c: c.execute(select(ReconciliationRun.__table__)).all())
    assert [(r.payout_external_id, r.discrepancies) for r in runs] == [(payout_id, 4)]


def test_stripe_being_down_fails_the_event_and_its_redelivery_books_it_once(world):
    contribution, intent = world.collect("INV-S1", 100_000)
    event = world.fake.succeed(intent, fee=3_000)
    world.fake.down = True
    with pytest.raises(ProviderFailed):
        world.deliver(event)
    (stored,) = world.run(lambda c: list_events(c, "stripe"))
    assert stored.status == "failed" and "down" in stored.error
    assert world.contribution(contribution.id).status == "pledged"
    world.fake.down = False
    assert world.deliver(event).status == "processed"
    assert world.deliver(event).status == "duplicate"
    assert world.posted("stripe_clearing") == 97_000


def test_an_event_about_a_payment_not_made_here_is_ignored(world):
    foreign = world.fake._create_intent({"amount": "5000", "currency": "tjs"})
    outcome = world.deliver(world.fake.succeed(foreign["id"]))
    assert outcome.status == "ignored"
    assert world.posted("stripe_clearing") == 0


def test_without_keys_stripe_is_unavailable(database, clock):
    provider = StripeProvider(Settings())
    assert provider.available() is False
    with pytest.raises(ProviderUnavailable):
        provider.handle(database, b"{}", {}, now=clock.now())


def test_only_currencies_stripe_counts_like_iso_are_collected():
    assert stripe_amount(123_456, "TJS") == 123_456
    assert stripe_amount(5_000, "JPY") == 5_000
    assert stripe_amount(1_230, "KWD") == 1_230
    for amount, currency in ((1_234, "KWD"), (100, "HUF"), (100, "ISK")):
        with pytest.raises(UnsupportedCurrency):
            stripe_amount(amount, currency)


def test_two_deliveries_of_one_event_racing_book_it_once(postgres_database, clock):
    world = StripeWorld(postgres_database, clock)
    _, intent = world.collect("INV-S1", 100_000)
    event = world.fake.succeed(intent, fee=3_000)
    barrier, outcomes, errors = threading.Barrier(4), [], []

    def deliver():
        barrier.wait()
        try:
            outcomes.append(world.deliver(event).status)
        except Exception as error:
            errors.append(error)

    threads = [threading.Thread(target=deliver) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == [] and len(outcomes) == 4 and "processed" in outcomes
    assert set(outcomes) <= {"processed", "duplicate"}
    assert world.posted("stripe_clearing") == 97_000
    assert world.posted("payment_fees") == 3_000
    assert postgres_database.run(check_invariants) == []


def test_the_cli_reconciles_payouts_and_retries_failed_events(world, database, monkeypatch, capsys):
    """``ledger-integrations reconcile-stripe`` and ``retry-stripe-events`` on this
    database, with the SDK's transport pointed at the fake."""
    import json

    from integrations import cli

    monkeypatch.setattr(cli, "stripe_http_client", world.fake)
    monkeypatch.setenv("DATABASE_URL", database.engine.url.render_as_string(hide_password=False))
    monkeypatch.setenv("STRIPE_API_KEY", "sk_test_fake")
    monkeypatch.setenv("STRIPE_WEBHOOK_SECRET", SECRET)
    _, first = world.collect("INV-S1", 100_000)
    world.deliver(world.fake.succeed(first, fee=3_000))
    _, second = world.collect("INV-S2", 100_000)
    late = world.fake.succeed(second, fee=3_000)
    world.fake.down = True
    with pytest.raises(ProviderFailed):
        world.deliver(late)
    world.fake.down = False
    payout = world.fake.pay_out()
    payout_id = payout["data"]["object"]["id"]
    assert cli.main(["reconcile-stripe", "--payout", payout_id]) == 1  # the failed one
    report = json.loads(capsys.readouterr().out)
    assert [line["source"] for line in report["missing_ours"]] == [
        world.fake.objects[second]["latest_charge"]
    ]
    assert cli.main(["retry-stripe-events"]) == 0
    assert capsys.readouterr().out.strip() == f"{late['id']}: processed"
    world.deliver(payout)
    assert cli.main(["reconcile-stripe", "--since", "2026-01-01"]) == 0
    assert json.loads(capsys.readouterr().out)["discrepancies"] == 0
    assert world.posted("stripe_clearing") == 0
