"""Booking what a payment provider reports, each item once, through the journal.

An **item** is one movement of money on the provider's balance (a Stripe balance
transaction): its gross ``amount`` (signed: a charge is positive, a refund or a
dispute's withdrawal negative, a reinstatement positive), the ``fee`` the provider
kept (negative when it gave one back) and ``net = amount - fee``. Each is booked to
the scheme that collected it, in one journal transaction keyed by the item's id:

* the charge: Dr clearing, Cr capital (or first-loss), the gross; Dr payment fees,
  Cr clearing, the fee; the contribution is received and sponsors' matches released;
* a refund, a dispute's withdrawal: Dr capital, Cr clearing, the gross; the fee as
  above; the contribution's returned amount grows;
* a reinstatement (a dispute won): Dr clearing, Cr capital; a fee given back:
  Dr clearing, Cr payment fees.

A **payout** moves each scheme's share of it from clearing to cash (the fund's bank):
Dr cash, Cr clearing, the sum of the nets of the payout's items of that scheme. Items
of no scheme of ours (a charge not made here, the provider's account fees) stay out of
the books and are reported, never guessed at.

Matching released for a contribution is not clawed back when it is refunded: the
sponsor's money did arrive; the fund manager decides (the reconciliation shows it).
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, insert, select, update

from ledger.clock import FixedClock
from ledger.credit.schemes import (
    contributions,
    get_contribution,
    get_scheme,
    receive,
    scheme_account,
)
from ledger.db import RaceConstraint, register_race_constraint
from ledger.ids import uuid7
from ledger.journal import (
    PostingSpec,
    TransactionSpec,
    credit,
    debit,
    post_transaction,
    reverse_transaction,
)
from ledger.payments.collections import CollectionRecord, collections
from ledger.payments.errors import SettlementMismatch
from ledger.payments.models import PayoutItem, ProviderPayout, SettlementItem

settlement_items = SettlementItem.__table__
payouts = ProviderPayout.__table__
payout_items = PayoutItem.__table__

for _table, _name in (
    ("settlement_items", "uq_settlement_items_provider_external_id"),
    ("provider_payouts", "uq_provider_payouts_provider_external_id"),
    ("payout_items", "uq_payout_items_provider_external_id"),
):
    register_race_constraint(RaceConstraint(_name, _table, ("provider", "external_id")))


@dataclass(frozen=True)
class ProviderItem:
    """One movement on the provider's balance, as the provider reports it."""

    external_id: str
    kind: str  # charge, refund, refund_failure, dispute, ...
    source_id: str  # what it is about (a charge's, refund's or dispute's id)
    amount_minor: int
    fee_minor: int
    currency: str
    available_on: datetime
    created_at: datetime

    @property
    def net_minor(self) -> int:
        return self.amount_minor - self.fee_minor


@dataclass(frozen=True)
class BookedItem:
    id: uuid.UUID
    provider: str
    external_id: str
    kind: str
    source_id: str
    collection_id: uuid.UUID
    scheme_id: uuid.UUID
    amount_minor: int
    fee_minor: int
    net_minor: int
    currency: str
    available_on: datetime
    payout_id: uuid.UUID | None
    transaction_id: uuid.UUID
    created_at: datetime


def _booked(row: Any) -> BookedItem:
    return BookedItem(**{name: getattr(row, name) for name in BookedItem.__dataclass_fields__})


#: Where each provider's collections land: Stripe holds them until its payout; a bank
#: transfer arrives in the fund's own bank account (cash).
CLEARING_ROLES = {"stripe": "stripe_clearing", "bank_transfer": "cash"}


def clearing_role(provider: str) -> str:
    return CLEARING_ROLES[provider]


def booked_items(
    connection: Connection, provider: str, external_ids: list[str]
) -> dict[str, BookedItem]:
    if not external_ids:
        return {}
    rows = connection.execute(
        select(settlement_items).where(
            settlement_items.c.provider == provider,
            settlement_items.c.external_id.in_(external_ids),
        )
    )
    return {row.external_id: _booked(row) for row in rows}


def _fee_postings(clearing: int, fees: int, fee: int, currency: str) -> tuple[PostingSpec, ...]:
    if fee > 0:
        return (debit(fees, fee, currency), credit(clearing, fee, currency))
    if fee < 0:
        return (debit(clearing, -fee, currency), credit(fees, -fee, currency))
    return ()


