"""Partner liquidity: prefunded settlement accounts, net debit caps, top-ups, statements.

Each partner that sends money in a currency has, in that currency:

* a **settlement account** ``liquidity:<slug>:settlement:<CUR>`` (a liability: the
  partner's prefunded money that we hold). Top-ups credit it; every remittance
  debits it by what the sender paid (send amount plus fee). Its overdraft limit is
  the partner's **net debit cap**, so the journal's balance rule (checked in code
  and again by the database, under the row lock) is what refuses a remittance
  beyond available liquidity plus the cap: concurrent remittances can never
  overdraw it together.
* a **fee account** ``liquidity:<slug>:fees:<CUR>`` (income): the fee part of each
  remittance, so the partner's earned fees stay visible and apart.

Neither account is partner-owned in the ``/v1/accounts`` sense: a partner cannot
post to them directly; only remittances and an administrator's adjustments move
them. Their transactions use the client id ``liquidity:<partner id>``.

The **alarm**: with a cap, when the part of the cap in use reaches
``alarm_threshold_percent`` of it; without a cap (0), when nothing is available.
"""

from __future__ import annotations

import csv
import hashlib
import io
import uuid
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from decimal import ROUND_DOWN, Decimal
from typing import Any, Literal

from sqlalchemy import Connection, insert, select, update

from ledger.access.principals import PrincipalRecord
from ledger.clock import FixedClock
from ledger.db import RaceConstraint, register_race_constraint
from ledger.errors import (
    InsufficientLiquidity,
    InvalidAmount,
    LimitExceeded,
    LiquidityNotConfigured,
    ValidationFailed,
)
from ledger.journal import (
    AccountSpec,
    TransactionRecord,
    TransactionSpec,
    credit,
    debit,
    get_account,
    open_account,
    post_transaction,
    set_overdraft_limit,
    storage,
)
from ledger.journal.accounts import ensure_account
from ledger.journal.balance import Totals, available
from ledger.journal.models import Transaction
from ledger.journal.queries import posted_balance_before, posted_postings_between
from ledger.journal.types import AccountRecord
from ledger.journal.validation import refuse_nul
from ledger.limits import AMOUNT_MINOR_MAX, REASON_LENGTH_MAX, STATEMENT_DAYS_MAX
from ledger.money import from_minor, validate_currency
from ledger.remittance.models import PartnerLiquidity, Remittance

liquidity_table = PartnerLiquidity.__table__
remittances = Remittance.__table__
transactions = Transaction.__table__

DEFAULT_ALARM_THRESHOLD_PERCENT = 80
AdjustmentKind = Literal["top_up", "withdrawal"]
ADJUSTMENT_KINDS = ("top_up", "withdrawal")

register_race_constraint(
    RaceConstraint("pk_partner_liquidity", "partner_liquidity", ("partner_id", "currency"))
)


@dataclass(frozen=True)
class LiquidityAccounts:
    partner_id: uuid.UUID
    currency: str
    settlement_account_id: int
    fee_account_id: int
    alarm_threshold_percent: int


@dataclass(frozen=True)
class LiquidityPosition:
    currency: str
    settlement_account_id: int
    fee_account_id: int
    posted_minor: int
    reserved_minor: int  # held by reserved remittances (pending outflows)
    available_minor: int
    net_debit_cap_minor: int
    headroom_minor: int  # available + cap: the largest remittance that would pass now
    cap_used_minor: int
    cap_used_percent: Decimal | None  # None without a cap
    alarm_threshold_percent: int
    alarm: bool
    fees_earned_minor: int


def liquidity_client_id(partner_id: uuid.UUID) -> str:
    return f"liquidity:{partner_id}"


def settlement_code(slug: str, currency: str) -> str:
    return f"liquidity:{slug}:settlement:{currency}"


def fee_code(slug: str, currency: str) -> str:
    return f"liquidity:{slug}:fees:{currency}"


def bank_code(currency: str) -> str:
    return f"bank:nostro:{currency}"


def _threshold(value: int) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or not 1 <= value <= 100:
        raise ValidationFailed(
            "the alarm threshold is a whole percentage from 1 to 100",
            field="alarm_threshold_percent",
        )
    return value


