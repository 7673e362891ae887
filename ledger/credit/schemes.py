"""Credit schemes (funds): their accounts, contributions, matching and first-loss layer,
and the fund's position.

A scheme keeps its own books, in its currency, in accounts ``scheme:<slug>:<role>``:

| role | type | what it holds |
|---|---|---|
| cash | asset | money the fund can lend (never below zero) |
| capital | equity | investors' contributions and sponsors' matching |
| first_loss | equity | the sponsors' first-loss layer |
| portfolio | asset | outstanding principal of its loans |
| interest_receivable | asset | interest accrued, not yet paid (below 0: paid ahead) |
| fees_receivable | asset | late fees charged, not yet paid |
| interest_income, fee_income | income | what the loans earned |
| recovery_income | income | what came back after a write-off |
| loss_reserve | liability | provisions for losses, by delinquency bucket |
| provision_expense | expense | what the provisions cost (and gave back) |
| written_off | expense | principal lost beyond the first-loss layer |
| stripe_clearing | asset | collected by Stripe, not yet paid out (below 0: refunded after) |
| payment_fees | expense | what payment providers kept |

* A **contribution** is pledged, then received: receipt posts cash / capital (an
  investor's) or cash / first_loss (a sponsor's layer). Each investor's received
  contributions say their share of the capital.
* A **matching rule** (a sponsor, a ratio, a cap) is released only when an investor's
  contribution is received: match = ratio x received, no more than what is left of
  the cap; several rules (3x1-style: several sponsors) all apply. Matching is capital,
  attributed to the sponsor.
* **Fund position**: capital, first-loss layer, cash, committed (approved applications
  not yet disbursed), outstanding portfolio, available = cash - committed, and the
  capital by investor with each one's share.
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from datetime import datetime
from decimal import ROUND_DOWN, ROUND_HALF_EVEN, Decimal
from typing import Any

from sqlalchemy import Connection, func, insert, select, update

from ledger.access.principals import PrincipalRecord
from ledger.clock import FixedClock
from ledger.credit.models import (
    SCHEME_ACCOUNT_ROLES,
    Contribution,
    CreditScheme,
    LoanApplication,
    MatchingRule,
)
from ledger.db import RaceConstraint, register_race_constraint
from ledger.errors import Conflict, LedgerError, NotFound, ValidationFailed
from ledger.events.outbox import emit, money_data
from ledger.ids import uuid7
from ledger.journal import (
    AccountRecord,
    AccountSpec,
    PostingSpec,
    TransactionSpec,
    credit,
    debit,
    get_account,
    open_account,
    post_transaction,
)
from ledger.journal.validation import require_text
from ledger.limits import AMOUNT_MINOR_MAX, FULL_NAME_LENGTH_MAX, PARTNER_REFERENCE_LENGTH_MAX
from ledger.money import validate_currency
from ledger.parties.countries import COUNTRY_CODES

schemes = CreditScheme.__table__
contributions = Contribution.__table__
matching_rules = MatchingRule.__table__
applications = LoanApplication.__table__

#: Matches' references (``match:<rule id>:<contribution id>``), refused for pledges.
MATCH_PREFIX = "match:"

SLUG = re.compile(r"^[a-z0-9][a-z0-9\-]{0,63}$")

_TYPES = {
    "cash": "asset",
    "capital": "equity",
    "first_loss": "equity",
    "portfolio": "asset",
    "interest_receivable": "asset",
    "fees_receivable": "asset",
    "interest_income": "income",
    "fee_income": "income",
    "recovery_income": "income",
    "loss_reserve": "liability",
    "provision_expense": "expense",
    "written_off": "expense",
    # Money a payment provider collected and has not yet paid out to the fund's bank
    # (below zero when a refund came after the payout: the provider takes it back).
    "stripe_clearing": "asset",
    "payment_fees": "expense",
}

register_race_constraint(RaceConstraint("uq_credit_schemes_slug", "credit_schemes", ("slug",)))
register_race_constraint(
    RaceConstraint(
        "uq_contributions_scheme_id_reference", "contributions", ("scheme_id", "reference")
    )
)


class SchemeNotFound(NotFound):
    code = "scheme_not_found"


class SchemeExists(Conflict):
    code = "scheme_exists"


class ContributionNotFound(NotFound):
    code = "contribution_not_found"


class ContributionNotPledged(Conflict):
    code = "contribution_not_pledged"


class NotSchemeManager(LedgerError):
    """Only the scheme's own fund manager may do this (answered 403 by the API)."""

    code = "not_scheme_manager"


