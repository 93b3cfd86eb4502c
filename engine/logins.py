"""Logging in to the web app with e-mail and password, and the lockout after repeated failures.

Every try is a row in ``login_attempts`` (the log an auditor or beheerder reads back). After MAX_FAILURES failed
tries for one address within WINDOW, that address is locked until the oldest of them is WINDOW old: further tries,
even with the right password, are refused and logged as ``geblokkeerd``. The lockout counts per address typed, not
per existing account, and every refusal reads the same, so the answer never tells whether an account exists.
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from . import clock
from .auth import hash_password, password_needs_rehash, verify_password
from .models import User
from .models_web import LoginAttempt

log = logging.getLogger("loket.logins")

MAX_FAILURES = 5
WINDOW = timedelta(minutes=15)

SUCCEEDED = "gelukt"
FAILED = "mislukt"
LOCKED = "geblokkeerd"

WRONG = "Het e-mailadres of het wachtwoord klopt niet."
LOCKED_OUT = ("Er is te vaak een verkeerd wachtwoord geprobeerd voor dit e-mailadres. Probeer het over "
              f"{int(WINDOW.total_seconds() // 60)} minuten opnieuw, of vraag de beheerder om hulp.")

# Checked against when no account has the address, so an unknown address costs as much time as a known one.
_DUMMY_HASH = hash_password("loket-geen-account")


def locked_until(session: Session, email: str, now: datetime | None = None) -> datetime | None:
    """The moment the address can try again, or None when it is not locked out."""
    now = now or clock.now()
    since = now - WINDOW
    last_success = session.scalar(select(func.max(LoginAttempt.at)).where(
        LoginAttempt.email == email, LoginAttempt.outcome == SUCCEEDED, LoginAttempt.at > since))
    start = max(since, last_success) if last_success else since
    failures = list(session.scalars(
        select(LoginAttempt.at).where(LoginAttempt.email == email, LoginAttempt.outcome == FAILED,
                                      LoginAttempt.at > start)
        .order_by(LoginAttempt.at.desc()).limit(MAX_FAILURES)))
    if len(failures) < MAX_FAILURES:
        return None
    return min(failures) + WINDOW


@dataclass(frozen=True)
class Outcome:
    """How a try ended: the user when it succeeded, else the Dutch message to show."""

    user: User | None
    message: str | None = None


def log_in(session: Session, email: str, password: str, address: str | None = None) -> Outcome:
    """The active user with this address and password, or the message why not (one for every wrong combination,
    another while locked out). The try is recorded in the caller's transaction, which must commit either way."""
    typed = email.strip().lower()[:254]
    now = clock.now()
    user = session.scalar(select(User).where(User.email == typed)) if typed else None
    if locked_until(session, typed, now) is not None:
        _note(session, typed, user, now, LOCKED, address)
        log.warning("inloggen geblokkeerd voor %s (te veel mislukte pogingen) vanaf %s", typed, address or "?")
        return Outcome(None, LOCKED_OUT)
    good = verify_password(password, user.password_hash if user is not None else _DUMMY_HASH)
    if user is None or not good or not user.active:
        _note(session, typed, user, now, FAILED, address)
        if locked_until(session, typed, now) is not None:
            log.warning("%s is geblokkeerd na %d mislukte pogingen in %s", typed, MAX_FAILURES, WINDOW)
            return Outcome(None, LOCKED_OUT)
        return Outcome(None, WRONG)
    if password_needs_rehash(user.password_hash):
        user.password_hash = hash_password(password)  # an older scheme is replaced while the password is at hand
    _note(session, typed, user, now, SUCCEEDED, address)
    return Outcome(user)


def session_mark(user: User) -> str:
    """A short fingerprint of what a web session depends on: the password and the account being active. A session
    keeps the mark it was given at login; a new password or a deactivation changes it and so ends the session."""
    return hashlib.sha256(f"{user.id}:{user.active}:{user.password_hash}".encode()).hexdigest()[:16]


def attempts(session: Session, email: str, limit: int = 50) -> list[LoginAttempt]:
    """The latest tries for an address, newest first."""
    return list(session.scalars(select(LoginAttempt).where(LoginAttempt.email == email.strip().lower())
                                .order_by(LoginAttempt.at.desc(), LoginAttempt.id.desc()).limit(limit)))


def forget_before(session: Session, cutoff: datetime, *, dry_run: bool = False) -> int:
    """Retention: remove the tries older than ``cutoff`` (Settings.login_attempts_days ago); how many. The lockout
    looks back WINDOW only; the rest of the log is kept for an investigation, not for ever."""
    old = LoginAttempt.at < cutoff
    if dry_run:
        return int(session.scalar(select(func.count()).select_from(LoginAttempt).where(old)) or 0)
    return int(session.execute(delete(LoginAttempt).where(old)).rowcount)  # type: ignore[attr-defined]


def _note(session: Session, email: str, user: User | None, now: datetime, outcome: str, address: str | None) -> None:
    session.add(LoginAttempt(email=email, user_id=user.id if user else None, tenant_id=user.tenant_id if user else None,
                             at=now, outcome=outcome, address=(address or "")[:64] or None))
    session.flush()
