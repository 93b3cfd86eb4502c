"""Configuration from the environment (``LOKET_*``), read once where the app or CLI starts."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent


def default_database_url() -> str:
    instance = Path(os.environ.get("LOKET_INSTANCE", PROJECT_ROOT / "instance"))
    return f"sqlite:///{instance / 'loket.db'}"


@dataclass(frozen=True)
class Settings:
    database_url: str = field(default_factory=lambda: os.environ.get("LOKET_DATABASE_URL") or default_database_url())
    processes_dir: Path = field(
        default_factory=lambda: Path(os.environ.get("LOKET_PROCESSES", PROJECT_ROOT / "processes"))
    )
    secret_key: str = field(default_factory=lambda: os.environ.get("LOKET_SECRET_KEY", "dev-only-not-secret"))
    smtp_url: str | None = field(default_factory=lambda: os.environ.get("LOKET_SMTP_URL") or None)
    # A case that activates one task more often than this stops with an incident (runaway loop guard).
    max_activations: int = field(default_factory=lambda: int(os.environ.get("LOKET_MAX_ACTIVATIONS", "50")))
    # The web app: a session ends after this many minutes without a request; its cookie is sent over HTTPS only
    # when LOKET_SECURE_COOKIES is set (behind TLS, as in production).
    session_idle_minutes: int = field(default_factory=lambda: int(os.environ.get("LOKET_SESSION_IDLE_MINUTES") or 30))
    secure_cookies: bool = field(default_factory=lambda: os.environ.get("LOKET_SECURE_COOKIES", "") not in ("", "0"))
    # Seconds a SQLite write waits for another process's write lock before it gives up (the API answers 503).
    sqlite_busy_timeout: float = field(default_factory=lambda: sqlite_busy_timeout())
    # Documents on cases: stored by sha256 in this folder (outside the web root), at most this many bytes each.
    documents_dir: Path = field(default_factory=lambda: documents_dir())
    max_document_bytes: int = field(
        default_factory=lambda: int(os.environ.get("LOKET_MAX_DOCUMENT_BYTES") or 20_000_000))

    # Retention of the login log (engine.logins): tries older than this many days are removed by `loket retention
    # run`. The lockout looks back 15 minutes; the rest is for an investigation after the fact. At least 1.
    login_attempts_days: int = field(
        default_factory=lambda: max(1, int(os.environ.get("LOKET_LOGIN_ATTEMPTS_DAYS") or 90)))


def documents_dir() -> Path:
    instance = Path(os.environ.get("LOKET_INSTANCE", PROJECT_ROOT / "instance"))
    return Path(os.environ.get("LOKET_DOCUMENTS_DIR") or instance / "documents")


def sqlite_busy_timeout() -> float:
    return float(os.environ.get("LOKET_SQLITE_BUSY_TIMEOUT") or 30)