def book_item(
    connection: Connection,
    collection: CollectionRecord,
    item: ProviderItem,
    *,
    now: datetime,
) -> BookedItem | None:
    """Book ``item`` of ``collection``'s payment; None when it was booked before."""
    provider = collection.provider
    if booked_items(connection, provider, [item.external_id]):
        return None
    scheme = get_scheme(connection, collection.scheme_id)
    if item.currency != scheme.currency:
        raise SettlementMismatch(
            f"{provider} reported {item.external_id} in {item.currency}; "
            f"the scheme keeps {scheme.currency}",
            item=item.external_id,
        )
    clearing = scheme_account(connection, scheme, clearing_role(provider), now=now)
    fees = scheme_account(connection, scheme, "payment_fees", now=now)
    fee_postings = _fee_postings(clearing, fees, item.fee_minor, scheme.currency)
    reference = {"provider": provider, "item": item.external_id, "source": item.source_id}
    found = get_contribution(connection, scheme.id, collection.contribution_id, lock=True)
    if item.kind == "charge":
        if found.status != "pledged":
            raise SettlementMismatch(
                f"contribution {found.id} was {found.status} before {provider}'s charge",
                item=item.external_id,
            )
        if item.amount_minor != collection.amount_minor:
            raise SettlementMismatch(
                f"{provider} charged {item.amount_minor} minor units for {item.external_id}; "
                f"the contribution is {collection.amount_minor}",
                item=item.external_id,
            )
        received, *_ = receive(
            connection,
            scheme,
            found.id,
            now=now,
            into=clearing,
            extra=fee_postings,
            metadata={"payment": reference},
        )
        assert received.transaction_id is not None
        transaction_id = received.transaction_id
        connection.execute(
            update(collections)
            .where(collections.c.id == collection.id)
            .values(status="succeeded", succeeded_at=now)
        )
    else:
        if found.status != "received":
            # Booked only after the charge: the caller books a payment's charge first.
            raise SettlementMismatch(
                f"{item.external_id} returns money of contribution {found.id}, "
                f"which is {found.status}",
                item=item.external_id,
            )
        returned = found.returned_minor - item.amount_minor
        if not 0 <= returned <= found.amount_minor:
            raise SettlementMismatch(
                f"{item.external_id} would make the returned amount {returned} of "
                f"{found.amount_minor}",
                item=item.external_id,
            )
        role = scheme.account("capital" if found.kind == "investor" else "first_loss")
        gross = abs(item.amount_minor)
        moved: tuple[PostingSpec, ...] = ()
        if item.amount_minor < 0:
            moved = (debit(role, gross, scheme.currency), credit(clearing, gross, scheme.currency))
        elif item.amount_minor > 0:
            moved = (debit(clearing, gross, scheme.currency), credit(role, gross, scheme.currency))
        postings = moved + fee_postings
        if not postings:
            return None  # nothing moved: nothing to book
        transaction_id = post_transaction(
            connection,
            TransactionSpec(
                postings=postings,
                description=f"{provider} {item.kind} {item.source_id} of {found.reference}",
                metadata={"credit": {"contribution_id": str(found.id), "payment": reference}},
                idempotency_key=f"{provider}:{item.external_id}",
                client_id=scheme.client_id,
            ),
            clock=FixedClock(now),
        ).id
        connection.execute(
            update(contributions)
            .where(contributions.c.id == found.id)
            .values(returned_minor=returned)
        )
    values = {
        "id": uuid7(),
        "provider": provider,
        "external_id": item.external_id,
        "kind": item.kind,
        "source_id": item.source_id,
        "collection_id": collection.id,
        "scheme_id": scheme.id,
        "amount_minor": item.amount_minor,
        "fee_minor": item.fee_minor,
        "net_minor": item.net_minor,
        "currency": item.currency,
        "available_on": item.available_on,
        "payout_id": None,
        "transaction_id": transaction_id,
        "created_at": now,
    }
    connection.execute(insert(settlement_items).values(**values))
    booked = BookedItem(**values)
    settle_late_item(connection, provider, booked, now=now)
    return booked


