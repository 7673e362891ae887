"""Remittances: priced, reserved against the partner's liquidity, then completed,
failed or expired. Every state change is one journal operation.

Lifecycle (Mojaloop's, in the ledger's terms):

* ``reserved``: a pending journal transaction holds the partner's liquidity (its
  settlement account's available balance drops by send amount plus fee at once)
  and, pending, the beneficiary's credit;
* ``completed``: the hold is posted in full: the beneficiary is credited in the
  receive currency, the fee lands in the partner's fee account, the conversion
  runs through the FX position accounts;
* ``failed`` (the partner says so) or ``expired`` (the expiry job, past
  ``expires_at``): the hold is voided; nothing moved.

The journal transaction of a remittance (:func:`remittance_legs`), in the send
currency S and receive currency R::

    S: debit  settlement(partner, S)   send + fee
       credit fees(partner, S)                fee      (no leg when the fee is 0)
       credit fx:position:S                   send
    R: debit  fx:position:R            receive
       credit beneficiary wallet (R)          receive

so each currency balances on its own. Pricing is the quote's (fixed when the
sender was shown it) or the partner's own fee and rate, with the reference
mid-rate of the day for the cost figures (``ledger.remittance.pricing``).

Idempotency: ``partner_reference`` is unique per partner. The same reference with
the same content returns the existing remittance (``replayed``); with other
content it is ``remittance_exists``. The journal transaction carries the key
``remittance:<reference>`` as well, so money cannot move twice for one reference.

Remittance transactions belong to the client id ``remittance:<partner id>``, not to
the partner's own: a partner cannot void or post them through ``/v1/transactions``
behind the remittance's back.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime

from sqlalchemy import Connection, insert, select, update

from ledger.access.principals import PrincipalRecord
from ledger.clock import FixedClock
from ledger.db import RaceConstraint, register_race_constraint
from ledger.errors import (
    BatchRejected,
    InsufficientFunds,
    InsufficientLiquidity,
    LedgerError,
    RemittanceExists,
    RemittanceExpired,
    RemittanceNotFound,
    RemittanceNotReserved,
    ValidationFailed,
)
from ledger.events.outbox import emit, money_data
from ledger.ids import uuid7
from ledger.journal import (
    TransactionSpec,
    create_pending,
    get_transaction,
    post_batch,
    post_pending,
    void_pending,
)
from ledger.journal.models import Account
from ledger.journal.validation import require_text
from ledger.limits import (
    PAGE_SIZE_MAX,
    REASON_LENGTH_MAX,
    REMITTANCE_EXPIRY_BATCH_SIZE,
)
from ledger.money import from_minor
from ledger.remittance.models import Remittance
from ledger.remittance.policy import RemittancePolicy
from ledger.remittance.preparation import (
    Lookups,
    Prepared,
    prepare,
    validate_request,
)
from ledger.remittance.quotes import price_columns
from ledger.remittance.records import (
    RemittanceRecord,
    RemittanceRequest,
    record_of,
    remittance_client_id,
    values_of,
)

remittances = Remittance.__table__
accounts = Account.__table__


register_race_constraint(
    RaceConstraint(
        "uq_remittances_partner_id_partner_reference",
        "remittances",
        ("partner_id", "partner_reference"),
    )
)
register_race_constraint(RaceConstraint("uq_remittances_quote_id", "remittances", ("quote_id",)))


def _spec(
    prepared: Prepared,
    partner: PrincipalRecord,
    remittance_id: uuid.UUID,
    expires_at: datetime | None,
) -> TransactionSpec:
    request, price = prepared.request, prepared.price
    return TransactionSpec(
        postings=prepared.legs,
        description=f"Remittance {request.partner_reference} ({prepared.corridor.code})",
        effective_at=prepared.effective_at,
        metadata={
            "remittance": {
                "id": str(remittance_id),
                "reference": request.partner_reference,
                "corridor": prepared.corridor.code,
                "mid_rate": format(price.mid_rate, "f"),
                "applied_rate": format(price.applied_rate, "f"),
                "rate_date": prepared.rate_date.isoformat(),
                "rate_source": prepared.rate_source,
            }
        },
        idempotency_key=f"remittance:{request.partner_reference}",
        client_id=remittance_client_id(partner.id),
        expires_at=expires_at,
    )


def _row(
    prepared: Prepared,
    partner: PrincipalRecord,
    *,
    remittance_id: uuid.UUID,
    transaction_id: uuid.UUID,
    status: str,
    source: str,
    import_id: uuid.UUID | None,
    now: datetime,
    expires_at: datetime | None,
) -> RemittanceRecord:
    request, price = prepared.request, prepared.price
    return RemittanceRecord(
        id=remittance_id,
        partner_id=partner.id,
        partner_reference=request.partner_reference,
        corridor_code=prepared.corridor.code,
        quote_id=request.quote_id,
        sender_name=request.sender_name,
        sender_country=request.sender_country,
        beneficiary_customer_id=request.beneficiary_customer_id,
        beneficiary_account_id=prepared.beneficiary_account_id,
        rate_date=prepared.rate_date,
        rate_source=prepared.rate_source,
        status=status,
        transaction_id=transaction_id,
        source=source,
        import_id=import_id,
        request_hash=prepared.request_hash,
        effective_at=prepared.effective_at,
        created_at=now,
        expires_at=expires_at,
        resolved_at=None if status == "reserved" else now,
        failure_reason=None,
        **price_columns(price),
    )


def _replay_or_conflict(existing: RemittanceRecord, request: RemittanceRequest) -> RemittanceRecord:
    if existing.request_hash == request.fingerprint():
        return replace(existing, replayed=True)
    raise RemittanceExists(
        f"partner_reference {request.partner_reference!r} is remittance {existing.id}, "
        "with other content",
        partner_reference=request.partner_reference,
        remittance_id=str(existing.id),
    )


def _liquidity_refusal(error: InsufficientFunds, prepared: Prepared) -> LedgerError:
    """A balance refusal on the settlement account is the partner's liquidity."""
    settlement = prepared.liquidity.settlement_account_id
    if error.details.get("account_id") != settlement:
        return error
    currency = prepared.price.send_currency
    needed = prepared.price.send_minor + prepared.price.fee_minor
    return InsufficientLiquidity(
        f"{from_minor(needed, currency)} {currency} exceeds this partner's available "
        f"liquidity plus net debit cap in {currency}",
        currency=currency,
        needed=str(from_minor(needed, currency)),
        settlement_account_id=settlement,
    )


