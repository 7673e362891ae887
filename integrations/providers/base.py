"""What a payment provider is to the service: one small interface, so a second
provider (a local bank's API, a mobile-money operator) is one new module.

* ``create_collection``: ask the provider to collect a pledged contribution; the
  answer says how the payer pays (Stripe: a PaymentIntent's client secret; a bank
  transfer: the reference to quote).
* ``handle``: take what the provider sends (a signed webhook, a statement file),
  store it once, book what it reports through ``ledger.payments.bookkeeping``.
* ``settlement_report``: reconcile one settlement (a payout, a statement) with the
  books (``ledger.payments.reconciliation``); nothing is corrected by it.

Providers raise ``ledger.payments.errors`` (unavailable, provider error, invalid
signature, settlement mismatch); the API maps them in ``api.errors``.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

from ledger.access.principals import PrincipalRecord
from ledger.db import Database
from ledger.payments.collections import CollectionRecord


@dataclass(frozen=True)
class Collection:
    """A collection and what the payer needs to pay it."""

    record: CollectionRecord
    instructions: dict[str, Any]


@dataclass(frozen=True)
class Outcome:
    """What became of something a provider sent."""

    status: str  # processed, ignored, duplicate, failed
    event_id: str
    booked: int = 0
    detail: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)


class PaymentProvider(Protocol):
    name: str

    def available(self) -> bool: ...

    def create_collection(
        self,
        database: Database,
        principal: PrincipalRecord,
        scheme_id: uuid.UUID,
        contribution_id: uuid.UUID,
        *,
        now: datetime,
    ) -> Collection: ...

    def handle(
        self,
        database: Database,
        body: bytes,
        context: Mapping[str, str],
        *,
        now: datetime,
        principal: PrincipalRecord | None = None,
    ) -> Outcome:
        """``context``: the request's headers (Stripe's signature), or what the caller
        says of the body (the scheme a statement is of); ``principal``: who sent it,
        when not the provider itself."""
        ...

    def settlement_report(
        self, database: Database, settlement_id: str, *, now: datetime
    ) -> dict[str, Any]: ...
