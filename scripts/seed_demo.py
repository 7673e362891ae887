"""Seed demo data: principals with API keys, corridors, partners' prices and liquidity,
daily mid-rates, beneficiaries, and four months of remittances sent the way partners
send them (quote, reservation, payout), all through the ledger's own functions.

Safe to run again: corridors, prices, liquidity and customers are found before they
are made; rates are loaded idempotently; remittances carry fixed partner references
and are skipped when they exist. Every run also loads the mid-rates of today and
yesterday (deterministic per day), so quotes work on the day the demo starts. API
keys are written to ``var/demo-keys.json`` (name -> role and key; the database keeps
only hashes); when that file is missing or its keys no longer work, the demo keys are
revoked and issued afresh.

Figures (../shared/context/facts.md): tickets about USD 195 to Tajikistan, USD 418 to
Uzbekistan, USD 536 to Kyrgyzstan; costs from the cheapest Russia-Tajikistan offers
(about 1.5%) to an operator above the SDG's 5% ceiling, so the cost report shows both
flags; senders skip months (remittances are seasonal and irregular). Mid-rates are
rounded approximations of 2025 rates with a small daily wobble, labelled with the
central bank's code as their source: illustrative, not market data.
"""

from __future__ import annotations

import json
import os
import random
import sys
import uuid
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import ROUND_DOWN, Decimal
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
from ledger.clock import SystemClock
from ledger.config import Settings
from ledger.credit.applications import apply, decide
from ledger.credit.disbursement import disburse
from ledger.credit.loans import get_loan, schedule_of
from ledger.credit.losses import charge_late_fees, write_off
from ledger.credit.products import create_product
from ledger.credit.repayments import repay
from ledger.credit.schedule import ScheduleTerms
from ledger.credit.schemes import add_matching_rule, create_scheme, list_schemes, pledge, receive
from ledger.credit.terms import Charge, ProductTerms, ScoringRules
from ledger.db import Database, create_database
from ledger.errors import CorridorExists, CorridorNotServed, LedgerError, LiquidityNotConfigured
from ledger.journal import seal_all
from ledger.money import round_to_minor, to_minor
from ledger.parties import create_customer, list_customers
from ledger.parties.customers import CustomerExists
from ledger.remittance.corridors import create_corridor, current_pricing, set_pricing
from ledger.remittance.liquidity import adjust_liquidity, configure_liquidity, liquidity_accounts
from ledger.remittance.policy import RemittancePolicy
from ledger.remittance.pricing import FeeSchedule, FeeTier
from ledger.remittance.quotes import create_quote
from ledger.remittance.rates import RateInput, load_rates
from ledger.remittance.records import RemittanceRequest
from ledger.remittance.remittances import (
    complete_remittance,
    expire_remittances,
    fail_remittance,
    find_remittance,
    reserve_remittance,
)

KEYS_FILE = Path("var/demo-keys.json")
#: The demo's remittances fall in these months (fixed, so a re-run finds them again).
WINDOW_START = date(2026, 8, 1)
WINDOW_MONTHS = 4
POLICY = RemittancePolicy()

#: Mid-rates per source: 1 base = value quote (rounded 2025 levels).
RATES = {
    "cbr": {
        ("RUB", "TJS"): Decimal("0.1210"),
        ("RUB", "UZS"): Decimal("141.20"),
        ("RUB", "KGS"): Decimal("0.9720"),
        ("USD", "RUB"): Decimal("90.00"),
    },
    "nbk": {("KZT", "KGS"): Decimal("0.1700"), ("USD", "KZT"): Decimal("510.00")},
}
TICKET_USD = {"TJS": Decimal(195), "UZS": Decimal(418), "KGS": Decimal(536)}
CORRIDORS = ["RU-RUB-TJ-TJS", "RU-RUB-UZ-UZS", "KZ-KZT-KG-KGS", "RU-RUB-KG-KGS"]


@dataclass(frozen=True)
class Price:
    corridor: str
    percentage: str  # fee, a fraction
    fixed: str  # fee, major units
    minimum: str
    margin: str
    source: str


@dataclass(frozen=True)
class PartnerPlan:
    slug: str
    name: str
    send_currency: str
    sender_country: str
    prices: tuple[Price, ...]
    cap: str  # net debit cap, major units
    prefunding: str
    beneficiaries: tuple[tuple[str, str, str, str], ...]  # external id, name, country, corridor