@dataclass(frozen=True)
class PayoutReport:
    """A payout as the provider reports it, with each of its items and the
    collection each belongs to (None: not ours)."""

    external_id: str
    amount_minor: int
    currency: str
    status: str
    created_at: datetime  # what was available before it, the provider should pay out
    paid_at: datetime
    items: tuple[tuple[ProviderItem, CollectionRecord | None], ...]


@dataclass(frozen=True)
class PayoutRecord:
    id: uuid.UUID
    provider: str
    external_id: str
    amount_minor: int
    currency: str
    status: str
    transactions: dict[str, Any]
    unattributed_minor: int
    paid_at: datetime
    booked_at: datetime


def get_payout(connection: Connection, provider: str, external_id: str) -> PayoutRecord | None:
    row = connection.execute(
        select(payouts).where(payouts.c.provider == provider, payouts.c.external_id == external_id)
    ).first()
    if row is None:
        return None
    return PayoutRecord(**{name: getattr(row, name) for name in PayoutRecord.__dataclass_fields__})


def _move(
    connection: Connection,
    provider: str,
    scheme_id: uuid.UUID,
    net: int,
    *,
    key: str,
    payout: str,
    now: datetime,
) -> str:
    """Clearing to cash (or back, for a negative net): one journal transaction."""
    scheme = get_scheme(connection, scheme_id)
    clearing = scheme_account(connection, scheme, clearing_role(provider), now=now)
    cash, amount = scheme.account("cash"), abs(net)
    postings = (
        (debit(cash, amount, scheme.currency), credit(clearing, amount, scheme.currency))
        if net > 0
        else (debit(clearing, amount, scheme.currency), credit(cash, amount, scheme.currency))
    )
    return str(
        post_transaction(
            connection,
            TransactionSpec(
                postings=postings,
                description=f"{provider} payout {payout}",
                metadata={"payment": {"provider": provider, "payout": payout}},
                idempotency_key=key,
                client_id=scheme.client_id,
            ),
            clock=FixedClock(now),
        ).id
    )


def _returned_shares(
    connection: Connection, provider: str, item: ProviderItem
) -> dict[uuid.UUID, int] | None:
    """A failed payout's money coming back onto the provider's balance (Stripe's
    ``payout_failure``, sourced by that payout): its schemes' shares, or None."""
    if item.kind != "payout_failure":
        return None
    failed = get_payout(connection, provider, item.source_id)
    if failed is None or failed.status not in ("failed", "canceled"):
        return None
    shares: dict[uuid.UUID, int] = defaultdict(int)
    for entry in failed.transactions.values():
        shares[uuid.UUID(entry["scheme_id"])] += int(entry["net"])
    return shares


def returned_items(connection: Connection, provider: str, items: list[ProviderItem]) -> set[str]:
    """The ids of ``items`` that return a failed payout of ours."""
    return {
        item.external_id
        for item in items
        if _returned_shares(connection, provider, item) is not None
    }


def book_payout(
    connection: Connection, provider: str, report: PayoutReport, *, now: datetime
) -> PayoutRecord:
    """Record the payout and its items, once. Paid: move each scheme's part from
    clearing to cash, the nets of the items the ledger booked (an item booked later
    moves its own when it is booked; one never booked never moves). Failed or
    cancelled before it was booked: recorded so a late "paid" books nothing."""
    existing = get_payout(connection, provider, report.external_id)
    if existing is not None:
        return existing
    payout_id = uuid7()
    connection.execute(
        insert(payouts).values(
            id=payout_id,
            provider=provider,
            external_id=report.external_id,
            amount_minor=report.amount_minor,
            currency=report.currency,
            status=report.status,
            transactions={},
            unattributed_minor=0,
            paid_at=report.paid_at,
            booked_at=now,
        )
    )
    if report.items:
        connection.execute(
            insert(payout_items),
            [
                {
                    "id": uuid7(),
                    "payout_id": payout_id,
                    "provider": provider,
                    "external_id": item.external_id,
                    "kind": item.kind,
                    "source_id": item.source_id,
                    "net_minor": item.net_minor,
                }
                for item, _ in report.items
            ],
        )
    transactions: dict[str, dict[str, Any]] = {}
    unattributed = 0
    if report.status == "paid":
        ids = [item.external_id for item, _ in report.items]
        booked = booked_items(connection, provider, ids)
        by_scheme: dict[uuid.UUID, int] = defaultdict(int)
        for item, _collection in report.items:
            returned = _returned_shares(connection, provider, item)
            if item.external_id in booked:
                by_scheme[booked[item.external_id].scheme_id] += booked[item.external_id].net_minor
            elif returned is not None:
                for scheme_id, net in returned.items():
                    by_scheme[scheme_id] += net
            else:
                unattributed += item.net_minor
        for scheme_id, net in sorted(by_scheme.items()):
            if net:
                transactions[str(scheme_id)] = {
                    "scheme_id": str(scheme_id),
                    "net": net,
                    "transaction_id": _move(
                        connection,
                        provider,
                        scheme_id,
                        net,
                        key=f"{provider}:payout:{report.external_id}",
                        payout=report.external_id,
                        now=now,
                    ),
                }
        link_items(connection, provider, payout_id, ids)
    connection.execute(
        update(payouts)
        .where(payouts.c.id == payout_id)
        .values(transactions=transactions, unattributed_minor=unattributed)
    )
    found = get_payout(connection, provider, report.external_id)
    assert found is not None
    return found


