"""Connections and transactions, for SQLite (the embedded default) and PostgreSQL."""

from __future__ import annotations

import os
import sqlite3
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Literal

from alembic import command
from alembic.config import Config
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker

from .config import PROJECT_ROOT, sqlite_busy_timeout

MIGRATIONS = PROJECT_ROOT / "migrations"

# SQLite plans only as well as its statistics, and gathers them only when asked. SQLite's own advice: run
# PRAGMA optimize (cheap, nearly always a no-op) when a connection closes, and on a timer for connections that
# live long, as pooled ones do; it analyses only tables this connection queried that lack or outgrew their
# statistics. ANALYZE reads at most this many rows per index, so it stays quick on a large database.
ANALYSIS_LIMIT = 1000
OPTIMIZE_EVERY = 3600.0  # seconds between PRAGMA optimize runs on one pooled connection


def make_engine(url: str, busy_timeout: float | None = None, **kwargs) -> Engine:
    """An engine tuned per backend: SQLite gets WAL, a busy timeout (``busy_timeout`` seconds, by default
    LOKET_SQLITE_BUSY_TIMEOUT) and write transactions that take the write lock up front (so two writers queue
    instead of failing with 'database is locked')."""
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite":
        # A statement waits at most this long for a row or table lock (another writer on the same case, a long
        # migration) and then fails with lock_not_available, which the API answers as 503 with Retry-After:
        # one stuck transaction must not hold every worker thread. Set at connect, so no extra round trip.
        options = f"-c lock_timeout={int(pg_lock_timeout() * 1000)}"
        connect_args = {**kwargs.pop("connect_args", {}), "options": options}
        return create_engine(url, pool_pre_ping=True, connect_args=connect_args, **kwargs)

    if parsed.database and parsed.database != ":memory:":
        Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
    timeout = sqlite_busy_timeout() if busy_timeout is None else busy_timeout
    busy_ms = int(timeout * 1000)
    engine = create_engine(url, connect_args={"timeout": timeout, "check_same_thread": False}, **kwargs)

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection, record) -> None:
        # Let SQLAlchemy's "begin" event decide how a transaction starts (pysqlite's own BEGIN is lazy).
        dbapi_connection.isolation_level = None
        cur = dbapi_connection.cursor()
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute("PRAGMA synchronous=NORMAL")
        cur.execute("PRAGMA foreign_keys=ON")
        cur.execute(f"PRAGMA busy_timeout={busy_ms}")
        cur.execute(f"PRAGMA analysis_limit={ANALYSIS_LIMIT}")
        cur.close()
        record.info["optimized_at"] = time.monotonic()

    @event.listens_for(engine, "checkin")
    def _on_checkin(dbapi_connection, record) -> None:
        if dbapi_connection is not None and time.monotonic() - record.info.get("optimized_at", 0) > OPTIMIZE_EVERY:
            record.info["optimized_at"] = time.monotonic()
            _optimize(dbapi_connection, busy_ms)

    @event.listens_for(engine, "close")
    def _on_close(dbapi_connection, _record) -> None:
        _optimize(dbapi_connection, busy_ms)

    @event.listens_for(engine, "begin")
    def _on_begin(conn) -> None:
        if conn.get_execution_options().get("loket_write"):
            conn.exec_driver_sql("BEGIN IMMEDIATE")
        else:
            conn.exec_driver_sql("BEGIN")

    return engine


def pg_lock_timeout() -> float:
    """Seconds a PostgreSQL statement waits for a lock (LOKET_PG_LOCK_TIMEOUT, default 5; 0 waits forever)."""
    return float(os.environ.get("LOKET_PG_LOCK_TIMEOUT") or 5)


def _optimize(dbapi_connection, busy_ms: int) -> None:
    """PRAGMA optimize without making anyone wait: if another writer holds the lock, skip this turn."""
    try:
        dbapi_connection.execute("PRAGMA busy_timeout=200")
        dbapi_connection.execute("PRAGMA optimize")
    except sqlite3.Error:
        pass
    finally:
        try:
            dbapi_connection.execute(f"PRAGMA busy_timeout={busy_ms}")
        except sqlite3.Error:
            pass


class Database:
    """One database: an engine and a session factory. Actions run in ``db.transaction()``."""

    def __init__(self, url: str, busy_timeout: float | None = None) -> None:
        self.url = url
        self.engine = make_engine(url, busy_timeout)
        self.is_sqlite = self.engine.dialect.name == "sqlite"
        self.sessions = sessionmaker(self.engine, expire_on_commit=False)

    @contextmanager
    def transaction(self) -> Iterator[Session]:
        """One action, one transaction: commit on success, roll back everything on any exception."""
        with self.sessions() as session:
            try:
                if self.is_sqlite:
                    session.connection(execution_options={"loket_write": True})
                yield session
                session.commit()
            except BaseException:
                session.rollback()
                raise

    @contextmanager
    def read(self) -> Iterator[Session]:
        """A unit of work that mostly reads (what it writes, such as the access log, is committed)."""
        with self.sessions() as session:
            try:
                yield session
                session.commit()
            except BaseException:
                session.rollback()
                raise

    def upgrade(self) -> None:
        """Create or upgrade the schema with Alembic (on SQLite, then gather fresh statistics)."""
        upgrade(self.url, self.engine)
        if self.is_sqlite:
            self.analyze()

    def analyze(self) -> None:
        """Gather the query planner's statistics now: after migrations (new indexes) and after a bulk load.
        PostgreSQL's autovacuum does this by itself in time; SQLite only when told (see ANALYSIS_LIMIT)."""
        with self.engine.connect().execution_options(loket_write=True) as conn, conn.begin():
            conn.exec_driver_sql("ANALYZE")

    def dispose(self) -> None:
        self.engine.dispose()


def alembic_config(url: str) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return cfg


def upgrade(url: str, engine: Engine | None = None) -> None:
    cfg = alembic_config(url)
    if engine is not None:
        with engine.begin() as conn:
            cfg.attributes["connection"] = conn
            command.upgrade(cfg, "head")
    else:
        command.upgrade(cfg, "head")


SchemaState = Literal["missing", "behind", "current", "ahead"]


def schema_state(engine: Engine) -> SchemaState:
    """Where the database's schema stands against the migrations in this checkout: ``missing`` (never
    initialised), ``behind`` (an older revision: run ``loket init``), ``current``, or ``ahead`` (a revision this
    code does not know: a newer Loket migrated it). Reads only Alembic's version table."""
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    scripts = ScriptDirectory.from_config(cfg)
    heads = set(scripts.get_heads())
    with engine.connect() as conn:
        current = set(MigrationContext.configure(conn).get_current_heads())
    if not current:
        return "missing"
    if current == heads:
        return "current"
    known = {rev.revision for rev in scripts.walk_revisions()}
    return "behind" if current <= known else "ahead"
