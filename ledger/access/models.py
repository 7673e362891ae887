"""Tables of principals, API keys and idempotent request records."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import CheckConstraint, ForeignKey, Index, Integer, String, Text, Uuid
from sqlalchemy.orm import Mapped, mapped_column

from ledger.db import Base, UTCDateTime
from ledger.limits import (
    IDEMPOTENCY_KEY_LENGTH_MAX,
    KEY_LABEL_LENGTH_MAX,
    PRINCIPAL_NAME_LENGTH_MAX,
    SLUG_LENGTH_MAX,
)

ROLES = ("admin", "partner", "fund_manager")
REQUEST_STATES = ("in_flight", "done")


class Principal(Base):
    """A caller: an administrator, a partner bank or operator, or a fund manager."""

    __tablename__ = "principals"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    slug: Mapped[str] = mapped_column(String(SLUG_LENGTH_MAX), unique=True)
    name: Mapped[str] = mapped_column(String(PRINCIPAL_NAME_LENGTH_MAX))
    role: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)

    __table_args__ = (CheckConstraint("role IN ('admin', 'partner', 'fund_manager')", name="role"),)


class ApiKey(Base):
    """An API key. The secret is never stored: only its SHA-256."""

    __tablename__ = "api_keys"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    principal_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("principals.id"), index=True)
    label: Mapped[str] = mapped_column(String(KEY_LABEL_LENGTH_MAX), server_default="")
    secret_sha256: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class IdempotentRequest(Base):
    """One idempotency key of one principal: in flight, or done with its response.

    The row is inserted (and committed) before the request runs, so a second
    request with the same key finds it: in flight (409) or done (replay, or 422
    when its body differs).
    """

    __tablename__ = "idempotent_requests"

    principal_id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    key: Mapped[str] = mapped_column(String(IDEMPOTENCY_KEY_LENGTH_MAX), primary_key=True)
    fingerprint: Mapped[str] = mapped_column(String(64))
    state: Mapped[str] = mapped_column(String(9))
    response_status: Mapped[int | None] = mapped_column(Integer)
    response_body: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    locked_until: Mapped[datetime] = mapped_column(UTCDateTime)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)

    __table_args__ = (
        CheckConstraint("state IN ('in_flight', 'done')", name="state"),
        CheckConstraint(
            "(state = 'done') = (response_status IS NOT NULL AND response_body IS NOT NULL)",
            name="response",
        ),
        Index("ix_idempotent_requests_expires_at", "expires_at"),
    )
