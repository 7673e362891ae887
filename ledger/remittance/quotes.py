"""Quotes: a partner's price for one remittance, fixed for a short while.

A quote is priced from the partner's fee schedule and FX margin in force now and
the reference mid-rate of today (UTC business date) from the partner's rate
source; a stale or missing rate is refused, never used silently. It is stored, so
the remittance that uses it (at most one, before ``expires_at``) takes exactly
the figures the sender was shown.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import ROUND_HALF_EVEN, Decimal
from typing import Any

from sqlalchemy import Connection, delete, insert, select

from ledger.errors import CurrencyMismatch, QuoteNotFound, ValidationFailed
from ledger.ids import uuid7
from ledger.money import from_minor, round_to_minor
from ledger.remittance.corridors import current_pricing, get_corridor
from ledger.remittance.models import Quote, Remittance
from ledger.remittance.policy import RemittancePolicy
from ledger.remittance.pricing import Price, price_receive, price_send
from ledger.remittance.rates import find_rate

quotes = Quote.__table__

#: Stored cost figures keep 12 decimals of the send currency's major unit (the
#: percentage is computed before this, from the unrounded total).
COST_PLACES = Decimal("1e-12")


def stored_cost(total_cost: Decimal) -> Decimal:
    return total_cost.quantize(COST_PLACES, ROUND_HALF_EVEN)


def price_columns(price: Price) -> dict[str, Any]:
    """The figures of a price as quotes and remittances store them."""
    return {
        "send_currency": price.send_currency,
        "receive_currency": price.receive_currency,
        "send_minor": price.send_minor,
        "fee_minor": price.fee_minor,
        "receive_minor": price.receive_minor,
        "mid_rate": price.mid_rate,
        "applied_rate": price.applied_rate,
        "total_cost": stored_cost(price.total_cost),
        "total_cost_percent": price.total_cost_percent,
    }


@dataclass(frozen=True)
class QuoteRecord:
    id: uuid.UUID
    partner_id: uuid.UUID
    corridor_code: str
    pricing_id: uuid.UUID
    send_currency: str
    receive_currency: str
    send_minor: int
    fee_minor: int
    receive_minor: int
    mid_rate: Decimal
    applied_rate: Decimal
    fx_margin: Decimal
    rate_date: date
    rate_source: str
    total_cost: Decimal
    total_cost_percent: Decimal
    created_at: datetime
    expires_at: datetime

    @property
    def total_cost_minor(self) -> int:
        """The total cost in the send currency's minor units, half-even, for display."""
        return round_to_minor(self.total_cost, self.send_currency, ROUND_HALF_EVEN)

    @property
    def fx_margin_cost(self) -> Decimal:
        """send x margin, unrounded (the pricing rule; not total less the rounded fee)."""
        return from_minor(self.send_minor, self.send_currency) * self.fx_margin

    def is_expired(self, now: datetime) -> bool:
        return self.expires_at <= now

    @property
    def price(self) -> Price:
        """The figures the sender was shown, as a Price."""
        return Price(
            send_currency=self.send_currency,
            receive_currency=self.receive_currency,
            send_minor=self.send_minor,
            fee_minor=self.fee_minor,
            mid_rate=self.mid_rate,
            applied_rate=self.applied_rate,
            receive_minor=self.receive_minor,
            fx_margin_cost=self.fx_margin_cost,
            total_cost=self.total_cost,
            total_cost_percent=self.total_cost_percent,
        )


def create_quote(
    connection: Connection,
    partner_id: uuid.UUID,
    code: str,
    *,
    send: tuple[int, str] | None = None,
    receive: tuple[int, str] | None = None,
    now: datetime,
    policy: RemittancePolicy,
) -> QuoteRecord:
    """Price a send amount or a receive amount (``(minor units, currency)``) on the
    corridor at the partner's price in force ``now``, and store the quote."""
    if (send is None) == (receive is None):
        raise ValidationFailed("give a send amount or a receive amount, not both")
    corridor = get_corridor(connection, code)
    if send is not None and send[1] != corridor.send_currency:
        raise CurrencyMismatch(
            f"on {code} the send amount is in {corridor.send_currency}, not {send[1]}",
            field="send_amount",
        )
    if receive is not None and receive[1] != corridor.receive_currency:
        raise CurrencyMismatch(
            f"on {code} the receive amount is in {corridor.receive_currency}, not {receive[1]}",
            field="receive_amount",
        )
    pricing = current_pricing(connection, partner_id, code, at=now)
    rate = find_rate(
        connection,
        corridor.send_currency,
        corridor.receive_currency,
        source=pricing.rate_source,
        on=now.date(),
        max_age_days=policy.rate_max_age_days,
    )
    terms: dict[str, Any] = {
        "send_currency": corridor.send_currency,
        "receive_currency": corridor.receive_currency,
        "mid_rate": rate.mid_rate,
        "margin": pricing.fx_margin,
        "fees": pricing.fees,
    }
    if send is not None:
        price: Price = price_send(send[0], **terms)
    else:
        assert receive is not None
        price = price_receive(receive[0], **terms)
    record = QuoteRecord(
        id=uuid7(),
        partner_id=partner_id,
        corridor_code=code,
        pricing_id=pricing.id,
        fx_margin=pricing.fx_margin,
        rate_date=rate.rate_date,
        rate_source=rate.source,
        created_at=now,
        expires_at=now + policy.quote_ttl,
        **price_columns(price),
    )
    connection.execute(insert(quotes).values(**record.__dict__))
    return record


def _record(row: Any) -> QuoteRecord:
    return QuoteRecord(**{name: getattr(row, name) for name in QuoteRecord.__dataclass_fields__})


def get_quote(connection: Connection, partner_id: uuid.UUID, quote_id: uuid.UUID) -> QuoteRecord:
    """The partner's quote; another partner's answers like a missing one."""
    row = connection.execute(
        select(quotes).where(quotes.c.id == quote_id, quotes.c.partner_id == partner_id)
    ).first()
    if row is None:
        raise QuoteNotFound(f"quote {quote_id} does not exist", quote_id=str(quote_id))
    return _record(row)


def purge_expired_quotes(connection: Connection, *, now: datetime, older_than: timedelta) -> int:
    """Delete quotes that expired before ``now - older_than`` and no remittance used.
    (A used quote stays: the remittance points at it.)"""
    remittances = Remittance.__table__
    used = select(remittances.c.quote_id).where(remittances.c.quote_id.is_not(None))
    result = connection.execute(
        delete(quotes).where(quotes.c.expires_at <= now - older_than, quotes.c.id.not_in(used))
    )
    return result.rowcount or 0
