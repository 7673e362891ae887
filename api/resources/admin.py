"""Admin: principals (partners, fund managers, admins) and their API keys."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from marshmallow import fields, validate

from api.auth import requires
from api.context import clock, database, principal
from api.idempotency import idempotent
from api.resources import Blueprint, parse_cursor_uuid, parse_uuid
from api.schemas import (
    BaseSchema,
    Day,
    DecimalString,
    MoneySchema,
    PageArgs,
    Timestamp,
    money,
    page,
    page_of,
)
from ledger.access import (
    ROLES,
    KeyRecord,
    PrincipalRecord,
    create_principal,
    get_principal,
    issue_key,
    list_keys,
    list_principals,
    revoke_key,
)
from ledger.jobs.daily import JOB_NAMES
from ledger.jobs.runs import list_runs
from ledger.limits import KEY_LABEL_LENGTH_MAX, PRINCIPAL_NAME_LENGTH_MAX, SLUG_LENGTH_MAX
from ledger.remittance.platform_fees import (
    AgreementRecord,
    list_agreements,
    list_platform_fee_charges,
    set_platform_fee,
)

blp = Blueprint("admin", __name__, url_prefix="/v1", description="Principals and API keys")


class PrincipalCreateSchema(BaseSchema):
    slug = fields.String(
        required=True, validate=validate.Length(1, SLUG_LENGTH_MAX), metadata={"example": "kazpost"}
    )
    name = fields.String(required=True, validate=validate.Length(1, PRINCIPAL_NAME_LENGTH_MAX))
    role = fields.String(required=True, validate=validate.OneOf(ROLES))


class PrincipalSchema(BaseSchema):
    id = fields.UUID(required=True)
    slug = fields.String(required=True)
    name = fields.String(required=True)
    role = fields.String(required=True)
    created_at = Timestamp(required=True)


class PrincipalListArgs(PageArgs):
    role = fields.String(validate=validate.OneOf(ROLES))


class KeyCreateSchema(BaseSchema):
    label = fields.String(load_default="", validate=validate.Length(0, KEY_LABEL_LENGTH_MAX))


class KeySchema(BaseSchema):
    id = fields.UUID(required=True)
    principal_id = fields.UUID(required=True)
    label = fields.String(required=True)
    created_at = Timestamp(required=True)
    revoked_at = Timestamp(allow_none=True, required=True)


class IssuedKeySchema(KeySchema):
    key = fields.String(
        required=True, metadata={"description": "the key itself: shown this once, never again"}
    )


class KeyListSchema(BaseSchema):
    data = fields.List(fields.Nested(KeySchema), required=True)


def principal_view(record: PrincipalRecord) -> dict[str, Any]:
    return {
        "id": record.id,
        "slug": record.slug,
        "name": record.name,
        "role": record.role,
        "created_at": record.created_at,
    }


def key_view(record: KeyRecord) -> dict[str, Any]:
    return {
        "id": record.id,
        "principal_id": record.principal_id,
        "label": record.label,
        "created_at": record.created_at,
        "revoked_at": record.revoked_at,
    }


@blp.route("/me", methods=["GET"])
@blp.response(200, PrincipalSchema)
def me() -> dict[str, Any]:
    """The principal holding the key used (any role)."""
    return principal_view(principal())


@blp.route("/principals", methods=["POST"])
@requires("admin")
@idempotent(required=False)
@blp.arguments(PrincipalCreateSchema())
@blp.response(201, PrincipalSchema)
def create(body: dict[str, Any]) -> dict[str, Any]:
    """Create a partner, a fund manager or another admin."""
    now = clock().now()
    record = database().run(lambda c: create_principal(c, now=now, **body))
    return principal_view(record)


@blp.route("/principals", methods=["GET"])
@requires("admin")
@blp.arguments(PrincipalListArgs(), location="query")
@blp.response(200, page_of(PrincipalSchema))
def index(args: dict[str, Any]) -> dict[str, Any]:
    """Principals, newest first."""
    after = parse_cursor_uuid(args.get("starting_after"))
    records, more = database().run(
        lambda c: list_principals(
            c, role=args.get("role"), limit=args["limit"], starting_after=after
        )
    )
    return page([principal_view(r) for r in records], more)


@blp.route("/principals/<principal_id>", methods=["GET"])
@requires("admin")
@blp.response(200, PrincipalSchema)
def show(principal_id: str) -> dict[str, Any]:
    pid = parse_uuid(principal_id, "principal", "principal_not_found")
    return principal_view(database().run(lambda c: get_principal(c, pid)))


@blp.route("/principals/<principal_id>/keys", methods=["POST"])
@requires("admin")
@blp.arguments(KeyCreateSchema(), required=False)  # no body: an unlabelled key
@blp.response(201, IssuedKeySchema)
def create_key(body: dict[str, Any], principal_id: str) -> dict[str, Any]:
    """Issue an API key. The response is the only time the key is shown.

    Not replayed by Idempotency-Key: a stored response would be a stored secret.
    A retry issues another key; revoke the one you did not receive.
    """
    pid = parse_uuid(principal_id, "principal", "principal_not_found")
    now = clock().now()
    issued = database().run(lambda c: issue_key(c, pid, label=body["label"], now=now))
    return {**key_view(issued.record), "key": issued.secret}


@blp.route("/principals/<principal_id>/keys", methods=["GET"])
@requires("admin")
@blp.response(200, KeyListSchema)
def keys(principal_id: str) -> dict[str, Any]:
    """A principal's keys (never the secrets)."""
    pid = parse_uuid(principal_id, "principal", "principal_not_found")
    return {"data": [key_view(k) for k in database().run(lambda c: list_keys(c, pid))]}


