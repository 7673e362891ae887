"""The cost of sending, per corridor and per partner, measured as SDG 10.c measures it.

Two measures, side by side (definitions as the World Bank's Remittance Prices
Worldwide, which SDG indicator 10.c.1 uses):

* **What remittances actually cost** in the period: completed remittances with a
  business date from ``start`` to ``end`` (UTC, inclusive): count, volume (send
  currency), fees, the simple average of their total cost percentages, and the
  volume-weighted one (total cost over volume). Computed from the stored costs
  (12 decimals), reported to two decimals, half-even.
* **The cost of sending the equivalent of USD 200** with each partner's price in
  force at the end of the period: USD 200 converted to the send currency at the
  USD mid-rate from the partner's rate source (newest on or before ``end``, rounded
  half-even to the send currency), priced like a quote (fee plus FX margin at the
  corridor's mid-rate of that day). A corridor's figure is the simple average over
  its partners, as RPW averages over operators.

Flags, on the USD 200 measure: ``above_5_percent`` (SDG 10.c: no corridor above 5%)
and ``within_3_percent`` (the 3% target). Where a figure cannot be computed (no
price, no USD or corridor mid-rate recent enough), it is None and ``unavailable``
says why; nothing is estimated.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from decimal import ROUND_HALF_EVEN, Decimal

from sqlalchemy import Connection, select

from ledger.errors import LedgerError, ValidationFailed
from ledger.money import exponent, round_to_minor
from ledger.remittance.corridors import PricingRecord, get_corridor, prices_in_force
from ledger.remittance.models import Remittance
from ledger.remittance.pricing import PERCENT_PLACES, price_send
from ledger.remittance.rates import DEFAULT_RATE_MAX_AGE_DAYS, find_rate

remittances = Remittance.__table__

SDG_TARGET_PERCENT = Decimal(3)
SDG_CORRIDOR_MAX_PERCENT = Decimal(5)
BENCHMARK_USD = Decimal(200)
HUNDRED = Decimal(100)


@dataclass(frozen=True)
class Usd200:
    send_minor: int
    fee_minor: int
    receive_minor: int
    total_cost_percent: Decimal
    usd_rate: Decimal
    mid_rate: Decimal
    rate_date: date


@dataclass(frozen=True)
class PartnerCost:
    corridor_code: str
    partner_id: uuid.UUID
    send_currency: str
    count: int
    volume_minor: int
    fees_minor: int
    average_cost_percent: Decimal | None
    weighted_cost_percent: Decimal | None
    usd200: Usd200 | None
    unavailable: str | None
    percent_sum: Decimal = Decimal(0)  # the remittances' unrounded percentages, summed

    @property
    def above_5_percent(self) -> bool | None:
        return _above(self.usd200.total_cost_percent if self.usd200 else None)

    @property
    def within_3_percent(self) -> bool | None:
        return _within(self.usd200.total_cost_percent if self.usd200 else None)


@dataclass(frozen=True)
class CorridorCost:
    corridor_code: str
    send_currency: str
    count: int
    volume_minor: int
    partners: int
    average_cost_percent: Decimal | None  # remittances of the period, simple average
    usd200_average_percent: Decimal | None  # over partners with a USD 200 figure

    @property
    def above_5_percent(self) -> bool | None:
        return _above(self.usd200_average_percent)

    @property
    def within_3_percent(self) -> bool | None:
        return _within(self.usd200_average_percent)


@dataclass(frozen=True)
class CostReport:
    start: date
    end: date
    corridors: list[CorridorCost]
    partners: list[PartnerCost]


def _above(percent: Decimal | None) -> bool | None:
    return None if percent is None else percent > SDG_CORRIDOR_MAX_PERCENT


def _within(percent: Decimal | None) -> bool | None:
    return None if percent is None else percent <= SDG_TARGET_PERCENT


def _two_places(value: Decimal) -> Decimal:
    return value.quantize(PERCENT_PLACES, ROUND_HALF_EVEN)


def usd200_cost(
    connection: Connection,
    pricing: PricingRecord,
    *,
    on: date,
    max_age_days: int = DEFAULT_RATE_MAX_AGE_DAYS,
) -> Usd200:
    """Price the equivalent of USD 200 on the partner's corridor (raises StaleRate)."""
    corridor = get_corridor(connection, pricing.corridor_code)
    send_currency = corridor.send_currency
    if send_currency == "USD":
        usd_rate = Decimal(1)
    else:
        usd_rate = find_rate(
            connection,
            "USD",
            send_currency,
            source=pricing.rate_source,
            on=on,
            max_age_days=max_age_days,
        ).mid_rate
    mid = find_rate(
        connection,
        send_currency,
        corridor.receive_currency,
        source=pricing.rate_source,
        on=on,
        max_age_days=max_age_days,
    )
    send_minor = round_to_minor(BENCHMARK_USD * usd_rate, send_currency, ROUND_HALF_EVEN)
    price = price_send(
        send_minor,
        send_currency=send_currency,
        receive_currency=corridor.receive_currency,
        mid_rate=mid.mid_rate,
        margin=pricing.fx_margin,
        fees=pricing.fees,
    )
    return Usd200(
        send_minor=send_minor,
        fee_minor=price.fee_minor,
        receive_minor=price.receive_minor,
        total_cost_percent=price.total_cost_percent,
        usd_rate=usd_rate,
        mid_rate=mid.mid_rate,
        rate_date=mid.rate_date,
    )


