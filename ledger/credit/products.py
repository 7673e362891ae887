"""Loan products of a scheme: named, fixed terms (a change is a new product)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Connection, insert, select

from ledger.credit.models import LoanProduct
from ledger.credit.schemes import SchemeRecord
from ledger.credit.terms import ProductTerms, terms_from_json, terms_to_json
from ledger.errors import CurrencyMismatch, NotFound, ValidationFailed
from ledger.ids import uuid7
from ledger.journal.validation import refuse_nul
from ledger.limits import FULL_NAME_LENGTH_MAX

products = LoanProduct.__table__


class ProductNotFound(NotFound):
    code = "product_not_found"


@dataclass(frozen=True)
class ProductRecord:
    id: uuid.UUID
    scheme_id: uuid.UUID
    name: str
    terms: ProductTerms
    created_at: datetime


def create_product(
    connection: Connection, scheme: SchemeRecord, *, name: str, terms: ProductTerms, now: datetime
) -> ProductRecord:
    if not isinstance(name, str) or not name.strip() or len(name) > FULL_NAME_LENGTH_MAX:
        raise ValidationFailed(f"name is 1 to {FULL_NAME_LENGTH_MAX} characters", field="name")
    refuse_nul(name, "name")
    if terms.currency != scheme.currency:
        raise CurrencyMismatch(
            f"the scheme lends in {scheme.currency}, not {terms.currency}", field="currency"
        )
    terms.validate()
    record = ProductRecord(uuid7(), scheme.id, name, terms, now)
    connection.execute(
        insert(products).values(
            id=record.id, scheme_id=scheme.id, name=name, terms=terms_to_json(terms), created_at=now
        )
    )
    return record


def _record(row: object) -> ProductRecord:
    return ProductRecord(
        row.id,  # type: ignore[attr-defined]
        row.scheme_id,  # type: ignore[attr-defined]
        row.name,  # type: ignore[attr-defined]
        terms_from_json(row.terms),  # type: ignore[attr-defined]
        row.created_at,  # type: ignore[attr-defined]
    )


def get_product(
    connection: Connection, product_id: uuid.UUID, scheme_id: uuid.UUID | None = None
) -> ProductRecord:
    query = select(products).where(products.c.id == product_id)
    if scheme_id is not None:
        query = query.where(products.c.scheme_id == scheme_id)
    row = connection.execute(query).first()
    if row is None:
        raise ProductNotFound(
            f"loan product {product_id} does not exist", product_id=str(product_id)
        )
    return _record(row)


def list_products(connection: Connection, scheme_id: uuid.UUID) -> list[ProductRecord]:
    rows = connection.execute(
        select(products).where(products.c.scheme_id == scheme_id).order_by(products.c.created_at)
    )
    return [_record(row) for row in rows]
