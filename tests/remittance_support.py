"""A small remittance world for tests: corridors, a priced partner with liquidity,
mid-rates, beneficiaries. Built through the domain's own functions."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from ledger.access import PrincipalRecord, create_principal
from ledger.clock import FixedClock
from ledger.db import Database
from ledger.journal import get_account
from ledger.parties import create_customer
from ledger.parties.customers import CustomerRecord
from ledger.remittance.corridors import create_corridor, set_pricing
from ledger.remittance.liquidity import adjust_liquidity, configure_liquidity, liquidity_accounts
from ledger.remittance.policy import RemittancePolicy
from ledger.remittance.pricing import FeeSchedule, FeeTier
from ledger.remittance.rates import RateInput, load_rates
from ledger.remittance.records import RemittanceRequest
from ledger.remittance.remittances import complete_remittance, reserve_remittance

TJ = "RU-RUB-TJ-TJS"
UZ = "RU-RUB-UZ-UZS"
KG = "KZ-KZT-KG-KGS"
POLICY = RemittancePolicy()

#: 1.5% with a minimum of 50.00 RUB, 0.4% FX margin (the cheapest Russia-Tajikistan
#: offers are about 1.5%: ../shared/context/facts.md).
RUB_FEES = FeeSchedule("RUB", (FeeTier(0, 0, Decimal("0.015")),), minimum_minor=5_000)
RUB_TJS = Decimal("0.1192")
USD_RUB = Decimal("90")


@dataclass
class World:
    database: Database
    clock: FixedClock
    partner: PrincipalRecord
    other: PrincipalRecord
    beneficiary: CustomerRecord
    others_customer: CustomerRecord
    settlement_id: int
    fee_account_id: int

    def run(self, work: Any) -> Any:
        return self.database.run(work)

    def request(self, reference: str = "R-1", **changes: Any) -> RemittanceRequest:
        values: dict[str, Any] = {
            "partner_reference": reference,
            "corridor_code": TJ,
            "sender_name": "Rustam Karimov",
            "sender_country": "RU",
            "beneficiary_customer_id": self.beneficiary.id,
        }
        values.update(changes)
        return RemittanceRequest(**values)

    def explicit(self, reference: str = "R-1", amount: str = "10000.00", **changes: Any):
        """A request the partner priced itself: ``amount`` RUB, fee 150.00, rate 0.1187232."""
        values: dict[str, Any] = {
            "send": (to_minor_rub(amount), "RUB"),
            "fee": (15_000, "RUB"),
            "applied_rate": Decimal("0.1187232"),
        }
        values.update(changes)
        return self.request(reference, **values)

    def balances(self, account_id: int) -> tuple[int, int, int]:
        b = self.run(lambda c: get_account(c, account_id)).balances
        return (b.posted_minor, b.pending_minor, b.available_minor)


def to_minor_rub(amount: str) -> int:
    from ledger.money import to_minor

    return to_minor(amount, "RUB")


def load_day_rates(world: World, day: date, source: str = "cbr", **overrides: Decimal) -> None:
    rates = {("RUB", "TJS"): RUB_TJS, ("USD", "RUB"): USD_RUB, ("RUB", "UZS"): Decimal("140")}
    rates.update({tuple(k.split("_")): v for k, v in overrides.items()})  # type: ignore[misc]
    world.run(
        lambda c: load_rates(
            c,
            [RateInput(day, source, base, quote, value) for (base, quote), value in rates.items()],
            now=world.clock.now(),
        )
    )


def build_world(
    database: Database,
    clock: FixedClock,
    *,
    cap_minor: int = 10_000_000,
    top_up_minor: int = 100_000_000,
) -> World:
    """Partner "zk" (RUB), priced on RU-RUB-TJ-TJS, cap 100,000.00 RUB, prefunded
    1,000,000.00 RUB; today's cbr rates; a beneficiary in Tajikistan. Partner
    "other" with a customer of its own."""
    now = clock.now()

    def build(connection: Any) -> World:
        partner = create_principal(connection, slug="zk", name="ZK", role="partner", now=now)
        other = create_principal(connection, slug="other", name="Other", role="partner", now=now)
        for code in (TJ, UZ, KG):
            parts = code.split("-")
            create_corridor(
                connection,
                send_country=parts[0],
                send_currency=parts[1],
                receive_country=parts[2],
                receive_currency=parts[3],
                now=now,
            )
        set_pricing(
            connection,
            partner.id,
            TJ,
            fees=RUB_FEES,
            fx_margin=Decimal("0.004"),
            rate_source="cbr",
            now=now - timedelta(days=30),  # in force for anything the tests backdate
        )
        beneficiary = create_customer(
            connection,
            partner.id,
            external_id="b-1",
            full_name="Farrukh Rahimov",
            country="TJ",
            kind="migrant",
            now=now,
        )
        others = create_customer(
            connection,
            other.id,
            external_id="o-1",
            full_name="Someone Else",
            country="TJ",
            kind="migrant",
            now=now,
        )
        configure_liquidity(connection, partner, "RUB", net_debit_cap_minor=cap_minor, now=now)
        if top_up_minor:
            adjust_liquidity(
                connection,
                partner.id,
                "RUB",
                kind="top_up",
                amount_minor=top_up_minor,
                reference="TOPUP-1",
                now=now,
            )
        accounts = liquidity_accounts(connection, partner.id, "RUB")
        return World(
            database,
            clock,
            partner,
            other,
            beneficiary,
            others,
            accounts.settlement_account_id,
            accounts.fee_account_id,
        )

    world = database.run(build)
    load_day_rates(world, now.date())
    load_day_rates(world, now.date() - timedelta(days=1))
    return world


def reserve(world: World, request: RemittanceRequest) -> Any:
    """Reserve ``request`` for the world's partner, now."""
    return world.run(
        lambda c: reserve_remittance(
            c, world.partner, request, now=world.clock.now(), policy=POLICY
        )
    )


def complete(world: World, remittance_id: Any) -> Any:
    return world.run(
        lambda c: complete_remittance(c, world.partner.id, remittance_id, now=world.clock.now())
    )
