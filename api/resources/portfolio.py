"""Portfolio figures, their daily history and the loan tape, for fund managers (their
schemes), admins (every scheme) and partners (their own customers' loans only).

Figures are ``ledger.portfolio.figures``' (definitions there and in the README);
amounts are money objects, ratios decimal strings (``"0.0123"`` is 1.23%) or null. A
scheme's figures for a date the snapshot job stored are answered from the snapshot
(``"source": "snapshot"``); anything else is computed (``"live"``).
"""

from __future__ import annotations

import csv
import io
import uuid
from datetime import date, timedelta
from typing import Any

from flask import Response
from marshmallow import fields, validate

from api.auth import requires
from api.context import clock, database, principal, settings
from api.resources import Blueprint
from api.schemas import BaseSchema, Day, MoneySchema, money
from ledger.access.principals import PrincipalRecord
from ledger.credit.schemes import SchemeNotFound, SchemeRecord, get_scheme, list_schemes
from ledger.errors import ValidationFailed
from ledger.money import from_minor
from ledger.portfolio.service import (
    get_snapshot,
    latest_snapshot_date,
    portfolio,
    snapshot_history,
)
from ledger.portfolio.tape import TapeRow, loan_tape

blp = Blueprint(
    "portfolio", __name__, url_prefix="/v1", description="Portfolio figures and loan tape"
)

#: The longest history one request returns.
HISTORY_DAYS_MAX = 1_000

Ratio = fields.String(allow_none=True, metadata={"example": "0.0412"})


class PortfolioArgs(BaseSchema):
    scheme = fields.UUID(metadata={"description": "one scheme; default: all you see"})
    currency = fields.String(
        validate=validate.Regexp(r"^[A-Z]{3}$"),
        metadata={"description": "the schemes lending in this currency"},
    )
    as_of = Day(
        metadata={
            "description": "business date; default: one scheme's latest snapshot (the "
            "last closed business day), else today"
        }
    )
    from_ = Day(data_key="from", metadata={"description": "period start; default as_of's month"})


class PortfolioPeriodSchema(BaseSchema):
    from_ = fields.String(attribute="from", data_key="from", required=True)
    to = fields.String(required=True)


class PortfolioAtRiskSchema(BaseSchema):
    amount = fields.Nested(MoneySchema, required=True)
    ratio = fields.String(allow_none=True, required=True)


class DelinquencyBucketSchema(BaseSchema):
    bucket = fields.String(required=True)
    loans = fields.Integer(required=True)
    outstanding = fields.Nested(MoneySchema, required=True)
    ratio = fields.String(allow_none=True, required=True)


class PortfolioInvestorSchema(BaseSchema):
    name = fields.String(required=True)
    amount = fields.Nested(MoneySchema, required=True)
    share = fields.String(allow_none=True, required=True)


class BorrowerInflowsSchema(BaseSchema):
    borrowers = fields.Integer(required=True)
    total = fields.Nested(MoneySchema, required=True)
    average_monthly_per_borrower = fields.Nested(MoneySchema, required=True)


class PortfolioBreakdownSchema(BaseSchema):
    key = fields.String(required=True)
    loans = fields.Integer(required=True)
    gross_loan_portfolio = fields.Nested(MoneySchema, required=True)
    par30_ratio = fields.String(allow_none=True, required=True)


class PortfolioBreakdownsSchema(BaseSchema):
    country = fields.List(fields.Nested(PortfolioBreakdownSchema), required=True)
    partner = fields.List(fields.Nested(PortfolioBreakdownSchema), required=True)
    product = fields.List(fields.Nested(PortfolioBreakdownSchema), required=True)
    corridor = fields.List(fields.Nested(PortfolioBreakdownSchema), required=True)