PARTNERS = [
    PartnerPlan(
        "zolotaya-korona",
        "Zolotaya Korona (demo)",
        "RUB",
        "RU",
        (
            Price("RU-RUB-TJ-TJS", "0.01", "0", "50", "0.005", "cbr"),
            Price("RU-RUB-UZ-UZS", "0.01", "0", "50", "0.003", "cbr"),
        ),
        cap="500000",
        prefunding="25000000",
        beneficiaries=(
            ("tj-0001", "Farrukh Rahimov", "TJ", "RU-RUB-TJ-TJS"),
            ("tj-0002", "Zarina Nazarova", "TJ", "RU-RUB-TJ-TJS"),
            ("tj-0003", "Davlat Saidov", "TJ", "RU-RUB-TJ-TJS"),
            ("tj-0004", "Madina Yusupova", "TJ", "RU-RUB-TJ-TJS"),
            ("uz-0001", "Dilnoza Karimova", "UZ", "RU-RUB-UZ-UZS"),
            ("uz-0002", "Jasur Tursunov", "UZ", "RU-RUB-UZ-UZS"),
            ("uz-0003", "Sardor Aliev", "UZ", "RU-RUB-UZ-UZS"),
        ),
    ),
    PartnerPlan(
        "kazpost",
        "Kazpost (demo)",
        "KZT",
        "KZ",
        (Price("KZ-KZT-KG-KGS", "0.015", "500", "0", "0.015", "nbk"),),
        cap="20000000",
        prefunding="150000000",
        beneficiaries=(
            ("kg-0001", "Aibek Toktogulov", "KG", "KZ-KZT-KG-KGS"),
            ("kg-0002", "Nurgul Asanova", "KG", "KZ-KZT-KG-KGS"),
            ("kg-0003", "Emil Sadykov", "KG", "KZ-KZT-KG-KGS"),
        ),
    ),
    PartnerPlan(
        "contact-kg",
        "Contact KG corridor (demo)",
        "RUB",
        "RU",
        (
            Price("RU-RUB-KG-KGS", "0.02", "0", "100", "0.015", "cbr"),
            Price("RU-RUB-TJ-TJS", "0.03", "0", "100", "0.025", "cbr"),
        ),
        cap="0",
        prefunding="15000000",
        beneficiaries=(
            ("kg-1001", "Bakyt Osmonov", "KG", "RU-RUB-KG-KGS"),
            ("kg-1002", "Aida Zhusupova", "KG", "RU-RUB-KG-KGS"),
            ("kg-1003", "Chyngyz Bekov", "KG", "RU-RUB-KG-KGS"),
            ("tj-1001", "Shahlo Nabieva", "TJ", "RU-RUB-TJ-TJS"),
        ),
    ),
]
OTHER_PRINCIPALS = [
    ("admin", "Demo administrator", "admin"),
    ("diaspora-fund", "Diaspora Enterprise Fund (demo)", "fund_manager"),
]
#: More beneficiaries per corridor, named from these (the demo's people are fictional).
NAMES = {
    "TJ": ["Sitora Rahmonova", "Parviz Olimov", "Nilufar Qodirova", "Firuz Safarov"],
    "UZ": ["Gulnora Ismoilova", "Bekzod Rakhimov", "Shahnoza Yuldasheva"],
    "KG": ["Aizada Mamytova", "Talant Abdyrakhmanov", "Kanykei Sultanova", "Ulan Kadyrov"],
}


def more_beneficiaries(plan: PartnerPlan) -> tuple[tuple[str, str, str, str], ...]:
    extra = []
    for corridor in sorted({b[3] for b in plan.beneficiaries}):
        country = corridor.split("-")[2]
        for number, name in enumerate(NAMES[country], start=51):
            extra.append(
                (f"{country.lower()}-{plan.slug[:4]}-{number:04d}", name, country, corridor)
            )
    return plan.beneficiaries + tuple(extra)


SENDERS = ["Rustam Karimov", "Alisher Umarov", "Bakhtiyor Nazarov", "Aziz Sharipov", "Timur Ali"]


def at(day: date, hour: int = 9, minute: int = 0) -> datetime:
    return datetime(day.year, day.month, day.day, hour, minute, tzinfo=UTC)


