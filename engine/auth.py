"""Who is acting: users, API tokens, passwords, and the rules for what a role may see and do."""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import ColumnElement, and_, or_, select, update
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

from . import clock
from .errors import Conflict, Forbidden, Unauthorized
from .models import ApiToken, User
from .vocabulary import Role

# A token lives this many days unless it is issued for fewer; never longer than MAX_TOKEN_DAYS, so a forgotten
# token dies within a year at most.
TOKEN_DAYS = 90
MAX_TOKEN_DAYS = 365
# last_used_at is noted at most once per this interval per token: authenticating stays a read, not a write.
LAST_USED_EVERY = timedelta(minutes=1)
MIN_PASSWORD = 10

@dataclass(frozen=True)
class Actor:
    """Who acts. ``roles`` are all the roles the user holds (in a small SWV the orthopedagoog is consulent and
    sits on the commission); ``role`` is the one acted in: the user's primary role, or, while working a task,
    the task's lane (``acting_as``), so events record the role a step was done in."""

    user_id: int | None
    email: str
    role: str
    tenant_id: int
    school_id: int | None = None
    roles: frozenset[str] = field(default=frozenset())

    def __post_init__(self) -> None:
        # An Actor made with one role (the system, older callers) holds just that role.
        object.__setattr__(self, "roles", frozenset(self.roles) | {self.role})

    def has(self, *roles: str) -> bool:
        """Does the user hold any of these roles?"""
        return not self.roles.isdisjoint(roles)

    def acting_as(self, role: str) -> Actor:
        """The same user acting in one of its roles (a task's lane); Forbidden if it does not hold it."""
        if role not in self.roles:
            raise Forbidden(f"Deze taak is voor de rol {role}.")
        return self if role == self.role else replace(self, role=role)


def system_actor(tenant_id: int) -> Actor:
    """The scheduler and other automatic work act as 'systeem'."""
    return Actor(None, "systeem", "systeem", tenant_id)


def actor_for(user: User) -> Actor:
    return Actor(user.id, user.email, user.role, user.tenant_id, user.school_id, frozenset(user.roles))


# argon2id with argon2-cffi's defaults (RFC 9106's low-memory profile: 64 MiB, 3 passes). Hashes written
# before (``scrypt$salt$digest``) still verify; password_needs_rehash says when to replace one.
_hasher = PasswordHasher()


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(password: str, stored: str) -> bool:
    if stored.startswith("scrypt$"):
        try:
            _, salt, digest = stored.split("$")
            candidate = hashlib.scrypt(password.encode(), salt=bytes.fromhex(salt), n=2**14, r=8, p=1)
        except ValueError:
            return False
        return hmac.compare_digest(candidate.hex(), digest)
    try:
        return _hasher.verify(stored, password)
    except (VerificationError, InvalidHashError):
        return False


def password_needs_rehash(stored: str) -> bool:
    """True for a hash in an older scheme or with weaker parameters than today's."""
    if not stored.startswith("$argon2"):
        return True
    try:
        return _hasher.check_needs_rehash(stored)
    except InvalidHashError:
        return True


def check_password(password: str) -> str:
    if len(password) < MIN_PASSWORD:
        raise ValueError(f"het wachtwoord moet minstens {MIN_PASSWORD} tekens hebben.")
    return password


# A deliberately simple rule for an e-mail address, enough to catch typos and pasted junk (RFC 5322 allows far
# more than any SWV uses): local@domain. The local part is letters, digits and . _ % + - ' (no dot at its start
# or end, no two dots together), at most 64 characters; the domain is two or more labels of letters, digits and
# hyphens (not at a label's start or end), the last one at least two characters and not all digits; at most
# 254 characters in all. Addresses are kept in lower case, so a user is found however the address is typed.
_LOCAL = re.compile(r"[a-z0-9_%+'-]+(\.[a-z0-9_%+'-]+)*")
_LABEL = re.compile(r"[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?")


def normalise_email(email: str) -> str:
    """The address in lower case; ValueError (in Dutch) when it does not follow the rule above."""
    address = email.strip().lower()
    local, at, domain = address.partition("@")
    labels = domain.split(".")
    valid = (
        bool(at) and len(address) <= 254 and len(local) <= 64
        and _LOCAL.fullmatch(local) is not None
        and len(labels) >= 2 and all(_LABEL.fullmatch(label) for label in labels)
        and len(labels[-1]) >= 2 and not labels[-1].isdigit()
    )
    if not valid:
        raise ValueError(f"'{email}' is geen geldig e-mailadres (verwacht: naam@domein.nl).")
    return address


def check_roles_school(roles: tuple[str, ...], school_code: str | None) -> None:
    """Several roles for one user, but a school user and an auditor hold only that one."""
    # A school user works for one school; an auditor reads and changes nothing: neither holds a second role.
    for alone in (Role.SCHOOL, Role.AUDITOR):
        if alone in roles and len(roles) > 1:
            raise ValueError(f"de rol {alone} gaat niet samen met andere rollen; maak een aparte gebruiker.")
    check_role_school(roles[0], school_code)


