"""Principals: who calls the service, and in which role."""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, insert, select

from ledger.access.models import ROLES, Principal
from ledger.db import RaceConstraint, register_race_constraint
from ledger.errors import Conflict, NotFound, ValidationFailed
from ledger.ids import uuid7
from ledger.journal.validation import refuse_nul
from ledger.limits import PAGE_SIZE_MAX, PRINCIPAL_NAME_LENGTH_MAX, SLUG_LENGTH_MAX

principals = Principal.__table__

#: Slugs name a principal in account codes (``partner:<slug>:...``): lowercase, stable.
SLUG_PATTERN = re.compile(r"^[a-z0-9][a-z0-9\-]*$")

register_race_constraint(RaceConstraint("uq_principals_slug", "principals", ("slug",)))


class PrincipalNotFound(NotFound):
    code = "principal_not_found"


class SlugTaken(Conflict):
    code = "slug_taken"


@dataclass(frozen=True)
class PrincipalRecord:
    id: uuid.UUID
    slug: str
    name: str
    role: str
    created_at: datetime

    @property
    def client_id(self) -> str:
        """The journal's idempotency scope for this principal's transactions."""
        return str(self.id)


def _record(row: Any) -> PrincipalRecord:
    return PrincipalRecord(row.id, row.slug, row.name, row.role, row.created_at)


def create_principal(
    connection: Connection, *, slug: str, name: str, role: str, now: datetime
) -> PrincipalRecord:
    if role not in ROLES:
        raise ValidationFailed(f"role must be one of {', '.join(ROLES)}", field="role")
    if not SLUG_PATTERN.match(slug) or len(slug) > SLUG_LENGTH_MAX:
        raise ValidationFailed(
            f"slug must be lowercase letters, digits and '-', at most {SLUG_LENGTH_MAX}",
            field="slug",
        )
    if not name.strip() or len(name) > PRINCIPAL_NAME_LENGTH_MAX:
        raise ValidationFailed(
            f"name must be 1 to {PRINCIPAL_NAME_LENGTH_MAX} characters", field="name"
        )
    refuse_nul(name, "name")
    if connection.execute(select(principals.c.id).where(principals.c.slug == slug)).first():
        raise SlugTaken(f"slug {slug!r} is taken", slug=slug)
    principal_id = uuid7()
    connection.execute(
        insert(principals).values(id=principal_id, slug=slug, name=name, role=role, created_at=now)
    )
    return PrincipalRecord(principal_id, slug, name, role, now)


def get_principal(connection: Connection, principal_id: uuid.UUID) -> PrincipalRecord:
    row = connection.execute(select(principals).where(principals.c.id == principal_id)).first()
    if row is None:
        raise PrincipalNotFound(f"principal {principal_id} does not exist")
    return _record(row)


def get_principal_by_slug(connection: Connection, slug: str) -> PrincipalRecord:
    row = connection.execute(select(principals).where(principals.c.slug == slug)).first()
    if row is None:
        raise PrincipalNotFound(f"principal {slug!r} does not exist")
    return _record(row)


def list_principals(
    connection: Connection,
    *,
    role: str | None = None,
    limit: int,
    starting_after: uuid.UUID | None = None,
) -> tuple[list[PrincipalRecord], bool]:
    """Newest first; ``limit`` rows and whether there are more."""
    assert 1 <= limit <= PAGE_SIZE_MAX
    query = select(principals).order_by(principals.c.id.desc()).limit(limit + 1)
    if role is not None:
        query = query.where(principals.c.role == role)
    if starting_after is not None:
        query = query.where(principals.c.id < starting_after)
    rows = connection.execute(query).all()
    return [_record(row) for row in rows[:limit]], len(rows) > limit
