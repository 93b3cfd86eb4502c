"""Backup and restore of a whole Loket database, while the server runs.

SQLite: SQLite's online backup API (``sqlite3.Connection.backup``) copies every page in one step under one read
transaction, so the copy is the database at one moment; in WAL mode writers go on meanwhile. PostgreSQL:
``pg_dump --format=custom`` (one repeatable-read snapshot; writers go on meanwhile), restored with
``pg_restore --clean --if-exists --single-transaction``: it drops what the dump holds and recreates it, all or
nothing, so it works on an empty database and on one that is replaced. A backup is written next to its target
under a temporary name and renamed when complete, so a half-written file never has the backup's name.

Checking the restored data (chains and replay of every case) is the caller's: it is ``loket audit verify
--all``, whose code lives with the CLI.
"""

from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import create_engine, inspect, text
from sqlalchemy.engine import URL, make_url

from .errors import LoketError

SQLITE_MAGIC = b"SQLite format 3\x00"
PG_MAGIC = b"PGDMP"  # the first bytes of pg_dump's custom format
PG_DUMP = "pg_dump"
PG_RESTORE = "pg_restore"
PG_TIMEOUT = 3600  # seconds: a dump or restore that takes longer than this has hung


class BackupError(LoketError):
    """A backup or restore that could not be made; the message says why, in Dutch."""


@dataclass(frozen=True)
class Outcome:
    path: Path
    backend: str  # sqlite | postgresql
    size: int  # bytes of the backup file


def backend(url: str) -> str:
    return "sqlite" if make_url(url).get_backend_name() == "sqlite" else "postgresql"


def _sqlite_path(url: str) -> Path:
    database = make_url(url).database
    if not database or database == ":memory:":
        raise BackupError("een database in het geheugen heeft geen backup; gebruik een bestand.")
    return Path(database)


def _libpq(url: str) -> str:
    """The SQLAlchemy URL as pg_dump and pg_restore read it (``postgresql://...``, no driver name)."""
    parsed: URL = make_url(url)
    return parsed.set(drivername="postgresql").render_as_string(hide_password=False)


def _tool(name: str) -> str:
    found = shutil.which(name) or (f"/usr/bin/{name}" if os.access(f"/usr/bin/{name}", os.X_OK) else None)
    if found is None:
        raise BackupError(f"{name} is niet gevonden; installeer de PostgreSQL-clientprogramma's "
                          "(bv. apt-get install postgresql-client) in dezelfde versie als de server.")
    return found


def _run(command: list[str]) -> None:
    try:
        result = subprocess.run(command, capture_output=True, text=True, timeout=PG_TIMEOUT)
    except subprocess.TimeoutExpired:
        raise BackupError(f"{Path(command[0]).name} duurde langer dan {PG_TIMEOUT} seconden en is gestopt.") from None
    if result.returncode != 0:
        lines = [line for line in result.stderr.splitlines() if line.strip()]
        why = lines[0] if lines else f"exitcode {result.returncode}"
        raise BackupError(f"{Path(command[0]).name} mislukte: {why}")


def _kind(path: Path) -> str:
    with path.open("rb") as handle:
        head = handle.read(len(SQLITE_MAGIC))
    if head.startswith(SQLITE_MAGIC):
        return "sqlite"
    if head.startswith(PG_MAGIC):
        return "postgresql"
    return "onbekend"


# ---------------------------------------------------------------- backup

def backup(url: str, target: Path, *, overwrite: bool = False) -> Outcome:
    """Write a consistent copy of the database at ``url`` to ``target``."""
    if target.exists() and not overwrite:
        raise BackupError(f"{target} bestaat al; kies een andere naam of geef --force.")
    if target.is_dir():
        raise BackupError(f"{target} is een map; geef een bestandsnaam.")
    if not target.parent.is_dir():
        raise BackupError(f"de map {target.parent} bestaat niet.")
    partial = target.with_name(f".{target.name}.{os.getpid()}.part")
    try:
        if backend(url) == "sqlite":
            _sqlite_backup(_sqlite_path(url), partial)
        else:
            _run([_tool(PG_DUMP), "--format=custom", "--no-owner", "--no-privileges", f"--file={partial}",
                  f"--dbname={_libpq(url)}"])
        partial.replace(target)
    finally:
        partial.unlink(missing_ok=True)
    return Outcome(target, backend(url), target.stat().st_size)


def _sqlite_backup(source: Path, target: Path) -> None:
    if not source.is_file():
        raise BackupError(f"de database {source} bestaat niet.")
    src = sqlite3.connect(source, timeout=30)  # read and write, as the server's: WAL needs its -shm file
    dst = sqlite3.connect(target)
    try:
        # pages=-1 (all at once): one read transaction over the whole copy. Stepwise copying would restart
        # whenever another process writes, and never finish on a busy server.
        src.backup(dst, pages=-1)
        dst.execute("PRAGMA journal_mode=DELETE")  # the backup is one self-contained file
    except sqlite3.Error as exc:
        raise BackupError(f"backup van {source} mislukte: {exc}") from None
    finally:
        dst.close()
        src.close()


# ---------------------------------------------------------------- restore

def case_count(url: str) -> int:
    """How many cases the database at ``url`` holds (0 when it has no schema yet, or does not exist)."""
    if backend(url) == "sqlite" and not _sqlite_path(url).exists():
        return 0
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            if not inspect(conn).has_table("cases"):
                return 0
            return int(conn.execute(text("SELECT count(*) FROM cases")).scalar_one())
    finally:
        engine.dispose()


def restore(url: str, source: Path, *, force: bool = False) -> Outcome:
    """Replace the database at ``url`` with the backup ``source``. Refuses a database that holds cases unless
    ``force``. The caller stops Loket's servers and schedulers first: a restore is not a live operation."""
    if not source.is_file():
        raise BackupError(f"het backupbestand {source} bestaat niet.")
    kind, target = _kind(source), backend(url)
    if kind != target:
        what = {"sqlite": "een SQLite-backup", "postgresql": "een PostgreSQL-backup (pg_dump)"}.get(
            kind, "geen backup van Loket")
        raise BackupError(f"{source} is {what}; de database is {target}.")
    cases = case_count(url)
    if cases and not force:
        raise BackupError(f"de database bevat al {cases} dossiers; geef --force om hem te overschrijven.")
    if target == "sqlite":
        _sqlite_restore(source, _sqlite_path(url))
    else:
        _run([_tool(PG_RESTORE), "--clean", "--if-exists", "--single-transaction", "--exit-on-error",
              "--no-owner", "--no-privileges", f"--dbname={_libpq(url)}", str(source)])
    return Outcome(source, target, source.stat().st_size)


def _sqlite_restore(source: Path, target: Path) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    src = sqlite3.connect(f"file:{source}?mode=ro", uri=True)
    try:
        src.execute("SELECT count(*) FROM sqlite_master").fetchone()  # a damaged file fails here, not halfway
        # Through a connection, not a file copy: the copy goes through the target's WAL and locks, so a stale
        # -wal file next to it cannot bring back pages of the old database.
        dst = sqlite3.connect(target, timeout=30)
        try:
            src.backup(dst, pages=-1)
            dst.execute("PRAGMA journal_mode=WAL")
        finally:
            dst.close()
    except sqlite3.Error as exc:
        raise BackupError(f"terugzetten van {source} mislukte: {exc}") from None
    finally:
        src.close()
