"""Corridors, and each partner's price on them (fee schedule, FX margin, rate source).

A corridor is named by its four parts, ``RU-RUB-TJ-TJS``: sending country and
currency, receiving country and currency. The two currencies differ (every
corridor converts). A price is versioned: setting one appends a row, and the one
in force at a moment is the newest created at or before it.
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import Connection, insert, select

from ledger.db import RaceConstraint, register_race_constraint
from ledger.errors import (
    CorridorExists,
    CorridorNotFound,
    CorridorNotServed,
    CurrencyMismatch,
    ValidationFailed,
)
from ledger.ids import uuid7
from ledger.limits import (
    AMOUNT_MINOR_MAX,
    FEE_TIERS_MAX,
    MARGIN_DECIMALS_MAX,
    RATE_SOURCE_LENGTH_MAX,
)
from ledger.money import validate_currency
from ledger.parties.countries import COUNTRY_CODES
from ledger.remittance.models import Corridor, CorridorPricing
from ledger.remittance.pricing import FeeSchedule, FeeTier

corridors = Corridor.__table__
pricing_table = CorridorPricing.__table__

CORRIDOR_CODE_PATTERN = re.compile(r"^([A-Z]{2})-([A-Z]{3})-([A-Z]{2})-([A-Z]{3})$")
RATE_SOURCE_PATTERN = re.compile(r"^[a-z0-9][a-z0-9_\-]*$")

register_race_constraint(RaceConstraint("pk_corridors", "corridors", ("code",)))


@dataclass(frozen=True)
class CorridorRecord:
    code: str
    send_country: str
    send_currency: str
    receive_country: str
    receive_currency: str
    created_at: datetime


@dataclass(frozen=True)
class PricingRecord:
    id: uuid.UUID
    partner_id: uuid.UUID
    corridor_code: str
    fees: FeeSchedule
    fx_margin: Decimal
    rate_source: str
    created_at: datetime


def corridor_code(
    send_country: str, send_currency: str, receive_country: str, receive_currency: str
) -> str:
    return f"{send_country}-{send_currency}-{receive_country}-{receive_currency}"


def _country(value: str, field: str) -> str:
    if value not in COUNTRY_CODES:
        raise ValidationFailed(f"{value!r} is not an ISO 3166-1 alpha-2 country", field=field)
    return value


def create_corridor(
    connection: Connection,
    *,
    send_country: str,
    send_currency: str,
    receive_country: str,
    receive_currency: str,
    now: datetime,
) -> CorridorRecord:
    _country(send_country, "send_country")
    _country(receive_country, "receive_country")
    validate_currency(send_currency)
    validate_currency(receive_currency)
    if send_currency == receive_currency:
        raise ValidationFailed(
            "a corridor converts between two currencies", field="receive_currency"
        )
    code = corridor_code(send_country, send_currency, receive_country, receive_currency)
    if connection.execute(select(corridors.c.code).where(corridors.c.code == code)).first():
        raise CorridorExists(f"corridor {code} exists", corridor=code)
    record = CorridorRecord(
        code, send_country, send_currency, receive_country, receive_currency, now
    )
    connection.execute(insert(corridors).values(**record.__dict__))
    return record


def _corridor(row: Any) -> CorridorRecord:
    return CorridorRecord(
        row.code,
        row.send_country,
        row.send_currency,
        row.receive_country,
        row.receive_currency,
        row.created_at,
    )


def get_corridor(connection: Connection, code: str) -> CorridorRecord:
    row = connection.execute(select(corridors).where(corridors.c.code == code)).first()
    if row is None:
        raise CorridorNotFound(f"corridor {code!r} does not exist", corridor=code)
    return _corridor(row)


def list_corridors(connection: Connection) -> list[CorridorRecord]:
    rows = connection.execute(select(corridors).order_by(corridors.c.code)).all()
    return [_corridor(row) for row in rows]


# ------------------------------------------------------------------- pricing


def fee_schedule_to_json(fees: FeeSchedule) -> dict[str, Any]:
    """The stored form: integers stay integers, percentages are decimal text."""
    return {
        "currency": fees.currency,
        "tiers": [
            {
                "from_minor": tier.from_minor,
                "fixed_minor": tier.fixed_minor,
                "percentage": format(tier.percentage, "f"),
            }
            for tier in fees.tiers
        ],
        "minimum_minor": fees.minimum_minor,
        "maximum_minor": fees.maximum_minor,
    }


def fee_schedule_from_json(data: dict[str, Any]) -> FeeSchedule:
    return FeeSchedule(
        currency=data["currency"],
        tiers=tuple(
            FeeTier(tier["from_minor"], tier["fixed_minor"], Decimal(tier["percentage"]))
            for tier in data["tiers"]
        ),
        minimum_minor=data["minimum_minor"],
        maximum_minor=data["maximum_minor"],
    )


def _places(value: Decimal) -> int:
    exponent = value.as_tuple().exponent
    assert isinstance(exponent, int)
    return max(0, -exponent)


def validate_pricing(fees: FeeSchedule, fx_margin: Decimal, rate_source: str) -> None:
    """Bounds the pure FeeSchedule leaves to the edge: sizes, decimals, 64-bit amounts."""
    if len(fees.tiers) > FEE_TIERS_MAX:
        raise ValidationFailed(f"a fee schedule has at most {FEE_TIERS_MAX} tiers", field="tiers")
    amounts = [fees.minimum_minor, fees.maximum_minor or 0]
    for tier in fees.tiers:
        amounts += [tier.from_minor, tier.fixed_minor]
        if not tier.percentage.is_finite() or _places(tier.percentage) > MARGIN_DECIMALS_MAX:
            raise ValidationFailed(
                f"a tier's percentage has at most {MARGIN_DECIMALS_MAX} decimals",
                field="tiers",
            )
    if any(not 0 <= amount <= AMOUNT_MINOR_MAX for amount in amounts):
        raise ValidationFailed("fee amounts are non-negative 64-bit minor units", field="tiers")
    if not isinstance(fx_margin, Decimal) or not fx_margin.is_finite():
        raise ValidationFailed("an FX margin is a decimal fraction", field="fx_margin")
    if not Decimal(0) <= fx_margin < 1 or _places(fx_margin) > MARGIN_DECIMALS_MAX:
        raise ValidationFailed(
            f"an FX margin is a fraction in [0, 1) with at most {MARGIN_DECIMALS_MAX} decimals "
            "(0.004 is 0.4%)",
            field="fx_margin",
        )
    if len(rate_source) > RATE_SOURCE_LENGTH_MAX or not RATE_SOURCE_PATTERN.match(rate_source):
        raise ValidationFailed(
            "a rate source is lowercase letters, digits, '-' and '_'", field="rate_source"
        )


def set_pricing(
    connection: Connection,
    partner_id: uuid.UUID,
    code: str,
    *,
    fees: FeeSchedule,
    fx_margin: Decimal,
    rate_source: str,
    now: datetime,
) -> PricingRecord:
    """Put a new price in force for the partner on the corridor, from ``now`` on."""
    corridor = get_corridor(connection, code)
    if fees.currency != corridor.send_currency:
        raise CurrencyMismatch(
            f"fees on {code} are charged in {corridor.send_currency}, not {fees.currency}",
            field="currency",
        )
    validate_pricing(fees, fx_margin, rate_source)
    record = PricingRecord(uuid7(), partner_id, code, fees, fx_margin, rate_source, now)
    connection.execute(
        insert(pricing_table).values(
            id=record.id,
            partner_id=partner_id,
            corridor_code=code,
            fee_schedule=fee_schedule_to_json(fees),
            fx_margin=fx_margin,
            rate_source=rate_source,
            created_at=now,
        )
    )
    return record


def _pricing(row: Any) -> PricingRecord:
    return PricingRecord(
        row.id,
        row.partner_id,
        row.corridor_code,
        fee_schedule_from_json(row.fee_schedule),
        row.fx_margin,
        row.rate_source,
        row.created_at,
    )


def current_pricing(
    connection: Connection, partner_id: uuid.UUID, code: str, *, at: datetime
) -> PricingRecord:
    """The partner's price on the corridor in force at ``at`` (CorridorNotServed if none)."""
    row = connection.execute(
        select(pricing_table)
        .where(
            pricing_table.c.partner_id == partner_id,
            pricing_table.c.corridor_code == code,
            pricing_table.c.created_at <= at,
        )
        .order_by(pricing_table.c.created_at.desc(), pricing_table.c.id.desc())
        .limit(1)
    ).first()
    if row is None:
        get_corridor(connection, code)  # an unknown corridor says so
        raise CorridorNotServed(
            f"you have no price on corridor {code}; set one first", corridor=code
        )
    return _pricing(row)


