"""Reports: the cost of sending per corridor and partner (SDG 10.c)."""

from __future__ import annotations

from typing import Any

from marshmallow import fields

from api.auth import requires
from api.context import database, policy, principal
from api.resources import Blueprint
from api.schemas import BaseSchema, Day, MoneySchema, decimal_text, money
from ledger.remittance.reports import (
    SDG_CORRIDOR_MAX_PERCENT,
    SDG_TARGET_PERCENT,
    CorridorCost,
    PartnerCost,
    corridor_costs,
)

blp = Blueprint("reports", __name__, url_prefix="/v1", description="Reports")


class CostArgs(BaseSchema):
    start = Day(required=True, data_key="from")
    end = Day(required=True, data_key="to")


class Usd200Schema(BaseSchema):
    send_amount = fields.Nested(MoneySchema, required=True)
    fee = fields.Nested(MoneySchema, required=True)
    receive_amount = fields.Nested(MoneySchema, required=True)
    total_cost_percent = fields.String(required=True)
    usd_rate = fields.String(required=True, metadata={"description": "1 USD in the send currency"})
    mid_rate = fields.String(required=True)
    rate_date = fields.Date(required=True)


class PartnerCostSchema(BaseSchema):
    corridor = fields.String(required=True)
    partner_id = fields.UUID(required=True)
    count = fields.Integer(required=True)
    volume = fields.Nested(MoneySchema, required=True)
    fees = fields.Nested(MoneySchema, required=True)
    average_cost_percent = fields.String(
        allow_none=True,
        required=True,
        metadata={"description": "simple average over the period's completed remittances"},
    )
    weighted_cost_percent = fields.String(
        allow_none=True, required=True, metadata={"description": "total cost over volume"}
    )
    usd200 = fields.Nested(
        Usd200Schema,
        allow_none=True,
        required=True,
        metadata={"description": "the cost of sending the equivalent of USD 200"},
    )
    unavailable = fields.String(allow_none=True, required=True)
    above_5_percent = fields.Boolean(allow_none=True, required=True)
    within_3_percent = fields.Boolean(allow_none=True, required=True)


class CorridorCostSchema(BaseSchema):
    corridor = fields.String(required=True)
    count = fields.Integer(required=True)
    volume = fields.Nested(MoneySchema, required=True)
    partners = fields.Integer(required=True)
    average_cost_percent = fields.String(allow_none=True, required=True)
    usd200_average_percent = fields.String(
        allow_none=True,
        required=True,
        metadata={"description": "the USD 200 cost, averaged over the corridor's partners"},
    )
    above_5_percent = fields.Boolean(allow_none=True, required=True)
    within_3_percent = fields.Boolean(allow_none=True, required=True)


class CostReportSchema(BaseSchema):
    start = fields.Date(required=True, data_key="from")
    end = fields.Date(required=True, data_key="to")
    sdg_target_percent = fields.String(required=True)
    sdg_corridor_max_percent = fields.String(required=True)
    corridors = fields.List(fields.Nested(CorridorCostSchema), required=True)
    partners = fields.List(fields.Nested(PartnerCostSchema), required=True)


def partner_view(line: PartnerCost) -> dict[str, Any]:
    currency = line.send_currency
    usd200 = line.usd200
    return {
        "corridor": line.corridor_code,
        "partner_id": line.partner_id,
        "count": line.count,
        "volume": money(line.volume_minor, currency),
        "fees": money(line.fees_minor, currency),
        "average_cost_percent": decimal_text(line.average_cost_percent),
        "weighted_cost_percent": decimal_text(line.weighted_cost_percent),
        "usd200": None
        if usd200 is None
        else {
            "send_amount": money(usd200.send_minor, currency),
            "fee": money(usd200.fee_minor, currency),
            "receive_amount": money(usd200.receive_minor, line.corridor_code[-3:]),
            "total_cost_percent": decimal_text(usd200.total_cost_percent),
            "usd_rate": decimal_text(usd200.usd_rate),
            "mid_rate": decimal_text(usd200.mid_rate),
            "rate_date": usd200.rate_date,
        },
        "unavailable": line.unavailable,
        "above_5_percent": line.above_5_percent,
        "within_3_percent": line.within_3_percent,
    }


def corridor_view(line: CorridorCost) -> dict[str, Any]:
    return {
        "corridor": line.corridor_code,
        "count": line.count,
        "volume": money(line.volume_minor, line.send_currency),
        "partners": line.partners,
        "average_cost_percent": decimal_text(line.average_cost_percent),
        "usd200_average_percent": decimal_text(line.usd200_average_percent),
        "above_5_percent": line.above_5_percent,
        "within_3_percent": line.within_3_percent,
    }


@blp.route("/reports/corridor-costs", methods=["GET"])
@requires("admin", "fund_manager", "partner")
@blp.arguments(CostArgs(), location="query")
@blp.response(200, CostReportSchema)
def corridor_cost_report(args: dict[str, Any]) -> dict[str, Any]:
    """Per corridor and partner: completed remittances of the period (count, volume,
    average total cost) and the cost of sending the equivalent of USD 200 with the
    price in force at the end; corridors above 5% flagged, those at or below 3%
    marked (SDG 10.c). A partner sees its own lines only."""
    caller = principal()
    scope = caller.id if caller.role == "partner" else None
    report = database().run(
        lambda c: corridor_costs(
            c,
            start=args["start"],
            end=args["end"],
            partner_id=scope,
            max_age_days=policy().rate_max_age_days,
        )
    )
    return {
        "start": report.start,
        "end": report.end,
        "sdg_target_percent": decimal_text(SDG_TARGET_PERCENT),
        "sdg_corridor_max_percent": decimal_text(SDG_CORRIDOR_MAX_PERCENT),
        "corridors": [corridor_view(line) for line in report.corridors],
        "partners": [partner_view(line) for line in report.partners],
    }
