"""Daily portfolio snapshots: a scheme's figures as of a business date, stored by the
scheduler's snapshot job for history (charts) and served as they were computed."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Any

from sqlalchemy import Date, ForeignKey, Uuid
from sqlalchemy.orm import Mapped, mapped_column

from ledger.db import Base, JSONObject, UTCDateTime


class PortfolioSnapshot(Base):
    __tablename__ = "portfolio_snapshots"

    scheme_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("credit_schemes.id"), primary_key=True
    )
    business_date: Mapped[date] = mapped_column(Date, primary_key=True)
    figures: Mapped[dict[str, Any]] = mapped_column(JSONObject)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
