"""Engines for SQLite and PostgreSQL with the settings each needs to be safe under concurrent readers."""

from __future__ import annotations

import fcntl
import sqlite3
import threading
import time
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import event, inspect, text
from sqlalchemy.engine import Connection, Engine, make_url
from sqlalchemy.exc import IntegrityError, OperationalError, ProgrammingError
from sqlmodel import create_engine


def normalise_url(url: str) -> str:
    """Accept the URLs people paste (postgres://, postgresql://) and use the installed psycopg 3 driver."""
    if url.startswith("postgres://"):
        url = "postgresql://" + url[len("postgres://") :]
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url[len("postgresql://") :]
    return url


SQLITE_BUSY_WAIT_S = 30.0  # how long a SQLite connection waits for another one's lock, in SQLite and in _enable_wal


def create_db_engine(url: str, echo: bool = False) -> Engine:
    """An engine for the store; SQLite gets WAL and a busy timeout so the API can read while the worker writes."""
    url = normalise_url(url)
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).expanduser().parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, echo=echo, connect_args={"check_same_thread": False, "timeout": SQLITE_BUSY_WAIT_S})

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_connection, _record) -> None:
            _enable_wal(dbapi_connection)
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.close()

        return engine
    return create_engine(url, echo=echo, pool_pre_ping=True, pool_size=5, max_overflow=5)


def _enable_wal(dbapi_connection: sqlite3.Connection) -> None:
    """Switch a new SQLite connection to WAL, waiting out the moments when SQLite refuses without waiting.

    Turning WAL on, and opening a file while the last connection of another engine closes (it checkpoints and
    removes the WAL under an exclusive lock), fail at once with "database is locked": SQLite's busy timeout
    does not cover them. CI met it when four stores started on one new file at once (4 in 100 such starts here).
    """
    deadline = time.monotonic() + SQLITE_BUSY_WAIT_S
    delay = 0.005
    while True:
        try:
            dbapi_connection.execute("PRAGMA journal_mode=WAL").fetchall()
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() > deadline:
                raise
            time.sleep(delay)
            delay = min(0.25, delay * 2)


MIGRATIONS = Path(__file__).resolve().parent / "migrations"
BASELINE_REVISION = "0001"  # the schema create_all made before migrations existed
_PG_LOCK_KEY = 0x1C5_1A5E  # advisory lock: two processes starting at once migrate one after the other
MIGRATION_WAIT_S = 60.0  # how long a process waits for another one's migration before giving up
_MIGRATION_LOCK = threading.Lock()  # alembic's context is process-global: one migration per process at a time


def alembic_config(url: str | None = None, connection: Connection | None = None) -> Config:
    """An Alembic config for the packaged migrations (no alembic.ini needed, works from an installed wheel)."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    if url:
        config.set_main_option("sqlalchemy.url", normalise_url(url).replace("%", "%%"))
    if connection is not None:
        config.attributes["connection"] = connection
    return config


def head_revision() -> str:
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    assert head is not None
    return head


def current_revision(engine: Engine) -> str | None:
    with engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def init_db(engine: Engine) -> None:
    """Bring the schema to the newest migration (tables, indexes, BI views).

    A store made by ``create_all`` before migrations existed (tables but no ``alembic_version``) is stamped
    with the baseline revision first, so its data stays and only the newer revisions run. Safe when several
    processes (or threads) start at once: PostgreSQL migrates under an advisory lock; on SQLite the loser of a
    race fails, finds the schema at head and goes on.
    """
    from insights.store import models  # noqa: F401  (registers the tables)

    head = head_revision()
    if current_revision(engine) == head:
        return
    database = engine.url.database if engine.dialect.name == "sqlite" else None
    if database and database != ":memory:":
        # Processes sharing one SQLite file take turns through a lock file: a loser of a race would otherwise
        # meet a half-written alembic_version (seen: "Requested revision 0004 overlaps with ... 0001").
        with open(f"{database}.migrate.lock", "a") as lock, _MIGRATION_LOCK:
            fcntl.flock(lock, fcntl.LOCK_EX)
            try:
                if current_revision(engine) != head:
                    _migrate(engine, head)
            finally:
                fcntl.flock(lock, fcntl.LOCK_UN)
        return
    deadline = time.monotonic() + MIGRATION_WAIT_S
    delay = 0.1
    while True:
        try:
            with _MIGRATION_LOCK:
                _migrate(engine, head)
            return
        except (OperationalError, ProgrammingError, IntegrityError):
            # another process is migrating (SQLite: "table exists" / "database is locked"): wait for it
            if current_revision(engine) == head:
                return
            if engine.dialect.name != "sqlite" or time.monotonic() > deadline:
                raise  # PostgreSQL migrates under a lock: a failure there is real
            time.sleep(delay)
            delay = min(1.0, delay * 2)


def _migrate(engine: Engine, head: str) -> None:
    with engine.connect() as conn:
        postgres = conn.dialect.name == "postgresql"
        if postgres:
            conn.execute(text("SELECT pg_advisory_lock(:k)"), {"k": _PG_LOCK_KEY})
            conn.commit()
        try:
            context = MigrationContext.configure(conn)
            if context.get_current_revision() == head:
                return
            tables = set(inspect(conn).get_table_names())
            config = alembic_config(connection=conn)
            if context.get_current_revision() is None and "feedback" in tables:
                command.stamp(config, BASELINE_REVISION)
            command.upgrade(config, "head")
            conn.commit()
        finally:
            if postgres:
                conn.rollback()
                conn.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": _PG_LOCK_KEY})
                conn.commit()

