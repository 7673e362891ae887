"""Portfolio figures as of a date, for one scheme or several of one currency, and the
daily snapshots that keep them for history.

``portfolio`` reads the tape (``ledger.portfolio.tape``), the capital received by then
and the period's earlier snapshots, and hands them to ``ledger.portfolio.figures``.
A snapshot is exactly that result for one scheme and date (the period: the month to
date), stored by the scheduler; a request for a stored date is answered from it.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Sequence
from datetime import date, datetime
from typing import Any

from sqlalchemy import Connection, func, insert, select

from ledger.clock import end_of_day
from ledger.credit.schemes import SchemeRecord, contributions, list_schemes
from ledger.errors import ValidationFailed
from ledger.portfolio.figures import portfolio_figures
from ledger.portfolio.models import PortfolioSnapshot
from ledger.portfolio.tape import loan_tape

snapshots = PortfolioSnapshot.__table__


class MixedCurrencies(ValidationFailed):
    code = "mixed_currencies"


def capital_as_of(
    connection: Connection, scheme_ids: Sequence[uuid.UUID], day_end: datetime
) -> tuple[int, list[tuple[str, int]]]:
    """Investors' and sponsors' matching capital received by ``day_end``: the total and
    per investor (largest first). Refunds and disputes lost are taken off whenever
    they happened (contributions keep the returned total, not its dates)."""
    rows = connection.execute(
        select(
            contributions.c.investor_name,
            func.sum(contributions.c.amount_minor - contributions.c.returned_minor),
        )
        .where(
            contributions.c.scheme_id.in_(list(scheme_ids)),
            contributions.c.status == "received",
            contributions.c.kind.in_(("investor", "matching")),
            contributions.c.received_at <= day_end,
        )
        .group_by(contributions.c.investor_name)
    ).all()
    investors = sorted(((name, int(total)) for name, total in rows), key=lambda i: (-i[1], i[0]))
    return sum(amount for _, amount in investors), investors


def _earlier_portfolios(
    connection: Connection, scheme_ids: Sequence[uuid.UUID], start: date, as_of: date
) -> list[int]:
    by_day: dict[date, int] = defaultdict(int)
    for day, figures in connection.execute(
        select(snapshots.c.business_date, snapshots.c.figures).where(
            snapshots.c.scheme_id.in_(list(scheme_ids)),
            snapshots.c.business_date >= start,
            snapshots.c.business_date < as_of,
        )
    ):
        by_day[day] += int(figures["gross_loan_portfolio_minor"])
    return [by_day[day] for day in sorted(by_day)]


def portfolio(
    connection: Connection,
    as_of: date,
    *,
    schemes: Sequence[SchemeRecord],
    partner_id: uuid.UUID | None = None,
    period_start: date | None = None,
    edges: Sequence[int] = (30, 60, 90, 180),
) -> dict[str, Any]:
    """The figures of the loans of ``schemes`` (a partner's own only, with
    ``partner_id``) as of the end of ``as_of``."""
    if not schemes:
        raise ValidationFailed("no scheme to report on", field="scheme")
    currencies = {s.currency for s in schemes}
    if len(currencies) > 1:
        raise MixedCurrencies(
            "these schemes lend in " + ", ".join(sorted(currencies)) + ": choose a scheme "
            "or a currency",
            field="currency",
        )
    start = period_start or as_of.replace(day=1)
    if start > as_of:
        raise ValidationFailed("the period starts on or before as_of", field="from")
    ids = [s.id for s in schemes]
    tape = loan_tape(
        connection, as_of, period_start=start, scheme_ids=ids, partner_id=partner_id, edges=edges
    )
    capital, investors = capital_as_of(connection, ids, end_of_day(as_of))
    earlier = [] if partner_id is not None else _earlier_portfolios(connection, ids, start, as_of)
    figures = portfolio_figures(
        tape,
        as_of=as_of,
        period_start=start,
        currency=currencies.pop(),
        capital_minor=capital,
        investors=investors,
        earlier_portfolio_minor=earlier,
        edges=edges,
    )
    figures["schemes"] = sorted(s.slug for s in schemes)
    return figures


def get_snapshot(connection: Connection, scheme_id: uuid.UUID, day: date) -> dict[str, Any] | None:
    row = connection.execute(
        select(snapshots.c.figures).where(
            snapshots.c.scheme_id == scheme_id, snapshots.c.business_date == day
        )
    ).first()
    return None if row is None else dict(row.figures)


def take_snapshots(
    connection: Connection, day: date, *, now: datetime, edges: Sequence[int]
) -> dict[str, Any]:
    """The snapshot job: every scheme's figures for ``day`` (month to date), stored."""
    taken = 0
    for scheme in list_schemes(connection):
        if get_snapshot(connection, scheme.id, day) is not None:
            continue
        figures = portfolio(connection, day, schemes=[scheme], edges=edges)
        connection.execute(
            insert(snapshots).values(
                scheme_id=scheme.id, business_date=day, figures=figures, created_at=now
            )
        )
        taken += 1
    return {"snapshots": taken}


def latest_snapshot_date(connection: Connection, scheme_id: uuid.UUID) -> date | None:
    return connection.execute(
        select(func.max(snapshots.c.business_date)).where(snapshots.c.scheme_id == scheme_id)
    ).scalar_one()


def snapshot_history(
    connection: Connection, scheme_id: uuid.UUID, since: date, until: date
) -> list[tuple[date, dict[str, Any]]]:
    rows = connection.execute(
        select(snapshots.c.business_date, snapshots.c.figures)
        .where(
            snapshots.c.scheme_id == scheme_id,
            snapshots.c.business_date >= since,
            snapshots.c.business_date <= until,
        )
        .order_by(snapshots.c.business_date)
    )
    return [(day, dict(figures)) for day, figures in rows]
