"""What every ``loket`` subcommand shares: the lazily opened database and runtime, and failing in Dutch.

A module of its own so that the subcommand modules (``cli.terms``, ``cli.audit``) do not import the ``cli``
package that imports them.
"""

from __future__ import annotations

import getpass
import sys
from typing import TYPE_CHECKING, NoReturn

import click
from sqlalchemy import select
from sqlalchemy.orm import Session

from engine.auth import Actor
from engine.config import Settings
from engine.db import Database, schema_state
from engine.models import Tenant
from engine.vocabulary import Role

if TYPE_CHECKING:
    from engine.cases import Runtime


class Context:
    """Lazily opened database and runtime, shared by the subcommands of one invocation."""

    def __init__(self) -> None:
        self.settings = Settings()
        self._db: Database | None = None
        self._runtime: Runtime | None = None

    @property
    def db(self) -> Database:
        if self._db is None:
            self._db = Database(self.settings.database_url)
        return self._db

    @property
    def runtime(self) -> Runtime:
        if self._runtime is None:
            from engine.runtime import build_runtime

            self._runtime = build_runtime(self.db, self.settings)
        return self._runtime


pass_ctx = click.make_pass_decorator(Context, ensure=True)


def fail(message: str, code: int = 1) -> NoReturn:
    click.echo(f"fout: {message}", err=True)
    sys.exit(code)


def tenant_by_key(session: Session, key: str) -> Tenant:
    tenant = session.scalar(select(Tenant).where(Tenant.key == key))
    if tenant is None:
        fail(f"SWV '{key}' bestaat niet (loket tenants add ...).")
    return tenant


def cli_actor(session: Session, tenant_key: str) -> Actor:
    """The CLI is run by a server administrator: it acts as 'beheerder' of the tenant, named after the OS user."""
    tenant = tenant_by_key(session, tenant_key)
    return Actor(None, f"cli:{getpass.getuser()}", Role.BEHEERDER, tenant.id)


def require_schema(db: Database) -> None:
    """Refuse to start on a database whose schema is not at this code's migration head: otherwise the server
    would start and answer 500 to everything."""
    state = schema_state(db.engine)
    if state == "missing":
        fail("de database is nog niet aangemaakt; draai eerst 'loket init'")
    if state == "behind":
        fail("de database heeft een oudere versie dan deze Loket; draai eerst 'loket init'")
    if state == "ahead":
        fail("de database is bijgewerkt door een nieuwere versie van Loket; start die versie")