@dataclass(frozen=True)
class SchemeRecord:
    id: uuid.UUID
    slug: str
    name: str
    currency: str
    country: str
    manager_id: uuid.UUID
    first_loss_percent: Decimal
    accounts: dict[str, int]
    created_at: datetime
    provisioning: dict[str, Decimal] | None = None

    def account(self, role: str) -> int:
        return int(self.accounts[role])

    @property
    def client_id(self) -> str:
        """The journal's idempotency scope of the scheme's transactions."""
        return f"scheme:{self.id}"


@dataclass(frozen=True)
class ContributionRecord:
    id: uuid.UUID
    scheme_id: uuid.UUID
    kind: str
    reference: str
    investor_name: str
    customer_id: uuid.UUID | None
    matching_rule_id: uuid.UUID | None
    matches_id: uuid.UUID | None
    amount_minor: int
    status: str
    transaction_id: uuid.UUID | None
    created_at: datetime
    received_at: datetime | None
    returned_minor: int = 0

    @property
    def kept_minor(self) -> int:
        """What the fund holds of it: received less refunds and disputes lost."""
        return self.amount_minor - self.returned_minor


@dataclass(frozen=True)
class MatchingRuleRecord:
    id: uuid.UUID
    scheme_id: uuid.UUID
    sponsor_name: str
    ratio: Decimal
    cap_minor: int
    created_at: datetime


def _scheme(row: Any) -> SchemeRecord:
    return SchemeRecord(
        row.id,
        row.slug,
        row.name,
        row.currency,
        row.country,
        row.manager_id,
        row.first_loss_percent,
        {role: int(value) for role, value in row.accounts.items()},
        row.created_at,
        (
            {bucket: Decimal(rate) for bucket, rate in row.provisioning.items()}
            if row.provisioning
            else None
        ),
    )


def _contribution(row: Any) -> ContributionRecord:
    return ContributionRecord(
        **{name: getattr(row, name) for name in ContributionRecord.__dataclass_fields__}
    )


def account_code(slug: str, role: str) -> str:
    return f"scheme:{slug}:{role}"


def create_scheme(
    connection: Connection,
    manager: PrincipalRecord,
    *,
    slug: str,
    name: str,
    currency: str,
    country: str,
    first_loss_percent: Decimal,
    now: datetime,
) -> SchemeRecord:
    """A scheme managed by ``manager`` (a fund manager) with its accounts opened."""
    if manager.role != "fund_manager":
        raise ValidationFailed("a scheme is managed by a fund manager", field="manager")
    if not SLUG.match(slug):
        raise ValidationFailed("a slug is lowercase letters, digits and '-'", field="slug")
    require_text(name, "name", FULL_NAME_LENGTH_MAX)
    validate_currency(currency)
    if country not in COUNTRY_CODES:
        raise ValidationFailed(f"{country!r} is not an ISO 3166-1 alpha-2 country", field="country")
    if not isinstance(first_loss_percent, Decimal) or not 0 <= first_loss_percent <= 100:
        raise ValidationFailed(
            "the first-loss layer is 0 to 100 percent", field="first_loss_percent"
        )
    if connection.execute(select(schemes.c.id).where(schemes.c.slug == slug)).first():
        raise SchemeExists(f"scheme {slug!r} exists", slug=slug)
    accounts = {
        role: _open_scheme_account(connection, slug, name, role, currency, now).id
        for role in SCHEME_ACCOUNT_ROLES
    }
    record = SchemeRecord(
        uuid7(), slug, name, currency, country, manager.id, first_loss_percent, accounts, now
    )
    connection.execute(
        insert(schemes).values(
            id=record.id,
            slug=slug,
            name=name,
            currency=currency,
            country=country,
            manager_id=manager.id,
            first_loss_percent=first_loss_percent,
            accounts=accounts,
            created_at=now,
        )
    )
    return record


def _open_scheme_account(
    connection: Connection, slug: str, name: str, role: str, currency: str, now: datetime
) -> AccountRecord:
    return open_account(
        connection,
        AccountSpec(
            code=account_code(slug, role),
            name=f"{name}: {role.replace('_', ' ')}",
            type=_TYPES[role],  # type: ignore[arg-type]
            currency=currency,
            owner_reference=f"scheme:{slug}",
            # Interest paid ahead of its accrual takes the receivable below zero; a
            # refund after a payout takes a provider's clearing below zero.
            allow_overdraft=role in ("interest_receivable", "stripe_clearing"),
        ),
        now=now,
    )


