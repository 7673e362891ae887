"""Alembic environment: migrations run against the URL the caller gives
(``ledger.migrations``) or DATABASE_URL."""

from sqlalchemy import create_engine

import ledger.models  # noqa: F401  (registers every table on Base.metadata)
from alembic import context
from ledger.config import Settings, ensure_sqlite_directory, normalize_database_url
from ledger.db import Base

config = context.config


def _url() -> str:
    url = config.attributes.get("database_url") or Settings.from_environment().database_url
    return normalize_database_url(url)


def run_migrations_offline() -> None:
    context.configure(url=_url(), target_metadata=Base.metadata, literal_binds=True)
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    url = _url()
    ensure_sqlite_directory(url)
    engine = create_engine(url)
    with engine.connect() as connection:
        context.configure(
            connection=connection,
            target_metadata=Base.metadata,
            compare_type=True,
            render_as_batch=connection.dialect.name == "sqlite",
        )
        with context.begin_transaction():
            context.run_migrations()
    engine.dispose()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