# ------------------------------------------------------------------ commands


def reserve_remittance(
    connection: Connection,
    partner: PrincipalRecord,
    request: RemittanceRequest,
    *,
    now: datetime,
    policy: RemittancePolicy,
) -> RemittanceRecord:
    """Price ``request`` and reserve the partner's liquidity for it (one pending
    journal transaction). The same reference again returns the same remittance."""
    lookups = Lookups(connection, partner, now=now, policy=policy)
    validate_request(request)
    existing = lookups.existing(request.partner_reference)
    if existing is not None:
        return _replay_or_conflict(existing, request)
    prepared = prepare(lookups, request)
    expires_at = _reservation_expiry(request, now, policy)
    remittance_id = uuid7()
    try:
        hold = create_pending(
            connection, _spec(prepared, partner, remittance_id, expires_at), clock=FixedClock(now)
        )
    except InsufficientFunds as error:
        raise _liquidity_refusal(error, prepared) from None
    record = _row(
        prepared,
        partner,
        remittance_id=remittance_id,
        transaction_id=hold.id,
        status="reserved",
        source="api",
        import_id=None,
        now=now,
        expires_at=expires_at,
    )
    connection.execute(insert(remittances).values(**values_of(record)))
    return replace(record, transaction=hold)


def _reservation_expiry(
    request: RemittanceRequest, now: datetime, policy: RemittancePolicy
) -> datetime:
    if request.expires_at is None:
        return now + policy.reservation_ttl
    if request.expires_at <= now:
        raise ValidationFailed("expires_at is in the past", field="expires_at")
    if request.expires_at > now + policy.reservation_ttl:
        raise ValidationFailed(
            f"a reservation lasts at most {policy.reservation_ttl}", field="expires_at"
        )
    return request.expires_at


def _locked(
    connection: Connection, partner_id: uuid.UUID, remittance_id: uuid.UUID
) -> RemittanceRecord:
    row = connection.execute(
        select(remittances)
        .where(remittances.c.id == remittance_id, remittances.c.partner_id == partner_id)
        .with_for_update()
    ).first()
    if row is None:
        raise RemittanceNotFound(
            f"remittance {remittance_id} does not exist", remittance_id=str(remittance_id)
        )
    return record_of(row)


