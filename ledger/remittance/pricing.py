"""Pure pricing of a remittance: fee, applied rate, receive amount, total cost.

Conventions (World Bank Remittance Prices Worldwide, which SDG 10.c measures):

* The fee is charged on top of the send amount, in the send currency:
  ``fixed + percentage x send`` of the tier the send amount falls in, clamped to
  the schedule's minimum and maximum, then rounded **once** to the send
  currency's minor unit, half up (the common retail rule; a half cent goes to
  the operator, and the unrounded figure is what the cost percentage uses).
* The applied rate is the mid-rate less the partner's FX margin:
  ``applied = mid x (1 - margin)``. It is not rounded: it is a rate, recorded in
  full, never money.
* The receive amount is ``send x applied``, rounded **once** down to the receive
  currency's minor unit: the beneficiary is never promised a fraction of a unit
  the payout cannot deliver.
* Total cost = fee + FX margin cost, where the FX margin cost is
  ``send x (mid - applied) / mid = send x margin`` in the send currency. The
  percentage is ``total / send x 100`` from the unrounded figures, reported to
  two decimals half-even.

* A partner that priced a remittance itself gives the fee and the applied rate
  (:func:`price_explicit`): the receive amount follows the same rule, the margin
  is ``1 - applied / mid`` against the day's reference mid-rate, and the fee in
  the total cost is the fee charged (there is no unrounded one).

Arithmetic runs with 80 significant digits (``ARITHMETIC_PRECISION``): a 19-digit
amount times a rate with 12 decimals is exact, so the only roundings are the
named ones above.

Every function here takes and returns plain values; the database is elsewhere.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from decimal import ROUND_DOWN, ROUND_HALF_EVEN, ROUND_HALF_UP, ROUND_UP, Decimal, localcontext
from functools import wraps
from typing import ParamSpec, TypeVar

from ledger.errors import InvalidAmount, ValidationFailed
from ledger.money import from_minor, round_to_minor

FEE_ROUNDING = ROUND_HALF_UP
RECEIVE_ROUNDING = ROUND_DOWN
PERCENT_PLACES = Decimal("0.01")
HUNDRED = Decimal(100)
ARITHMETIC_PRECISION = 80

P = ParamSpec("P")
R = TypeVar("R")


def _exact(function: Callable[P, R]) -> Callable[P, R]:
    """Run ``function`` with enough digits that products of amounts and rates are exact."""

    @wraps(function)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        with localcontext() as context:
            context.prec = ARITHMETIC_PRECISION
            return function(*args, **kwargs)

    return wrapper


@dataclass(frozen=True)
class FeeTier:
    """From ``from_minor`` (inclusive) of the send amount: ``fixed_minor`` plus
    ``percentage`` (a fraction: 0.015 is 1.5%)."""

    from_minor: int
    fixed_minor: int
    percentage: Decimal


@dataclass(frozen=True)
class FeeSchedule:
    currency: str
    tiers: tuple[FeeTier, ...]
    minimum_minor: int = 0
    maximum_minor: int | None = None

    def __post_init__(self) -> None:
        if not self.tiers or self.tiers[0].from_minor != 0:
            raise ValidationFailed("a fee schedule's first tier starts at 0", field="tiers")
        starts = [tier.from_minor for tier in self.tiers]
        if starts != sorted(set(starts)):
            raise ValidationFailed("fee tiers must start at increasing amounts", field="tiers")
        for tier in self.tiers:
            if tier.fixed_minor < 0 or not (Decimal(0) <= tier.percentage < 1):
                raise ValidationFailed(
                    "a tier's fixed part is >= 0 and its percentage in [0, 1)", field="tiers"
                )
        if self.minimum_minor < 0 or (
            self.maximum_minor is not None and self.maximum_minor < self.minimum_minor
        ):
            raise ValidationFailed("fee minimum <= maximum, both >= 0", field="maximum")

    def tier_for(self, send_minor: int) -> FeeTier:
        chosen = self.tiers[0]
        for tier in self.tiers:
            if send_minor >= tier.from_minor:
                chosen = tier
        return chosen

    @_exact
    def exact_fee(self, send_minor: int) -> Decimal:
        """The fee in major units before rounding (clamped to min and max)."""
        tier = self.tier_for(send_minor)
        fee = from_minor(tier.fixed_minor, self.currency) + tier.percentage * from_minor(
            send_minor, self.currency
        )
        fee = max(fee, from_minor(self.minimum_minor, self.currency))
        if self.maximum_minor is not None:
            fee = min(fee, from_minor(self.maximum_minor, self.currency))
        return fee

    @_exact
    def fee_minor(self, send_minor: int) -> int:
        return round_to_minor(self.exact_fee(send_minor), self.currency, FEE_ROUNDING)


@dataclass(frozen=True)
class Price:
    send_currency: str
    receive_currency: str
    send_minor: int
    fee_minor: int
    mid_rate: Decimal
    applied_rate: Decimal
    receive_minor: int
    fx_margin_cost: Decimal  # send currency, major units, unrounded
    total_cost: Decimal  # send currency, major units, unrounded
    total_cost_percent: Decimal  # two decimals

    @property
    def total_cost_minor(self) -> int:
        """The total cost rounded half-even to the send currency, for display."""
        return round_to_minor(self.total_cost, self.send_currency, ROUND_HALF_EVEN)

    @property
    def charged_minor(self) -> int:
        """What the sender pays: the send amount plus the fee."""
        return self.send_minor + self.fee_minor


@_exact
def applied_rate(mid_rate: Decimal, margin: Decimal) -> Decimal:
    if mid_rate <= 0:
        raise ValidationFailed("a mid-rate is positive", field="mid_rate")
    if not (Decimal(0) <= margin < 1):
        raise ValidationFailed("an FX margin is a fraction in [0, 1)", field="fx_margin")
    return mid_rate * (1 - margin)


@_exact
def price_send(
    send_minor: int,
    *,
    send_currency: str,
    receive_currency: str,
    mid_rate: Decimal,
    margin: Decimal,
    fees: FeeSchedule,
) -> Price:
    """Price a remittance of ``send_minor`` (send currency, before the fee)."""
    if send_minor <= 0:
        raise InvalidAmount("a send amount is positive", field="send_amount")
    if fees.currency != send_currency:
        raise ValidationFailed("fees are charged in the send currency", field="currency")
    rate = applied_rate(mid_rate, margin)
    send = from_minor(send_minor, send_currency)
    receive_minor = round_to_minor(send * rate, receive_currency, RECEIVE_ROUNDING)
    if receive_minor <= 0:
        raise InvalidAmount(
            f"{send} {send_currency} buys nothing in {receive_currency}", field="send_amount"
        )
    fee_exact = fees.exact_fee(send_minor)
    margin_cost = send * margin
    total = fee_exact + margin_cost
    return Price(
        send_currency=send_currency,
        receive_currency=receive_currency,
        send_minor=send_minor,
        fee_minor=fees.fee_minor(send_minor),
        mid_rate=mid_rate,
        applied_rate=rate,
        receive_minor=receive_minor,
        fx_margin_cost=margin_cost,
        total_cost=total,
        total_cost_percent=_percent(total, send),
    )


@_exact
def price_receive(
    receive_minor: int,
    *,
    send_currency: str,
    receive_currency: str,
    mid_rate: Decimal,
    margin: Decimal,
    fees: FeeSchedule,
) -> Price:
    """Price a remittance that must deliver ``receive_minor``: the smallest send
    amount whose receive amount (rounded down) is at least that much."""
    if receive_minor <= 0:
        raise InvalidAmount("a receive amount is positive", field="receive_amount")
    rate = applied_rate(mid_rate, margin)
    needed = from_minor(receive_minor, receive_currency) / rate
    send_minor = round_to_minor(needed, send_currency, ROUND_UP)
    price = price_send(
        send_minor,
        send_currency=send_currency,
        receive_currency=receive_currency,
        mid_rate=mid_rate,
        margin=margin,
        fees=fees,
    )
    assert price.receive_minor >= receive_minor
    return price


def _percent(total: Decimal, send: Decimal) -> Decimal:
    return (total / send * HUNDRED).quantize(PERCENT_PLACES, ROUND_HALF_EVEN)


@_exact
def price_explicit(
    send_minor: int,
    *,
    fee_minor: int,
    applied_rate: Decimal,
    mid_rate: Decimal,
    send_currency: str,
    receive_currency: str,
) -> Price:
    """Price a remittance whose fee and applied rate the partner set itself.

    The margin against the reference mid-rate may be negative (a promotional rate
    better than mid): the cost then is below the fee, as it really is.
    """
    if send_minor <= 0:
        raise InvalidAmount("a send amount is positive", field="send_amount")
    if fee_minor < 0:
        raise InvalidAmount("a fee is zero or positive", field="fee")
    if mid_rate <= 0:
        raise ValidationFailed("a mid-rate is positive", field="mid_rate")
    if applied_rate <= 0:
        raise ValidationFailed("an applied rate is positive", field="rate")
    send = from_minor(send_minor, send_currency)
    receive_minor = round_to_minor(send * applied_rate, receive_currency, RECEIVE_ROUNDING)
    if receive_minor <= 0:
        raise InvalidAmount(
            f"{send} {send_currency} buys nothing in {receive_currency}", field="send_amount"
        )
    margin_cost = send * (mid_rate - applied_rate) / mid_rate
    total = from_minor(fee_minor, send_currency) + margin_cost
    return Price(
        send_currency=send_currency,
        receive_currency=receive_currency,
        send_minor=send_minor,
        fee_minor=fee_minor,
        mid_rate=mid_rate,
        applied_rate=applied_rate,
        receive_minor=receive_minor,
        fx_margin_cost=margin_cost,
        total_cost=total,
        total_cost_percent=_percent(total, send),
    )