def corridor_costs(
    connection: Connection,
    *,
    start: date,
    end: date,
    partner_id: uuid.UUID | None = None,
    max_age_days: int = DEFAULT_RATE_MAX_AGE_DAYS,
) -> CostReport:
    """The report for ``[start, end]`` (one partner's rows only, if given)."""
    if end < start:
        raise ValidationFailed("the period ends before it starts", field="to")
    if end >= date.max:
        raise ValidationFailed("the period ends before 9999-12-31", field="to")
    since = datetime.combine(start, time.min, tzinfo=UTC)
    until = datetime.combine(end + timedelta(days=1), time.min, tzinfo=UTC)
    query = select(
        remittances.c.corridor_code,
        remittances.c.partner_id,
        remittances.c.send_currency,
        remittances.c.send_minor,
        remittances.c.fee_minor,
        remittances.c.total_cost,
    ).where(
        remittances.c.status == "completed",
        remittances.c.effective_at >= since,
        remittances.c.effective_at < until,
    )
    if partner_id is not None:
        query = query.where(remittances.c.partner_id == partner_id)
    sums: dict[tuple[str, uuid.UUID], list] = {}
    currencies: dict[str, str] = {}
    for row in connection.execute(query):
        key = (row.corridor_code, row.partner_id)
        figures = sums.setdefault(key, [0, 0, 0, Decimal(0), Decimal(0)])
        send = Decimal(row.send_minor)
        figures[0] += 1
        figures[1] += row.send_minor
        figures[2] += row.fee_minor
        cost_minor = row.total_cost.scaleb(exponent(row.send_currency))
        figures[3] += cost_minor  # total cost in minor units, exact to 12 decimals
        figures[4] += cost_minor / send * HUNDRED  # this remittance's percentage
        currencies[row.corridor_code] = row.send_currency
    at = until - timedelta(microseconds=1)
    prices = {
        (p.corridor_code, p.partner_id): p
        for p in prices_in_force(connection, at=at, partner_id=partner_id)
    }
    partners: list[PartnerCost] = []
    for key in sorted(set(sums) | set(prices), key=lambda k: (k[0], str(k[1]))):
        code, owner = key
        count, volume, fees, cost_total, percent_total = sums.get(
            key, [0, 0, 0, Decimal(0), Decimal(0)]
        )
        usd200: Usd200 | None = None
        unavailable: str | None = None
        pricing = prices.get(key)
        if pricing is None:
            unavailable = "no price in force at the end of the period"
        else:
            try:
                usd200 = usd200_cost(connection, pricing, on=end, max_age_days=max_age_days)
            except LedgerError as error:
                unavailable = error.message
        send_currency = currencies.get(code) or get_corridor(connection, code).send_currency
        partners.append(
            PartnerCost(
                corridor_code=code,
                partner_id=owner,
                send_currency=send_currency,
                count=count,
                volume_minor=volume,
                fees_minor=fees,
                average_cost_percent=_two_places(percent_total / count) if count else None,
                weighted_cost_percent=(
                    _two_places(cost_total / Decimal(volume) * HUNDRED) if volume else None
                ),
                usd200=usd200,
                unavailable=unavailable,
                percent_sum=percent_total,
            )
        )
    return CostReport(start, end, summarize_corridors(partners), partners)


def summarize_corridors(partners: list[PartnerCost]) -> list[CorridorCost]:
    """Corridor lines from partner lines (pure): volumes add up; the remittances'
    average weighs every remittance alike; the USD 200 figure averages partners."""
    grouped: dict[str, list[PartnerCost]] = defaultdict(list)
    for line in partners:
        grouped[line.corridor_code].append(line)
    result = []
    for code in sorted(grouped):
        lines = grouped[code]
        count = sum(line.count for line in lines)
        weighted = sum((line.percent_sum for line in lines), Decimal(0))
        priced = [line.usd200.total_cost_percent for line in lines if line.usd200]
        result.append(
            CorridorCost(
                corridor_code=code,
                send_currency=lines[0].send_currency,
                count=count,
                volume_minor=sum(line.volume_minor for line in lines),
                partners=len(lines),
                average_cost_percent=_two_places(weighted / count) if count else None,
                usd200_average_percent=(
                    _two_places(sum(priced, Decimal(0)) / len(priced)) if priced else None
                ),
            )
        )
    return result
