"""Balance arithmetic over an account's four stored totals. Pure functions.

An account stores debits and credits separately, posted and pending, as
non-negative 64-bit sums (TigerBeetle's layout). Everything else follows:

* posted    = normal-side posted total - other-side posted total
* pending   = normal-side pending total - other-side pending total
* available = posted - other-side pending total (pending outflows reserve funds,
  pending inflows do not count until posted)

The floor is the lowest available balance the account's rule allows: 0 by
default, ``-overdraft_limit_minor`` with a limited overdraft, none (``None``)
with an unlimited one.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ledger.journal.types import Balances, Direction


@dataclass(frozen=True, slots=True)
class Totals:
    debits_posted_minor: int = 0
    credits_posted_minor: int = 0
    debits_pending_minor: int = 0
    credits_pending_minor: int = 0

    @classmethod
    def of(cls, row: Any) -> Totals:
        """The totals stored on an account row (any object with the four columns)."""
        return cls(
            row.debits_posted_minor,
            row.credits_posted_minor,
            row.debits_pending_minor,
            row.credits_pending_minor,
        )

    def plus(self, other: Totals) -> Totals:
        return Totals(
            self.debits_posted_minor + other.debits_posted_minor,
            self.credits_posted_minor + other.credits_posted_minor,
            self.debits_pending_minor + other.debits_pending_minor,
            self.credits_pending_minor + other.credits_pending_minor,
        )

    def largest(self) -> int:
        return max(
            self.debits_posted_minor,
            self.credits_posted_minor,
            self.debits_pending_minor,
            self.credits_pending_minor,
        )

    def smallest(self) -> int:
        return min(
            self.debits_posted_minor,
            self.credits_posted_minor,
            self.debits_pending_minor,
            self.credits_pending_minor,
        )


def posted(totals: Totals, normal_side: Direction) -> int:
    if normal_side == "debit":
        return totals.debits_posted_minor - totals.credits_posted_minor
    return totals.credits_posted_minor - totals.debits_posted_minor


def pending(totals: Totals, normal_side: Direction) -> int:
    if normal_side == "debit":
        return totals.debits_pending_minor - totals.credits_pending_minor
    return totals.credits_pending_minor - totals.debits_pending_minor


def available(totals: Totals, normal_side: Direction) -> int:
    if normal_side == "debit":
        return posted(totals, normal_side) - totals.credits_pending_minor
    return posted(totals, normal_side) - totals.debits_pending_minor


def floor(allow_overdraft: bool, overdraft_limit_minor: int | None) -> int | None:
    """Lowest available balance allowed; None means no floor."""
    if not allow_overdraft:
        return 0
    if overdraft_limit_minor is None:
        return None
    return -overdraft_limit_minor


def balances(totals: Totals, normal_side: Direction, currency: str) -> Balances:
    return Balances(
        currency=currency,
        posted_minor=posted(totals, normal_side),
        pending_minor=pending(totals, normal_side),
        available_minor=available(totals, normal_side),
    )
