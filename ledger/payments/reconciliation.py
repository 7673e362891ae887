"""Reconciling a provider's payout with the ledger, to the minor unit (pure).

For a payout, the provider's items in it (fetched from its API) are set against the
items the ledger booked to clearing:

* **matched**: booked with the same gross, fee and net;
* **amount differences**: booked, with another gross or fee than the provider now
  reports (say, a fee the provider changed after the fact);
* **missing on our side**: in the payout, never booked (an event that never came or
  failed; a charge not made through this service);
* **missing on the provider's side**: booked, available by the payout's date, in no
  payout (the provider should have paid it out, or it never happened there);
* the payout's own total against the sum of its items' nets.

Nothing here changes the books: a discrepancy is reported for people to resolve
(replay the event, correct the books by an adjustment they post and sign off).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ledger.events.outbox import money_data
from ledger.payments.bookkeeping import BookedItem, PayoutReport, ProviderItem


@dataclass(frozen=True)
class Line:
    item: str
    kind: str
    source: str
    scheme_id: str | None
    theirs: tuple[int, int, int] | None  # gross, fee, net
    ours: tuple[int, int, int] | None


@dataclass(frozen=True)
class Report:
    provider: str
    payout: str
    currency: str
    payout_amount_minor: int
    items_net_minor: int
    booked_net_minor: int
    matched: tuple[Line, ...]
    differences: tuple[Line, ...]
    missing_ours: tuple[Line, ...]
    missing_theirs: tuple[Line, ...]
    notes: tuple[str, ...] = field(default=())

    @property
    def total_difference_minor(self) -> int:
        """Payout amount less the sum of its items' nets (0 when Stripe agrees with itself)."""
        return self.payout_amount_minor - self.items_net_minor

    @property
    def discrepancies(self) -> int:
        return (
            len(self.differences)
            + len(self.missing_ours)
            + len(self.missing_theirs)
            + (self.total_difference_minor != 0)
        )

    def as_dict(self) -> dict[str, Any]:
        def money(minor: int) -> dict[str, str]:
            return money_data(minor, self.currency)

        def triple(values: tuple[int, int, int] | None) -> dict[str, Any] | None:
            if values is None:
                return None
            gross, fee, net = values
            return {"amount": money(gross), "fee": money(fee), "net": money(net)}

        def lines(items: tuple[Line, ...]) -> list[dict[str, Any]]:
            return [
                {
                    "item": line.item,
                    "kind": line.kind,
                    "source": line.source,
                    "scheme_id": line.scheme_id,
                    "theirs": triple(line.theirs),
                    "ours": triple(line.ours),
                }
                for line in items
            ]

        return {
            "provider": self.provider,
            "payout": self.payout,
            "payout_amount": money(self.payout_amount_minor),
            "items_net": money(self.items_net_minor),
            "booked_net": money(self.booked_net_minor),
            "total_difference": money(self.total_difference_minor),
            "discrepancies": self.discrepancies,
            "matched": lines(self.matched),
            "differences": lines(self.differences),
            "missing_ours": lines(self.missing_ours),
            "missing_theirs": lines(self.missing_theirs),
            "notes": list(self.notes),
        }


def _theirs(item: ProviderItem) -> tuple[int, int, int]:
    return (item.amount_minor, item.fee_minor, item.net_minor)


def _ours(item: BookedItem) -> tuple[int, int, int]:
    return (item.amount_minor, item.fee_minor, item.net_minor)


def reconcile(
    provider: str,
    payout: PayoutReport,
    booked: dict[str, BookedItem],
    unpaid: list[BookedItem],
    *,
    accounted: set[str] | frozenset[str] = frozenset(),
) -> Report:
    """``booked``: the ledger's items with the ids of the payout's items; ``unpaid``:
    booked items in no payout, available by the payout's date; ``accounted``: items
    the ledger moves without booking them (a failed payout's money coming back)."""
    matched, differences, missing_ours = [], [], []
    in_payout = set()
    for item, collection in payout.items:
        in_payout.add(item.external_id)
        ours = booked.get(item.external_id)
        scheme = str(collection.scheme_id) if collection is not None else None
        line = Line(
            item.external_id,
            item.kind,
            item.source_id,
            scheme,
            _theirs(item),
            _ours(ours) if ours else None,
        )
        if ours is None and item.external_id in accounted:
            # Moved back by the payout booking, from the failed payout's shares.
            matched.append(
                Line(
                    item.external_id,
                    item.kind,
                    item.source_id,
                    scheme,
                    _theirs(item),
                    _theirs(item),
                )
            )
        elif ours is None:
            missing_ours.append(line)
        elif _ours(ours) != _theirs(item) or ours.currency != item.currency:
            differences.append(line)
        else:
            matched.append(line)
    missing_theirs = [
        Line(u.external_id, u.kind, u.source_id, str(u.scheme_id), None, _ours(u))
        for u in unpaid
        if u.external_id not in in_payout
    ]
    notes = []
    if any(collection is None for _, collection in payout.items):
        notes.append("items of no collection of this service are not in the books")
    return Report(
        provider=provider,
        payout=payout.external_id,
        currency=payout.currency,
        payout_amount_minor=payout.amount_minor,
        items_net_minor=sum(item.net_minor for item, _ in payout.items),
        booked_net_minor=sum(line.ours[2] for line in (*matched, *differences) if line.ours),
        matched=tuple(matched),
        differences=tuple(differences),
        missing_ours=tuple(missing_ours),
        missing_theirs=tuple(missing_theirs),
        notes=tuple(notes),
    )