def _require_reserved(record: RemittanceRecord, now: datetime) -> None:
    if record.status != "reserved":
        raise RemittanceNotReserved(
            f"remittance {record.id} is {record.status}, not reserved",
            remittance_id=str(record.id),
            remittance_status=record.status,
        )
    if record.expires_at is not None and record.expires_at <= now:
        raise RemittanceExpired(
            f"the reservation of remittance {record.id} expired at {record.expires_at.isoformat()}",
            remittance_id=str(record.id),
        )


def _resolve(
    connection: Connection,
    record: RemittanceRecord,
    status: str,
    now: datetime,
    reason: str | None = None,
) -> RemittanceRecord:
    connection.execute(
        update(remittances)
        .where(remittances.c.id == record.id, remittances.c.status == "reserved")
        .values(status=status, resolved_at=now, failure_reason=reason)
    )
    resolved = replace(record, status=status, resolved_at=now, failure_reason=reason)
    emit(connection, record.partner_id, f"remittance.{status}", remittance_event(resolved), now=now)
    return resolved


def remittance_event(record: RemittanceRecord) -> dict[str, object]:
    """What a remittance event says (the partner's own data, no more)."""
    return {
        "remittance_id": str(record.id),
        "partner_reference": record.partner_reference,
        "corridor": record.corridor_code,
        "beneficiary_customer_id": str(record.beneficiary_customer_id),
        "send_amount": money_data(record.send_minor, record.send_currency),
        "fee": money_data(record.fee_minor, record.send_currency),
        "receive_amount": money_data(record.receive_minor, record.receive_currency),
        "status": record.status,
        "failure_reason": record.failure_reason,
    }


def complete_remittance(
    connection: Connection, partner_id: uuid.UUID, remittance_id: uuid.UUID, *, now: datetime
) -> RemittanceRecord:
    """Pay out: post the reservation in full."""
    record = _locked(connection, partner_id, remittance_id)
    _require_reserved(record, now)
    posted = post_pending(connection, record.transaction_id, clock=FixedClock(now))
    return replace(_resolve(connection, record, "completed", now), transaction=posted)


def fail_remittance(
    connection: Connection,
    partner_id: uuid.UUID,
    remittance_id: uuid.UUID,
    *,
    reason: str,
    now: datetime,
) -> RemittanceRecord:
    """Give up: void the reservation (the partner's liquidity is released)."""
    require_text(reason, "reason", REASON_LENGTH_MAX)
    record = _locked(connection, partner_id, remittance_id)
    if record.status != "reserved":
        _require_reserved(record, now)
    _void_if_pending(connection, record, now)
    return _resolve(connection, record, "failed", now, reason)


def _void_if_pending(connection: Connection, record: RemittanceRecord, now: datetime) -> None:
    """Void the reservation, unless the journal's own hold expiry already did."""
    if get_transaction(connection, record.transaction_id).status == "pending":
        void_pending(connection, record.transaction_id, clock=FixedClock(now))


