"""Due, overdue and delinquency, set-based.

An installment is **overdue** at the end of a business day once its due date is before
that day and its scheduled amounts (principal, interest, installment fees; late fees
do not make a loan delinquent) are not all paid. Repayments pay installments oldest
first, so a loan has paid its scheduled installments in order, and the oldest overdue
one is the first whose running total of scheduled amounts exceeds what the loan has
paid towards its schedule (repayments less principal prepaid, which the schedule
already took off). **Days past due** count from that installment's due date, as the
microfinance industry (and ``ledger.credit.allocation``) counts them.

The **delinquency bucket** of a loan is where its days past due fall among the
configured upper ends (``DELINQUENCY_BUCKETS``, default 30, 60, 90, 180): ``current``
(0), ``1-30``, ``31-60``, ``61-90``, ``91-180`` and ``180+``.

One query (a window function over the installments) finds every overdue loan, on
SQLite and PostgreSQL alike; no loan is read one at a time.
"""

from __future__ import annotations

import functools
import uuid
from collections import Counter
from collections.abc import Sequence
from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    Connection,
    and_,
    bindparam,
    exists,
    func,
    or_,
    select,
    update,
)

from ledger.credit.loans import charges, installments_table, loans, repayments
from ledger.credit.losses import charge_late_fees
from ledger.credit.products import get_product
from ledger.events.outbox import emit_many


def bucket_labels(edges: Sequence[int]) -> tuple[str, ...]:
    """``current``, then one label per range, then ``<last>+``."""
    return _labels(tuple(edges))


@functools.lru_cache(maxsize=16)
def _labels(edges: tuple[int, ...]) -> tuple[str, ...]:
    labels, low = ["current"], 1
    for high in edges:
        labels.append(f"{low}-{high}")
        low = high + 1
    labels.append(f"{edges[-1]}+")
    return tuple(labels)


def bucket_of(days_past_due: int, edges: Sequence[int]) -> str:
    """The bucket of ``days_past_due`` among ``edges`` (pure)."""
    labels = bucket_labels(edges)
    if days_past_due <= 0:
        return labels[0]
    for index, high in enumerate(edges):
        if days_past_due <= high:
            return labels[index + 1]
    return labels[-1]


def active_on(day_end: datetime) -> Any:
    """Loans disbursed by ``day_end`` and not closed or written off by then."""
    return and_(
        loans.c.disbursed_at <= day_end,
        or_(loans.c.closed_at.is_(None), loans.c.closed_at > day_end),
    )


def paid_towards_schedule(day_end: datetime) -> Any:
    """Per loan: repayments by ``day_end`` towards its scheduled amounts."""
    return (
        select(
            repayments.c.loan_id,
            func.sum(
                repayments.c.principal_minor
                - repayments.c.prepaid_minor
                + repayments.c.interest_minor
                + repayments.c.fee_minor
            ).label("paid"),
        )
        .where(repayments.c.source != "recovery", repayments.c.effective_at <= day_end)
        .group_by(repayments.c.loan_id)
        .subquery("paid")
    )


def _unpaid_installments(day: date, day_end: datetime, loan_filter: Any | None) -> Any:
    """Installments due before ``day`` and not fully paid by ``day_end``, of loans
    active then: ``loan_id, number, due_date``."""
    items = installments_table
    running = (
        select(
            items.c.loan_id,
            items.c.number,
            items.c.due_date,
            func.sum(items.c.principal_minor + items.c.interest_minor + items.c.fee_minor)
            .over(partition_by=items.c.loan_id, order_by=items.c.number)
            .label("cumulative"),
        )
        .select_from(items)
        .join(
            loans,
            and_(items.c.loan_id == loans.c.id, items.c.version == loans.c.schedule_version),
        )
        .where(active_on(day_end), items.c.due_date < day)
    )
    if loan_filter is not None:
        running = running.where(loan_filter)
    running = running.subquery("running")
    paid = paid_towards_schedule(day_end)
    return (
        select(running.c.loan_id, running.c.number, running.c.due_date)
        .select_from(running.outerjoin(paid, paid.c.loan_id == running.c.loan_id))
        .where(running.c.cumulative > func.coalesce(paid.c.paid, 0))
    )