@blp.route("/api-keys/<key_id>/revoke", methods=["POST"])
@requires("admin")
@idempotent(required=False)
@blp.response(200, KeySchema)
def revoke(key_id: str) -> dict[str, Any]:
    """Revoke a key at once, for every worker. Revoking twice is harmless."""
    kid = parse_uuid(key_id, "API key", "api_key_not_found")
    now = clock().now()
    return key_view(database().run(lambda c: revoke_key(c, kid, now=now)))


# ------------------------------------------------------------------ platform fees


class PlatformFeeCreateSchema(BaseSchema):
    percent = DecimalString(required=True, metadata={"example": "0.25"})
    starts_on = Day(required=True)


class PlatformFeeAgreementSchema(BaseSchema):
    id = fields.UUID(required=True)
    percent = fields.String(required=True)
    starts_on = fields.Date(required=True)
    created_at = Timestamp(required=True)


class PlatformFeeChargeSchema(BaseSchema):
    month = fields.Date(required=True)
    volume = fields.Nested(MoneySchema, required=True)
    percent = fields.String(required=True)
    fee = fields.Nested(MoneySchema, required=True)
    transaction_id = fields.UUID(allow_none=True, required=True)


class PlatformFeesSchema(BaseSchema):
    agreements = fields.List(fields.Nested(PlatformFeeAgreementSchema), required=True)
    charges = fields.List(fields.Nested(PlatformFeeChargeSchema), required=True)


def _agreement_view(record: AgreementRecord) -> dict[str, Any]:
    return {
        "id": record.id,
        "percent": format(record.percent, "f"),
        "starts_on": record.starts_on,
        "created_at": record.created_at,
    }


@blp.route("/principals/<principal_id>/platform-fees", methods=["POST"])
@requires("admin")
@idempotent(required=False)
@blp.arguments(PlatformFeeCreateSchema())
@blp.response(201, PlatformFeeAgreementSchema)
def agree_platform_fee(body: dict[str, Any], principal_id: str) -> dict[str, Any]:
    """A partner's platform fee: a percentage of its completed remittances' send
    amounts, charged by the scheduler on each month's last date, from ``starts_on``."""
    pid = parse_uuid(principal_id, "principal", "principal_not_found")
    now = clock().now()

    def work(c: Any) -> AgreementRecord:
        return set_platform_fee(
            c,
            get_principal(c, pid),
            percent=Decimal(body["percent"]),
            starts_on=body["starts_on"],
            now=now,
        )

    return _agreement_view(database().run(work))


@blp.route("/principals/<principal_id>/platform-fees", methods=["GET"])
@requires("admin")
@blp.response(200, PlatformFeesSchema)
def platform_fees(principal_id: str) -> dict[str, Any]:
    """A partner's fee agreements and the monthly charges made under them."""
    pid = parse_uuid(principal_id, "principal", "principal_not_found")

    def read(c: Any) -> dict[str, Any]:
        partner = get_principal(c, pid)
        return {
            "agreements": [_agreement_view(a) for a in list_agreements(c, partner.id)],
            "charges": [
                {
                    "month": row.month,
                    "volume": money(row.volume_minor, row.currency),
                    "percent": format(row.percent, "f"),
                    "fee": money(row.fee_minor, row.currency),
                    "transaction_id": row.transaction_id,
                }
                for row in list_platform_fee_charges(c, partner.id)
            ],
        }

    return database().run(read)


# ------------------------------------------------------------------ scheduled jobs


class JobRunArgs(BaseSchema):
    since = Day(metadata={"description": "from this business date"})
    job = fields.String(validate=validate.OneOf(JOB_NAMES))


class JobRunSchema(BaseSchema):
    job = fields.String(required=True)
    business_date = fields.Date(required=True)
    status = fields.String(required=True)
    attempts = fields.Integer(required=True)
    started_at = Timestamp(required=True)
    finished_at = Timestamp(required=True)
    result = fields.Dict(allow_none=True, required=True)
    error = fields.String(allow_none=True, required=True)


class JobRunListSchema(BaseSchema):
    data = fields.List(fields.Nested(JobRunSchema), required=True)


@blp.route("/job-runs", methods=["GET"])
@requires("admin")
@blp.arguments(JobRunArgs(), location="query")
@blp.response(200, JobRunListSchema)
def job_runs(args: dict[str, Any]) -> dict[str, Any]:
    """The scheduler's run records (the last 1,000 matching), oldest first."""
    rows = database().run(lambda c: list_runs(c, since=args.get("since"), job=args.get("job")))
    return {
        "data": [
            {name: getattr(row, name) for name in JobRunSchema().fields} for row in rows[-1000:]
        ]
    }
