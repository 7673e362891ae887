"""The time limits of the remittance flow, set by configuration (ledger.config).

* ``quote_ttl``: how long a quote may be used (``QUOTE_TTL_SECONDS``, default 15
  minutes: long enough to show a sender the price and take the cash, short enough
  that the mid-rate has not moved much).
* ``reservation_ttl``: how long a reserved remittance holds the partner's
  liquidity before the expiry job voids it (``RESERVATION_TTL_SECONDS``, default
  24 hours, the usual cash-pickup window).
* ``rate_max_age_days``: how old a reference mid-rate may be on the day it is used
  (``FX_RATE_MAX_AGE_DAYS``, default 3: a Friday rate covers the weekend).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from ledger.config import Settings
from ledger.remittance.rates import DEFAULT_RATE_MAX_AGE_DAYS


@dataclass(frozen=True)
class RemittancePolicy:
    quote_ttl: timedelta = timedelta(minutes=15)
    reservation_ttl: timedelta = timedelta(hours=24)
    rate_max_age_days: int = DEFAULT_RATE_MAX_AGE_DAYS

    def __post_init__(self) -> None:
        if self.quote_ttl <= timedelta(0) or self.reservation_ttl <= timedelta(0):
            raise ValueError("quote and reservation lifetimes are positive")
        if self.rate_max_age_days < 0:
            raise ValueError("FX_RATE_MAX_AGE_DAYS is zero or more")

    @classmethod
    def from_settings(cls, settings: Settings) -> RemittancePolicy:
        return cls(
            quote_ttl=timedelta(seconds=settings.quote_ttl_seconds),
            reservation_ttl=timedelta(seconds=settings.reservation_ttl_seconds),
            rate_max_age_days=settings.fx_rate_max_age_days,
        )
