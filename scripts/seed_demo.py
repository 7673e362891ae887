"""Seed demo data: principals with API keys, partners' customers and accounts, and a
realistic month of remittances, all through the ledger's own functions.

Safe to run again: principals, customers and accounts are found by slug,
external id and code; transactions carry idempotency keys (scoped to their
partner), so a second run replays instead of duplicating. API keys are written
to ``var/demo-keys.json`` (name -> role and key; the database keeps only hashes);
when that file is missing or its keys no longer work, the demo keys are revoked
and issued afresh.

Figures (../shared/context/facts.md): typical tickets about USD 195 to
Tajikistan, USD 418 to Uzbekistan, USD 536 to Kyrgyzstan; fees around 1.5% (the
cheapest Russia-Tajikistan offers). Rates are rounded approximations of 2025
mid-rates, labelled "demo" as their source: illustrative, not market data.
"""

from __future__ import annotations

import json
import os
import random
import sys
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import ROUND_DOWN, ROUND_HALF_EVEN, Decimal
from pathlib import Path

from sqlalchemy import Connection

from ledger.access import (
    PrincipalRecord,
    authenticate,
    create_principal,
    get_principal_by_slug,
    issue_key,
    list_keys,
    revoke_key,
)
from ledger.clock import FixedClock, SystemClock
from ledger.config import Settings
from ledger.db import Database, create_database
from ledger.errors import AccountNotFound, LedgerError
from ledger.journal import (
    Rate,
    TransactionSpec,
    conversion_spec,
    credit,
    debit,
    get_account_by_code,
    post_batch,
    post_transaction,
    seal_all,
)
from ledger.money import from_minor, round_to_minor, to_minor
from ledger.parties import (
    PartnerAccountSpec,
    create_customer,
    list_customers,
    open_partner_account,
)
from ledger.parties.customers import CustomerExists

KEYS_FILE = Path("var/demo-keys.json")
MONTH_START = datetime(2026, 10, 1, tzinfo=UTC)
USD_RATE = {"RUB": Decimal("90"), "KZT": Decimal("510")}
TICKET_USD = {"TJS": Decimal(195), "UZS": Decimal(418), "KGS": Decimal(536)}
FEE_RATE = Decimal("0.015")


@dataclass(frozen=True)
class PartnerPlan:
    slug: str
    name: str
    send_currency: str
    sender_country: str
    corridors: dict[str, Decimal]  # receive currency -> demo mid-rate per send unit
    remittances: int
    beneficiaries: dict[str, list[tuple[str, str, str]]]  # currency -> (external id, name, country)


PARTNERS = [
    PartnerPlan(
        "zolotaya-korona",
        "Zolotaya Korona (demo)",
        "RUB",
        "RU",
        {"TJS": Decimal("0.1210"), "UZS": Decimal("141.20")},
        80,
        {
            "TJS": [
                ("tj-0001", "Farrukh Rahimov", "TJ"),
                ("tj-0002", "Zarina Nazarova", "TJ"),
                ("tj-0003", "Davlat Saidov", "TJ"),
            ],
            "UZS": [("uz-0001", "Dilnoza Karimova", "UZ"), ("uz-0002", "Jasur Tursunov", "UZ")],
        },
    ),
    PartnerPlan(
        "kazpost",
        "Kazpost (demo)",
        "KZT",
        "KZ",
        {"KGS": Decimal("0.1700")},
        40,
        {"KGS": [("kg-0001", "Aibek Toktogulov", "KG"), ("kg-0002", "Nurgul Asanova", "KG")]},
    ),
    PartnerPlan(
        "contact-kg",
        "Contact KG corridor (demo)",
        "RUB",
        "RU",
        {"KGS": Decimal("0.9720")},
        30,
        {"KGS": [("kg-1001", "Bakyt Osmonov", "KG"), ("kg-1002", "Aida Zhusupova", "KG")]},
    ),
]
OTHER_PRINCIPALS = [
    ("admin", "Demo administrator", "admin"),
    ("diaspora-fund", "Diaspora Enterprise Fund (demo)", "fund_manager"),
]


def principal(
    connection: Connection, slug: str, name: str, role: str, now: datetime
) -> PrincipalRecord:
    try:
        return get_principal_by_slug(connection, slug)
    except LedgerError:
        return create_principal(connection, slug=slug, name=name, role=role, now=now)


def customer_id(
    connection: Connection, partner: PrincipalRecord, now: datetime, **fields: str
) -> uuid.UUID:
    try:
        return create_customer(connection, partner.id, now=now, **fields).id
    except CustomerExists:
        found, _ = list_customers(
            connection, partner.id, external_id=fields["external_id"], limit=1
        )
        return found[0].id


def account_id(
    connection: Connection, partner: PrincipalRecord, spec: PartnerAccountSpec, now: datetime
) -> int:
    try:
        return get_account_by_code(connection, f"partner:{partner.slug}:{spec.code}").id
    except AccountNotFound:
        return open_partner_account(connection, partner, spec, now=now).account.id