def scheme_account(
    connection: Connection, scheme: SchemeRecord, role: str, *, now: datetime
) -> int:
    """The scheme's account for ``role``, opened now if the scheme predates the role
    (schemes made before provisioning had no provision expense account)."""
    if role in scheme.accounts:
        return scheme.account(role)
    # The stored map, not the caller's copy: another role may have been opened since.
    current = get_scheme(connection, scheme.id, lock=True).accounts
    if role in current:
        return int(current[role])
    opened = _open_scheme_account(
        connection, scheme.slug, scheme.name, role, scheme.currency, now
    ).id
    connection.execute(
        update(schemes).where(schemes.c.id == scheme.id).values(accounts={**current, role: opened})
    )
    return opened


def get_scheme(connection: Connection, scheme_id: uuid.UUID, *, lock: bool = False) -> SchemeRecord:
    query = select(schemes).where(schemes.c.id == scheme_id)
    if lock:
        # Approvals and disbursements of one scheme take turns (availability).
        query = query.with_for_update()
    row = connection.execute(query).first()
    if row is None:
        raise SchemeNotFound(f"scheme {scheme_id} does not exist", scheme_id=str(scheme_id))
    return _scheme(row)


def list_schemes(connection: Connection) -> list[SchemeRecord]:
    return [_scheme(row) for row in connection.execute(select(schemes).order_by(schemes.c.slug))]


def require_manager(scheme: SchemeRecord, principal: PrincipalRecord) -> None:
    if principal.role != "admin" and principal.id != scheme.manager_id:
        raise NotSchemeManager(
            f"scheme {scheme.slug} is managed by another fund manager", scheme_id=str(scheme.id)
        )


# ------------------------------------------------------------------ matching


def add_matching_rule(
    connection: Connection,
    scheme: SchemeRecord,
    *,
    sponsor_name: str,
    ratio: Decimal,
    cap_minor: int,
    now: datetime,
) -> MatchingRuleRecord:
    require_text(sponsor_name, "sponsor_name", FULL_NAME_LENGTH_MAX)
    if not isinstance(ratio, Decimal) or not 0 < ratio <= 10:
        raise ValidationFailed("a matching ratio is above 0 and at most 10", field="ratio")
    if not isinstance(cap_minor, int) or not 0 < cap_minor <= AMOUNT_MINOR_MAX:
        raise ValidationFailed("a matching cap is a positive amount", field="cap")
    record = MatchingRuleRecord(uuid7(), scheme.id, sponsor_name, ratio, cap_minor, now)
    connection.execute(insert(matching_rules).values(**record.__dict__))
    return record


def list_matching_rules(connection: Connection, scheme_id: uuid.UUID) -> list[MatchingRuleRecord]:
    rows = connection.execute(
        select(matching_rules)
        .where(matching_rules.c.scheme_id == scheme_id)
        .order_by(matching_rules.c.created_at, matching_rules.c.id)
    )
    return [
        MatchingRuleRecord(r.id, r.scheme_id, r.sponsor_name, r.ratio, r.cap_minor, r.created_at)
        for r in rows
    ]


def matched_so_far(connection: Connection, rule_id: uuid.UUID) -> int:
    total = connection.execute(
        select(func.coalesce(func.sum(contributions.c.amount_minor), 0)).where(
            contributions.c.matching_rule_id == rule_id, contributions.c.status == "received"
        )
    ).scalar_one()
    return int(total)


def match_amount(ratio: Decimal, received_minor: int, cap_left_minor: int) -> int:
    """A sponsor's match of a received contribution (pure): ratio x received, rounded
    down to the minor unit (a sponsor never pays a fraction more than promised), no
    more than what is left of its cap."""
    exact = (ratio * received_minor).quantize(Decimal(1), ROUND_DOWN)
    return max(0, min(int(exact), cap_left_minor))


# ------------------------------------------------------------------ contributions