class PortfolioSchema(BaseSchema):
    source = fields.String(required=True, metadata={"description": "snapshot or live"})
    schemes = fields.List(fields.String(), required=True)
    as_of = fields.String(required=True)
    period = fields.Nested(PortfolioPeriodSchema, required=True)
    currency = fields.String(required=True)
    loans = fields.Integer(required=True)
    active_loans = fields.Integer(required=True)
    gross_loan_portfolio = fields.Nested(MoneySchema, required=True)
    disbursed_in_period = fields.Nested(MoneySchema, required=True)
    repaid_in_period = fields.Nested(MoneySchema, required=True)
    par30 = fields.Nested(PortfolioAtRiskSchema, required=True)
    par90 = fields.Nested(PortfolioAtRiskSchema, required=True)
    delinquency = fields.List(fields.Nested(DelinquencyBucketSchema), required=True)
    disbursed_total = fields.Nested(MoneySchema, required=True)
    written_off_total = fields.Nested(MoneySchema, required=True)
    write_off_ratio = fields.String(allow_none=True, required=True)
    income_in_period = fields.Nested(MoneySchema, required=True)
    average_portfolio = fields.Nested(MoneySchema, required=True)
    portfolio_yield = fields.String(allow_none=True, required=True)
    capital = fields.Nested(MoneySchema, required=True)
    fund_utilization = fields.String(allow_none=True, required=True)
    investors = fields.List(fields.Nested(PortfolioInvestorSchema), required=True)
    borrower_inflows = fields.Nested(BorrowerInflowsSchema, required=True)
    breakdowns = fields.Nested(PortfolioBreakdownsSchema, required=True)


class PortfolioHistoryArgs(BaseSchema):
    scheme = fields.UUID(required=True)
    from_ = Day(data_key="from", metadata={"description": "default: 90 days before to"})
    to = Day(metadata={"description": "default: today"})


class PortfolioHistoryPointSchema(BaseSchema):
    date = fields.Date(required=True)
    active_loans = fields.Integer(required=True)
    gross_loan_portfolio = fields.Nested(MoneySchema, required=True)
    par30_ratio = fields.String(allow_none=True, required=True)
    par90_ratio = fields.String(allow_none=True, required=True)
    portfolio_yield = fields.String(allow_none=True, required=True)
    write_off_ratio = fields.String(allow_none=True, required=True)


class PortfolioHistorySchema(BaseSchema):
    scheme = fields.String(required=True)
    data = fields.List(fields.Nested(PortfolioHistoryPointSchema), required=True)


class LoanTapeArgs(BaseSchema):
    scheme = fields.UUID()
    currency = fields.String(validate=validate.Regexp(r"^[A-Z]{3}$"))
    as_of = Day()


def with_money(value: Any, currency: str) -> Any:
    """The domain's ``*_minor`` integers as money objects, everywhere in ``value``."""
    if isinstance(value, dict):
        converted = {}
        for key, item in value.items():
            if key.endswith("_minor") and isinstance(item, int):
                converted[key[: -len("_minor")]] = money(item, currency)
            else:
                converted[key] = with_money(item, currency)
        return converted
    if isinstance(value, list):
        return [with_money(item, currency) for item in value]
    return value


def _visible_schemes(
    connection: Any, caller: PrincipalRecord, scheme_id: uuid.UUID | None, currency: str | None
) -> list[SchemeRecord]:
    """The schemes the caller reports on: one asked for (if theirs to see), or all."""
    if scheme_id is not None:
        scheme = get_scheme(connection, scheme_id)
        if caller.role == "fund_manager" and scheme.manager_id != caller.id:
            raise SchemeNotFound(f"scheme {scheme_id} does not exist", scheme_id=str(scheme_id))
        chosen = [scheme]
    else:
        chosen = [
            s
            for s in list_schemes(connection)
            if caller.role != "fund_manager" or s.manager_id == caller.id
        ]
    if currency is not None:
        chosen = [s for s in chosen if s.currency == currency]
    if not chosen:
        raise ValidationFailed("no scheme to report on", field="scheme")
    return chosen