def expire_remittances(
    connection: Connection, *, now: datetime, limit: int = REMITTANCE_EXPIRY_BATCH_SIZE
) -> list[uuid.UUID]:
    """Void up to ``limit`` reservations past ``expires_at`` and mark them expired.
    Returns their ids; call again while it returns a full batch."""
    query = (
        select(remittances)
        .where(remittances.c.status == "reserved", remittances.c.expires_at <= now)
        .order_by(remittances.c.expires_at, remittances.c.id)
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    expired = []
    for row in connection.execute(query).all():
        record = record_of(row)
        _void_if_pending(connection, record, now)
        _resolve(connection, record, "expired", now, "reservation expired")
        expired.append(record.id)
    return expired


# ------------------------------------------------------------------ reads


def get_remittance(
    connection: Connection, partner_id: uuid.UUID | None, remittance_id: uuid.UUID
) -> RemittanceRecord:
    """The partner's remittance (any partner's when ``partner_id`` is None)."""
    query = select(remittances).where(remittances.c.id == remittance_id)
    if partner_id is not None:
        query = query.where(remittances.c.partner_id == partner_id)
    row = connection.execute(query).first()
    if row is None:
        raise RemittanceNotFound(
            f"remittance {remittance_id} does not exist", remittance_id=str(remittance_id)
        )
    return record_of(row)


def find_remittance(
    connection: Connection, partner_id: uuid.UUID, partner_reference: str
) -> RemittanceRecord | None:
    """The partner's remittance with that reference, if there is one."""
    row = connection.execute(
        select(remittances).where(
            remittances.c.partner_id == partner_id,
            remittances.c.partner_reference == partner_reference,
        )
    ).first()
    return None if row is None else record_of(row)


def list_remittances(
    connection: Connection,
    partner_id: uuid.UUID,
    *,
    status: str | None = None,
    corridor_code: str | None = None,
    customer_id: uuid.UUID | None = None,
    effective_from: datetime | None = None,
    effective_to: datetime | None = None,
    limit: int,
    starting_after: uuid.UUID | None = None,
) -> tuple[list[RemittanceRecord], bool]:
    """Newest first (ids are time-ordered); ``limit`` rows and whether there are more."""
    assert 1 <= limit <= PAGE_SIZE_MAX
    query = select(remittances).where(remittances.c.partner_id == partner_id)
    for column, value in (
        (remittances.c.status, status),
        (remittances.c.corridor_code, corridor_code),
        (remittances.c.beneficiary_customer_id, customer_id),
    ):
        if value is not None:
            query = query.where(column == value)
    if effective_from is not None:
        query = query.where(remittances.c.effective_at >= effective_from)
    if effective_to is not None:
        query = query.where(remittances.c.effective_at <= effective_to)
    if starting_after is not None:
        query = query.where(remittances.c.id < starting_after)
    rows = connection.execute(query.order_by(remittances.c.id.desc()).limit(limit + 1)).all()
    return [record_of(row) for row in rows[:limit]], len(rows) > limit


def completed_inflows(
    connection: Connection, customer_id: uuid.UUID, *, since: datetime, until: datetime
) -> list[tuple[datetime, int, str]]:
    """``(effective_at, receive_minor, receive_currency)`` of the customer's completed
    remittances in ``[since, until]``: the raw series of remittance history."""
    rows = connection.execute(
        select(
            remittances.c.effective_at, remittances.c.receive_minor, remittances.c.receive_currency
        ).where(
            remittances.c.beneficiary_customer_id == customer_id,
            remittances.c.status == "completed",
            remittances.c.effective_at >= since,
            remittances.c.effective_at <= until,
        )
    )
    return [(row.effective_at, row.receive_minor, row.receive_currency) for row in rows]


# ------------------------------------------------------------------ bulk


@dataclass(frozen=True)
class Written:
    records: list[RemittanceRecord]
    rejected: dict[int, LedgerError]  # index in the given list -> why


def record_completed(
    lookups: Lookups,
    prepared: Sequence[Prepared],
    *,
    import_id: uuid.UUID | None,
) -> Written:
    """Post completed remittances in one journal batch and record them (the bulk
    import's path). Items the journal refuses (insufficient liquidity, ...) are
    reported by index and left out; the rest are written."""
    connection, partner, now = lookups.connection, lookups.partner, lookups.now
    pending = list(range(len(prepared)))
    rejected: dict[int, LedgerError] = {}
    ids = {index: uuid7() for index in pending}
    while pending:
        specs = [_spec(prepared[i], partner, ids[i], None) for i in pending]
        try:
            transactions = post_batch(connection, specs, clock=FixedClock(now))
        except BatchRejected as refusal:
            for position, error in refusal.errors.items():
                index = pending[position]
                rejected[index] = (
                    _liquidity_refusal(error, prepared[index])
                    if isinstance(error, InsufficientFunds)
                    else error
                )
            pending = [i for i in pending if i not in rejected]
            continue
        records = [
            _row(
                prepared[index],
                partner,
                remittance_id=ids[index],
                transaction_id=transaction.id,
                status="completed",
                source="import",
                import_id=import_id,
                now=now,
                expires_at=None,
            )
            for index, transaction in zip(pending, transactions, strict=True)
        ]
        connection.execute(insert(remittances), [values_of(record) for record in records])
        for record in records:
            lookups.remember(record)
        return Written(records, rejected)
    return Written([], rejected)
