"""Seed demo data through the ledger API: partners, beneficiaries, a month of remittances.

Safe to run again: accounts are found by code, transactions carry idempotency
keys (client "demo"), so a second run replays instead of duplicating.

Figures (../shared/context/facts.md): typical tickets about USD 195 to
Tajikistan, USD 418 to Uzbekistan, USD 536 to Kyrgyzstan; fees around 1.5% (the
cheapest Russia-Tajikistan offers). Rates are rounded approximations of 2025
mid-rates, labelled "demo" as their source: illustrative, not market data.
"""

from __future__ import annotations

import random
import sys
from datetime import UTC, datetime, timedelta
from decimal import ROUND_DOWN, ROUND_HALF_EVEN, Decimal

from sqlalchemy import Connection

from ledger.clock import FixedClock
from ledger.config import Settings
from ledger.db import Database, create_database
from ledger.errors import AccountNotFound
from ledger.journal import (
    AccountSpec,
    Rate,
    TransactionSpec,
    conversion_spec,
    credit,
    debit,
    ensure_position_account,
    get_account_by_code,
    open_account,
    post_batch,
    post_transaction,
    seal_all,
)
from ledger.money import from_minor, round_to_minor, to_minor

CLIENT = "demo"
MONTH_START = datetime(2026, 10, 1, tzinfo=UTC)
RATES = {
    "TJS": Rate("RUB", "TJS", Decimal("0.1210"), "demo"),
    "UZS": Rate("RUB", "UZS", Decimal("141.20"), "demo"),
    "KGS": Rate("RUB", "KGS", Decimal("0.9720"), "demo"),
}
RUB_PER_USD = Decimal("90")
TICKET_USD = {"TJS": Decimal(195), "UZS": Decimal(418), "KGS": Decimal(536)}
FEE_RATE = Decimal("0.015")
BENEFICIARIES = {
    "TJS": ["tj:dushanbe:0001", "tj:khujand:0002", "tj:bokhtar:0003"],
    "UZS": ["uz:samarkand:0001", "uz:fergana:0002"],
    "KGS": ["kg:osh:0001", "kg:bishkek:0002"],
}


def account(connection: Connection, spec: AccountSpec, now: datetime) -> int:
    try:
        return get_account_by_code(connection, spec.code).id
    except AccountNotFound:
        return open_account(connection, spec, now=now).id


def seed(database: Database) -> dict[str, int]:
    clock = FixedClock(MONTH_START)
    now = clock.now()
    rng = random.Random(2026)

    def setup(connection: Connection) -> dict[str, int]:
        ids = {
            "nostro": account(
                connection,
                AccountSpec(
                    "bank:nostro:RUB",
                    "Correspondent account RUB",
                    "asset",
                    "RUB",
                    allow_overdraft=True,
                ),
                now,
            ),
            "partner": account(
                connection,
                AccountSpec(
                    "partner:zolotaya-korona:prefund:RUB",
                    "Zolotaya Korona prefunding",
                    "liability",
                    "RUB",
                    owner_reference="partner:zolotaya-korona",
                ),
                now,
            ),
            "fees": account(
                connection, AccountSpec("income:fees:RUB", "Transfer fees", "income", "RUB"), now
            ),
        }
        for currency, people in BENEFICIARIES.items():
            for person in people:
                ids[person] = account(
                    connection,
                    AccountSpec(
                        f"customer:{person}:{currency}",
                        f"Beneficiary {person}",
                        "liability",
                        currency,
                        owner_reference=f"customer:{person}",
                    ),
                    now,
                )
            ensure_position_account(connection, currency, now=now)
        ensure_position_account(connection, "RUB", now=now)
        return ids

    ids = database.run(setup)
    prefund = TransactionSpec(
        (
            debit(ids["nostro"], to_minor("25000000", "RUB"), "RUB"),
            credit(ids["partner"], to_minor("25000000", "RUB"), "RUB"),
        ),
        description="Partner prefunding",
        effective_at=MONTH_START,
        idempotency_key="demo-prefund",
        client_id=CLIENT,
    )
    database.run(lambda connection: post_transaction(connection, prefund, clock=clock))

    def month(connection: Connection) -> int:
        positions = {
            currency: ensure_position_account(connection, currency, now=now)
            for currency in ("RUB", "TJS", "UZS", "KGS")
        }
        specs = []
        for number in range(90):
            currency = rng.choice(["TJS", "TJS", "UZS", "KGS"])
            person = rng.choice(BENEFICIARIES[currency])
            usd = TICKET_USD[currency] * Decimal(rng.randint(60, 140)) / 100
            send_minor = round_to_minor(usd * RUB_PER_USD, "RUB", ROUND_DOWN)
            fee_minor = round_to_minor(
                from_minor(send_minor, "RUB") * FEE_RATE, "RUB", ROUND_HALF_EVEN
            )
            when = MONTH_START + timedelta(days=rng.randint(0, 30), minutes=rng.randint(0, 1439))
            specs.append(
                conversion_spec(
                    source_account_id=ids["partner"],
                    target_account_id=ids[person],
                    amount_minor=send_minor,
                    rate=RATES[currency],
                    position_account_ids=positions,
                    description=f"Remittance to {person}",
                    effective_at=when,
                    metadata={"demo": True},
                    idempotency_key=f"demo-remittance-{number}",
                    client_id=CLIENT,
                )
            )
            specs.append(
                TransactionSpec(
                    (
                        debit(ids["partner"], fee_minor, "RUB"),
                        credit(ids["fees"], fee_minor, "RUB"),
                    ),
                    description=f"Fee for remittance {number}",
                    effective_at=when,
                    idempotency_key=f"demo-fee-{number}",
                    client_id=CLIENT,
                )
            )
        records = post_batch(connection, specs, clock=clock)
        return sum(1 for record in records if not record.replayed)

    created = database.run(month)
    sealed = seal_all(database, now=datetime.now(UTC))
    return {"accounts": len(ids), "transactions_created": created, "sealed": sealed}


def main() -> int:
    database = create_database(settings=Settings.from_environment())
    summary = seed(database)
    print(
        f"demo data: {summary['accounts']} accounts, {summary['transactions_created']} new "
        f"transactions ({'first run' if summary['transactions_created'] else 'already seeded'}), "
        f"{summary['sealed']} sealed"
    )
    database.dispose()
    return 0


if __name__ == "__main__":
    sys.exit(main())
