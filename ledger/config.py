"""Configuration from the environment, each setting with a documented default.

Variables (default, meaning):

* DATABASE_URL (sqlite:///var/ledger.sqlite3): SQLAlchemy URL; PostgreSQL uses psycopg 3.
* DB_POOL_SIZE (10), DB_POOL_MAX_OVERFLOW (10): connections per process (PostgreSQL).
* RATE_LIMIT_PER_SECOND (200), RATE_LIMIT_BURST (400): requests per API key per worker
  process, sustained and at once (0 switches the limit off).
* MAX_REQUEST_BYTES (1048576): largest request body; larger is 413 request_too_large.
* IDEMPOTENCY_KEEP_HOURS (48, at least 24): how long idempotency keys are remembered.
* IDEMPOTENCY_LOCK_SECONDS (60): after this, a request still in flight is presumed dead
  and its key may be taken over.
* LOG_REQUESTS (1): one JSON line per request on stderr; 0 switches it off.
* QUOTE_TTL_SECONDS (900), RESERVATION_TTL_SECONDS (86400), FX_RATE_MAX_AGE_DAYS (3):
  the remittance flow's time limits (see ledger.remittance.policy).
* DELINQUENCY_BUCKETS (30,60,90,180): the upper ends, in days past due, of the
  delinquency buckets (1-30, 31-60, 61-90, 91-180 and 180+ with the default).
* SCHEDULER_INTERVAL_SECONDS (300): how often the scheduler looks for business dates
  to run (each ended date runs once; a missed one runs at the next look).
* WEBHOOK_POLL_SECONDS (5): how often the worker looks for webhook deliveries due.
* WEBHOOK_LEASE_SECONDS (60): how long a worker holds a delivery it took; one that
  dies meanwhile leaves it to another after this (keep it above the 10 s send timeout).
* WEBHOOK_ALLOW_PRIVATE_URLS (0): 1 lets deliveries go to loopback and private
  addresses (a local receiver while trying the service); off, such URLs are refused
  at the send so a partner's URL cannot reach this service's own network.
* STRIPE_API_KEY, STRIPE_WEBHOOK_SECRET (unset): the Stripe account's secret key and
  the webhook endpoint's signing secret; unset, Stripe reports itself unavailable.
  From the environment only, never from the repository.
* STRIPE_WEBHOOK_TOLERANCE_SECONDS (300): the oldest Stripe-Signature timestamp taken.
* SCHEDULER_START_DATE (unset): the first business date a fresh database runs the
  jobs for; unset, yesterday.

A ``postgresql://`` or ``postgres://`` URL is taken to mean the psycopg 3 driver.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

DEFAULT_DATABASE_URL = "sqlite:///var/ledger.sqlite3"


def normalize_database_url(url: str) -> str:
    """Pin PostgreSQL URLs to psycopg 3, the only PostgreSQL driver we install."""
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url


@dataclass(frozen=True)
class Settings:
    database_url: str = DEFAULT_DATABASE_URL
    pool_size: int = 10
    pool_max_overflow: int = 10
    rate_limit_per_second: float = 200.0
    rate_limit_burst: int = 400
    max_request_bytes: int = 1_048_576
    idempotency_keep_hours: int = 48
    idempotency_lock_seconds: int = 60
    log_requests: bool = True
    quote_ttl_seconds: int = 900
    reservation_ttl_seconds: int = 86_400
    fx_rate_max_age_days: int = 3
    delinquency_buckets: tuple[int, ...] = (30, 60, 90, 180)
    scheduler_interval_seconds: int = 300
    scheduler_start_date: date | None = None
    webhook_poll_seconds: int = 5
    webhook_allow_private_urls: bool = False
    webhook_lease_seconds: int = 60
    stripe_api_key: str | None = field(default=None, repr=False)
    stripe_webhook_secret: str | None = field(default=None, repr=False)
    stripe_webhook_tolerance_seconds: int = 300

    def __post_init__(self) -> None:
        if self.idempotency_keep_hours < 24:
            raise ValueError("IDEMPOTENCY_KEEP_HOURS must be at least 24")
        if self.rate_limit_per_second < 0 or self.rate_limit_burst < 1:
            raise ValueError("RATE_LIMIT_PER_SECOND must be >= 0 and RATE_LIMIT_BURST >= 1")
        if self.max_request_bytes < 1_024:
            raise ValueError("MAX_REQUEST_BYTES must be at least 1024")
        if self.quote_ttl_seconds < 1 or self.reservation_ttl_seconds < 1:
            raise ValueError("QUOTE_TTL_SECONDS and RESERVATION_TTL_SECONDS must be positive")
        if self.fx_rate_max_age_days < 0:
            raise ValueError("FX_RATE_MAX_AGE_DAYS must be zero or more")
        edges = self.delinquency_buckets
        if not edges or edges[0] < 1 or list(edges) != sorted(set(edges)):
            raise ValueError("DELINQUENCY_BUCKETS must be increasing whole days, from 1")
        if (
            min(
                self.scheduler_interval_seconds,
                self.webhook_poll_seconds,
                self.webhook_lease_seconds,
            )
            < 1
        ):
            raise ValueError(
                "SCHEDULER_INTERVAL_SECONDS, WEBHOOK_POLL_SECONDS and WEBHOOK_LEASE_SECONDS "
                "are positive"
            )

    @classmethod
    def from_environment(cls, environ: dict[str, str] | None = None) -> Settings:
        env = os.environ if environ is None else environ
        return cls(
            database_url=normalize_database_url(env.get("DATABASE_URL", DEFAULT_DATABASE_URL)),
            pool_size=int(env.get("DB_POOL_SIZE", "10")),
            pool_max_overflow=int(env.get("DB_POOL_MAX_OVERFLOW", "10")),
            rate_limit_per_second=float(env.get("RATE_LIMIT_PER_SECOND", "200")),
            rate_limit_burst=int(env.get("RATE_LIMIT_BURST", "400")),
            max_request_bytes=int(env.get("MAX_REQUEST_BYTES", "1048576")),
            idempotency_keep_hours=int(env.get("IDEMPOTENCY_KEEP_HOURS", "48")),
            idempotency_lock_seconds=int(env.get("IDEMPOTENCY_LOCK_SECONDS", "60")),
            log_requests=env.get("LOG_REQUESTS", "1") != "0",
            quote_ttl_seconds=int(env.get("QUOTE_TTL_SECONDS", "900")),
            reservation_ttl_seconds=int(env.get("RESERVATION_TTL_SECONDS", "86400")),
            fx_rate_max_age_days=int(env.get("FX_RATE_MAX_AGE_DAYS", "3")),
            delinquency_buckets=tuple(
                int(part) for part in env.get("DELINQUENCY_BUCKETS", "30,60,90,180").split(",")
            ),
            scheduler_interval_seconds=int(env.get("SCHEDULER_INTERVAL_SECONDS", "300")),
            webhook_poll_seconds=int(env.get("WEBHOOK_POLL_SECONDS", "5")),
            webhook_allow_private_urls=env.get("WEBHOOK_ALLOW_PRIVATE_URLS", "0") == "1",
            webhook_lease_seconds=int(env.get("WEBHOOK_LEASE_SECONDS", "60")),
            stripe_api_key=env.get("STRIPE_API_KEY") or None,
            stripe_webhook_secret=env.get("STRIPE_WEBHOOK_SECRET") or None,
            stripe_webhook_tolerance_seconds=int(
                env.get("STRIPE_WEBHOOK_TOLERANCE_SECONDS", "300")
            ),
            scheduler_start_date=(
                date.fromisoformat(env["SCHEDULER_START_DATE"])
                if env.get("SCHEDULER_START_DATE")
                else None
            ),
        )


def ensure_sqlite_directory(url: str) -> None:
    """Create the directory of a file-based SQLite URL so a fresh clone just works."""
    prefix = "sqlite:///"
    if url.startswith(prefix) and ":memory:" not in url:
        path = Path(url[len(prefix) :].split("?", 1)[0])
        path.parent.mkdir(parents=True, exist_ok=True)
