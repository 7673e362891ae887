"""Money at the edges, integer minor units inside.

Rules (every other module relies on them):

* An amount is stored and computed as an ``int`` of minor units of one ISO 4217
  currency. The exponent (USD 2, JPY 0, KWD 3, CLF 4) comes from the ISO data that
  py-moneyed ships.
* Converting a decimal to minor units never rounds: a value with a non-zero digit
  beyond the currency's exponent raises :class:`AmountPrecisionError`. Trailing
  zeros are fine because the value is still exact (``"1.500"`` USD is 150 cents).
* ``float`` is refused everywhere: it cannot represent 0.10 exactly.
* Rounding happens only through :func:`round_to_minor`, which takes the rounding
  mode as a required argument so every call site states its rule.
* :func:`allocate` splits an amount by ratios with the largest-remainder method, so
  the parts always sum to the whole.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from decimal import (
    ROUND_HALF_EVEN,
    Context,
    Decimal,
    Inexact,
    InvalidOperation,
    Rounded,
    localcontext,
)
from fractions import Fraction
from functools import cache

from moneyed import Currency, Money, get_currency
from moneyed.classes import CurrencyDoesNotExist

from ledger.errors import AmountPrecisionError, InvalidAmount, UnknownCurrency
from ledger.limits import AMOUNT_MINOR_MAX

#: ISO 4217 codes whose minor unit is "N.A." (precious metals, SDR, bond-market
#: units, test and no-currency codes). They have no minor unit to store, so the
#: ledger refuses them rather than guessing an exponent.
CURRENCIES_WITHOUT_MINOR_UNIT = frozenset(
    {"XAG", "XAU", "XBA", "XBB", "XBC", "XBD", "XDR", "XPD", "XPT", "XSU", "XTS", "XUA", "XXX"}
)

#: Default rounding where a computation must produce minor units (FX conversion,
#: percentages): banker's rounding, so repeated roundings do not drift one way.
DEFAULT_ROUNDING = ROUND_HALF_EVEN

_CURRENCY_CODE = re.compile(r"^[A-Z]{3}$")


@cache
def currency(code: str) -> Currency:
    """Return the py-moneyed currency for an ISO 4217 code, or raise UnknownCurrency."""
    if not isinstance(code, str) or not _CURRENCY_CODE.match(code):
        raise UnknownCurrency(f"{code!r} is not an ISO 4217 currency code", currency=str(code))
    if code in CURRENCIES_WITHOUT_MINOR_UNIT:
        raise UnknownCurrency(f"{code} has no minor unit and cannot be held", currency=code)
    try:
        found = get_currency(code)
    except CurrencyDoesNotExist:
        raise UnknownCurrency(f"{code} is not an ISO 4217 currency code", currency=code) from None
    if found.numeric is None:
        raise UnknownCurrency(f"{code} is not an ISO 4217 currency code", currency=code)
    return found


def validate_currency(code: str) -> str:
    """Return ``code`` if it is a usable ISO 4217 currency, else raise UnknownCurrency."""
    currency(code)
    return code


@cache
def exponent(code: str) -> int:
    """Number of decimal places of the currency's minor unit (USD 2, JPY 0, KWD 3)."""
    sub_unit = currency(code).sub_unit
    digits = len(str(sub_unit)) - 1
    assert sub_unit == 10**digits, f"sub unit of {code} is not a power of ten"
    return digits


def _as_decimal(amount: Decimal | str | int) -> Decimal:
    if isinstance(amount, bool | float):
        # bool is an int subclass; float cannot carry money exactly.
        raise InvalidAmount(f"amount must be a decimal string, not {type(amount).__name__}")
    if isinstance(amount, Decimal):
        value = amount
    elif isinstance(amount, int):
        value = Decimal(amount)
    elif isinstance(amount, str):
        text = amount.strip()
        if not re.fullmatch(r"[+-]?(\d+(\.\d*)?|\.\d+)", text):
            raise InvalidAmount(f"{amount!r} is not a decimal amount")
        try:
            value = Decimal(text)
        except InvalidOperation:
            raise InvalidAmount(f"{amount!r} is not a decimal amount") from None
    else:
        raise InvalidAmount(f"amount must be a decimal string, not {type(amount).__name__}")
    if not value.is_finite():
        raise InvalidAmount(f"{amount!r} is not a finite amount")
    return value


#: Significant digits accepted in an amount: 19 integer digits (64-bit minor
#: units) plus decimals far beyond any currency's exponent.
_DIGITS_MAX = 60
_EXACT = Context(prec=_DIGITS_MAX + 10, traps=[Inexact, Rounded, InvalidOperation])


