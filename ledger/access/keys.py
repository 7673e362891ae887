"""API keys: issued once, stored as a hash, checked in constant time, revocable.

A key reads ``lk_<key id, 32 hex>_<secret>``: the id finds the row without
scanning, the secret (32 random bytes, URL-safe base64) proves possession.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, insert, select, update

from ledger.access.models import ApiKey
from ledger.access.principals import PrincipalRecord, get_principal, principals
from ledger.errors import LedgerError, NotFound, ValidationFailed
from ledger.ids import uuid7
from ledger.journal.validation import refuse_nul
from ledger.limits import API_KEY_SECRET_BYTES, KEY_LABEL_LENGTH_MAX

api_keys = ApiKey.__table__

KEY_PATTERN = re.compile(r"^lk_([0-9a-f]{32})_([A-Za-z0-9_\-]{43,})$")

#: Compared against when the key id is unknown, so that answer takes as long as
#: a wrong secret does.
_DUMMY_HASH = hashlib.sha256(b"no such key").hexdigest()


class Unauthenticated(LedgerError):
    """No key, a malformed key, an unknown key, a wrong secret or a revoked key:
    one answer for all, so a caller learns nothing about which."""

    code = "unauthenticated"


class ApiKeyNotFound(NotFound):
    code = "api_key_not_found"


@dataclass(frozen=True)
class KeyRecord:
    id: uuid.UUID
    principal_id: uuid.UUID
    label: str
    created_at: datetime
    revoked_at: datetime | None


@dataclass(frozen=True)
class IssuedKey:
    """A new key: ``secret`` is the whole key, shown this once and never again."""

    record: KeyRecord
    secret: str


def _hash(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def _record(row: Any) -> KeyRecord:
    return KeyRecord(row.id, row.principal_id, row.label, row.created_at, row.revoked_at)


def issue_key(
    connection: Connection, principal_id: uuid.UUID, *, label: str = "", now: datetime
) -> IssuedKey:
    get_principal(connection, principal_id)
    if len(label) > KEY_LABEL_LENGTH_MAX:
        raise ValidationFailed(f"label is longer than {KEY_LABEL_LENGTH_MAX}", field="label")
    refuse_nul(label, "label")
    key_id = uuid7()
    secret = secrets.token_urlsafe(API_KEY_SECRET_BYTES)
    connection.execute(
        insert(api_keys).values(
            id=key_id,
            principal_id=principal_id,
            label=label,
            secret_sha256=_hash(secret),
            created_at=now,
            revoked_at=None,
        )
    )
    record = KeyRecord(key_id, principal_id, label, now, None)
    return IssuedKey(record, f"lk_{key_id.hex}_{secret}")


def list_keys(connection: Connection, principal_id: uuid.UUID) -> list[KeyRecord]:
    get_principal(connection, principal_id)
    rows = connection.execute(
        select(api_keys)
        .where(api_keys.c.principal_id == principal_id)
        .order_by(api_keys.c.id.desc())
    ).all()
    return [_record(row) for row in rows]


def revoke_key(connection: Connection, key_id: uuid.UUID, *, now: datetime) -> KeyRecord:
    """Revoke a key (at once, for every worker: keys are checked per request).
    Revoking a revoked key changes nothing and returns it."""
    row = connection.execute(select(api_keys).where(api_keys.c.id == key_id)).first()
    if row is None:
        raise ApiKeyNotFound(f"API key {key_id} does not exist")
    if row.revoked_at is None:
        connection.execute(
            update(api_keys)
            .where(api_keys.c.id == key_id, api_keys.c.revoked_at.is_(None))
            .values(revoked_at=now)
        )
        row = connection.execute(select(api_keys).where(api_keys.c.id == key_id)).one()
    return _record(row)


def authenticate(connection: Connection, key: str) -> tuple[PrincipalRecord, uuid.UUID]:
    """The principal holding ``key`` and the key's id, or Unauthenticated."""
    match = KEY_PATTERN.match(key)
    if match is None:
        raise Unauthenticated("the API key is not valid")
    key_id = uuid.UUID(match.group(1))
    row = connection.execute(
        select(
            api_keys.c.secret_sha256,
            api_keys.c.revoked_at,
            principals.c.id,
            principals.c.slug,
            principals.c.name,
            principals.c.role,
            principals.c.created_at,
        )
        .join(principals, principals.c.id == api_keys.c.principal_id)
        .where(api_keys.c.id == key_id)
    ).first()
    stored = row.secret_sha256 if row is not None else _DUMMY_HASH
    matches = hmac.compare_digest(stored, _hash(match.group(2)))
    if row is None or not matches or row.revoked_at is not None:
        raise Unauthenticated("the API key is not valid")
    principal = PrincipalRecord(row.id, row.slug, row.name, row.role, row.created_at)
    return principal, key_id