def pledge(
    connection: Connection,
    scheme: SchemeRecord,
    *,
    kind: str,
    reference: str,
    investor_name: str,
    amount_minor: int,
    now: datetime,
    customer_id: uuid.UUID | None = None,
) -> ContributionRecord:
    """Record a pledge: an investor's contribution or a sponsor's first-loss layer.
    The same reference with the same content returns it; with other, a conflict."""
    if kind not in ("investor", "first_loss"):
        raise ValidationFailed("pledges are of investors or of first-loss sponsors", field="kind")
    require_text(reference, "reference", PARTNER_REFERENCE_LENGTH_MAX)
    if reference.startswith(MATCH_PREFIX):
        raise ValidationFailed(
            f"references starting {MATCH_PREFIX!r} are the matches' own", field="reference"
        )
    require_text(investor_name, "investor_name", FULL_NAME_LENGTH_MAX)
    if not isinstance(amount_minor, int) or not 0 < amount_minor <= AMOUNT_MINOR_MAX:
        raise ValidationFailed("a pledge is a positive amount", field="amount")
    existing = connection.execute(
        select(contributions).where(
            contributions.c.scheme_id == scheme.id, contributions.c.reference == reference
        )
    ).first()
    if existing is not None:
        found = _contribution(existing)
        if (found.kind, found.investor_name, found.amount_minor, found.customer_id) == (
            kind,
            investor_name,
            amount_minor,
            customer_id,
        ):
            return found
        raise Conflict(f"contribution reference {reference!r} is taken", reference=reference)
    record = ContributionRecord(
        id=uuid7(),
        scheme_id=scheme.id,
        kind=kind,
        reference=reference,
        investor_name=investor_name,
        customer_id=customer_id,
        matching_rule_id=None,
        matches_id=None,
        amount_minor=amount_minor,
        status="pledged",
        transaction_id=None,
        created_at=now,
        received_at=None,
    )
    connection.execute(insert(contributions).values(**record.__dict__))
    return record


def get_contribution(
    connection: Connection, scheme_id: uuid.UUID, contribution_id: uuid.UUID, *, lock: bool = False
) -> ContributionRecord:
    query = select(contributions).where(
        contributions.c.id == contribution_id, contributions.c.scheme_id == scheme_id
    )
    if lock:
        query = query.with_for_update()
    row = connection.execute(query).first()
    if row is None:
        raise ContributionNotFound(f"contribution {contribution_id} does not exist")
    return _contribution(row)


def list_contributions(connection: Connection, scheme_id: uuid.UUID) -> list[ContributionRecord]:
    rows = connection.execute(
        select(contributions)
        .where(contributions.c.scheme_id == scheme_id)
        .order_by(contributions.c.created_at, contributions.c.id)
    )
    return [_contribution(row) for row in rows]


def _post_receipt(
    connection: Connection,
    scheme: SchemeRecord,
    role: str,
    amount_minor: int,
    key: str,
    description: str,
    now: datetime,
    metadata: dict[str, Any],
    into: int | None = None,
    extra: tuple[PostingSpec, ...] = (),
) -> uuid.UUID:
    record = post_transaction(
        connection,
        TransactionSpec(
            postings=(
                debit(into or scheme.account("cash"), amount_minor, scheme.currency),
                credit(scheme.account(role), amount_minor, scheme.currency),
                *extra,
            ),
            description=description,
            metadata={"credit": metadata},
            idempotency_key=key,
            client_id=scheme.client_id,
        ),
        clock=FixedClock(now),
    )
    return record.id