def seed_partner(database: Database, plan: PartnerPlan, rng: random.Random) -> int:
    clock = FixedClock(MONTH_START)
    now = clock.now()
    send = plan.send_currency

    def setup(connection: Connection) -> tuple[PrincipalRecord, dict[str, int]]:
        partner = principal(connection, plan.slug, plan.name, "partner", now)
        ids = {
            "nostro": account_id(
                connection,
                partner,
                PartnerAccountSpec(
                    f"Correspondent account {send}",
                    "asset",
                    send,
                    code=f"nostro:{send}",
                    allow_overdraft=True,
                ),
                now,
            ),
            "prefund": account_id(
                connection,
                partner,
                PartnerAccountSpec(f"Prefunding {send}", "liability", send, code=f"prefund:{send}"),
                now,
            ),
            "fees": account_id(
                connection,
                partner,
                PartnerAccountSpec(f"Transfer fees {send}", "income", send, code=f"fees:{send}"),
                now,
            ),
        }
        for currency in (send, *plan.corridors):
            ids[f"fx:{currency}"] = account_id(
                connection,
                partner,
                PartnerAccountSpec(
                    f"FX position {currency}",
                    "asset",
                    currency,
                    code=f"fx:position:{currency}",
                    allow_overdraft=True,
                ),
                now,
            )
        for currency, people in plan.beneficiaries.items():
            for external_id, full_name, country in people:
                person = customer_id(
                    connection,
                    partner,
                    now,
                    external_id=external_id,
                    full_name=full_name,
                    country=country,
                    kind="entrepreneur" if external_id.endswith("1") else "migrant",
                )
                ids[external_id] = account_id(
                    connection,
                    partner,
                    PartnerAccountSpec(
                        f"Wallet of {full_name}",
                        "liability",
                        currency,
                        code=f"wallet:{external_id}:{currency}",
                        customer_id=person,
                    ),
                    now,
                )
        return partner, ids

    partner, ids = database.run(setup)
    client = partner.client_id
    prefund_minor = to_minor("25000000", send) if send == "RUB" else to_minor("150000000", send)
    prefund = TransactionSpec(
        (debit(ids["nostro"], prefund_minor, send), credit(ids["prefund"], prefund_minor, send)),
        description="Partner prefunding",
        effective_at=MONTH_START,
        idempotency_key="demo-prefund",
        client_id=client,
    )
    database.run(lambda connection: post_transaction(connection, prefund, clock=clock))

    positions = {currency: ids[f"fx:{currency}"] for currency in (send, *plan.corridors)}
    specs = []
    for number in range(plan.remittances):
        currency = rng.choice(sorted(plan.corridors))
        external_id, full_name, _ = rng.choice(plan.beneficiaries[currency])
        usd = TICKET_USD[currency] * Decimal(rng.randint(60, 140)) / 100
        send_minor = round_to_minor(usd * USD_RATE[send], send, ROUND_DOWN)
        fee_minor = round_to_minor(from_minor(send_minor, send) * FEE_RATE, send, ROUND_HALF_EVEN)
        when = MONTH_START + timedelta(days=rng.randint(0, 30), minutes=rng.randint(0, 1439))
        specs.append(
            conversion_spec(
                source_account_id=ids["prefund"],
                target_account_id=ids[external_id],
                amount_minor=send_minor,
                rate=Rate(send, currency, plan.corridors[currency], "demo"),
                position_account_ids=positions,
                description=f"Remittance to {full_name}",
                effective_at=when,
                metadata={"demo": True},
                idempotency_key=f"demo-remittance-{number}",
                client_id=client,
            )
        )
        specs.append(
            TransactionSpec(
                (debit(ids["prefund"], fee_minor, send), credit(ids["fees"], fee_minor, send)),
                description=f"Fee for remittance {number}",
                effective_at=when,
                idempotency_key=f"demo-fee-{number}",
                client_id=client,
            )
        )
    records = database.run(lambda connection: post_batch(connection, specs, clock=clock))
    return sum(1 for record in records if not record.replayed)


def ensure_keys(database: Database, path: Path) -> dict[str, dict[str, str]]:
    """The demo keys from ``path`` if they all still work, else fresh ones."""
    wanted = [(p.slug, p.name, "partner") for p in PARTNERS] + OTHER_PRINCIPALS
    if path.exists():
        try:
            saved = json.loads(path.read_text())

            def check(connection: Connection) -> bool:
                for slug, _, role in wanted:
                    holder, _ = authenticate(connection, saved[slug]["key"])
                    if holder.slug != slug or holder.role != role:
                        return False
                return True

            if database.run(check):
                return saved
        except (LedgerError, KeyError, ValueError, TypeError):
            pass  # unusable: issue fresh keys below
    now = SystemClock().now()

    def issue(connection: Connection) -> dict[str, dict[str, str]]:
        keys = {}
        for slug, name, role in wanted:
            holder = principal(connection, slug, name, role, now)
            for old in list_keys(connection, holder.id):
                if old.label == "demo" and old.revoked_at is None:
                    revoke_key(connection, old.id, now=now)
            keys[slug] = {
                "role": role,
                "principal_id": str(holder.id),
                "key": issue_key(connection, holder.id, label="demo", now=now).secret,
            }
        return keys

    keys = database.run(issue)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(keys, indent=2) + "\n")
    os.chmod(path, 0o600)  # secrets: readable by the owner only
    return keys


def seed(database: Database, keys_file: Path = KEYS_FILE) -> dict[str, int]:
    rng = random.Random(2026)
    created = sum(seed_partner(database, plan, rng) for plan in PARTNERS)
    keys = ensure_keys(database, keys_file)
    sealed = seal_all(database, now=SystemClock().now())
    return {
        "partners": len(PARTNERS),
        "keys": len(keys),
        "transactions_created": created,
        "sealed": sealed,
    }


def main() -> int:
    database = create_database(settings=Settings.from_environment())
    summary = seed(database)
    print(
        f"demo data: {summary['partners']} partners, {summary['transactions_created']} new "
        f"transactions ({'first run' if summary['transactions_created'] else 'already seeded'}), "
        f"{summary['sealed']} sealed"
    )
    keys = json.loads(KEYS_FILE.read_text())
    print(f"demo API keys (also in {KEYS_FILE}):")
    for name, entry in keys.items():
        print(f"  {name:<16} {entry['role']:<13} {entry['key']}")
    database.dispose()
    return 0


if __name__ == "__main__":
    sys.exit(main())
