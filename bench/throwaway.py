"""A PostgreSQL database that lives for one benchmark run: created, handed over, and dropped afterwards."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

# The server the benchmarks make their scratch databases on, unless --postgres says otherwise.
ADMIN_URL = os.environ.get("LOKET_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")


@contextmanager
def postgres_database(admin_url: str, label: str) -> Iterator[str | None]:
    """The URL of a fresh database next to ``admin_url``'s, or None (with a line saying why) when PostgreSQL
    cannot be reached; dropped when the block ends."""
    admin = make_url(admin_url)
    name = f"loket_bench_{label}_{os.getpid()}"
    admin_engine = create_engine(admin, isolation_level="AUTOCOMMIT")
    try:
        with admin_engine.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
    except Exception as exc:  # no PostgreSQL here: say so and carry on
        print(f"PostgreSQL skipped: {type(exc).__name__}: {exc}".splitlines()[0])
        admin_engine.dispose()
        yield None
        return
    try:
        yield admin.set(database=name).render_as_string(hide_password=False)
    finally:
        with admin_engine.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin_engine.dispose()