def check_role_school(role: str, school_code: str | None) -> None:
    """A school user belongs to exactly one school; every other role to none (it works across the SWV)."""
    if role == Role.SCHOOL and not school_code:
        raise ValueError("een gebruiker met de rol school hoort bij een school: geef --school CODE.")
    if role != Role.SCHOOL and school_code:
        raise ValueError(f"alleen de rol school hoort bij een school; laat --school weg voor de rol {role}.")


# ---------------------------------------------------------------- API tokens

def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def live(now: datetime) -> ColumnElement[bool]:
    """The SQL condition for a token that still works at ``now``."""
    return and_(ApiToken.revoked_at.is_(None), ApiToken.expires_at > now)


def token_state(token: ApiToken, now: datetime) -> str:
    """``geldig``, ``verlopen`` or ``ingetrokken``, as the CLI shows it."""
    if token.revoked_at is not None:
        return "ingetrokken"
    return "verlopen" if token.expires_at <= now else "geldig"


def issue_token(session: Session, user: User, *, name: str = "token", days: int = TOKEN_DAYS) -> str:
    """A new API token, live for ``days`` days; only its hash is stored, so this is the only time it is seen."""
    if not 1 <= days <= MAX_TOKEN_DAYS:
        raise ValueError(f"een token is 1 tot {MAX_TOKEN_DAYS} dagen geldig, niet {days}.")
    if not user.active:
        raise Conflict(f"gebruiker {user.email} is niet actief en krijgt geen token.")
    token = "lkt_" + secrets.token_urlsafe(32)
    now = clock.now()
    session.add(ApiToken(user_id=user.id, token_hash=token_hash(token), name=name, created_at=now,
                         expires_at=now + timedelta(days=days)))
    session.flush()
    return token


def revoke_tokens(session: Session, user_id: int, token_id: int | None = None, *, name: str | None = None) -> int:
    """Revoke the user's live tokens (one by id, those with one name, or all) at once; how many were revoked."""
    query = update(ApiToken).where(ApiToken.user_id == user_id, ApiToken.revoked_at.is_(None))
    if token_id is not None:
        query = query.where(ApiToken.id == token_id)
    if name is not None:
        query = query.where(ApiToken.name == name)
    result = session.execute(query.values(revoked_at=clock.now()).execution_options(synchronize_session=False))
    return int(result.rowcount)  # type: ignore[attr-defined]


def deactivate(session: Session, user: User) -> int:
    """The user can no longer act: inactive, and every token revoked in the same transaction."""
    user.active = False
    session.flush()
    return revoke_tokens(session, user.id)


def authenticate(session: Session, token: str) -> Actor:
    row = session.execute(
        select(ApiToken, User).join(User, User.id == ApiToken.user_id).where(ApiToken.token_hash == token_hash(token))
    ).one_or_none()
    if row is None:
        raise Unauthorized("Onbekend API-token.")
    api_token, user = row
    now = clock.now()
    if api_token.revoked_at is not None:
        raise Unauthorized("Dit API-token is ingetrokken; vraag de beheerder om een nieuw token.")
    if api_token.expires_at <= now:
        raise Unauthorized(f"Dit API-token is verlopen op {clock.format_moment(api_token.expires_at)}; "
                           "vraag de beheerder om een nieuw token.")
    if not user.active:
        raise Unauthorized("Deze gebruiker is niet actief.")
    _note_use(session, api_token, now)
    return actor_for(user)


def _note_use(session: Session, api_token: ApiToken, now: datetime) -> None:
    """Note the token's last use, at most once per LAST_USED_EVERY: the read above says whether it is due, so
    most requests write nothing. The WHERE repeats the test, so of two racing requests only one writes."""
    if api_token.last_used_at is not None and now - api_token.last_used_at < LAST_USED_EVERY:
        return
    conn = session.connection()
    sqlite = conn.dialect.name == "sqlite"
    # The last use is a hint: on SQLite, a writer holding the lock must not keep a valid token waiting for the
    # whole busy timeout, nor turn it away; if the write cannot be had at once, the next request notes it.
    previous = conn.exec_driver_sql("PRAGMA busy_timeout").scalar() if sqlite else None
    try:
        if sqlite:
            conn.exec_driver_sql("PRAGMA busy_timeout=100")
        with session.begin_nested():
            session.execute(
                update(ApiToken)
                .where(ApiToken.id == api_token.id,
                       or_(ApiToken.last_used_at.is_(None), ApiToken.last_used_at <= now - LAST_USED_EVERY))
                .values(last_used_at=now)
                .execution_options(synchronize_session=False)
            )
    except OperationalError:
        pass
    finally:
        if sqlite:
            conn.exec_driver_sql(f"PRAGMA busy_timeout={int(previous or 0)}")


def require_role(actor: Actor, *roles: str) -> None:
    if not actor.has(*roles):
        raise Forbidden(f"Deze actie is voorbehouden aan de rol {' of '.join(roles)}.")