def _cap(value: int) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value <= AMOUNT_MINOR_MAX:
        raise ValidationFailed(
            "the net debit cap is zero or a positive amount", field="net_debit_cap"
        )
    return value


def configure_liquidity(
    connection: Connection,
    partner: PrincipalRecord,
    currency: str,
    *,
    net_debit_cap_minor: int,
    alarm_threshold_percent: int = DEFAULT_ALARM_THRESHOLD_PERCENT,
    now: datetime,
) -> LiquidityAccounts:
    """Open the partner's settlement and fee accounts in ``currency`` (first time), or
    change its cap and alarm threshold. A cap below what is already drawn is
    refused (limit_below_usage)."""
    if partner.role != "partner":
        raise ValidationFailed("liquidity belongs to partners", field="partner_id")
    validate_currency(currency)
    _cap(net_debit_cap_minor)
    _threshold(alarm_threshold_percent)
    row = connection.execute(
        select(liquidity_table).where(
            liquidity_table.c.partner_id == partner.id, liquidity_table.c.currency == currency
        )
    ).first()
    if row is None:
        settlement = open_account(
            connection,
            AccountSpec(
                code=settlement_code(partner.slug, currency),
                name=f"{partner.name}: settlement {currency}",
                type="liability",
                currency=currency,
                owner_reference=f"principal:{partner.id}",
                allow_overdraft=True,
                overdraft_limit_minor=net_debit_cap_minor,
            ),
            now=now,
        )
        fees = open_account(
            connection,
            AccountSpec(
                code=fee_code(partner.slug, currency),
                name=f"{partner.name}: remittance fees {currency}",
                type="income",
                currency=currency,
                owner_reference=f"principal:{partner.id}",
            ),
            now=now,
        )
        connection.execute(
            insert(liquidity_table).values(
                partner_id=partner.id,
                currency=currency,
                settlement_account_id=settlement.id,
                fee_account_id=fees.id,
                alarm_threshold_percent=alarm_threshold_percent,
                created_at=now,
                updated_at=now,
            )
        )
        return LiquidityAccounts(
            partner.id, currency, settlement.id, fees.id, alarm_threshold_percent
        )
    set_overdraft_limit(connection, row.settlement_account_id, net_debit_cap_minor)
    connection.execute(
        update(liquidity_table)
        .where(liquidity_table.c.partner_id == partner.id, liquidity_table.c.currency == currency)
        .values(alarm_threshold_percent=alarm_threshold_percent, updated_at=now)
    )
    return LiquidityAccounts(
        partner.id,
        currency,
        row.settlement_account_id,
        row.fee_account_id,
        alarm_threshold_percent,
    )


def _accounts(row: Any) -> LiquidityAccounts:
    return LiquidityAccounts(
        row.partner_id,
        row.currency,
        row.settlement_account_id,
        row.fee_account_id,
        row.alarm_threshold_percent,
    )


def liquidity_accounts(
    connection: Connection, partner_id: uuid.UUID, currency: str
) -> LiquidityAccounts:
    row = connection.execute(
        select(liquidity_table).where(
            liquidity_table.c.partner_id == partner_id, liquidity_table.c.currency == currency
        )
    ).first()
    if row is None:
        raise LiquidityNotConfigured(
            f"no settlement account in {currency} for this partner: an administrator "
            "configures its liquidity first",
            currency=currency,
        )
    return _accounts(row)


def all_liquidity_accounts(
    connection: Connection, partner_id: uuid.UUID | None = None
) -> list[LiquidityAccounts]:
    query = select(liquidity_table).order_by(
        liquidity_table.c.partner_id, liquidity_table.c.currency
    )
    if partner_id is not None:
        query = query.where(liquidity_table.c.partner_id == partner_id)
    return [_accounts(row) for row in connection.execute(query)]


