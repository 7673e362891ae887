"""Loss provisioning: the reserve a scheme holds against the loans it may lose.

The required reserve is, per delinquency bucket, its loans' outstanding principal times
the bucket's rate, each bucket's amount rounded half-even to the minor unit. The rates
are the scheme's own (``PUT /v1/schemes/{id}/provisioning``) or, for any bucket it does
not set, the defaults below, by the bucket's position (current 1%, then 10%, 25%, 50%,
75%, and 100% for the last and any further bucket): a common microfinance schedule.

The daily job posts the difference between the required and the booked reserve: more
needed, debit provision expense and credit loss reserve; less (loans repaid, or written
off), the reverse. A write-off itself still books its loss as before (first-loss layer,
then written-off expense); the next day's provision releases the reserve the loan held,
so over time the expense is the loss, once.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from datetime import date, datetime
from decimal import ROUND_HALF_EVEN, Decimal
from typing import Any

from sqlalchemy import Connection, func, select, update

from ledger.clock import FixedClock
from ledger.credit.delinquency import bucket_labels
from ledger.credit.loans import loans, repayments
from ledger.credit.schemes import SchemeRecord, get_scheme, list_schemes, scheme_account, schemes
from ledger.errors import ValidationFailed
from ledger.journal import TransactionSpec, credit, debit, post_transaction, storage

#: Default rates (percent) by bucket position: current, then each range, then beyond.
DEFAULT_RATES = (Decimal(1), Decimal(10), Decimal(25), Decimal(50), Decimal(75), Decimal(100))


def rates_for(scheme: SchemeRecord, edges: Sequence[int]) -> dict[str, Decimal]:
    """Each bucket's rate for the scheme: its own, else the default by position."""
    labels = bucket_labels(edges)
    own = scheme.provisioning or {}
    return {
        label: own.get(label, DEFAULT_RATES[min(index, len(DEFAULT_RATES) - 1)])
        for index, label in enumerate(labels)
    }


def required_reserve(outstanding_by_bucket: Mapping[str, int], rates: Mapping[str, Decimal]) -> int:
    """Sum over buckets of outstanding x rate / 100, each rounded half-even (pure)."""
    total = 0
    for bucket, outstanding in outstanding_by_bucket.items():
        exact = Decimal(outstanding) * rates[bucket] / 100
        total += int(exact.quantize(Decimal(1), ROUND_HALF_EVEN))
    return total


def set_provisioning(
    connection: Connection, scheme: SchemeRecord, rates: Mapping[str, Decimal], edges: Sequence[int]
) -> SchemeRecord:
    """Set the scheme's rates (percent, 0 to 100) for any of the configured buckets."""
    labels = bucket_labels(edges)
    for bucket, rate in rates.items():
        if bucket not in labels:
            raise ValidationFailed(
                f"{bucket!r} is not a bucket; the buckets are {', '.join(labels)}",
                field="rates",
            )
        if not isinstance(rate, Decimal) or not rate.is_finite() or not 0 <= rate <= 100:
            raise ValidationFailed("a provisioning rate is 0 to 100 percent", field="rates")
    connection.execute(
        update(schemes)
        .where(schemes.c.id == scheme.id)
        .values(provisioning={bucket: format(rate, "f") for bucket, rate in rates.items()})
    )
    return get_scheme(connection, scheme.id)


def outstanding_by_bucket(connection: Connection, day_end: datetime) -> dict[Any, dict[str, int]]:
    """Per scheme, per bucket (as the delinquency job last set it): the outstanding
    principal of its active loans, by the repayments made by ``day_end``."""
    repaid = (
        select(
            repayments.c.loan_id,
            func.sum(repayments.c.principal_minor).label("principal"),
        )
        .where(repayments.c.source != "recovery", repayments.c.effective_at <= day_end)
        .group_by(repayments.c.loan_id)
        .subquery("repaid")
    )
    rows = connection.execute(
        select(
            loans.c.scheme_id,
            loans.c.delinquency_bucket,
            func.sum(loans.c.principal_minor - func.coalesce(repaid.c.principal, 0)),
        )
        .select_from(loans.outerjoin(repaid, repaid.c.loan_id == loans.c.id))
        .where(loans.c.status == "active")
        .group_by(loans.c.scheme_id, loans.c.delinquency_bucket)
    )
    result: dict[Any, dict[str, int]] = defaultdict(dict)
    for scheme_id, bucket, outstanding in rows:
        result[scheme_id][bucket] = int(outstanding)
    return result


def provision(
    connection: Connection,
    day: date,
    *,
    now: datetime,
    effective_at: datetime,
    edges: Sequence[int],
) -> dict[str, Any]:
    """The loss-reserve job for ``day`` (run after the delinquency job)."""
    outstanding = outstanding_by_bucket(connection, effective_at)
    adjusted = {}
    for scheme in list_schemes(connection):
        rates = rates_for(scheme, edges)
        by_bucket = {b: v for b, v in outstanding.get(scheme.id, {}).items() if b in rates}
        required = required_reserve(by_bucket, rates)
        (reserve,) = storage.store_for(connection).read_accounts(
            [scheme.account("loss_reserve")], lock=True
        )
        booked = reserve.credits_posted_minor - reserve.debits_posted_minor
        change = required - booked
        if change == 0:
            continue
        expense = scheme_account(connection, scheme, "provision_expense", now=now)
        amount, currency = abs(change), scheme.currency
        legs = (
            (
                debit(expense, amount, currency),
                credit(scheme.account("loss_reserve"), amount, currency),
            )
            if change > 0
            else (
                debit(scheme.account("loss_reserve"), amount, currency),
                credit(expense, amount, currency),
            )
        )
        post_transaction(
            connection,
            TransactionSpec(
                postings=legs,
                description=f"Loss provision for {day.isoformat()}",
                effective_at=effective_at,
                metadata={
                    "credit": {
                        "event": "scheme.provision.adjusted",
                        "business_date": day.isoformat(),
                        "required_minor": required,
                    }
                },
                idempotency_key=f"provision:{scheme.id}:{day.isoformat()}",
                client_id=scheme.client_id,
            ),
            clock=FixedClock(now),
        )
        adjusted[scheme.slug] = change
    return {"schemes_adjusted": len(adjusted)}
