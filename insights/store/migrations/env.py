"""Alembic environment: uses the connection handed over by init_db, else the URL in the config."""

from __future__ import annotations

from alembic import context
from sqlmodel import SQLModel

from insights.store import models  # noqa: F401  (registers the tables on SQLModel.metadata)
from insights.store.db import create_db_engine

config = context.config
target_metadata = SQLModel.metadata


def _configure(connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=connection.dialect.name == "sqlite",  # ALTER TABLE on SQLite needs batch mode
        compare_type=False,
    )


def run_migrations_online() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        _configure(connection)
        with context.begin_transaction():
            context.run_migrations()
        return
    engine = create_db_engine(config.get_main_option("sqlalchemy.url"))
    with engine.connect() as conn:
        _configure(conn)
        with context.begin_transaction():
            context.run_migrations()
    engine.dispose()


if context.is_offline_mode():  # pragma: no cover - we only migrate online
    raise SystemExit("offline (SQL script) migrations are not supported; run against a database")
run_migrations_online()
