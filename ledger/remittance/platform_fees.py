"""Partners' platform fees: a percentage of their remittance volume, charged monthly.

An administrator sets a partner's agreement (``percent`` of the send amount of its
completed remittances, from a date; a new agreement is a new row, the old ones stay on
record). On the last business date of each month the scheduler charges every partner
with an agreement in force that day: per send currency, the month's completed volume
times the percent, rounded half-even to the minor unit::

    debit  liquidity:<slug>:platform-fees-due:<CUR>   (asset: what the partner owes)
    credit platform:platform-fee-income:<CUR>          (income)

The charge is recorded per partner, month and currency (unique), so a month is never
charged twice; a month with no volume records a zero charge and posts nothing.
"""

from __future__ import annotations

import uuid
from calendar import monthrange
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from decimal import ROUND_HALF_EVEN, Decimal
from typing import Any

from sqlalchemy import Connection, func, insert, select

from ledger.access.principals import PrincipalRecord, get_principal
from ledger.clock import FixedClock
from ledger.errors import ValidationFailed
from ledger.ids import uuid7
from ledger.journal import AccountSpec, TransactionSpec, credit, debit, post_transaction
from ledger.journal.accounts import ensure_account
from ledger.remittance.models import PlatformFeeAgreement, PlatformFeeCharge, Remittance

agreements = PlatformFeeAgreement.__table__
fee_charges = PlatformFeeCharge.__table__
remittances = Remittance.__table__

#: The most a platform fee may be, in percent of volume.
PLATFORM_FEE_PERCENT_MAX = Decimal(10)


@dataclass(frozen=True)
class AgreementRecord:
    id: uuid.UUID
    partner_id: uuid.UUID
    percent: Decimal
    starts_on: date
    created_at: datetime


def set_platform_fee(
    connection: Connection,
    partner: PrincipalRecord,
    *,
    percent: Decimal,
    starts_on: date,
    now: datetime,
) -> AgreementRecord:
    """A partner's platform fee from ``starts_on`` (the same date again replaces nothing:
    it is refused, as an agreement once in force is on record)."""
    if partner.role != "partner":
        raise ValidationFailed("platform fees are agreed with partners", field="partner")
    if not isinstance(percent, Decimal) or not 0 <= percent <= PLATFORM_FEE_PERCENT_MAX:
        raise ValidationFailed(
            f"a platform fee is 0 to {PLATFORM_FEE_PERCENT_MAX} percent", field="percent"
        )
    exists = connection.execute(
        select(agreements.c.id).where(
            agreements.c.partner_id == partner.id, agreements.c.starts_on == starts_on
        )
    ).first()
    if exists:
        raise ValidationFailed(
            f"an agreement from {starts_on} exists; agree a new one from another date",
            field="starts_on",
        )
    record = AgreementRecord(uuid7(), partner.id, percent, starts_on, now)
    connection.execute(insert(agreements).values(**record.__dict__))
    return record


def agreement_in_force(
    connection: Connection, partner_id: uuid.UUID, day: date
) -> AgreementRecord | None:
    row = connection.execute(
        select(agreements)
        .where(agreements.c.partner_id == partner_id, agreements.c.starts_on <= day)
        .order_by(agreements.c.starts_on.desc())
        .limit(1)
    ).first()
    return None if row is None else AgreementRecord(**row._mapping)


def platform_fee(volume_minor: int, percent: Decimal) -> int:
    """volume x percent / 100, rounded half-even (pure)."""
    return int((Decimal(volume_minor) * percent / 100).quantize(Decimal(1), ROUND_HALF_EVEN))


def is_month_end(day: date) -> bool:
    return day.day == monthrange(day.year, day.month)[1]


def charge_platform_fees(
    connection: Connection, day: date, *, now: datetime, effective_at: datetime
) -> dict[str, Any]:
    """The monthly fee job: on the month's last date, charge each partner's month."""
    if not is_month_end(day):
        return {"charged": 0, "month_end": False}
    month = day.replace(day=1)
    since = datetime.combine(month, time.min, tzinfo=UTC)
    until = datetime.combine(day + timedelta(days=1), time.min, tzinfo=UTC)
    partner_ids = connection.execute(select(agreements.c.partner_id).distinct()).scalars()
    charged = 0
    for partner_id in sorted(partner_ids):
        agreement = agreement_in_force(connection, partner_id, day)
        if agreement is None:
            continue
        partner = get_principal(connection, partner_id)
        volumes = connection.execute(
            select(remittances.c.send_currency, func.sum(remittances.c.send_minor))
            .where(
                remittances.c.partner_id == partner_id,
                remittances.c.status == "completed",
                remittances.c.effective_at >= since,
                remittances.c.effective_at < until,
            )
            .group_by(remittances.c.send_currency)
        ).all()
        for currency, volume in sorted(volumes):
            fee = platform_fee(int(volume), agreement.percent)
            transaction_id = None
            if fee:
                transaction_id = _post_fee(
                    connection, partner, currency, fee, month, now, effective_at
                )
                charged += 1
            connection.execute(
                insert(fee_charges).values(
                    partner_id=partner_id,
                    month=month,
                    currency=currency,
                    volume_minor=int(volume),
                    percent=agreement.percent,
                    fee_minor=fee,
                    transaction_id=transaction_id,
                    created_at=now,
                )
            )
    return {"charged": charged, "month_end": True}


def _post_fee(
    connection: Connection,
    partner: PrincipalRecord,
    currency: str,
    fee: int,
    month: date,
    now: datetime,
    effective_at: datetime,
) -> uuid.UUID:
    due = ensure_account(
        connection,
        AccountSpec(
            code=f"liquidity:{partner.slug}:platform-fees-due:{currency}",
            name=f"{partner.name}: platform fees due {currency}",
            type="asset",
            currency=currency,
            owner_reference=f"partner:{partner.slug}",
        ),
        now=now,
    )
    income = ensure_account(
        connection,
        AccountSpec(
            code=f"platform:platform-fee-income:{currency}",
            name=f"Platform fee income {currency}",
            type="income",
            currency=currency,
        ),
        now=now,
    )
    transaction = post_transaction(
        connection,
        TransactionSpec(
            postings=(debit(due, fee, currency), credit(income, fee, currency)),
            description=f"Platform fee {month:%Y-%m}, {partner.name}",
            effective_at=effective_at,
            metadata={"platform_fee": {"partner": partner.slug, "month": f"{month:%Y-%m}"}},
            idempotency_key=f"platform-fee:{partner.id}:{month:%Y-%m}:{currency}",
            client_id="platform",
        ),
        clock=FixedClock(now),
    )
    return transaction.id


def list_platform_fee_charges(connection: Connection, partner_id: uuid.UUID) -> list[Any]:
    return list(
        connection.execute(
            select(fee_charges)
            .where(fee_charges.c.partner_id == partner_id)
            .order_by(fee_charges.c.month, fee_charges.c.currency)
        )
    )


def list_agreements(connection: Connection, partner_id: uuid.UUID) -> list[AgreementRecord]:
    rows = connection.execute(
        select(agreements)
        .where(agreements.c.partner_id == partner_id)
        .order_by(agreements.c.starts_on)
    )
    return [AgreementRecord(**row._mapping) for row in rows]
