"""Stripe, through the official SDK's ``StripeClient``.

* **Collections**: a PaymentIntent for a pledged contribution (its amount and
  currency, metadata naming scheme and contribution, an idempotency key derived from
  the contribution, so a retried request finds the same PaymentIntent).
* **Events** (``POST /v1/integrations/stripe/webhooks``): the signature is verified
  with the SDK against the raw body, the configured secret and a tolerance; the event
  is stored by its id; then the payment it is about is read back from Stripe and
  every balance transaction of it not yet booked is booked (the charge first, then
  refunds, refund failures and disputes' withdrawals and reinstatements). Reading
  the current state instead of trusting the event's snapshot is what makes order not
  matter: a ``charge.refunded`` that overtakes ``payment_intent.succeeded`` books
  both; the late ``succeeded`` then finds nothing left to do. ``payout.paid`` moves
  each scheme's part of the payout from clearing to cash; ``payout.failed`` and
  ``payout.canceled`` after it undo that.
* **Reconciliation** of a payout: its balance transactions (from the API) against
  the settlement items the ledger booked (``ledger.payments.reconciliation``).

Stripe's API is called outside any database transaction; a failure there writes
nothing but the event's failed status, and the webhook answers 503 so Stripe
delivers it again.
"""

from __future__ import annotations

import json
import logging
import uuid
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from typing import Any

import stripe
from sqlalchemy import Connection

from integrations.providers.base import Collection, Outcome
from integrations.stripe.objects import field_of, item_of, payment_intent_of, stripe_amount
from ledger.access.principals import PrincipalRecord
from ledger.config import Settings
from ledger.credit.schemes import (
    get_contribution,
    get_scheme,
)
from ledger.db import Database
from ledger.errors import ConcurrencyExhausted, LedgerError
from ledger.ids import uuid7
from ledger.payments.bookkeeping import (
    PayoutReport,
    ProviderItem,
    book_item,
    book_payout,
    booked_items,
    get_payout,
    link_items,
    returned_items,
    reverse_payout,
    unpaid_items,
)
from ledger.payments.collections import collectable, find_collection, open_collection
from ledger.payments.errors import (
    InvalidSignature,
    PayoutNotFound,
    ProviderFailed,
    ProviderUnavailable,
)
from ledger.payments.models import ReconciliationRun
from ledger.payments.provider_events import (
    ProviderEventRecord,
    finish_event,
    list_events,
    store_event,
)
from ledger.payments.reconciliation import reconcile

log = logging.getLogger(__name__)

NAME = "stripe"
SIGNATURE_HEADER = "Stripe-Signature"
PAYMENT_EVENTS = ("payment_intent.", "charge.", "refund.")
PAYOUT_EVENTS = ("payout.paid", "payout.failed", "payout.canceled")
reconciliation_runs = ReconciliationRun.__table__
#: A balance transaction and the PaymentIntent it is of (None: not a payment's).
Fetched = tuple[ProviderItem, str | None]


def _id(value: Any) -> str | None:
    if value is None or isinstance(value, str):
        return value
    return str(field_of(value, "id"))


