"""Configuration from the environment, each setting with a documented default.

| variable       | default                         | meaning                                  |
|----------------|---------------------------------|------------------------------------------|
| DATABASE_URL   | sqlite:///var/ledger.sqlite3    | SQLAlchemy URL; PostgreSQL uses psycopg 3 |
| DB_POOL_SIZE   | 10                              | connections kept per process (PostgreSQL) |
| DB_POOL_MAX_OVERFLOW | 10                        | extra connections under burst             |

A ``postgresql://`` or ``postgres://`` URL is taken to mean the psycopg 3 driver.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
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

    @classmethod
    def from_environment(cls, environ: dict[str, str] | None = None) -> Settings:
        env = os.environ if environ is None else environ
        return cls(
            database_url=normalize_database_url(env.get("DATABASE_URL", DEFAULT_DATABASE_URL)),
            pool_size=int(env.get("DB_POOL_SIZE", "10")),
            pool_max_overflow=int(env.get("DB_POOL_MAX_OVERFLOW", "10")),
        )


def ensure_sqlite_directory(url: str) -> None:
    """Create the directory of a file-based SQLite URL so a fresh clone just works."""
    prefix = "sqlite:///"
    if url.startswith(prefix) and ":memory:" not in url:
        path = Path(url[len(prefix) :].split("?", 1)[0])
        path.parent.mkdir(parents=True, exist_ok=True)