def receive(
    connection: Connection,
    scheme: SchemeRecord,
    contribution_id: uuid.UUID,
    *,
    now: datetime,
    into: int | None = None,
    extra: tuple[PostingSpec, ...] = (),
    metadata: dict[str, Any] | None = None,
) -> list[ContributionRecord]:
    """The pledged money arrived: post it, and release every sponsor's match of an
    investor's contribution. Returns the contribution and the matches it released.
    Receiving a received contribution again returns it and its matches.

    ``into``: the account the money arrived in (default the scheme's cash; a payment
    provider's clearing account when it collected it), with ``extra`` postings in the
    same transaction (the provider's fee)."""
    found = get_contribution(connection, scheme.id, contribution_id, lock=True)
    if found.status == "received":
        matches = [c for c in list_contributions(connection, scheme.id) if c.matches_id == found.id]
        return [found, *matches]
    if found.status != "pledged":
        raise ContributionNotPledged(f"contribution {found.id} is {found.status}")
    role = "capital" if found.kind == "investor" else "first_loss"
    transaction_id = _post_receipt(
        connection,
        scheme,
        role,
        found.amount_minor,
        f"contribution:{found.id}",
        f"Contribution {found.reference} from {found.investor_name}",
        now,
        {"contribution_id": str(found.id), "kind": found.kind, **(metadata or {})},
        into,
        extra,
    )
    connection.execute(
        update(contributions)
        .where(contributions.c.id == found.id, contributions.c.status == "pledged")
        .values(status="received", received_at=now, transaction_id=transaction_id)
    )
    received = ContributionRecord(
        **{
            **found.__dict__,
            "status": "received",
            "received_at": now,
            "transaction_id": transaction_id,
        }
    )
    released = []
    if found.kind == "investor":
        for rule in list_matching_rules(connection, scheme.id):
            left = rule.cap_minor - matched_so_far(connection, rule.id)
            amount = match_amount(rule.ratio, found.amount_minor, left)
            if amount == 0:
                continue
            match_id = uuid7()
            match_transaction = _post_receipt(
                connection,
                scheme,
                "capital",
                amount,
                f"match:{rule.id}:{found.id}",
                f"Match by {rule.sponsor_name} of contribution {found.reference}",
                now,
                {"contribution_id": str(match_id), "kind": "matching", "matches": str(found.id)},
            )
            record = ContributionRecord(
                id=match_id,
                scheme_id=scheme.id,
                kind="matching",
                # Ids, not the investor's reference: unique, and short enough whole.
                reference=f"{MATCH_PREFIX}{rule.id}:{found.id}",
                investor_name=rule.sponsor_name,
                customer_id=None,
                matching_rule_id=rule.id,
                matches_id=found.id,
                amount_minor=amount,
                status="received",
                transaction_id=match_transaction,
                created_at=now,
                received_at=now,
            )
            connection.execute(insert(contributions).values(**record.__dict__))
            released.append(record)
    emit(
        connection,
        scheme.manager_id,
        "scheme.contribution.received",
        {
            "scheme_id": str(scheme.id),
            "contribution_id": str(received.id),
            "reference": received.reference,
            "kind": received.kind,
            "amount": money_data(received.amount_minor, scheme.currency),
            "matched": [
                {
                    "contribution_id": str(m.id),
                    "amount": money_data(m.amount_minor, scheme.currency),
                }
                for m in released
            ],
        },
        now=now,
    )
    return [received, *released]


# ------------------------------------------------------------------ position


@dataclass(frozen=True)
class InvestorShare:
    name: str
    capital_minor: int
    share_percent: Decimal


@dataclass(frozen=True)
class FundPosition:
    currency: str
    capital_minor: int
    first_loss_minor: int
    cash_minor: int
    committed_minor: int
    portfolio_minor: int
    available_minor: int
    pledged_minor: int
    investors: tuple[InvestorShare, ...]


def committed_minor(connection: Connection, scheme_id: uuid.UUID) -> int:
    total = connection.execute(
        select(func.coalesce(func.sum(applications.c.principal_minor), 0)).where(
            applications.c.scheme_id == scheme_id, applications.c.status == "approved"
        )
    ).scalar_one()
    return int(total)


def fund_position(connection: Connection, scheme: SchemeRecord) -> FundPosition:
    def posted(role: str) -> int:
        return get_account(connection, scheme.account(role)).balances.posted_minor

    capital = posted("capital")
    committed = committed_minor(connection, scheme.id)
    cash = posted("cash")
    by_investor: dict[str, int] = {}
    pledged = 0
    for item in list_contributions(connection, scheme.id):
        if item.status == "pledged":
            pledged += item.amount_minor
        elif item.status == "received" and item.kind in ("investor", "matching"):
            by_investor[item.investor_name] = (
                by_investor.get(item.investor_name, 0) + item.kept_minor
            )
    shares = tuple(
        InvestorShare(
            name,
            amount,
            (Decimal(amount) * 100 / capital).quantize(Decimal("0.01"), ROUND_HALF_EVEN)
            if capital
            else Decimal(0),
        )
        for name, amount in sorted(by_investor.items(), key=lambda item: (-item[1], item[0]))
    )
    return FundPosition(
        currency=scheme.currency,
        capital_minor=capital,
        first_loss_minor=posted("first_loss"),
        cash_minor=cash,
        committed_minor=committed,
        portfolio_minor=posted("portfolio"),
        available_minor=cash - committed,
        pledged_minor=pledged,
        investors=shares,
    )
