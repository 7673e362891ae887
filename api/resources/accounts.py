"""Accounts of the calling partner: open, read with balances, statement, close."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from marshmallow import fields, validate
from sqlalchemy import Connection

from api.auth import requires
from api.context import clock, database, principal
from api.errors import ApiProblem
from api.idempotency import idempotent
from api.resources import Blueprint, is_id, parse_cursor_int
from api.schemas import (
    CURRENCY_PATTERN,
    BaseSchema,
    MoneySchema,
    PageArgs,
    SignedMoneySchema,
    Timestamp,
    money,
    money_to_minor,
    page,
    page_of,
)
from ledger.errors import ValidationFailed
from ledger.journal import close_account, posted_balance_as_of, statement
from ledger.journal.models import ACCOUNT_TYPES
from ledger.limits import ACCOUNT_NAME_LENGTH_MAX, PAGE_SIZE_DEFAULT, PAGE_SIZE_MAX
from ledger.parties import (
    PartnerAccountSpec,
    get_customer,
    get_owned_account,
    list_owned_accounts,
    open_partner_account,
)
from ledger.parties.accounts import OwnedAccount

blp = Blueprint("accounts", __name__, url_prefix="/v1", description="Accounts and balances")


class AccountCreateSchema(BaseSchema):
    name = fields.String(required=True, validate=validate.Length(1, ACCOUNT_NAME_LENGTH_MAX))
    type = fields.String(required=True, validate=validate.OneOf(ACCOUNT_TYPES))
    currency = fields.String(required=True, validate=validate.Regexp(CURRENCY_PATTERN))
    code = fields.String(
        validate=validate.Length(1, 100),
        metadata={"description": "readable suffix; the account's code is partner:<slug>:<code>"},
    )
    customer_id = fields.UUID()
    allow_overdraft = fields.Boolean(load_default=False)
    overdraft_limit = fields.Nested(
        MoneySchema,
        metadata={"description": "with allow_overdraft: how far below zero; absent: unbounded"},
    )
    metadata = fields.Dict(keys=fields.String(), load_default=dict)


class BalancesSchema(BaseSchema):
    posted = fields.Nested(SignedMoneySchema, required=True)
    pending = fields.Nested(SignedMoneySchema, required=True)
    available = fields.Nested(SignedMoneySchema, required=True)


class AccountSchema(BaseSchema):
    id = fields.Integer(required=True)
    code = fields.String(required=True)
    name = fields.String(required=True)
    type = fields.String(required=True)
    normal_side = fields.String(required=True)
    currency = fields.String(required=True)
    customer_id = fields.UUID(allow_none=True, required=True)
    allow_overdraft = fields.Boolean(required=True)
    overdraft_limit = fields.Nested(MoneySchema, allow_none=True, required=True)
    metadata = fields.Dict(required=True)
    status = fields.String(required=True, validate=validate.OneOf(("open", "closed")))
    created_at = Timestamp(required=True)
    closed_at = Timestamp(allow_none=True, required=True)
    balances = fields.Nested(BalancesSchema, required=True)


class AccountListArgs(PageArgs):
    customer_id = fields.UUID()
    currency = fields.String(validate=validate.Regexp(CURRENCY_PATTERN))
    status = fields.String(validate=validate.OneOf(("open", "closed")))


class BalanceAsOfArgs(BaseSchema):
    as_of = Timestamp(required=True)


class BalanceAsOfSchema(BaseSchema):
    account_id = fields.Integer(required=True)
    as_of = Timestamp(required=True)
    posted = fields.Nested(SignedMoneySchema, required=True)


class StatementArgs(BaseSchema):
    start = Timestamp(data_key="from")
    end = Timestamp(data_key="to")
    limit = fields.Integer(
        load_default=PAGE_SIZE_DEFAULT, validate=validate.Range(1, PAGE_SIZE_MAX)
    )
    starting_after = fields.String(validate=validate.Length(1, 500))


class StatementLineSchema(BaseSchema):
    transaction_id = fields.UUID(required=True)
    leg = fields.Integer(required=True)
    effective_at = Timestamp(required=True)
    description = fields.String(required=True)
    direction = fields.String(required=True)
    amount = fields.Nested(MoneySchema, required=True)
    running_balance = fields.Nested(SignedMoneySchema, required=True)


class StatementSchema(BaseSchema):
    account_id = fields.Integer(required=True)
    currency = fields.String(required=True)
    start = Timestamp(data_key="from", allow_none=True, required=True)
    end = Timestamp(data_key="to", allow_none=True, required=True)
    opening_balance = fields.Nested(SignedMoneySchema, required=True)
    data = fields.List(fields.Nested(StatementLineSchema), required=True)
    has_more = fields.Boolean(required=True)
    next_cursor = fields.String(allow_none=True, required=True)


def account_view(owned: OwnedAccount) -> dict[str, Any]:
    account, currency = owned.account, owned.account.currency
    return {
        "id": account.id,
        "code": account.code,
        "name": account.name,
        "type": account.type,
        "normal_side": account.normal_side,
        "currency": currency,
        "customer_id": owned.customer_id,
        "allow_overdraft": account.allow_overdraft,
        "overdraft_limit": None
        if account.overdraft_limit_minor is None
        else money(account.overdraft_limit_minor, currency),
        "metadata": account.metadata,
        "status": "closed" if account.is_closed else "open",
        "created_at": account.created_at,
        "closed_at": account.closed_at,
        "balances": {
            "posted": money(account.balances.posted_minor, currency),
            "pending": money(account.balances.pending_minor, currency),
            "available": money(account.balances.available_minor, currency),
        },
    }


def account_id_from_path(value: str) -> int:
    if not is_id(value):
        raise ApiProblem(404, "account_not_found", f"account {value!r} does not exist")
    return int(value)


@blp.route("/accounts", methods=["POST"])
@requires("partner")
@idempotent(required=False)
@blp.arguments(AccountCreateSchema())
@blp.response(201, AccountSchema)
def create(body: dict[str, Any]) -> dict[str, Any]:
    """Open an account (optionally for one of your customers)."""
    partner, now = principal(), clock().now()
    limit = body.pop("overdraft_limit", None)
    limit_minor = None
    if limit is not None:
        limit_minor, limit_currency = money_to_minor(limit)
        if limit_currency != body["currency"]:
            raise ValidationFailed(
                "overdraft_limit must be in the account's currency", field="overdraft_limit"
            )
    spec = PartnerAccountSpec(overdraft_limit_minor=limit_minor, **body)
    owned = database().run(lambda c: open_partner_account(c, partner, spec, now=now))
    return account_view(owned)


@blp.route("/accounts", methods=["GET"])
@requires("partner")
@blp.arguments(AccountListArgs(), location="query")
@blp.response(200, page_of(AccountSchema))
def index(args: dict[str, Any]) -> dict[str, Any]:
    """Your accounts, newest first."""
    partner = principal()
    after = parse_cursor_int(args.pop("starting_after", None))

    def read(connection: Connection) -> tuple[list[OwnedAccount], bool]:
        if args.get("customer_id") is not None:
            # Another partner's customer answers 404, as on every other path.
            get_customer(connection, partner.id, args["customer_id"])
        return list_owned_accounts(connection, partner.id, starting_after=after, **args)

    owned, more = database().run(read)
    return page([account_view(o) for o in owned], more)


@blp.route("/accounts/<account_id>", methods=["GET"])
@requires("partner")
@blp.response(200, AccountSchema)
def show(account_id: str) -> dict[str, Any]:
    """An account with its posted, pending and available balances."""
    partner, aid = principal(), account_id_from_path(account_id)
    return account_view(database().run(lambda c: get_owned_account(c, partner.id, aid)))


@blp.route("/accounts/<account_id>/balance", methods=["GET"])
@requires("partner")
@blp.arguments(BalanceAsOfArgs(), location="query")
@blp.response(200, BalanceAsOfSchema)
def balance_as_of(args: dict[str, Any], account_id: str) -> dict[str, Any]:
    """The posted balance as of a time (by business time, effective_at)."""
    partner, aid = principal(), account_id_from_path(account_id)
    as_of: datetime = args["as_of"]

    def read(connection: Any) -> tuple[str, int]:
        owned = get_owned_account(connection, partner.id, aid)
        return owned.account.currency, posted_balance_as_of(connection, aid, as_of)

    currency, amount = database().run(read)
    return {"account_id": aid, "as_of": as_of, "posted": money(amount, currency)}


@blp.route("/accounts/<account_id>/statement", methods=["GET"])
@requires("partner")
@blp.arguments(StatementArgs(), location="query")
@blp.response(200, StatementSchema)
def account_statement(args: dict[str, Any], account_id: str) -> dict[str, Any]:
    """Posted lines oldest first, each with the running balance after it."""
    partner, aid = principal(), account_id_from_path(account_id)

    def read(connection: Any) -> Any:
        get_owned_account(connection, partner.id, aid)
        return statement(
            connection,
            aid,
            start=args.get("start"),
            end=args.get("end"),
            limit=args["limit"],
            cursor=args.get("starting_after"),
        )

    try:
        result = database().run(read)
    except ValidationFailed as error:
        if error.details.get("field") != "cursor":
            raise
        raise ApiProblem(422, "invalid_cursor", "starting_after is not a valid cursor") from None
    currency = result.currency
    return {
        "account_id": aid,
        "currency": currency,
        "start": result.start,
        "end": result.end,
        "opening_balance": money(result.opening_balance_minor, currency),
        "data": [
            {
                "transaction_id": line.transaction_id,
                "leg": line.leg,
                "effective_at": line.effective_at,
                "description": line.description,
                "direction": line.direction,
                "amount": money(line.amount_minor, currency),
                "running_balance": money(line.running_balance_minor, currency),
            }
            for line in result.lines
        ],
        "has_more": result.has_more,
        "next_cursor": result.next_cursor,
    }


@blp.route("/accounts/<account_id>/close", methods=["POST"])
@requires("partner")
@idempotent(required=False)
@blp.response(200, AccountSchema)
def close(account_id: str) -> dict[str, Any]:
    """Close an account whose balances are zero (409 account_not_empty otherwise)."""
    partner, aid, now = principal(), account_id_from_path(account_id), clock().now()

    def work(connection: Any) -> OwnedAccount:
        owned = get_owned_account(connection, partner.id, aid)
        return OwnedAccount(close_account(connection, aid, now=now), owned.customer_id)

    return account_view(database().run(work))
