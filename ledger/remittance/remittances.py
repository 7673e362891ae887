"""Remittances: priced, reserved against the partner's liquidity, then completed,
failed or expired. Every state change is one journal operation.

Lifecycle (Mojaloop's, in the ledger's terms):

* ``reserved``: a pending journal transaction holds the partner's liquidity (its
  settlement account's available balance drops by send amount plus fee at once)
  and, pending, the beneficiary's credit;
* ``completed``: the hold is posted in full: the beneficiary is credited in the
  receive currency, the fee lands in the partner's fee account, the conversion
  runs through the FX position accounts;
* ``failed`` (the partner says so) or ``expired`` (the expiry job, past
  ``expires_at``): the hold is voided; nothing moved.

The journal transaction of a remittance (:func:`remittance_legs`), in the send
currency S and receive currency R::

    S: debit  settlement(partner, S)   send + fee
       credit fees(partner, S)                fee      (no leg when the fee is 0)
       credit fx:position:S                   send
    R: debit  fx:position:R            receive
       credit beneficiary wallet (R)          receive

so each currency balances on its own. Pricing is the quote's (fixed when the
sender was shown it) or the partner's own fee and rate, with the reference
mid-rate of the day for the cost figures (``ledger.remittance.pricing``).

Idempotency: ``partner_reference`` is unique per partner. The same reference with
the same content returns the existing remittance (``replayed``); with other
content it is ``remittance_exists``. The journal transaction carries the key
``remittance:<reference>`` as well, so money cannot move twice for one reference.

Remittance transactions belong to the client id ``remittance:<partner id>``, not to
the partner's own: a partner cannot void or post them through ``/v1/transactions``
behind the remittance's back.
"""

from __future__ import annotations

import hashlib
import json
import re
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import Connection, insert, select, update

from ledger.access.principals import PrincipalRecord
from ledger.clock import FixedClock
from ledger.db import RaceConstraint, register_race_constraint
from ledger.errors import (
    AccountNotFound,
    BatchRejected,
    CorridorNotServed,
    CurrencyMismatch,
    InsufficientFunds,
    InsufficientLiquidity,
    InvalidAmount,
    LedgerError,
    QuoteAlreadyUsed,
    QuoteExpired,
    ReceiveAmountMismatch,
    RemittanceExists,
    RemittanceExpired,
    RemittanceNotFound,
    RemittanceNotReserved,
    ValidationFailed,
)
from ledger.ids import uuid7
from ledger.journal import (
    PostingSpec,
    TransactionSpec,
    create_pending,
    credit,
    debit,
    ensure_position_account,
    get_account_by_code,
    get_transaction,
    post_batch,
    post_pending,
    void_pending,
)
from ledger.journal.models import Account
from ledger.journal.validation import refuse_nul
from ledger.limits import (
    FULL_NAME_LENGTH_MAX,
    PAGE_SIZE_MAX,
    PARTNER_REFERENCE_LENGTH_MAX,
    REASON_LENGTH_MAX,
    REMITTANCE_EXPIRY_BATCH_SIZE,
)
from ledger.money import from_minor
from ledger.parties.accounts import PartnerAccountSpec, get_owned_account, open_partner_account
from ledger.parties.countries import COUNTRY_CODES
from ledger.parties.customers import CustomerNotFound, CustomerRecord, customers, get_customer
from ledger.remittance.corridors import CorridorRecord, current_pricing, get_corridor
from ledger.remittance.liquidity import LiquidityAccounts, liquidity_accounts
from ledger.remittance.models import Remittance
from ledger.remittance.policy import RemittancePolicy
from ledger.remittance.pricing import Price, price_explicit
from ledger.remittance.quotes import QuoteRecord, get_quote, stored_cost
from ledger.remittance.rates import RateRecord, find_rate

remittances = Remittance.__table__
accounts = Account.__table__

REFERENCE_PATTERN = re.compile(r"^[\x21-\x7e]+$")

register_race_constraint(
    RaceConstraint(
        "uq_remittances_partner_id_partner_reference",
        "remittances",
        ("partner_id", "partner_reference"),
    )
)
register_race_constraint(RaceConstraint("uq_remittances_quote_id", "remittances", ("quote_id",)))

Money = tuple[int, str]  # (minor units, currency)