class StripeProvider:
    name = NAME

    def __init__(self, settings: Settings, http_client: stripe.HTTPClient | None = None) -> None:
        self.settings = settings
        self._client = (
            stripe.StripeClient(
                settings.stripe_api_key, http_client=http_client, max_network_retries=2
            )
            if settings.stripe_api_key
            else None
        )

    def available(self) -> bool:
        return self._client is not None and bool(self.settings.stripe_webhook_secret)

    @property
    def client(self) -> stripe.StripeClient:
        if self._client is None or not self.settings.stripe_webhook_secret:
            raise ProviderUnavailable(
                "Stripe is not configured here (STRIPE_API_KEY and STRIPE_WEBHOOK_SECRET)",
                provider=NAME,
            )
        return self._client

    # ------------------------------------------------------------ collections

    def create_collection(
        self,
        database: Database,
        principal: PrincipalRecord,
        scheme_id: uuid.UUID,
        contribution_id: uuid.UUID,
        *,
        now: datetime,
    ) -> Collection:
        client = self.client

        scheme, contribution, existing = database.run(
            lambda c: collectable(c, NAME, principal, scheme_id, contribution_id)
        )
        try:
            if existing is not None:
                intent = client.v1.payment_intents.retrieve(existing.external_id)
            else:
                intent = client.v1.payment_intents.create(
                    params={
                        "amount": stripe_amount(contribution.amount_minor, scheme.currency),
                        "currency": scheme.currency.lower(),
                        "automatic_payment_methods": {"enabled": True},
                        "description": f"Contribution {contribution.reference} to {scheme.name}",
                        "metadata": {
                            "scheme_id": str(scheme.id),
                            "contribution_id": str(contribution.id),
                            "contribution_reference": contribution.reference,
                        },
                    },
                    options={"idempotency_key": f"ledger-contribution-{contribution.id}"},
                )
        except stripe.StripeError as error:
            raise ProviderFailed(f"Stripe: {error.user_message or error}", provider=NAME) from None
        record = database.run(
            lambda c: open_collection(
                c,
                NAME,
                get_scheme(c, scheme_id),
                get_contribution(c, scheme_id, contribution_id),
                external_id=intent.id,
                now=now,
            )
        )
        return Collection(
            record,
            {
                "payment_intent": intent.id,
                "client_secret": intent.client_secret,
                "status": intent.status,
            },
        )

    # ------------------------------------------------------------ events

    def handle(
        self,
        database: Database,
        body: bytes,
        context: Mapping[str, str],
        *,
        now: datetime,
        principal: PrincipalRecord | None = None,
    ) -> Outcome:
        client = self.client
        try:
            event = client.construct_event(
                body,
                context.get(SIGNATURE_HEADER),
                self.settings.stripe_webhook_secret,
                tolerance=self.settings.stripe_webhook_tolerance_seconds,
            )
        except (stripe.SignatureVerificationError, ValueError) as error:
            raise InvalidSignature(f"Stripe-Signature does not verify: {error}") from None
        payload = json.loads(body)
        stored = database.run(
            lambda c: store_event(
                c, NAME, external_id=event.id, type=event.type, payload=payload, now=now
            )
        )
        if stored.done:
            return Outcome("duplicate", stored.external_id, detail=stored.status)
        return self.process(database, stored, now=now)

    def process(self, database: Database, stored: ProviderEventRecord, *, now: datetime) -> Outcome:
        """Act on a stored event (again, when it failed before)."""
        obj = (stored.payload.get("data") or {}).get("object") or {}
        try:
            if stored.type in PAYOUT_EVENTS:
                return self._payout_event(database, stored, obj, now=now)
            if stored.type.startswith(PAYMENT_EVENTS):
                intent = (
                    _id(obj.get("id"))
                    if obj.get("object") == "payment_intent"
                    else _id(obj.get("payment_intent"))
                )
                if intent:
                    return self._sync_payment(database, stored, intent, now=now)
        except stripe.StripeError as error:
            message = f"Stripe: {error}"
            database.run(
                lambda c: finish_event(c, stored.id, status="failed", error=message, now=now)
            )
            raise ProviderFailed(message, provider=NAME) from None
        except ConcurrencyExhausted:
            raise  # transient: 503, and Stripe delivers it again
        except LedgerError as error:
            # Not something a retry fixes by itself: kept as failed, for people.
            text = f"{error.code}: {error.message}"
            database.run(lambda c: finish_event(c, stored.id, status="failed", error=text, now=now))
            log.warning("stripe event %s failed: %s", stored.external_id, text)
            return Outcome("failed", stored.external_id, detail=text)
        database.run(lambda c: finish_event(c, stored.id, status="ignored", now=now))
        return Outcome("ignored", stored.external_id)

    def retry_events(self, database: Database, *, now: datetime) -> list[Outcome]:
        """Process again every event left failed or unfinished (oldest first); Stripe
        also redelivers them for three days."""
        pending = database.run(
            lambda c: (
                list_events(c, NAME, status="failed") + list_events(c, NAME, status="received")
            )
        )
        outcomes = []
        for stored in sorted(pending, key=lambda e: (e.received_at, e.id)):
            try:
                outcomes.append(self.process(database, stored, now=now))
            except ProviderFailed as error:
                outcomes.append(Outcome("failed", stored.external_id, detail=error.message))
        return outcomes

    def _payment_items(self, intent_id: str) -> list[ProviderItem]:
        """Every balance transaction of the payment, the charge first."""
        v1 = self.client.v1
        intent = v1.payment_intents.retrieve(
            intent_id, params={"expand": ["latest_charge.balance_transaction"]}
        )
        items: list[ProviderItem] = []
        charge = intent.latest_charge
        if intent.status == "succeeded" and charge is not None and not isinstance(charge, str):
            transaction = charge.balance_transaction
            if transaction is not None and not isinstance(transaction, str):
                items.append(item_of(transaction, charge.id))
        refunds = v1.refunds.list(
            params={
                "payment_intent": intent_id,
                "limit": 100,
                "expand": ["data.balance_transaction", "data.failure_balance_transaction"],
            }
        )
        later: list[ProviderItem] = []
        for refund in refunds.auto_paging_iter():
            for name in ("balance_transaction", "failure_balance_transaction"):
                transaction = field_of(refund, name)
                if transaction is not None and not isinstance(transaction, str):
                    later.append(item_of(transaction, refund.id))
        disputes = v1.disputes.list(params={"payment_intent": intent_id, "limit": 100})
        for dispute in disputes.auto_paging_iter():
            for transaction in field_of(dispute, "balance_transactions") or ():
                later.append(item_of(transaction, dispute.id))
        later.sort(key=lambda item: (item.created_at, item.external_id))
        return items + later

    def _sync_payment(
        self, database: Database, stored: ProviderEventRecord, intent_id: str, *, now: datetime
    ) -> Outcome:
        if database.run(lambda c: find_collection(c, NAME, intent_id)) is None:
            database.run(lambda c: finish_event(c, stored.id, status="ignored", now=now))
            return Outcome("ignored", stored.external_id, detail="not a collection of ours")
        items = self._payment_items(intent_id)  # outside the transaction

        def apply(connection: Connection) -> Outcome:
            collection = find_collection(connection, NAME, intent_id, lock=True)
            if collection is None:
                finish_event(connection, stored.id, status="ignored", now=now)
                return Outcome("ignored", stored.external_id, detail="not a collection of ours")
            booked = 0
            for item in items:
                # book_item reads the contribution's state itself; the collection's
                # ids and amount do not change.
                if book_item(connection, collection, item, now=now) is not None:
                    booked += 1
            finish_event(connection, stored.id, status="processed", now=now)
            return Outcome("processed", stored.external_id, booked=booked)

        return database.run(apply)

    def _fetch_payout(self, payout_id: str) -> tuple[PayoutReport, list[Fetched]]:
        """The payout (without items) and, once paid, its balance transactions with
        the PaymentIntent each is of."""
        v1 = self.client.v1
        payout = v1.payouts.retrieve(payout_id)
        found: list[Fetched] = []
        if payout.status == "paid":
            listed = v1.balance_transactions.list(
                params={"payout": payout_id, "limit": 100, "expand": ["data.source"]}
            )
            found = [
                (item_of(transaction), payment_intent_of(field_of(transaction, "source")))
                for transaction in listed.auto_paging_iter()
                if field_of(transaction, "type") != "payout"
            ]
        header = PayoutReport(
            external_id=payout.id,
            amount_minor=int(payout.amount),
            currency=str(payout.currency).upper(),
            status=str(payout.status),
            created_at=datetime.fromtimestamp(int(payout.created), UTC),
            paid_at=datetime.fromtimestamp(
                int(field_of(payout, "arrival_date") or payout.created), UTC
            ),
            items=(),
        )
        return header, found

    @staticmethod
    def _attributed(
        connection: Connection, header: PayoutReport, found: list[Fetched]
    ) -> PayoutReport:
        """The payout with each item's collection (its PaymentIntent's) resolved."""
        items = tuple(
            (item, find_collection(connection, NAME, intent) if intent else None)
            for item, intent in found
        )
        return PayoutReport(**{**header.__dict__, "items": items})

    def _payout_event(
        self, database: Database, stored: ProviderEventRecord, obj: dict[str, Any], *, now: datetime
    ) -> Outcome:
        """Act on the payout as Stripe has it now (whatever event said so, in whatever
        order): paid, book it; failed or cancelled, undo it (or record it so a late
        "paid" books nothing); pending or in transit, nothing yet."""
        header, found = self._fetch_payout(str(obj.get("id")))

        def apply(connection: Connection) -> Outcome:
            report = self._attributed(connection, header, found)
            if report.status == "paid":
                booked = book_payout(connection, NAME, report, now=now)
            elif report.status in ("failed", "canceled"):
                booked = reverse_payout(connection, NAME, report, now=now)
            else:
                finish_event(connection, stored.id, status="processed", now=now)
                return Outcome("processed", stored.external_id, detail=report.status)
            finish_event(connection, stored.id, status="processed", now=now)
            return Outcome(
                "processed",
                stored.external_id,
                booked=len(booked.transactions),
                detail=booked.status,
                extra={"unmoved_minor": booked.unattributed_minor},
            )

        return database.run(apply)

    # ------------------------------------------------------------ reconciliation

    def settlement_report(
        self, database: Database, settlement_id: str, *, now: datetime
    ) -> dict[str, Any]:
        """Reconcile payout ``settlement_id``; the run is recorded with its findings."""
        try:
            header, found = self._fetch_payout(settlement_id)
        except stripe.InvalidRequestError as error:
            if error.http_status == 404:
                raise PayoutNotFound(f"Stripe has no payout {settlement_id}") from None
            raise ProviderFailed(f"Stripe: {error}", provider=NAME) from None
        except stripe.StripeError as error:
            raise ProviderFailed(f"Stripe: {error}", provider=NAME) from None

        def run(connection: Connection) -> dict[str, Any]:
            report = self._attributed(connection, header, found)
            ids = [item.external_id for item, _ in report.items]
            booked = booked_items(connection, NAME, ids)
            unpaid = unpaid_items(connection, NAME, report.currency, available_by=report.created_at)
            returned = returned_items(connection, NAME, [item for item, _ in report.items])
            result = reconcile(NAME, report, booked, unpaid, accounted=returned)
            ours = get_payout(connection, NAME, report.external_id)
            if ours is not None:
                link_items(connection, NAME, ours.id, [i for i in ids if i in booked])
            findings = {
                **result.as_dict(),
                "booked_payout": ours is not None,
                "ran_at": now.isoformat(),
            }
            connection.execute(
                reconciliation_runs.insert().values(
                    id=uuid7(),
                    provider=NAME,
                    payout_external_id=report.external_id,
                    discrepancies=result.discrepancies,
                    report=findings,
                    ran_at=now,
                )
            )
            return findings

        return database.run(run)

    def payouts_since(self, since: datetime) -> Iterable[str]:
        listed = self.client.v1.payouts.list(
            params={"created": {"gte": int(since.timestamp())}, "limit": 100}
        )
        return [payout.id for payout in listed.auto_paging_iter()]