def get_pricing(connection: Connection, pricing_id: uuid.UUID) -> PricingRecord:
    row = connection.execute(select(pricing_table).where(pricing_table.c.id == pricing_id)).one()
    return _pricing(row)


def prices_in_force(
    connection: Connection, *, at: datetime, partner_id: uuid.UUID | None = None
) -> list[PricingRecord]:
    """Every (partner, corridor) price in force at ``at``; one partner's if given."""
    query = select(pricing_table).where(pricing_table.c.created_at <= at)
    if partner_id is not None:
        query = query.where(pricing_table.c.partner_id == partner_id)
    latest: dict[tuple[uuid.UUID, str], PricingRecord] = {}
    for row in connection.execute(query.order_by(pricing_table.c.created_at, pricing_table.c.id)):
        latest[(row.partner_id, row.corridor_code)] = _pricing(row)
    return sorted(latest.values(), key=lambda p: (p.corridor_code, str(p.partner_id)))


def price_versions(connection: Connection, partner_id: uuid.UUID, code: str) -> list[PricingRecord]:
    """Every price the partner set on the corridor, oldest first."""
    rows = connection.execute(
        select(pricing_table)
        .where(pricing_table.c.partner_id == partner_id, pricing_table.c.corridor_code == code)
        .order_by(pricing_table.c.created_at, pricing_table.c.id)
    )
    return [_pricing(row) for row in rows]


def in_force(versions: list[PricingRecord], at: datetime) -> PricingRecord | None:
    """The newest of ``versions`` (oldest first) created at or before ``at`` (pure)."""
    chosen = None
    for version in versions:
        if version.created_at <= at:
            chosen = version
    return chosen
