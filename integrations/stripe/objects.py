"""Stripe's objects in the ledger's terms: amounts, currencies, balance transactions.

Stripe counts most currencies in hundredths, some in units (JPY, XOF, ...), five in
thousandths, and a few (ISK, HUF, TWD) in hundredths whatever ISO says. The ledger
counts ISO 4217 minor units. A currency is collected through Stripe only where the
two agree, so an amount is never scaled or rounded on the way: elsewhere it is
``provider_currency_unsupported``. (Stripe's three-decimal currencies also want the
last digit 0: other amounts are refused, not rounded.)
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from ledger.money import exponent
from ledger.payments.bookkeeping import ProviderItem
from ledger.payments.errors import UnsupportedCurrency

ZERO_DECIMAL = frozenset(
    [
        "bif",
        "clp",
        "djf",
        "gnf",
        "jpy",
        "kmf",
        "krw",
        "mga",
        "pyg",
        "rwf",
        "ugx",
        "vnd",
        "vuv",
        "xaf",
        "xof",
        "xpf",
    ]
)
THREE_DECIMAL = frozenset(["bhd", "jod", "kwd", "omr", "tnd"])
#: Zero-decimal in ISO, two-decimal (with a restriction) at Stripe.
SPECIAL = frozenset(["isk", "huf", "twd"])


def stripe_decimals(currency: str) -> int:
    code = currency.lower()
    if code in ZERO_DECIMAL:
        return 0
    if code in THREE_DECIMAL:
        return 3
    return 2


def stripe_amount(amount_minor: int, currency: str) -> int:
    """The amount Stripe is asked for: the ledger's minor units, unchanged."""
    code = currency.lower()
    if code in SPECIAL or stripe_decimals(code) != exponent(currency.upper()):
        raise UnsupportedCurrency(
            f"Stripe does not count {currency.upper()} in ISO minor units; collect it another way",
            currency=currency.upper(),
        )
    if code in THREE_DECIMAL and amount_minor % 10:
        raise UnsupportedCurrency(
            f"Stripe takes {currency.upper()} amounts in whole hundredths",
            currency=currency.upper(),
        )
    return amount_minor


def _at(unix: int | None) -> datetime:
    return datetime.fromtimestamp(int(unix or 0), UTC)


def field_of(value: Any, name: str) -> Any:
    """A field of a Stripe object or of its plain-dict form (events' snapshots)."""
    return value.get(name) if hasattr(value, "get") else getattr(value, name, None)


def kind_of(balance_transaction: Any) -> str:
    kind = str(field_of(balance_transaction, "type"))
    category = str(field_of(balance_transaction, "reporting_category") or "")
    if kind in ("charge", "payment"):
        return "charge"
    if kind in ("refund", "payment_refund"):
        return "refund"
    if kind in ("refund_failure", "payment_failure_refund"):
        return "refund_failure"
    if (kind == "adjustment" and category.startswith("dispute")) or kind.startswith("dispute"):
        return "dispute"
    return kind


def item_of(balance_transaction: Any, source_id: str | None = None) -> ProviderItem:
    """A Stripe balance transaction as a provider item (its amounts as reported)."""
    source = field_of(balance_transaction, "source")
    if source_id is None:
        source_id = source if isinstance(source, str) else str(field_of(source, "id") or "")
    return ProviderItem(
        external_id=str(field_of(balance_transaction, "id")),
        kind=kind_of(balance_transaction),
        source_id=source_id,
        amount_minor=int(field_of(balance_transaction, "amount")),
        fee_minor=int(field_of(balance_transaction, "fee")),
        currency=str(field_of(balance_transaction, "currency")).upper(),
        available_on=_at(field_of(balance_transaction, "available_on")),
        created_at=_at(field_of(balance_transaction, "created")),
    )


def payment_intent_of(source: Any) -> str | None:
    """The PaymentIntent a balance transaction's (expanded) source belongs to."""
    if source is None or isinstance(source, str):
        return None
    intent = field_of(source, "payment_intent")
    if intent is None:
        return None
    return intent if isinstance(intent, str) else str(field_of(intent, "id"))