def day_rate(base: str, quote: str, value: Decimal, day: date) -> Decimal:
    """The demo mid-rate of one day: within +-1% of ``value``, the same every run."""
    wobble = random.Random(f"{base}{quote}{day.isoformat()}").randint(-100, 100)
    places = Decimal("0.0001") if value < 10 else Decimal("0.01")
    return (value * (1 + Decimal(wobble) / 10_000)).quantize(places)


def rates_for(days: list[date]) -> list[RateInput]:
    return [
        RateInput(day, source, base, quote, day_rate(base, quote, value, day))
        for day in days
        for source, pairs in RATES.items()
        for (base, quote), value in pairs.items()
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


def seed_market(database: Database, today: date) -> None:
    """Corridors and every day's mid-rates from the window's start to today."""
    now = at(WINDOW_START, 0)

    def corridors(connection: Connection) -> None:
        for code in CORRIDORS:
            country, currency, to_country, to_currency = code.split("-")
            try:
                create_corridor(
                    connection,
                    send_country=country,
                    send_currency=currency,
                    receive_country=to_country,
                    receive_currency=to_currency,
                    now=now,
                )
            except CorridorExists:
                continue  # seeded before

    database.run(corridors)
    days = [WINDOW_START + timedelta(days=n) for n in range((today - WINDOW_START).days + 1)]
    for start in range(0, len(days), 200):
        chunk = rates_for(days[start : start + 200])
        database.run(lambda c, rates=chunk: load_rates(c, rates, now=SystemClock().now()))


def seed_partner(database: Database, plan: PartnerPlan, rng: random.Random) -> int:
    """The partner, its prices, liquidity and beneficiaries; its remittances. Returns
    how many remittances this run created."""
    opened = at(WINDOW_START, 0)
    send = plan.send_currency

    def setup(connection: Connection) -> tuple[PrincipalRecord, dict[str, uuid.UUID]]:
        partner = principal(connection, plan.slug, plan.name, "partner", opened)
        for price in plan.prices:
            try:
                current_pricing(connection, partner.id, price.corridor, at=opened)
            except CorridorNotServed:
                fees = FeeSchedule(
                    send,
                    (FeeTier(0, to_minor(price.fixed, send), Decimal(price.percentage)),),
                    minimum_minor=to_minor(price.minimum, send),
                )
                set_pricing(
                    connection,
                    partner.id,
                    price.corridor,
                    fees=fees,
                    fx_margin=Decimal(price.margin),
                    rate_source=price.source,
                    now=opened,
                )
        try:
            liquidity_accounts(connection, partner.id, send)
        except LiquidityNotConfigured:
            configure_liquidity(
                connection, partner, send, net_debit_cap_minor=to_minor(plan.cap, send), now=opened
            )
        adjust_liquidity(
            connection,
            partner.id,
            send,
            kind="top_up",
            amount_minor=to_minor(plan.prefunding, send),
            reference="demo-prefunding",
            now=opened,
        )
        people = {}
        for external_id, full_name, country, _ in more_beneficiaries(plan):
            people[external_id] = customer_id(
                connection,
                partner,
                opened,
                external_id=external_id,
                full_name=full_name,
                country=country,
                kind="entrepreneur" if external_id.endswith("1") else "migrant",
            )
        return partner, people

    partner, people = database.run(setup)
    created = 0
    for month in range(WINDOW_MONTHS):
        first = date(WINDOW_START.year, WINDOW_START.month + month, 1)
        for external_id, _, _, corridor in more_beneficiaries(plan):
            # Irregular senders: most months one remittance, some two, some none.
            count = rng.choices([0, 1, 2, 3], [0.2, 0.45, 0.25, 0.1])[0]
            for number in range(count):
                reference = f"demo-{external_id}-{first:%Y%m}-{number}"
                when = at(first + timedelta(days=rng.randint(0, 27)), rng.randint(8, 20))
                outcome = rng.choices(["completed", "failed", "expired"], [0.9, 0.05, 0.05])[0]
                currency = corridor[-3:]
                usd = TICKET_USD[currency] * Decimal(rng.randint(60, 140)) / 100
                usd_rate = RATES["nbk" if send == "KZT" else "cbr"][("USD", send)]
                amount = round_to_minor(usd * usd_rate, send, ROUND_DOWN)
                request = RemittanceRequest(
                    partner_reference=reference,
                    corridor_code=corridor,
                    sender_name=rng.choice(SENDERS),
                    sender_country=plan.sender_country,
                    beneficiary_customer_id=people[external_id],
                )
                created += send_one(database, partner, request, amount, when, outcome)
    return created


def send_one(
    database: Database,
    partner: PrincipalRecord,
    request: RemittanceRequest,
    amount_minor: int,
    when: datetime,
    outcome: str,
) -> int:
    """One remittance as a partner sends it: quote, reservation, then the outcome."""
    if database.run(lambda c: find_remittance(c, partner.id, request.partner_reference)):
        return 0
    send = request.corridor_code.split("-")[1]

    def reserve(connection: Connection) -> uuid.UUID:
        quote = create_quote(
            connection,
            partner.id,
            request.corridor_code,
            send=(amount_minor, send),
            now=when,
            policy=POLICY,
        )
        priced = RemittanceRequest(**{**request.__dict__, "quote_id": quote.id})
        return reserve_remittance(connection, partner, priced, now=when, policy=POLICY).id

    remittance_id = database.run(reserve)
    later = when + timedelta(minutes=random.Random(str(remittance_id)).randint(5, 240))
    if outcome == "completed":
        database.run(lambda c: complete_remittance(c, partner.id, remittance_id, now=later))
    elif outcome == "failed":
        database.run(
            lambda c: fail_remittance(
                c, partner.id, remittance_id, reason="beneficiary did not collect", now=later
            )
        )
    else:
        database.run(lambda c: expire_remittances(c, now=when + POLICY.reservation_ttl))
    return 1


# ------------------------------------------------------------------ credit

#: The demo's credit scheme: TJS, lent to Zolotaya Korona's beneficiaries in
#: Tajikistan (figures illustrative; the IOM 1+1 and first-loss sponsors are named for
#: the models in ../shared/context/facts.md, not for real commitments).
SCHEME_SLUG = "tj-diaspora-fund"
INVESTORS = [
    ("INV-MSK-1", "Dilshod Rakhimov (Moscow)", "50000"),
    ("INV-BER-1", "Malika Saidova (Berlin)", "30000"),
    ("INV-IST-1", "Anvar Nazarov (Istanbul)", "20000"),
    ("INV-ALA-1", "Shirin Umarova (Almaty)", "10000"),
]
LOAN_TERMS = ProductTerms(
    currency="TJS",
    min_principal_minor=100_000,
    max_principal_minor=5_000_000,
    min_installments=3,
    max_installments=24,
    schedule=ScheduleTerms("TJS", Decimal(24)),
    origination_fee=Charge("percent", Decimal("0.02")),
    late_fee=Charge("flat", Decimal(5_000)),
    late_fee_after_days=7,
    scoring=ScoringRules(min_regular_months=2, max_amount_multiple=Decimal(6)),
)


def seed_credit(database: Database) -> int:
    """The scheme, its funding and product, and loans at several stages (first run
    only: nothing is done if the scheme exists). Returns the loans disbursed."""

    def scheme_exists(connection: Connection) -> bool:
        return any(s.slug == SCHEME_SLUG for s in list_schemes(connection))

    if database.run(scheme_exists):
        return 0
    opened = at(date(2026, 8, 1), 8)

    def setup(connection: Connection) -> tuple:
        manager = principal(
            connection, "diaspora-fund", "Diaspora Enterprise Fund (demo)", "fund_manager", opened
        )
        zk = get_principal_by_slug(connection, "zolotaya-korona")
        scheme = create_scheme(
            connection,
            manager,
            slug=SCHEME_SLUG,
            name="Tajik Diaspora Enterprise Fund (demo)",
            currency="TJS",
            country="TJ",
            first_loss_percent=Decimal(10),
            now=opened,
        )
        add_matching_rule(
            connection,
            scheme,
            sponsor_name="IOM 1+1 matching (demo)",
            ratio=Decimal(1),
            cap_minor=to_minor("50000", "TJS"),
            now=opened,
        )
        for reference, name, amount in INVESTORS:
            made = pledge(
                connection,
                scheme,
                kind="investor",
                reference=reference,
                investor_name=name,
                amount_minor=to_minor(amount, "TJS"),
                now=opened,
            )
            receive(connection, scheme, made.id, now=opened)
        layer = pledge(
            connection,
            scheme,
            kind="first_loss",
            reference="FL-1",
            investor_name="Sponsor foundation (demo)",
            amount_minor=to_minor("15000", "TJS"),
            now=opened,
        )
        receive(connection, scheme, layer.id, now=opened)
        product = create_product(
            connection, scheme, name="Workshop loan", terms=LOAN_TERMS, now=opened
        )
        people = {}
        for external_id in ("tj-0001", "tj-0002", "tj-0003", "tj-0004", "tj-zolo-0051"):
            found, _ = list_customers(connection, zk.id, external_id=external_id, limit=1)
            people[external_id] = found[0].id
        return manager, zk, scheme, product, people

    manager, zk, scheme, product, people = database.run(setup)

    def loan(external_id: str, amount: str, months: int, day: date) -> uuid.UUID:
        when = at(day, 10)

        def work(connection: Connection) -> uuid.UUID:
            application = apply(
                connection,
                zk,
                customer_id=people[external_id],
                scheme_id=scheme.id,
                product_id=product.id,
                principal_minor=to_minor(amount, "TJS"),
                installments=months,
                purpose="small business",
                description="equipment and stock",
                now=when,
            )
            decide(
                connection,
                manager,
                application.id,
                approve=True,
                note="pilot: remittance history of the demo window",
                now=when,
            )
            return disburse(connection, manager, application.id, now=when).id

        return database.run(work)

    def pay_installments(loan_id: uuid.UUID, numbers: range, days_late: int = 0) -> None:
        for item in database.run(lambda c: schedule_of(c, get_loan(c, loan_id))):
            if item.number not in numbers:
                continue
            when = at(item.due_date + timedelta(days=days_late), 12)
            amount = item.principal_minor + item.interest_minor
            database.run(
                lambda c, amount=amount, when=when, n=item.number: repay(
                    c, loan_id, amount_minor=amount, reference=f"demo-{n}", now=when
                )
            )

    on_time = loan("tj-0001", "3000", 12, date(2026, 8, 20))
    pay_installments(on_time, range(1, 4))  # September to November, on time
    late = loan("tj-0002", "5000", 12, date(2026, 9, 10))
    pay_installments(late, range(1, 2), days_late=3)
    database.run(
        lambda c: charge_late_fees(
            c, late, as_of=date(2026, 11, 30), now=at(date(2026, 11, 30), 23)
        )
    )
    prepaid = loan("tj-0003", "2000", 6, date(2026, 10, 1))
    database.run(
        lambda c: repay(
            c,
            prepaid,
            amount_minor=to_minor("800", "TJS"),
            reference="demo-prepay",
            now=at(date(2026, 10, 20), 12),
        )
    )
    lost = loan("tj-0004", "1500", 6, date(2026, 8, 5))
    database.run(
        lambda c: write_off(
            c, manager, lost, now=at(date(2026, 11, 28), 12), reason="emigrated, unreachable"
        )
    )

    def pending(connection: Connection) -> None:
        apply(
            connection,
            zk,
            customer_id=people["tj-zolo-0051"],
            scheme_id=scheme.id,
            product_id=product.id,
            principal_minor=to_minor("20000", "TJS"),
            installments=24,
            purpose="bakery oven",
            description="a second oven for the family bakery",
            now=at(date(2026, 11, 29), 15),
        )

    database.run(pending)
    return 4


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


def seed(database: Database, keys_file: Path = KEYS_FILE, today: date | None = None) -> dict:
    today = today or SystemClock().now().date()
    rng = random.Random(2026)
    seed_market(database, max(today, WINDOW_START + timedelta(days=31 * WINDOW_MONTHS)))
    created = sum(seed_partner(database, plan, rng) for plan in PARTNERS)
    keys = ensure_keys(database, keys_file)
    loans = seed_credit(database)
    sealed = seal_all(database, now=SystemClock().now())
    return {
        "partners": len(PARTNERS),
        "keys": len(keys),
        "remittances_created": created,
        "loans_created": loans,
        "sealed": sealed,
    }


def main() -> int:
    database = create_database(settings=Settings.from_environment())
    summary = seed(database)
    print(
        f"demo data: {summary['partners']} partners, {summary['remittances_created']} new "
        f"remittances and {summary['loans_created']} new loans "
        f"({'first run' if summary['remittances_created'] else 'already seeded'}), "
        f"{summary['sealed']} transactions sealed"
    )
    keys = json.loads(KEYS_FILE.read_text())
    print(f"demo API keys (also in {KEYS_FILE}):")
    for name, entry in keys.items():
        print(f"  {name:<16} {entry['role']:<13} {entry['key']}")
    database.dispose()
    return 0


if __name__ == "__main__":
    sys.exit(main())