def position_of(
    accounts: LiquidityAccounts, settlement: AccountRecord, fees: AccountRecord
) -> LiquidityPosition:
    """The figures of one position, from the two accounts' records (pure)."""
    cap = settlement.overdraft_limit_minor or 0
    balances = settlement.balances
    reserved = balances.posted_minor - balances.available_minor
    used = max(0, -balances.available_minor)
    if cap > 0:
        # Rounded down: the figure never shows the threshold before it is reached.
        percent = (Decimal(used) * 100 / Decimal(cap)).quantize(Decimal("0.01"), ROUND_DOWN)
        alarm = used * 100 >= accounts.alarm_threshold_percent * cap
    else:
        percent = None
        alarm = balances.available_minor <= 0
    return LiquidityPosition(
        currency=accounts.currency,
        settlement_account_id=accounts.settlement_account_id,
        fee_account_id=accounts.fee_account_id,
        posted_minor=balances.posted_minor,
        reserved_minor=reserved,
        available_minor=balances.available_minor,
        net_debit_cap_minor=cap,
        headroom_minor=balances.available_minor + cap,
        cap_used_minor=used,
        cap_used_percent=percent,
        alarm_threshold_percent=accounts.alarm_threshold_percent,
        alarm=alarm,
        fees_earned_minor=fees.balances.posted_minor,
    )


def positions(connection: Connection, partner_id: uuid.UUID) -> list[LiquidityPosition]:
    """The partner's position in every currency it has liquidity in."""
    return [
        position_of(
            accounts,
            get_account(connection, accounts.settlement_account_id),
            get_account(connection, accounts.fee_account_id),
        )
        for accounts in all_liquidity_accounts(connection, partner_id)
    ]


# ------------------------------------------------------------------ adjustments


@dataclass(frozen=True)
class Adjustment:
    kind: AdjustmentKind
    amount_minor: int
    currency: str
    reference: str
    transaction: TransactionRecord


def _bank_account(connection: Connection, currency: str, *, now: datetime) -> int:
    spec = AccountSpec(
        code=bank_code(currency),
        name=f"Bank (nostro) {currency}",
        type="asset",
        currency=currency,
        allow_overdraft=True,  # mirrors what the bank reports; never refuses
    )
    return ensure_account(connection, spec, now=now)


def adjust_liquidity(
    connection: Connection,
    partner_id: uuid.UUID,
    currency: str,
    *,
    kind: AdjustmentKind,
    amount_minor: int,
    reference: str,
    now: datetime,
    effective_at: datetime | None = None,
) -> Adjustment:
    """Record money the partner sent us (a top-up) or we returned (a withdrawal),
    against the bank account in ``currency``. Idempotent by ``reference`` (the bank
    transfer's reference), per partner. A withdrawal may not draw on the cap."""
    if kind not in ADJUSTMENT_KINDS:
        raise ValidationFailed("an adjustment is a top_up or a withdrawal", field="kind")
    if not isinstance(amount_minor, int) or isinstance(amount_minor, bool) or amount_minor <= 0:
        raise InvalidAmount("an adjustment amount is positive", field="amount")
    if not reference.strip() or len(reference) > REASON_LENGTH_MAX:
        raise ValidationFailed(
            f"a reference is 1 to {REASON_LENGTH_MAX} characters", field="reference"
        )
    refuse_nul(reference, "reference")
    accounts = liquidity_accounts(connection, partner_id, currency)
    bank = _bank_account(connection, currency, now=now)
    settlement = accounts.settlement_account_id
    # The bank's reference may hold spaces or any script: the journal's key is its hash.
    key = "adjustment:" + hashlib.sha256(reference.encode()).hexdigest()
    client_id = liquidity_client_id(partner_id)
    recorded = _recorded(connection, client_id, key)
    if kind == "top_up":
        legs = (debit(bank, amount_minor, currency), credit(settlement, amount_minor, currency))
    elif recorded:
        # A retry of a recorded withdrawal is the journal's to replay (or refuse as a
        # conflict), whatever the balance is now.
        legs = (debit(settlement, amount_minor, currency), credit(bank, amount_minor, currency))
    else:
        row = storage.store_for(connection).read_accounts([settlement], lock=True)[0]
        free = available(Totals.of(row), "credit")
        if free < amount_minor:
            raise InsufficientLiquidity(
                f"a withdrawal of {from_minor(amount_minor, currency)} {currency} exceeds the "
                f"available {from_minor(max(free, 0), currency)} (the cap is not for "
                "withdrawals)",
                account_id=settlement,
                available_minor=free,
                amount_minor=amount_minor,
            )
        legs = (debit(settlement, amount_minor, currency), credit(bank, amount_minor, currency))
    record = post_transaction(
        connection,
        TransactionSpec(
            postings=legs,
            description=f"Liquidity {kind.replace('_', '-')}: {reference}",
            effective_at=effective_at,
            metadata={"liquidity": {"kind": kind, "reference": reference}},
            idempotency_key=key,
            client_id=client_id,
        ),
        clock=FixedClock(now),
    )
    return Adjustment(kind, amount_minor, currency, reference, record)