def settle_late_item(
    connection: Connection, provider: str, booked: BookedItem, *, now: datetime
) -> None:
    """An item booked after the payout that contained it was booked: move its net
    now, so clearing holds only what the provider still holds."""
    row = connection.execute(
        select(payouts)
        .join(payout_items, payout_items.c.payout_id == payouts.c.id)
        .where(
            payout_items.c.provider == provider, payout_items.c.external_id == booked.external_id
        )
    ).first()
    if row is None or row.status != "paid" or booked.net_minor == 0:
        return
    key = f"{provider}:payout:{row.external_id}:{booked.external_id}"
    transaction_id = _move(
        connection,
        provider,
        booked.scheme_id,
        booked.net_minor,
        key=key,
        payout=row.external_id,
        now=now,
    )
    entries = {
        **row.transactions,
        key: {
            "scheme_id": str(booked.scheme_id),
            "net": booked.net_minor,
            "transaction_id": transaction_id,
        },
    }
    connection.execute(update(payouts).where(payouts.c.id == row.id).values(transactions=entries))
    link_items(connection, provider, row.id, [booked.external_id])


def link_items(
    connection: Connection, provider: str, payout_id: uuid.UUID, external_ids: list[str]
) -> None:
    """Say which payout took these booked items to the bank."""
    if external_ids:
        connection.execute(
            update(settlement_items)
            .where(
                settlement_items.c.provider == provider,
                settlement_items.c.external_id.in_(external_ids),
                settlement_items.c.payout_id.is_(None),
            )
            .values(payout_id=payout_id)
        )


def unpaid_items(
    connection: Connection, provider: str, currency: str, *, available_by: datetime
) -> list[BookedItem]:
    """Booked items no payout has taken, available before ``available_by``: a payout
    made then should contain them."""
    rows = connection.execute(
        select(settlement_items)
        .where(
            settlement_items.c.provider == provider,
            settlement_items.c.currency == currency,
            settlement_items.c.payout_id.is_(None),
            settlement_items.c.available_on < available_by,
        )
        .order_by(settlement_items.c.available_on, settlement_items.c.id)
    )
    return [_booked(row) for row in rows]


def reverse_payout(
    connection: Connection, provider: str, report: PayoutReport, *, now: datetime
) -> PayoutRecord:
    """A payout that failed or was cancelled: reverse what booking it moved (its money
    is on the provider's balance again; the provider returns it as an item of a later
    payout, which moves it back). Not booked before: recorded as such, so a late
    "paid" books nothing. Reversed before: unchanged."""
    found = get_payout(connection, provider, report.external_id)
    if found is None:
        return book_payout(connection, provider, report, now=now)
    if found.status in ("failed", "canceled"):
        return found
    for key, entry in sorted(found.transactions.items()):
        scheme = get_scheme(connection, uuid.UUID(entry["scheme_id"]))
        reverse_transaction(
            connection,
            uuid.UUID(entry["transaction_id"]),
            description=f"{provider} payout {report.external_id} {report.status}",
            idempotency_key=f"{provider}:reversal:{key}",
            client_id=scheme.client_id,
            clock=FixedClock(now),
        )
    connection.execute(update(payouts).where(payouts.c.id == found.id).values(status=report.status))
    refreshed = get_payout(connection, provider, report.external_id)
    assert refreshed is not None
    return refreshed
