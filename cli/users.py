"""``loket users``: people, their passwords and their API tokens, from creating one to cutting off access."""

from __future__ import annotations

import getpass
import sys
from collections.abc import Sequence
from datetime import datetime

import click
from sqlalchemy import case, func, select
from sqlalchemy.orm import Session

from engine import auth, clock
from engine.models import ROLES, ApiToken, School, Tenant, User, UserRole

from .context import Context, fail, pass_ctx, tenant_by_key


@click.group()
def users() -> None:
    """Gebruikers en API-tokens."""


def user_by_email(session: Session, email: str) -> User:
    """The user with this address, however it is typed (addresses are kept in lower case)."""
    user = session.scalar(select(User).where(func.lower(User.email) == email.strip().lower()))
    if user is None:
        fail(f"gebruiker {email} bestaat niet.")
    return user


def read_password() -> str:
    """A password from standard input (one line), or asked for when a person sits at the terminal."""
    password = sys.stdin.readline().rstrip("\n") if not sys.stdin.isatty() else getpass.getpass("Wachtwoord: ")
    try:
        return auth.check_password(password)
    except ValueError as exc:
        fail(str(exc))


def moment(value: datetime | None) -> str:
    return clock.format_moment(value)


def print_table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> None:
    """Columns aligned on their widest cell, two spaces apart."""
    widths = [max(len(str(cell)) for cell in column) for column in zip(header, *rows, strict=True)]
    for row in (header, *rows):
        click.echo("  ".join(str(cell).ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip())


@users.command("add")
@click.argument("email")
@click.option("--tenant", "tenant_key", required=True)
@click.option("--role", "roles", required=True, multiple=True, type=click.Choice(ROLES),
              help="Een rol; herhaal voor meer rollen (de eerste is de hoofdrol): --role consulent --role commissie.")
@click.option("--school", "school_code", default=None, help="Verplicht voor de rol school; niet voor andere rollen.")
@pass_ctx
def users_add(ctx: Context, email: str, tenant_key: str, roles: tuple[str, ...], school_code: str | None) -> None:
    """Maak een gebruiker; het wachtwoord komt van standaardinvoer."""
    roles = tuple(dict.fromkeys(roles))  # the order given, each role once
    role = roles[0]
    try:
        address = auth.normalise_email(email)
        auth.check_roles_school(roles, school_code)
    except ValueError as exc:
        fail(str(exc))
    password = read_password()
    with ctx.db.transaction() as session:
        tenant = tenant_by_key(session, tenant_key)
        school = None
        if school_code:
            school = session.scalar(select(School).where(School.tenant_id == tenant.id, School.code == school_code))
            if school is None:
                fail(f"school '{school_code}' bestaat niet in {tenant_key}.")
        if session.scalar(select(User.id).where(func.lower(User.email) == address)):
            fail(f"gebruiker {address} bestaat al.")
        session.add(User(tenant_id=tenant.id, email=address, role=role, school_id=school.id if school else None,
                         role_rows=[UserRole(role=r) for r in roles],
                         password_hash=auth.hash_password(password), active=True, created_at=clock.now()))
    click.echo(f"gebruiker {address} aangemaakt ({', '.join(roles)} in {tenant_key})")


@users.command("list")
@click.option("--tenant", "tenant_key", default=None, help="Alleen de gebruikers van deze SWV.")
@pass_ctx
def users_list(ctx: Context, tenant_key: str | None) -> None:
    """Toon gebruikers: rollen (de hoofdrol eerst), school, actief, aantal geldige tokens en laatste gebruik."""
    now = clock.now()
    tokens = (
        select(ApiToken.user_id,
               func.sum(case((auth.live(now), 1), else_=0)).label("live"),
               func.max(ApiToken.last_used_at).label("last_used"))
        .group_by(ApiToken.user_id)
        .subquery()
    )
    query = (
        select(User, Tenant.key, School.code, tokens.c.live, tokens.c.last_used)
        .join(Tenant, Tenant.id == User.tenant_id)
        .outerjoin(School, School.id == User.school_id)
        .outerjoin(tokens, tokens.c.user_id == User.id)
        .order_by(Tenant.key, User.email)
    )
    with ctx.db.read() as session:
        if tenant_key is not None:
            query = query.where(User.tenant_id == tenant_by_key(session, tenant_key).id)
        found = session.execute(query).all()
    if not found:
        click.echo("Geen gebruikers (loket users add ...).")
        return
    header = ["e-mail", "rollen", "school", "actief", "tokens", "laatst gebruikt"]
    rows = [[user.email, role_list(user), code or "-", "ja" if user.active else "nee", str(live or 0),
             moment(last_used)] for user, _, code, live, last_used in found]
    if tenant_key is None:  # across every SWV: say which one
        header.insert(0, "SWV")
        for row, (_, key, *_rest) in zip(rows, found, strict=True):
            row.insert(0, key)
    print_table(header, rows)


def role_list(user: User) -> str:
    """The user's roles, the primary one first: ``consulent,commissie``."""
    return ",".join([user.role, *sorted(user.roles - {user.role})])


@users.command("token")
@click.argument("email")
@click.option("--name", default="token", show_default=True, help="Waarvoor het token is, bv. een koppeling.")
@click.option("--days", default=auth.TOKEN_DAYS, show_default=True, type=click.IntRange(1, auth.MAX_TOKEN_DAYS),
              help="Zoveel dagen is het token geldig.")
@pass_ctx
def users_token(ctx: Context, email: str, name: str, days: int) -> None:
    """Print een nieuw API-token (alleen de hash wordt bewaard)."""
    with ctx.db.transaction() as session:
        user = user_by_email(session, email)
        token = auth.issue_token(session, user, name=name, days=days)
        row = session.scalars(select(ApiToken).where(ApiToken.token_hash == auth.token_hash(token))).one()
        expires, token_id, address = row.expires_at, row.id, user.email
    click.echo(token)  # alone on stdout, so a script can take it
    click.echo(f"token {token_id} '{name}' voor {address}, geldig tot {moment(expires)}", err=True)


@users.command("tokens")
@click.argument("email")
@pass_ctx
def users_tokens(ctx: Context, email: str) -> None:
    """Toon de tokens van een gebruiker: geldig, verlopen of ingetrokken (het token zelf is nergens bewaard)."""
    now = clock.now()
    with ctx.db.read() as session:
        user = user_by_email(session, email)
        rows = session.scalars(select(ApiToken).where(ApiToken.user_id == user.id).order_by(ApiToken.id)).all()
    if not rows:
        click.echo(f"{user.email} heeft geen tokens (loket users token {user.email}).")
        return
    print_table(["id", "naam", "status", "aangemaakt", "verloopt", "laatst gebruikt", "ingetrokken"],
                [[str(t.id), t.name, auth.token_state(t, now), moment(t.created_at), moment(t.expires_at),
                  moment(t.last_used_at), moment(t.revoked_at)] for t in rows])


@users.command("revoke")
@click.argument("email")
@click.argument("token_id", type=int, required=False)
@click.option("--all", "revoke_all", is_flag=True, help="Trek alle tokens van de gebruiker in.")
@pass_ctx
def users_revoke(ctx: Context, email: str, token_id: int | None, revoke_all: bool) -> None:
    """Trek een token (TOKEN_ID, zie 'loket users tokens') of alle tokens van een gebruiker meteen in."""
    if token_id is None and not revoke_all:
        fail("geef een TOKEN_ID (zie 'loket users tokens EMAIL') of --all.")
    if token_id is not None and revoke_all:
        fail("geef een TOKEN_ID of --all, niet allebei.")
    with ctx.db.transaction() as session:
        user = user_by_email(session, email)
        if token_id is None:
            count = auth.revoke_tokens(session, user.id)
            click.echo(f"{count} token(s) van {user.email} ingetrokken")
            return
        token = session.get(ApiToken, token_id)
        if token is None or token.user_id != user.id:
            fail(f"token {token_id} hoort niet bij {user.email} (zie 'loket users tokens {user.email}').")
        if token.revoked_at is not None:
            click.echo(f"token {token_id} was al ingetrokken op {moment(token.revoked_at)}")
            return
        auth.revoke_tokens(session, user.id, token_id)
    click.echo(f"token {token_id} van {user.email} ingetrokken")


@users.command("deactivate")
@click.argument("email")
@pass_ctx
def users_deactivate(ctx: Context, email: str) -> None:
    """Zet een gebruiker op inactief en trek al zijn tokens in, in één keer."""
    with ctx.db.transaction() as session:
        user = user_by_email(session, email)
        was_active = user.active
        count = auth.deactivate(session, user)
    state = "gedeactiveerd" if was_active else "was al gedeactiveerd"
    click.echo(f"gebruiker {user.email} {state}; {count} token(s) ingetrokken")


@users.command("password")
@click.argument("email")
@pass_ctx
def users_password(ctx: Context, email: str) -> None:
    """Geef een gebruiker een nieuw wachtwoord (van standaardinvoer)."""
    with ctx.db.read() as session:
        user_by_email(session, email)  # say so before asking for a password
    password = read_password()
    with ctx.db.transaction() as session:
        user = user_by_email(session, email)
        user.password_hash = auth.hash_password(password)
    click.echo(f"wachtwoord van {user.email} gewijzigd")