def _recorded(connection: Connection, client_id: str, key: str) -> bool:
    row = connection.execute(
        select(transactions.c.id).where(
            transactions.c.client_id == client_id, transactions.c.idempotency_key == key
        )
    ).first()
    return row is not None


# --------------------------------------------------------------- the statement


@dataclass(frozen=True)
class SettlementDay:
    day: date
    currency: str
    opening_minor: int
    remittances_count: int
    remittances_minor: int  # send amounts of completed remittances (out)
    fees_minor: int  # their fees (out of the settlement account, into the fee account)
    adjustments_minor: int  # top-ups less withdrawals, and any other posting
    closing_minor: int


def _day_start(day: date) -> datetime:
    return datetime.combine(day, time.min, tzinfo=UTC)


def settlement_statement(
    connection: Connection, partner_id: uuid.UUID, currency: str, *, start: date, end: date
) -> list[SettlementDay]:
    """Per UTC day from ``start`` to ``end`` (inclusive): opening position, completed
    remittances (send amounts) and their fees, adjustments, closing position. Every
    line satisfies closing = opening - remittances - fees + adjustments."""
    if end < start:
        raise ValidationFailed("the statement ends before it starts", field="to")
    if end >= date.max:
        raise ValidationFailed("the statement ends before 9999-12-31", field="to")
    days = (end - start).days + 1
    if days > STATEMENT_DAYS_MAX:
        raise LimitExceeded(f"a statement covers at most {STATEMENT_DAYS_MAX} days")
    accounts = liquidity_accounts(connection, partner_id, currency)
    account_id = accounts.settlement_account_id
    opening = posted_balance_before(connection, account_id, _day_start(start))
    lines = posted_postings_between(
        connection, account_id, _day_start(start), _day_start(end + timedelta(days=1))
    )
    ids = sorted({line.transaction_id for line in lines})
    split: dict[uuid.UUID, tuple[int, int]] = {}
    for first in range(0, len(ids), 1_000):  # bounded IN lists (drivers cap parameters)
        rows = connection.execute(
            select(
                remittances.c.transaction_id, remittances.c.send_minor, remittances.c.fee_minor
            ).where(
                remittances.c.partner_id == partner_id,
                remittances.c.transaction_id.in_(ids[first : first + 1_000]),
            )
        )
        split.update((row.transaction_id, (row.send_minor, row.fee_minor)) for row in rows)
    by_day: dict[date, list[int]] = {}
    for line in lines:
        figures = by_day.setdefault(line.effective_at.astimezone(UTC).date(), [0, 0, 0, 0])
        signed = line.amount_minor if line.direction == "credit" else -line.amount_minor
        parts = split.get(line.transaction_id)
        if parts is not None and line.direction == "debit" and line.amount_minor == sum(parts):
            figures[0] += 1
            figures[1] += parts[0]
            figures[2] += parts[1]
        else:
            figures[3] += signed
    result = []
    for offset in range(days):
        day = start + timedelta(days=offset)
        count, sent, fees, adjusted = by_day.get(day, [0, 0, 0, 0])
        closing = opening - sent - fees + adjusted
        result.append(SettlementDay(day, currency, opening, count, sent, fees, adjusted, closing))
        opening = closing
    return result


STATEMENT_CSV_COLUMNS = (
    "date",
    "currency",
    "opening",
    "remittances_count",
    "remittances",
    "fees",
    "adjustments",
    "closing",
)


def statement_csv(days: list[SettlementDay]) -> str:
    """The statement as CSV, amounts in major units as exact decimal text."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(STATEMENT_CSV_COLUMNS)
    for line in days:
        writer.writerow(
            [
                line.day.isoformat(),
                line.currency,
                from_minor(line.opening_minor, line.currency),
                line.remittances_count,
                from_minor(line.remittances_minor, line.currency),
                from_minor(line.fees_minor, line.currency),
                from_minor(line.adjustments_minor, line.currency),
                from_minor(line.closing_minor, line.currency),
            ]
        )
    return out.getvalue()
