"""Currency conversion through FX position accounts.

A transaction may span currencies only when each currency balances on its own.
A conversion of ``X`` units of currency A into ``Y`` units of currency B is
therefore four postings, two per currency:

    A: debit  source account   X      credit position:A  X
    B: debit  position:B       Y      credit target account  Y

The position accounts (one per currency, ``fx:position:<CUR>``) carry the
bank's open currency position; their balances are what treasury hedges.

``Y = round(X * rate)`` in B's minor units with an explicit rounding mode
(default ROUND_HALF_EVEN; a payout that must never overpay passes ROUND_DOWN).
The rate, its source and the rounding are recorded in the transaction's
metadata under ``"fx"``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import Connection

from ledger.errors import InvalidAmount, ValidationFailed
from ledger.journal import accounts
from ledger.journal.types import AccountSpec, PostingSpec, TransactionSpec, credit, debit
from ledger.money import DEFAULT_ROUNDING, from_minor, round_to_minor, validate_currency


@dataclass(frozen=True)
class Rate:
    """``1 base = rate quote``, e.g. Rate("RUB", "TJS", Decimal("0.1192"), "cbr")."""

    base: str
    quote: str
    rate: Decimal
    source: str

    def __post_init__(self) -> None:
        validate_currency(self.base)
        validate_currency(self.quote)
        if self.base == self.quote:
            raise ValidationFailed("a rate converts between two different currencies")
        if not isinstance(self.rate, Decimal) or not self.rate.is_finite() or self.rate <= 0:
            raise InvalidAmount("a rate is a positive finite Decimal (never a float)")
        if not isinstance(self.source, str) or not self.source:
            raise ValidationFailed("a rate needs its source", field="source")


def position_account_code(currency: str) -> str:
    return f"fx:position:{currency}"


def ensure_position_account(connection: Connection, currency: str, *, now: datetime) -> int:
    """The id of the FX position account for ``currency``, opened on first use.

    A position can be long or short, so the account allows an unlimited
    overdraft.
    """
    spec = AccountSpec(
        code=position_account_code(currency),
        name=f"FX position {currency}",
        type="asset",
        currency=currency,
        allow_overdraft=True,
    )
    return accounts.ensure_account(connection, spec, now=now)


def convert(amount_minor: int, rate: Rate, *, rounding: str = DEFAULT_ROUNDING) -> int:
    """Minor units of ``rate.quote`` for ``amount_minor`` of ``rate.base``, rounded once."""
    exact = from_minor(amount_minor, rate.base) * rate.rate
    return round_to_minor(exact, rate.quote, rounding)


def conversion_spec(
    *,
    source_account_id: int,
    target_account_id: int,
    amount_minor: int,
    rate: Rate,
    position_account_ids: dict[str, int],
    rounding: str = DEFAULT_ROUNDING,
    description: str = "",
    effective_at: datetime | None = None,
    metadata: dict[str, Any] | None = None,
    idempotency_key: str | None = None,
    client_id: str = "",
) -> TransactionSpec:
    """A balanced four-legged transaction converting ``amount_minor`` of ``rate.base``.

    Debits the source account in the base currency and credits the target in
    the quote currency; ``position_account_ids`` maps both currencies to their
    position accounts (see :func:`ensure_position_account`).
    """
    converted = convert(amount_minor, rate, rounding=rounding)
    if converted <= 0:
        raise InvalidAmount(
            f"{from_minor(amount_minor, rate.base)} {rate.base} converts to nothing in "
            f"{rate.quote} at {rate.rate}",
        )
    try:
        base_position = position_account_ids[rate.base]
        quote_position = position_account_ids[rate.quote]
    except KeyError as missing:
        raise ValidationFailed(f"no FX position account given for {missing.args[0]}") from None
    postings: tuple[PostingSpec, ...] = (
        debit(source_account_id, amount_minor, rate.base),
        credit(base_position, amount_minor, rate.base),
        debit(quote_position, converted, rate.quote),
        credit(target_account_id, converted, rate.quote),
    )
    fx_metadata = {
        "fx": {
            "base": rate.base,
            "quote": rate.quote,
            "rate": str(rate.rate),
            "source": rate.source,
            "rounding": rounding,
            "base_amount_minor": amount_minor,
            "quote_amount_minor": converted,
        }
    }
    return TransactionSpec(
        postings=postings,
        description=description or f"FX {rate.base}->{rate.quote} at {rate.rate} ({rate.source})",
        effective_at=effective_at,
        metadata={**(metadata or {}), **fx_metadata},
        idempotency_key=idempotency_key,
        client_id=client_id,
    )