def overdue_since(
    connection: Connection, day: date, day_end: datetime, *, loan_filter: Any | None = None
) -> dict[uuid.UUID, date]:
    """Every loan overdue at the end of ``day``, with its oldest unpaid due date."""
    unpaid = _unpaid_installments(day, day_end, loan_filter).subquery("unpaid")
    rows = connection.execute(
        select(unpaid.c.loan_id, func.min(unpaid.c.due_date)).group_by(unpaid.c.loan_id)
    )
    return {loan_id: since for loan_id, since in rows}


def update_delinquency(
    connection: Connection, day: date, day_end: datetime, edges: Sequence[int]
) -> dict[str, Any]:
    """The delinquency job: every active loan's days past due and bucket as of ``day``."""
    overdue = overdue_since(connection, day, day_end)
    were_overdue = set(
        connection.execute(
            select(loans.c.id).where(loans.c.status == "active", loans.c.days_past_due > 0)
        ).scalars()
    )
    connection.execute(
        update(loans)
        .where(loans.c.status == "active", loans.c.days_past_due != 0)
        .values(days_past_due=0, delinquency_bucket=bucket_of(0, edges))
    )
    rows = [
        {
            "target": loan_id,
            "days": (day - since).days,
            "bucket": bucket_of((day - since).days, edges),
        }
        for loan_id, since in overdue.items()
    ]
    if rows:
        connection.execute(
            update(loans)
            .where(loans.c.id == bindparam("target"), loans.c.status == "active")
            .values(days_past_due=bindparam("days"), delinquency_bucket=bindparam("bucket")),
            rows,
        )
    newly = [loan_id for loan_id in overdue if loan_id not in were_overdue]
    if newly:
        owners = dict(  # every overdue loan's partner: no list of ids as parameters
            connection.execute(
                select(loans.c.id, loans.c.partner_id).where(
                    loans.c.status == "active", loans.c.days_past_due > 0
                )
            ).all()
        )
        emit_many(
            connection,
            "loan.overdue",
            [
                (
                    owners[loan_id],
                    {
                        "loan_id": str(loan_id),
                        "overdue_since": overdue[loan_id].isoformat(),
                        "days_past_due": (day - overdue[loan_id]).days,
                        "business_date": day.isoformat(),
                    },
                )
                for loan_id in sorted(newly)
            ],
            now=day_end,
        )
    buckets = Counter(row["bucket"] for row in rows)
    return {
        "overdue_loans": len(rows),
        "newly_overdue": len(newly),
        "buckets": dict(sorted(buckets.items())),
    }


def charge_due_late_fees(
    connection: Connection, day: date, day_end: datetime, *, now: datetime
) -> dict[str, Any]:
    """The late-fee job: every installment unpaid more than its product's days after its
    due date and not charged yet is charged once (``ledger.credit.losses``)."""
    unpaid = _unpaid_installments(day, day_end, None).subquery("unpaid")
    candidates = connection.execute(
        select(unpaid.c.loan_id, loans.c.product_id, func.min(unpaid.c.due_date))
        .select_from(unpaid.join(loans, loans.c.id == unpaid.c.loan_id))
        .where(
            loans.c.status == "active",
            ~exists().where(
                charges.c.loan_id == unpaid.c.loan_id,
                charges.c.installment_number == unpaid.c.number,
                charges.c.kind == "late_fee",
            ),
        )
        .group_by(unpaid.c.loan_id, loans.c.product_id)
    ).all()
    terms_of: dict[uuid.UUID, Any] = {}
    charged = 0
    for loan_id, product_id, oldest in candidates:
        if product_id not in terms_of:
            terms_of[product_id] = get_product(connection, product_id).terms
        terms = terms_of[product_id]
        if (day - oldest).days <= terms.late_fee_after_days:
            continue
        made = charge_late_fees(connection, loan_id, as_of=day, now=now, effective_at=day_end)
        charged += len(made)
    return {"late_fees": charged, "loans_checked": len(candidates)}