@blp.route("/portfolio", methods=["GET"])
@requires("admin", "fund_manager", "partner")
@blp.arguments(PortfolioArgs(), location="query")
@blp.response(200, PortfolioSchema)
def show(args: dict[str, Any]) -> dict[str, Any]:
    """The portfolio as of a date: GLP, PAR30/90, buckets, yield, utilisation, investors,
    borrowers' remittance inflows, breakdowns. A partner sees its own customers' loans."""
    caller = principal()
    edges = settings().delinquency_buckets

    def read(c: Any) -> dict[str, Any]:
        chosen = _visible_schemes(c, caller, args.get("scheme"), args.get("currency"))
        partner_id = caller.id if caller.role == "partner" else None
        whole_scheme = len(chosen) == 1 and partner_id is None
        as_of: date = args.get("as_of") or (
            (whole_scheme and latest_snapshot_date(c, chosen[0].id)) or clock().now().date()
        )
        if whole_scheme and "from_" not in args:
            stored = get_snapshot(c, chosen[0].id, as_of)
            if stored is not None:
                return {**stored, "source": "snapshot"}
        figures = portfolio(
            c,
            as_of,
            schemes=chosen,
            partner_id=partner_id,
            period_start=args.get("from_"),
            edges=edges,
        )
        return {**figures, "source": "live"}

    figures = database().run(read)
    return with_money(figures, figures["currency"])


@blp.route("/portfolio/history", methods=["GET"])
@requires("admin", "fund_manager")
@blp.arguments(PortfolioHistoryArgs(), location="query")
@blp.response(200, PortfolioHistorySchema)
def history(args: dict[str, Any]) -> dict[str, Any]:
    """A scheme's daily snapshots (for charts): GLP, active loans, PAR, yield."""
    caller = principal()
    until: date = args.get("to") or clock().now().date()
    since: date = args.get("from_") or until - timedelta(days=90)
    if since > until or (until - since).days > HISTORY_DAYS_MAX:
        raise ValidationFailed(
            f"from is on or before to, at most {HISTORY_DAYS_MAX} days apart", field="from"
        )

    def read(c: Any) -> dict[str, Any]:
        (scheme,) = _visible_schemes(c, caller, args["scheme"], None)
        points = [
            {
                "date": day,
                "active_loans": figures["active_loans"],
                "gross_loan_portfolio": money(
                    figures["gross_loan_portfolio_minor"], scheme.currency
                ),
                "par30_ratio": figures["par30"]["ratio"],
                "par90_ratio": figures["par90"]["ratio"],
                "portfolio_yield": figures["portfolio_yield"],
                "write_off_ratio": figures["write_off_ratio"],
            }
            for day, figures in snapshot_history(c, scheme.id, since, until)
        ]
        return {"scheme": scheme.slug, "data": points}

    return database().run(read)


def _amount(row: TapeRow, name: str) -> str:
    return str(from_minor(getattr(row, name), row.currency))


def tape_csv(rows: list[TapeRow]) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    columns = TapeRow.columns()
    writer.writerow([c.removesuffix("_minor") for c in columns])
    for row in rows:
        writer.writerow(
            [_amount(row, c) if c.endswith("_minor") else getattr(row, c) or "" for c in columns]
        )
    return buffer.getvalue()


@blp.route("/portfolio/loan-tape", methods=["GET"])
@requires("admin", "fund_manager", "partner")
@blp.arguments(LoanTapeArgs(), location="query")
@blp.response(200, {"type": "string"}, content_type="text/csv")
def tape(args: dict[str, Any]) -> Response:
    """One CSV row per loan with its figures as of a date (amounts in major units)."""
    caller = principal()
    as_of: date = args.get("as_of") or clock().now().date()

    def read(c: Any) -> list[TapeRow]:
        chosen = _visible_schemes(c, caller, args.get("scheme"), args.get("currency"))
        return loan_tape(
            c,
            as_of,
            scheme_ids=[s.id for s in chosen],
            partner_id=caller.id if caller.role == "partner" else None,
            edges=settings().delinquency_buckets,
        )

    body = tape_csv(database().run(read))
    return Response(
        body,
        mimetype="text/csv",
        headers={"Content-Disposition": f'attachment; filename="loan-tape-{as_of}.csv"'},
    )