def to_minor(amount: Decimal | str | int, currency_code: str) -> int:
    """Convert a major-unit amount to integer minor units, exactly.

    ``int`` input is taken as major units (``to_minor(5, "USD") == 500``).
    Raises AmountPrecisionError when the amount has more decimals than the currency
    allows, InvalidAmount for anything that is not a finite decimal, and
    InvalidAmount when the result does not fit in 64 bits.
    """
    value = _as_decimal(amount)
    places = exponent(currency_code)
    if len(value.as_tuple().digits) > _DIGITS_MAX:
        raise InvalidAmount(f"{amount!r} has more than {_DIGITS_MAX} digits")
    # The default context (28 digits) would round a long amount inside scaleb and
    # then call it exact; this context is wide enough for every accepted input and
    # traps any rounding.
    with localcontext(_EXACT):
        scaled = value.scaleb(places)
    if scaled != scaled.to_integral_value():
        raise AmountPrecisionError(
            f"{value} has more decimals than {currency_code} allows ({places})",
            currency=currency_code,
            decimals_allowed=places,
        )
    minor = int(scaled)
    if abs(minor) > AMOUNT_MINOR_MAX:
        raise InvalidAmount(f"{value} {currency_code} is too large", currency=currency_code)
    return minor


def from_minor(amount_minor: int, currency_code: str) -> Decimal:
    """Integer minor units to a Decimal in major units with the currency's exponent."""
    if not isinstance(amount_minor, int) or isinstance(amount_minor, bool):
        raise InvalidAmount("minor-unit amounts are integers")
    places = exponent(currency_code)
    return Decimal(amount_minor).scaleb(-places).quantize(Decimal(1).scaleb(-places))


def to_money(amount_minor: int, currency_code: str) -> Money:
    """Integer minor units to a py-moneyed Money (for the API edge)."""
    return Money(from_minor(amount_minor, currency_code), currency(currency_code))


def money_to_minor(money: Money) -> tuple[int, str]:
    """A py-moneyed Money to (minor units, currency code), exactly."""
    code = money.currency.code
    return to_minor(money.amount, code), code


def format_minor(amount_minor: int, currency_code: str) -> str:
    """Human-readable ``"150.00 TJS"``, for messages and reports."""
    return f"{from_minor(amount_minor, currency_code)} {currency_code}"


def round_to_minor(amount: Decimal, currency_code: str, rounding: str) -> int:
    """Round a computed major-unit Decimal to minor units with an explicit mode.

    This is the only place where the ledger rounds money. ``rounding`` is one of
    the ``decimal`` module's modes (``ROUND_HALF_EVEN``, ``ROUND_DOWN``, ...).
    """
    if not isinstance(amount, Decimal) or not amount.is_finite():
        raise InvalidAmount("only finite Decimals can be rounded to minor units")
    places = exponent(currency_code)
    minor = int(amount.scaleb(places).to_integral_value(rounding=rounding))
    if abs(minor) > AMOUNT_MINOR_MAX:
        raise InvalidAmount(f"{amount} {currency_code} is too large", currency=currency_code)
    return minor


def allocate(total_minor: int, ratios: Sequence[int | Decimal]) -> list[int]:
    """Split ``total_minor`` in proportion to ``ratios`` without losing a minor unit.

    Largest-remainder method: each part gets the floor of its exact share, then
    the units left over go one each to the parts with the largest remainders
    (ties to the earlier part). The parts always sum to ``total_minor``.
    Negative totals are split as the mirror image of the positive split.
    """
    if not ratios:
        raise ValueError("allocate needs at least one ratio")
    exact: list[Fraction] = []
    for ratio in ratios:
        if isinstance(ratio, float | bool):
            raise TypeError("ratios must be int or Decimal")
        fraction = Fraction(ratio)
        if fraction < 0:
            raise ValueError("ratios must not be negative")
        exact.append(fraction)
    weight = sum(exact)
    if weight == 0:
        raise ValueError("ratios must not all be zero")
    sign = -1 if total_minor < 0 else 1
    magnitude = abs(total_minor)
    shares = [magnitude * part / weight for part in exact]
    parts = [int(share) for share in shares]  # floor: shares are non-negative
    left = magnitude - sum(parts)
    by_remainder = sorted(range(len(shares)), key=lambda i: (-(shares[i] - parts[i]), i))
    for index in by_remainder[:left]:
        parts[index] += 1
    return [sign * part for part in parts]


__all__ = [
    "CURRENCIES_WITHOUT_MINOR_UNIT",
    "DEFAULT_ROUNDING",
    "allocate",
    "currency",
    "exponent",
    "format_minor",
    "from_minor",
    "money_to_minor",
    "round_to_minor",
    "to_minor",
    "to_money",
    "validate_currency",
]
