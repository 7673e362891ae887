"""The run record: one row per scheduled job and business date.

``(job, business_date)`` is unique, so a job's work for a date commits at most once,
however many schedulers run: the run record is written in the same database
transaction as the work. A failed attempt leaves the row ``failed`` (with its error and
the attempt count) and no work; the next attempt does the work and turns it
``succeeded``.
"""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Any

from sqlalchemy import CheckConstraint, Date, Integer, String, Text, UniqueConstraint, Uuid
from sqlalchemy.orm import Mapped, mapped_column

from ledger.db import Base, JSONObject, UTCDateTime

JOB_RUN_STATUSES = ("succeeded", "failed")


class JobRun(Base):
    __tablename__ = "job_runs"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    job: Mapped[str] = mapped_column(String(40))
    business_date: Mapped[date] = mapped_column(Date)
    status: Mapped[str] = mapped_column(String(9))
    attempts: Mapped[int] = mapped_column(Integer)
    started_at: Mapped[datetime] = mapped_column(UTCDateTime)
    finished_at: Mapped[datetime] = mapped_column(UTCDateTime)
    result: Mapped[dict[str, Any] | None] = mapped_column(JSONObject)
    error: Mapped[str | None] = mapped_column(Text)

    __table_args__ = (
        CheckConstraint("status IN ('succeeded', 'failed')", name="status"),
        CheckConstraint("attempts > 0", name="attempts"),
        UniqueConstraint("job", "business_date"),
    )
