"""A customer's remittance history, read from completed remittances: the function
credit scoring calls, and what ``GET /v1/customers/{id}/remittance-history`` shows.

Only completed remittances count (a reservation may still fail), on their business
date (UTC), in the receive currency. The statistics are ``history.summarize``'s.
"""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, time, timedelta

from sqlalchemy import Connection

from ledger.errors import ValidationFailed
from ledger.money import validate_currency
from ledger.remittance.history import HistorySummary, months_back, summarize
from ledger.remittance.remittances import completed_inflows

#: The longest window a history covers (ten years of months).
HISTORY_MONTHS_MAX = 120


def remittance_history(
    connection: Connection,
    customer_id: uuid.UUID,
    *,
    as_of: date,
    months: int = 12,
    currency: str | None = None,
) -> list[HistorySummary]:
    """The customer's monthly inflows over ``months`` calendar months up to ``as_of``.

    With ``currency``: exactly one summary in it (all zeros if nothing arrived).
    Without: one per receive currency that arrived in the window, by currency code.
    """
    if not 1 <= months <= HISTORY_MONTHS_MAX:
        raise ValidationFailed(f"months is 1 to {HISTORY_MONTHS_MAX}", field="months")
    if currency is not None:
        validate_currency(currency)
    if not date(1900, 1, 1) <= as_of <= date(9998, 12, 31):
        raise ValidationFailed("as_of is between 1900-01-01 and 9998-12-31", field="as_of")
    first = months_back(date(as_of.year, as_of.month, 1), months)[0]
    since = datetime.combine(first, time.min, tzinfo=UTC)
    until = datetime.combine(as_of + timedelta(days=1), time.min, tzinfo=UTC) - timedelta(
        microseconds=1
    )
    by_currency: dict[str, list[tuple[date, int]]] = {}
    for effective_at, amount_minor, receive_currency in completed_inflows(
        connection, customer_id, since=since, until=until
    ):
        by_currency.setdefault(receive_currency, []).append(
            (effective_at.astimezone(UTC).date(), amount_minor)
        )
    wanted = [currency] if currency is not None else sorted(by_currency)
    return [
        summarize(by_currency.get(code, []), currency=code, as_of=as_of, months=months)
        for code in wanted
    ]
