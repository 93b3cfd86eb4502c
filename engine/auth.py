"""Who is acting: users, API tokens, passwords, and the rules for what a role may see and do."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from . import clock
from .errors import Forbidden, Unauthorized
from .models import ApiToken, Case, User

# Roles that read every case of their tenant; a school user reads only its own school's cases.
TENANT_READERS = {"consulent", "commissie", "bestuurder", "leerplicht", "procesbeheerder", "auditor", "beheerder"}


@dataclass(frozen=True)
class Actor:
    user_id: int | None
    email: str
    role: str
    tenant_id: int
    school_id: int | None = None


def system_actor(tenant_id: int) -> Actor:
    """The scheduler and other automatic work act as 'systeem'."""
    return Actor(None, "systeem", "systeem", tenant_id)


def actor_for(user: User) -> Actor:
    return Actor(user.id, user.email, user.role, user.tenant_id, user.school_id)


def hash_password(password: str) -> str:
    salt = secrets.token_bytes(16)
    digest = hashlib.scrypt(password.encode(), salt=salt, n=2**14, r=8, p=1)
    return f"scrypt${salt.hex()}${digest.hex()}"


def verify_password(password: str, stored: str) -> bool:
    try:
        _, salt, digest = stored.split("$")
    except ValueError:
        return False
    candidate = hashlib.scrypt(password.encode(), salt=bytes.fromhex(salt), n=2**14, r=8, p=1)
    return hmac.compare_digest(candidate.hex(), digest)


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def issue_token(session: Session, user: User) -> str:
    """A new API token; only its hash is stored, so this is the only time it is seen."""
    token = "lkt_" + secrets.token_urlsafe(32)
    session.add(ApiToken(user_id=user.id, token_hash=token_hash(token), created_at=clock.now()))
    return token


def authenticate(session: Session, token: str) -> Actor:
    user = session.execute(
        select(User)
        .join(ApiToken, ApiToken.user_id == User.id)
        .where(ApiToken.token_hash == token_hash(token), ApiToken.revoked_at.is_(None))
    ).scalar_one_or_none()
    if user is None or not user.active:
        raise Unauthorized("Ongeldig of ingetrokken token.")
    return actor_for(user)


def can_read_case(actor: Actor, case: Case) -> bool:
    if actor.tenant_id != case.tenant_id:
        return False
    if actor.role == "school":
        return actor.school_id is not None and actor.school_id == case.school_id
    return actor.role in TENANT_READERS or actor.role == "systeem"


def require_role(actor: Actor, *roles: str) -> None:
    if actor.role not in roles:
        raise Forbidden(f"Deze actie is voorbehouden aan de rol {' of '.join(roles)}.")