@dataclass(frozen=True)
class RemittanceRequest:
    """What a partner asks for. Pricing is either ``quote_id`` or the explicit
    ``send``, ``fee`` and ``applied_rate``; ``receive``, if given, must match."""

    partner_reference: str
    corridor_code: str
    sender_name: str
    sender_country: str
    beneficiary_customer_id: uuid.UUID
    beneficiary_account_id: int | None = None
    quote_id: uuid.UUID | None = None
    send: Money | None = None
    fee: Money | None = None
    applied_rate: Decimal | None = None
    receive: Money | None = None
    effective_at: datetime | None = None
    expires_at: datetime | None = None

    def fingerprint(self) -> str:
        """What makes two requests with one reference the same request."""
        content = {
            "reference": self.partner_reference,
            "corridor": self.corridor_code,
            "sender": [self.sender_name, self.sender_country],
            "beneficiary": [str(self.beneficiary_customer_id), self.beneficiary_account_id],
            "quote": str(self.quote_id) if self.quote_id else None,
            "send": list(self.send) if self.send else None,
            "fee": list(self.fee) if self.fee else None,
            "rate": format(self.applied_rate, "f") if self.applied_rate is not None else None,
            "receive": list(self.receive) if self.receive else None,
            "effective_at": self.effective_at.isoformat() if self.effective_at else None,
            "expires_at": self.expires_at.isoformat() if self.expires_at else None,
        }
        text = json.dumps(content, sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(text.encode()).hexdigest()


@dataclass(frozen=True)
class RemittanceRecord:
    id: uuid.UUID
    partner_id: uuid.UUID
    partner_reference: str
    corridor_code: str
    quote_id: uuid.UUID | None
    sender_name: str
    sender_country: str
    beneficiary_customer_id: uuid.UUID
    beneficiary_account_id: int
    send_currency: str
    receive_currency: str
    send_minor: int
    fee_minor: int
    receive_minor: int
    mid_rate: Decimal
    applied_rate: Decimal
    rate_date: date
    rate_source: str
    total_cost: Decimal
    total_cost_percent: Decimal
    status: str
    transaction_id: uuid.UUID
    source: str
    import_id: uuid.UUID | None
    request_hash: str
    effective_at: datetime
    created_at: datetime
    expires_at: datetime | None
    resolved_at: datetime | None
    failure_reason: str | None
    replayed: bool = field(default=False, compare=False)

    @property
    def charged_minor(self) -> int:
        """What the sender paid the partner: send amount plus fee."""
        return self.send_minor + self.fee_minor


_COLUMNS = tuple(name for name in RemittanceRecord.__dataclass_fields__ if name != "replayed")


def _record(row: Any) -> RemittanceRecord:
    return RemittanceRecord(**{name: getattr(row, name) for name in _COLUMNS})


def remittance_client_id(partner_id: uuid.UUID) -> str:
    return f"remittance:{partner_id}"


def wallet_suffix(customer_id: uuid.UUID, currency: str) -> str:
    """The partner-namespaced code of the wallet a beneficiary is credited to by
    default in ``currency`` (``partner:<slug>:wallet:<customer id>:<CUR>``)."""
    return f"wallet:{customer_id}:{currency}"


def wallet_code(partner_slug: str, customer_id: uuid.UUID, currency: str) -> str:
    return f"partner:{partner_slug}:{wallet_suffix(customer_id, currency)}"


def remittance_legs(
    *,
    settlement_account_id: int,
    fee_account_id: int,
    send_position_account_id: int,
    receive_position_account_id: int,
    beneficiary_account_id: int,
    send_currency: str,
    receive_currency: str,
    send_minor: int,
    fee_minor: int,
    receive_minor: int,
) -> tuple[PostingSpec, ...]:
    """The postings of one remittance (see the module docstring). Pure."""
    legs = [debit(settlement_account_id, send_minor + fee_minor, send_currency)]
    if fee_minor:
        legs.append(credit(fee_account_id, fee_minor, send_currency))
    legs += [
        credit(send_position_account_id, send_minor, send_currency),
        debit(receive_position_account_id, receive_minor, receive_currency),
        credit(beneficiary_account_id, receive_minor, receive_currency),
    ]
    return tuple(legs)


# ------------------------------------------------------------------ lookups


class Lookups:
    """Everything a remittance is checked and priced against, read once per unit of
    work and remembered: one partner, one moment. The bulk import prefetches a
    whole chunk's customers, wallets and references with :meth:`prefetch`; a single
    request reads as it goes. Either way the same checks run (:func:`prepare`)."""

    def __init__(
        self,
        connection: Connection,
        partner: PrincipalRecord,
        *,
        now: datetime,
        policy: RemittancePolicy,
    ) -> None:
        self.connection, self.partner, self.now, self.policy = connection, partner, now, policy
        self._corridors: dict[str, CorridorRecord] = {}
        self._customers: dict[uuid.UUID, CustomerRecord | None] = {}
        self._by_external_id: dict[str, CustomerRecord | None] = {}
        self._wallets: dict[str, int] = {}
        self._rates: dict[tuple[str, str, str, date], RateRecord | LedgerError] = {}
        self._liquidity: dict[str, LiquidityAccounts | LedgerError] = {}
        self._positions: dict[str, int] = {}
        self._rate_sources: dict[str, str] = {}
        self._existing: dict[str, RemittanceRecord | None] = {}

    # -- prefetching (bulk import)

    def prefetch(
        self,
        *,
        references: Iterable[str] = (),
        customer_ids: Iterable[uuid.UUID] = (),
        external_ids: Iterable[str] = (),
        currencies: Iterable[str] = (),
    ) -> None:
        """Read in a few queries what many requests will ask for."""
        wanted = sorted(set(references) - set(self._existing))
        for chunk in _chunks(wanted):
            self._existing.update(dict.fromkeys(chunk))
            for row in self.connection.execute(
                select(remittances).where(
                    remittances.c.partner_id == self.partner.id,
                    remittances.c.partner_reference.in_(chunk),
                )
            ):
                self._existing[row.partner_reference] = _record(row)
        ids = sorted(set(customer_ids) - set(self._customers))
        for chunk in _chunks(ids):
            self._customers.update(dict.fromkeys(chunk))
            self._load_customers(customers.c.id.in_(chunk))
        externals = sorted(set(external_ids) - set(self._by_external_id))
        for chunk in _chunks(externals):
            self._by_external_id.update(dict.fromkeys(chunk))
            self._load_customers(customers.c.external_id.in_(chunk))
        known = [c for c in self._customers.values() if c is not None]
        codes = sorted(
            {
                wallet_code(self.partner.slug, customer.id, currency)
                for customer in known
                for currency in set(currencies)
            }
            - set(self._wallets)
        )
        for chunk in _chunks(codes):
            for row in self.connection.execute(
                select(accounts.c.code, accounts.c.id).where(accounts.c.code.in_(chunk))
            ):
                self._wallets[row.code] = row.id

    def _load_customers(self, condition: Any) -> None:
        query = select(customers).where(customers.c.partner_id == self.partner.id, condition)
        for row in self.connection.execute(query):
            record = CustomerRecord(
                row.id,
                row.partner_id,
                row.external_id,
                row.full_name,
                row.country,
                row.kind,
                row.created_at,
            )
            self._customers[record.id] = record
            self._by_external_id[record.external_id] = record

    # -- lookups

    def corridor(self, code: str) -> CorridorRecord:
        if code not in self._corridors:
            self._corridors[code] = get_corridor(self.connection, code)
        return self._corridors[code]

    def customer(self, customer_id: uuid.UUID) -> CustomerRecord:
        if customer_id not in self._customers:
            try:
                self._customers[customer_id] = get_customer(
                    self.connection, self.partner.id, customer_id
                )
            except CustomerNotFound:
                self._customers[customer_id] = None
        record = self._customers[customer_id]
        if record is None:
            raise CustomerNotFound(
                f"customer {customer_id} does not exist", customer_id=str(customer_id)
            )
        return record

    def customer_by_external_id(self, external_id: str) -> CustomerRecord:
        if external_id not in self._by_external_id:
            self.prefetch(external_ids=[external_id])
        record = self._by_external_id.get(external_id)
        if record is None:
            raise CustomerNotFound(
                f"no customer with external_id {external_id!r}", external_id=external_id
            )
        return record

    def wallet(self, customer: CustomerRecord, currency: str) -> int:
        """The beneficiary's default wallet in ``currency``, opened on first use."""
        code = wallet_code(self.partner.slug, customer.id, currency)
        if code not in self._wallets:
            try:
                self._wallets[code] = get_account_by_code(self.connection, code).id
            except AccountNotFound:
                self._wallets[code] = self._open_wallet(customer, currency)
        return self._wallets[code]

    def _open_wallet(self, customer: CustomerRecord, currency: str) -> int:
        owned = open_partner_account(
            self.connection,
            self.partner,
            PartnerAccountSpec(
                name=f"{customer.full_name}: remittances {currency}",
                type="liability",
                currency=currency,
                code=wallet_suffix(customer.id, currency),
                customer_id=customer.id,
            ),
            now=self.now,
        )
        return owned.account.id

    def rate(self, base: str, quote: str, source: str, on: date) -> RateRecord:
        key = (base, quote, source, on)
        if key not in self._rates:
            try:
                self._rates[key] = find_rate(
                    self.connection,
                    base,
                    quote,
                    source=source,
                    on=on,
                    max_age_days=self.policy.rate_max_age_days,
                )
            except LedgerError as error:
                self._rates[key] = error
        found = self._rates[key]
        if isinstance(found, LedgerError):
            raise found
        return found

    def rate_source(self, code: str) -> str:
        """The mid-rate source of the partner's price on the corridor, or the default."""
        if code not in self._rate_sources:
            try:
                pricing = current_pricing(self.connection, self.partner.id, code, at=self.now)
                self._rate_sources[code] = pricing.rate_source
            except CorridorNotServed:
                self._rate_sources[code] = DEFAULT_RATE_SOURCE
        return self._rate_sources[code]

    def liquidity(self, currency: str) -> LiquidityAccounts:
        if currency not in self._liquidity:
            try:
                self._liquidity[currency] = liquidity_accounts(
                    self.connection, self.partner.id, currency
                )
            except LedgerError as error:
                self._liquidity[currency] = error
        found = self._liquidity[currency]
        if isinstance(found, LedgerError):
            raise found
        return found

    def position(self, currency: str) -> int:
        if currency not in self._positions:
            self._positions[currency] = ensure_position_account(
                self.connection, currency, now=self.now
            )
        return self._positions[currency]

    def existing(self, reference: str) -> RemittanceRecord | None:
        if reference not in self._existing:
            self.prefetch(references=[reference])
        return self._existing[reference]

    def remember(self, record: RemittanceRecord) -> None:
        self._existing[record.partner_reference] = record


# ------------------------------------------------------------------ preparing


@dataclass(frozen=True)
class Prepared:
    """A checked, priced remittance, ready to be written."""

    request: RemittanceRequest
    corridor: CorridorRecord
    price: Price
    rate_date: date
    rate_source: str
    beneficiary_account_id: int
    liquidity: LiquidityAccounts
    legs: tuple[PostingSpec, ...]
    effective_at: datetime
    request_hash: str


def _text(value: str, field_name: str, length_max: int) -> str:
    if not isinstance(value, str) or not value.strip() or len(value) > length_max:
        raise ValidationFailed(
            f"{field_name} must be 1 to {length_max} characters", field=field_name
        )
    refuse_nul(value, field_name)
    return value


def validate_request(request: RemittanceRequest) -> None:
    reference = request.partner_reference
    if (
        not isinstance(reference, str)
        or not REFERENCE_PATTERN.match(reference)
        or len(reference) > PARTNER_REFERENCE_LENGTH_MAX
    ):
        raise ValidationFailed(
            f"partner_reference is 1 to {PARTNER_REFERENCE_LENGTH_MAX} printable ASCII "
            "characters without spaces",
            field="partner_reference",
        )
    _text(request.sender_name, "sender.name", FULL_NAME_LENGTH_MAX)
    if request.sender_country not in COUNTRY_CODES:
        raise ValidationFailed(
            f"{request.sender_country!r} is not an ISO 3166-1 alpha-2 country",
            field="sender.country",
        )
    explicit = (request.send, request.fee, request.applied_rate)
    if request.quote_id is not None and any(part is not None for part in explicit):
        raise ValidationFailed(
            "give a quote_id or the send amount, fee and rate, not both", field="quote_id"
        )
    if request.quote_id is None and any(part is None for part in explicit):
        raise ValidationFailed(
            "without a quote_id, give send_amount, fee and rate", field="quote_id"
        )
    for name, money in (("send_amount", request.send), ("receive_amount", request.receive)):
        if money is not None and money[0] <= 0:
            raise InvalidAmount(f"{name} is positive", field=name)
    if request.fee is not None and request.fee[0] < 0:
        raise InvalidAmount("fee is zero or positive", field="fee")


def _quoted(lookups: Lookups, request: RemittanceRequest, corridor: CorridorRecord) -> QuoteRecord:
    assert request.quote_id is not None
    quote = get_quote(lookups.connection, lookups.partner.id, request.quote_id)
    if quote.corridor_code != corridor.code:
        raise ValidationFailed(
            f"quote {quote.id} is for {quote.corridor_code}, not {corridor.code}",
            field="quote_id",
        )
    if quote.is_expired(lookups.now):
        raise QuoteExpired(
            f"quote {quote.id} expired at {quote.expires_at.isoformat()}; ask for a new one",
            quote_id=str(quote.id),
            expired_at=quote.expires_at.isoformat(),
        )
    used = lookups.connection.execute(
        select(remittances.c.id).where(remittances.c.quote_id == quote.id)
    ).first()
    if used is not None:
        raise QuoteAlreadyUsed(
            f"quote {quote.id} was used by remittance {used.id}",
            quote_id=str(quote.id),
            remittance_id=str(used.id),
        )
    return quote


def prepare(lookups: Lookups, request: RemittanceRequest) -> Prepared:
    """Check and price ``request`` (raises the first problem, writes only a wallet or
    a position account opened on first use)."""
    validate_request(request)
    corridor = lookups.corridor(request.corridor_code)
    send_currency, receive_currency = corridor.send_currency, corridor.receive_currency
    for name, money, expected in (
        ("send_amount", request.send, send_currency),
        ("fee", request.fee, send_currency),
        ("receive_amount", request.receive, receive_currency),
    ):
        if money is not None and money[1] != expected:
            raise CurrencyMismatch(
                f"on {corridor.code} the {name.replace('_', ' ')} is in {expected}, not {money[1]}",
                field=name,
            )
    effective_at = request.effective_at or lookups.now
    if request.quote_id is not None:
        quote = _quoted(lookups, request, corridor)
        price = Price(
            send_currency=send_currency,
            receive_currency=receive_currency,
            send_minor=quote.send_minor,
            fee_minor=quote.fee_minor,
            mid_rate=quote.mid_rate,
            applied_rate=quote.applied_rate,
            receive_minor=quote.receive_minor,
            fx_margin_cost=quote.fx_margin_cost,
            total_cost=quote.total_cost,
            total_cost_percent=quote.total_cost_percent,
        )
        rate_date, rate_source = quote.rate_date, quote.rate_source
    else:
        assert request.send and request.fee and request.applied_rate is not None
        source = _rate_source(lookups, corridor.code)
        rate = lookups.rate(send_currency, receive_currency, source, effective_at.date())
        price = price_explicit(
            request.send[0],
            fee_minor=request.fee[0],
            applied_rate=request.applied_rate,
            mid_rate=rate.mid_rate,
            send_currency=send_currency,
            receive_currency=receive_currency,
        )
        rate_date, rate_source = rate.rate_date, rate.source
    if request.receive is not None and request.receive[0] != price.receive_minor:
        expected = from_minor(price.receive_minor, receive_currency)
        given = from_minor(request.receive[0], receive_currency)
        raise ReceiveAmountMismatch(
            f"the receive amount is {expected} {receive_currency} at this rate, not {given}",
            field="receive_amount",
            expected=str(from_minor(price.receive_minor, receive_currency)),
        )
    customer = lookups.customer(request.beneficiary_customer_id)
    account_id = _beneficiary_account(lookups, customer, request, receive_currency)
    liquidity = lookups.liquidity(send_currency)
    legs = remittance_legs(
        settlement_account_id=liquidity.settlement_account_id,
        fee_account_id=liquidity.fee_account_id,
        send_position_account_id=lookups.position(send_currency),
        receive_position_account_id=lookups.position(receive_currency),
        beneficiary_account_id=account_id,
        send_currency=send_currency,
        receive_currency=receive_currency,
        send_minor=price.send_minor,
        fee_minor=price.fee_minor,
        receive_minor=price.receive_minor,
    )
    return Prepared(
        request=request,
        corridor=corridor,
        price=price,
        rate_date=rate_date,
        rate_source=rate_source,
        beneficiary_account_id=account_id,
        liquidity=liquidity,
        legs=legs,
        effective_at=effective_at,
        request_hash=request.fingerprint(),
    )


def _rate_source(lookups: Lookups, code: str) -> str:
    return lookups.rate_source(code)


#: The mid-rate source for remittances a partner priced itself on a corridor it set
#: no price on.
DEFAULT_RATE_SOURCE = "reference"


def _beneficiary_account(
    lookups: Lookups, customer: CustomerRecord, request: RemittanceRequest, currency: str
) -> int:
    if request.beneficiary_account_id is None:
        return lookups.wallet(customer, currency)
    owned = get_owned_account(
        lookups.connection, lookups.partner.id, request.beneficiary_account_id
    )
    if owned.customer_id != customer.id:
        raise ValidationFailed(
            f"account {owned.account.id} is not held for customer {customer.id}",
            field="beneficiary.account_id",
        )
    if owned.account.currency != currency:
        raise CurrencyMismatch(
            f"account {owned.account.id} is in {owned.account.currency}; the remittance pays "
            f"out in {currency}",
            field="beneficiary.account_id",
        )
    return owned.account.id


def _spec(
    prepared: Prepared,
    partner: PrincipalRecord,
    remittance_id: uuid.UUID,
    expires_at: datetime | None,
) -> TransactionSpec:
    request, price = prepared.request, prepared.price
    return TransactionSpec(
        postings=prepared.legs,
        description=f"Remittance {request.partner_reference} ({prepared.corridor.code})",
        effective_at=prepared.effective_at,
        metadata={
            "remittance": {
                "id": str(remittance_id),
                "reference": request.partner_reference,
                "corridor": prepared.corridor.code,
                "mid_rate": format(price.mid_rate, "f"),
                "applied_rate": format(price.applied_rate, "f"),
                "rate_date": prepared.rate_date.isoformat(),
                "rate_source": prepared.rate_source,
            }
        },
        idempotency_key=f"remittance:{request.partner_reference}",
        client_id=remittance_client_id(partner.id),
        expires_at=expires_at,
    )


def _row(
    prepared: Prepared,
    partner: PrincipalRecord,
    *,
    remittance_id: uuid.UUID,
    transaction_id: uuid.UUID,
    status: str,
    source: str,
    import_id: uuid.UUID | None,
    now: datetime,
    expires_at: datetime | None,
) -> RemittanceRecord:
    request, price = prepared.request, prepared.price
    return RemittanceRecord(
        id=remittance_id,
        partner_id=partner.id,
        partner_reference=request.partner_reference,
        corridor_code=prepared.corridor.code,
        quote_id=request.quote_id,
        sender_name=request.sender_name,
        sender_country=request.sender_country,
        beneficiary_customer_id=request.beneficiary_customer_id,
        beneficiary_account_id=prepared.beneficiary_account_id,
        send_currency=price.send_currency,
        receive_currency=price.receive_currency,
        send_minor=price.send_minor,
        fee_minor=price.fee_minor,
        receive_minor=price.receive_minor,
        mid_rate=price.mid_rate,
        applied_rate=price.applied_rate,
        rate_date=prepared.rate_date,
        rate_source=prepared.rate_source,
        total_cost=stored_cost(price.total_cost),
        total_cost_percent=price.total_cost_percent,
        status=status,
        transaction_id=transaction_id,
        source=source,
        import_id=import_id,
        request_hash=prepared.request_hash,
        effective_at=prepared.effective_at,
        created_at=now,
        expires_at=expires_at,
        resolved_at=None if status == "reserved" else now,
        failure_reason=None,
    )


def _values(record: RemittanceRecord) -> dict[str, Any]:
    return {name: getattr(record, name) for name in _COLUMNS}


def _replay_or_conflict(existing: RemittanceRecord, request: RemittanceRequest) -> RemittanceRecord:
    if existing.request_hash == request.fingerprint():
        return replace(existing, replayed=True)
    raise RemittanceExists(
        f"partner_reference {request.partner_reference!r} is remittance {existing.id}, "
        "with other content",
        partner_reference=request.partner_reference,
        remittance_id=str(existing.id),
    )


def _liquidity_refusal(error: InsufficientFunds, prepared: Prepared) -> LedgerError:
    """A balance refusal on the settlement account is the partner's liquidity."""
    settlement = prepared.liquidity.settlement_account_id
    if error.details.get("account_id") != settlement:
        return error
    currency = prepared.price.send_currency
    needed = prepared.price.send_minor + prepared.price.fee_minor
    return InsufficientLiquidity(
        f"{from_minor(needed, currency)} {currency} exceeds this partner's available "
        f"liquidity plus net debit cap in {currency}",
        currency=currency,
        needed=str(from_minor(needed, currency)),
        settlement_account_id=settlement,
    )


# ------------------------------------------------------------------ commands


def reserve_remittance(
    connection: Connection,
    partner: PrincipalRecord,
    request: RemittanceRequest,
    *,
    now: datetime,
    policy: RemittancePolicy,
) -> RemittanceRecord:
    """Price ``request`` and reserve the partner's liquidity for it (one pending
    journal transaction). The same reference again returns the same remittance."""
    lookups = Lookups(connection, partner, now=now, policy=policy)
    validate_request(request)
    existing = lookups.existing(request.partner_reference)
    if existing is not None:
        return _replay_or_conflict(existing, request)
    prepared = prepare(lookups, request)
    expires_at = _reservation_expiry(request, now, policy)
    remittance_id = uuid7()
    try:
        hold = create_pending(
            connection, _spec(prepared, partner, remittance_id, expires_at), clock=FixedClock(now)
        )
    except InsufficientFunds as error:
        raise _liquidity_refusal(error, prepared) from None
    record = _row(
        prepared,
        partner,
        remittance_id=remittance_id,
        transaction_id=hold.id,
        status="reserved",
        source="api",
        import_id=None,
        now=now,
        expires_at=expires_at,
    )
    connection.execute(insert(remittances).values(**_values(record)))
    return record


def _reservation_expiry(
    request: RemittanceRequest, now: datetime, policy: RemittancePolicy
) -> datetime:
    if request.expires_at is None:
        return now + policy.reservation_ttl
    if request.expires_at <= now:
        raise ValidationFailed("expires_at is in the past", field="expires_at")
    if request.expires_at > now + policy.reservation_ttl:
        raise ValidationFailed(
            f"a reservation lasts at most {policy.reservation_ttl}", field="expires_at"
        )
    return request.expires_at


def _locked(
    connection: Connection, partner_id: uuid.UUID, remittance_id: uuid.UUID
) -> RemittanceRecord:
    row = connection.execute(
        select(remittances)
        .where(remittances.c.id == remittance_id, remittances.c.partner_id == partner_id)
        .with_for_update()
    ).first()
    if row is None:
        raise RemittanceNotFound(
            f"remittance {remittance_id} does not exist", remittance_id=str(remittance_id)
        )
    return _record(row)


def _require_reserved(record: RemittanceRecord, now: datetime) -> None:
    if record.status != "reserved":
        raise RemittanceNotReserved(
            f"remittance {record.id} is {record.status}, not reserved",
            remittance_id=str(record.id),
            remittance_status=record.status,
        )
    if record.expires_at is not None and record.expires_at <= now:
        raise RemittanceExpired(
            f"the reservation of remittance {record.id} expired at {record.expires_at.isoformat()}",
            remittance_id=str(record.id),
        )


def _resolve(
    connection: Connection,
    record: RemittanceRecord,
    status: str,
    now: datetime,
    reason: str | None = None,
) -> RemittanceRecord:
    connection.execute(
        update(remittances)
        .where(remittances.c.id == record.id, remittances.c.status == "reserved")
        .values(status=status, resolved_at=now, failure_reason=reason)
    )
    return replace(record, status=status, resolved_at=now, failure_reason=reason)


def complete_remittance(
    connection: Connection, partner_id: uuid.UUID, remittance_id: uuid.UUID, *, now: datetime
) -> RemittanceRecord:
    """Pay out: post the reservation in full."""
    record = _locked(connection, partner_id, remittance_id)
    _require_reserved(record, now)
    post_pending(connection, record.transaction_id, clock=FixedClock(now))
    return _resolve(connection, record, "completed", now)


def fail_remittance(
    connection: Connection,
    partner_id: uuid.UUID,
    remittance_id: uuid.UUID,
    *,
    reason: str,
    now: datetime,
) -> RemittanceRecord:
    """Give up: void the reservation (the partner's liquidity is released)."""
    _text(reason, "reason", REASON_LENGTH_MAX)
    record = _locked(connection, partner_id, remittance_id)
    if record.status != "reserved":
        _require_reserved(record, now)
    _void_if_pending(connection, record, now)
    return _resolve(connection, record, "failed", now, reason)


def _void_if_pending(connection: Connection, record: RemittanceRecord, now: datetime) -> None:
    """Void the reservation, unless the journal's own hold expiry already did."""
    if get_transaction(connection, record.transaction_id).status == "pending":
        void_pending(connection, record.transaction_id, clock=FixedClock(now))


def expire_remittances(
    connection: Connection, *, now: datetime, limit: int = REMITTANCE_EXPIRY_BATCH_SIZE
) -> list[uuid.UUID]:
    """Void up to ``limit`` reservations past ``expires_at`` and mark them expired.
    Returns their ids; call again while it returns a full batch."""
    query = (
        select(remittances)
        .where(remittances.c.status == "reserved", remittances.c.expires_at <= now)
        .order_by(remittances.c.expires_at, remittances.c.id)
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    expired = []
    for row in connection.execute(query).all():
        record = _record(row)
        _void_if_pending(connection, record, now)
        _resolve(connection, record, "expired", now, "reservation expired")
        expired.append(record.id)
    return expired


# ------------------------------------------------------------------ reads


def get_remittance(
    connection: Connection, partner_id: uuid.UUID | None, remittance_id: uuid.UUID
) -> RemittanceRecord:
    """The partner's remittance (any partner's when ``partner_id`` is None)."""
    query = select(remittances).where(remittances.c.id == remittance_id)
    if partner_id is not None:
        query = query.where(remittances.c.partner_id == partner_id)
    row = connection.execute(query).first()
    if row is None:
        raise RemittanceNotFound(
            f"remittance {remittance_id} does not exist", remittance_id=str(remittance_id)
        )
    return _record(row)


def list_remittances(
    connection: Connection,
    partner_id: uuid.UUID,
    *,
    status: str | None = None,
    corridor_code: str | None = None,
    customer_id: uuid.UUID | None = None,
    effective_from: datetime | None = None,
    effective_to: datetime | None = None,
    limit: int,
    starting_after: uuid.UUID | None = None,
) -> tuple[list[RemittanceRecord], bool]:
    """Newest first (ids are time-ordered); ``limit`` rows and whether there are more."""
    assert 1 <= limit <= PAGE_SIZE_MAX
    query = select(remittances).where(remittances.c.partner_id == partner_id)
    for column, value in (
        (remittances.c.status, status),
        (remittances.c.corridor_code, corridor_code),
        (remittances.c.beneficiary_customer_id, customer_id),
    ):
        if value is not None:
            query = query.where(column == value)
    if effective_from is not None:
        query = query.where(remittances.c.effective_at >= effective_from)
    if effective_to is not None:
        query = query.where(remittances.c.effective_at <= effective_to)
    if starting_after is not None:
        query = query.where(remittances.c.id < starting_after)
    rows = connection.execute(query.order_by(remittances.c.id.desc()).limit(limit + 1)).all()
    return [_record(row) for row in rows[:limit]], len(rows) > limit


def completed_inflows(
    connection: Connection, customer_id: uuid.UUID, *, since: datetime, until: datetime
) -> list[tuple[datetime, int, str]]:
    """``(effective_at, receive_minor, receive_currency)`` of the customer's completed
    remittances in ``[since, until]``: the raw series of remittance history."""
    rows = connection.execute(
        select(
            remittances.c.effective_at, remittances.c.receive_minor, remittances.c.receive_currency
        ).where(
            remittances.c.beneficiary_customer_id == customer_id,
            remittances.c.status == "completed",
            remittances.c.effective_at >= since,
            remittances.c.effective_at <= until,
        )
    )
    return [(row.effective_at, row.receive_minor, row.receive_currency) for row in rows]


# ------------------------------------------------------------------ bulk


@dataclass(frozen=True)
class Written:
    records: list[RemittanceRecord]
    rejected: dict[int, LedgerError]  # index in the given list -> why


def record_completed(
    lookups: Lookups,
    prepared: Sequence[Prepared],
    *,
    import_id: uuid.UUID | None,
) -> Written:
    """Post completed remittances in one journal batch and record them (the bulk
    import's path). Items the journal refuses (insufficient liquidity, ...) are
    reported by index and left out; the rest are written."""
    connection, partner, now = lookups.connection, lookups.partner, lookups.now
    pending = list(range(len(prepared)))
    rejected: dict[int, LedgerError] = {}
    ids = {index: uuid7() for index in pending}
    while pending:
        specs = [_spec(prepared[i], partner, ids[i], None) for i in pending]
        try:
            transactions = post_batch(connection, specs, clock=FixedClock(now))
        except BatchRejected as refusal:
            for position, error in refusal.errors.items():
                index = pending[position]
                rejected[index] = (
                    _liquidity_refusal(error, prepared[index])
                    if isinstance(error, InsufficientFunds)
                    else error
                )
            pending = [i for i in pending if i not in rejected]
            continue
        records = [
            _row(
                prepared[index],
                partner,
                remittance_id=ids[index],
                transaction_id=transaction.id,
                status="completed",
                source="import",
                import_id=import_id,
                now=now,
                expires_at=None,
            )
            for index, transaction in zip(pending, transactions, strict=True)
        ]
        connection.execute(insert(remittances), [_values(record) for record in records])
        for record in records:
            lookups.remember(record)
        return Written(records, rejected)
    return Written([], rejected)


def _chunks(items: Sequence[Any], size: int = 1_000) -> Iterable[Sequence[Any]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]
