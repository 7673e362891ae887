"""Checking and pricing a remittance before anything is written: the lookups it needs
(read once per unit of work, or prefetched for a whole import chunk) and
:func:`prepare`, the one place a request becomes postings."""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import Connection, select

from ledger.access.principals import PrincipalRecord
from ledger.errors import (
    AccountCodeTaken,
    AccountNotFound,
    CurrencyMismatch,
    InvalidAmount,
    LedgerError,
    QuoteAlreadyUsed,
    QuoteExpired,
    ReceiveAmountMismatch,
    ValidationFailed,
)
from ledger.journal import (
    PostingSpec,
    ensure_position_account,
    get_account_by_code,
)
from ledger.journal.models import Account
from ledger.journal.validation import require_text
from ledger.limits import (
    FULL_NAME_LENGTH_MAX,
    PARTNER_REFERENCE_LENGTH_MAX,
)
from ledger.money import from_minor
from ledger.parties.accounts import PartnerAccountSpec, get_owned_account, open_partner_account
from ledger.parties.countries import COUNTRY_CODES
from ledger.parties.customers import (
    CustomerNotFound,
    CustomerRecord,
    customer_record,
    customers,
    get_customer,
)
from ledger.remittance.corridors import (
    CorridorRecord,
    PricingRecord,
    get_corridor,
    in_force,
    price_versions,
)
from ledger.remittance.liquidity import LiquidityAccounts, liquidity_accounts
from ledger.remittance.models import Remittance
from ledger.remittance.policy import RemittancePolicy
from ledger.remittance.pricing import Price, price_explicit
from ledger.remittance.quotes import QuoteRecord, get_quote
from ledger.remittance.rates import RateRecord, find_rate
from ledger.remittance.records import (
    RemittanceRecord,
    RemittanceRequest,
    record_of,
    remittance_legs,
    wallet_code,
    wallet_suffix,
)

remittances = Remittance.__table__
accounts = Account.__table__

REFERENCE_PATTERN = re.compile(r"^[\x21-\x7e]+$")

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
        self._price_versions: dict[str, list[PricingRecord]] = {}
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
                self._existing[row.partner_reference] = record_of(row)
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
            record = customer_record(row)
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
        try:
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
        except AccountCodeTaken:
            # A concurrent remittance to the same beneficiary opened it and committed
            # after our first look: it is the wallet.
            code = wallet_code(self.partner.slug, customer.id, currency)
            return get_account_by_code(self.connection, code).id
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

    def rate_source(self, code: str, at: datetime) -> str:
        """The mid-rate source of the partner's price on the corridor in force at ``at``
        (a remittance's own time); before its first price, that price's source; the
        default if it never set one."""
        if code not in self._price_versions:
            self._price_versions[code] = price_versions(self.connection, self.partner.id, code)
        versions = self._price_versions[code]
        found = in_force(versions, at) or (versions[0] if versions else None)
        return DEFAULT_RATE_SOURCE if found is None else found.rate_source

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
    require_text(request.sender_name, "sender.name", FULL_NAME_LENGTH_MAX)
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


def prepare(
    lookups: Lookups, request: RemittanceRequest, *, fingerprint: str | None = None
) -> Prepared:
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
        price = quote.price
        rate_date, rate_source = quote.rate_date, quote.rate_source
    else:
        assert request.send and request.fee and request.applied_rate is not None
        source = lookups.rate_source(corridor.code, effective_at)
        rate = lookups.rate(
            send_currency, receive_currency, source, effective_at.astimezone(UTC).date()
        )
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
        request_hash=fingerprint or request.fingerprint(),
    )


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


def _chunks(items: Sequence[Any], size: int = 1_000) -> Iterable[Sequence[Any]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]
