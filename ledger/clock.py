"""The business clock.

Code that needs "now" takes a :class:`Clock` instead of calling
``datetime.now``, so tests and the simulator can fix or move time. All values
are timezone-aware UTC.
"""

from __future__ import annotations

import threading
from datetime import UTC, date, datetime, time, timedelta
from typing import Protocol


class Clock(Protocol):
    def now(self) -> datetime: ...


class SystemClock:
    """Wall-clock time, UTC."""

    def now(self) -> datetime:
        return datetime.now(UTC)


class FixedClock:
    """A clock that stands still until moved; safe to share between threads."""

    def __init__(self, start: datetime) -> None:
        self._now = ensure_utc(start)
        self._lock = threading.Lock()

    def now(self) -> datetime:
        with self._lock:
            return self._now

    def set(self, moment: datetime) -> None:
        with self._lock:
            self._now = ensure_utc(moment)

    def advance(self, delta: timedelta) -> datetime:
        with self._lock:
            self._now = self._now + delta
            return self._now


def ensure_utc(moment: datetime) -> datetime:
    """Refuse naive datetimes (their zone is a guess) and normalise to UTC."""
    if not isinstance(moment, datetime):
        raise TypeError(f"expected a datetime, got {type(moment).__name__}")
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError("naive datetime: business times must carry a timezone")
    return moment.astimezone(UTC)


def end_of_day(day: date) -> datetime:
    """The last instant (UTC) of the business date ``day``: what happens "as of" a date
    happens by then."""
    return datetime.combine(day + timedelta(days=1), time.min, tzinfo=UTC) - timedelta(
        microseconds=1
    )
