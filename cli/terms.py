"""``loket calendar`` and ``loket tenants term``: the SWV's business calendar and its own terms."""

from __future__ import annotations

import getpass
from datetime import date

import click
from sqlalchemy import select
from sqlalchemy.orm import Session

from engine import clock
from engine.calendar import UNITS, CalendarRangeError
from engine.calendar_settings import calendar_for
from engine.deadlines import Terms, case_due
from engine.models import ROLES, School, Tenant
from engine.outbox import STATUSES, requeue
from engine.outbox import messages as outbox_messages
from engine.tenant_events import Who, change, current
from engine.vocabulary import OutboxStatus

from .context import Context, fail, pass_ctx, tenant_by_key

SCHOOL_HELP = "Reken met de kalender van deze school (haar regio, regels en eigen vrije dagen)."


def _school(session: Session, tenant: Tenant, code: str | None) -> School | None:
    if code is None:
        return None
    school = session.scalar(select(School).where(School.tenant_id == tenant.id, School.code == code))
    if school is None:
        fail(f"school '{code}' bestaat niet in {tenant.key}.")
    return school


def _date(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        fail(f"'{text}' is geen datum (JJJJ-MM-DD).")


@click.group()
def calendar() -> None:
    """De werkkalender van een SWV: termijnen berekenen, vrije dagen tonen en toevoegen."""


@calendar.command("add")
@click.option("--tenant", "tenant_key", required=True)
@click.option("--from", "start", required=True, metavar="JJJJ-MM-DD")
@click.option("--amount", required=True, type=click.IntRange(min=0))
@click.option("--unit", required=True, type=click.Choice(UNITS))
@click.option("--legal", is_flag=True, help="Wettelijke termijn: Algemene termijnenwet toepassen.")
@click.option("--school", "school_code", default=None, help=SCHOOL_HELP)
@pass_ctx
def calendar_add(ctx: Context, tenant_key: str, start: str, amount: int, unit: str, legal: bool,
                 school_code: str | None) -> None:
    """Print de einddatum van een termijn (ISO)."""
    with ctx.db.read() as session:
        tenant = tenant_by_key(session, tenant_key)
        cal = calendar_for(session, tenant, _school(session, tenant, school_code))
    try:
        click.echo(cal.add(_date(start), amount, unit, legal=legal).isoformat())
    except CalendarRangeError as exc:
        fail(str(exc))


@calendar.command("show")
@click.option("--tenant", "tenant_key", required=True)
@click.option("--year", required=True, type=int)
@click.option("--school", "school_code", default=None, help=SCHOOL_HELP)
@pass_ctx
def calendar_show(ctx: Context, tenant_key: str, year: int, school_code: str | None) -> None:
    """Toon de vrije dagen van een jaar met hun naam, en de dagen die alleen wettelijke termijnen verlengen."""
    with ctx.db.read() as session:
        tenant = tenant_by_key(session, tenant_key)
        cal = calendar_for(session, tenant, _school(session, tenant, school_code))
    try:
        days = cal.days_off(year)
        legal_only = cal.legal_only(year)
    except CalendarRangeError as exc:
        fail(str(exc))
    who = f"{tenant.name}, school {school_code}" if school_code else tenant.name
    click.echo(f"{who} (regio {cal.region}), {year}: {len(days)} vrije dagen")
    for off in days:
        click.echo(f"{off.date.isoformat()}  {clock.weekday(off.date)}  {off.kind:<14} {off.name}")
    # Werkdagen here, but a legal term does not end on them (Atw art. 3): say so, they move a deadline.
    click.echo(f"alleen voor wettelijke termijnen (Atw), verder werkdag: {len(legal_only)}")
    for day, name in legal_only:
        click.echo(f"{day.isoformat()}  {clock.weekday(day)}  {'atw':<14} {name}")


@calendar.command("day-off")
@click.option("--tenant", "tenant_key", required=True)
@click.option("--date", "day", required=True, metavar="JJJJ-MM-DD")
@click.option("--name", required=True, help="Bv. 'Studiedag' of 'Carnaval'.")
@click.option("--school", "school_code", default=None, help="Een vrije dag van alleen deze school.")
@pass_ctx
def calendar_day_off(ctx: Context, tenant_key: str, day: str, name: str, school_code: str | None) -> None:
    """Voeg een extra vrije dag van dit SWV of van een van zijn scholen toe (telt niet als schooldag)."""
    when = _date(day)
    with ctx.db.transaction() as session:
        tenant = tenant_by_key(session, tenant_key)
        school = _school(session, tenant, school_code)
        # A day off is part of the SWV's configuration: an event (engine.tenant_events), as every other change.
        path = f"calendar.{school.code}" if school is not None else "days_off"
        now = current(session, tenant, path)
        days = dict(now["days_off"] if school is not None else now)
        if when.isoformat() in days:
            fail(f"{when.isoformat()} is al een vrije dag van "
                 f"{f'school {school_code}' if school is not None else tenant_key}.")
        days[when.isoformat()] = name
        value = {**now, "days_off": days} if school is not None else days
        change(session, tenant, path, value, Who(f"cli:{getpass.getuser()}", "cli"))
    whose = f"school {school_code} in {tenant_key}" if school_code else tenant_key
    click.echo(f"{when.isoformat()} ({name}) is een vrije dag van {whose}")


@click.command("term")
@click.argument("tenant_key")
@click.option("--route", required=True)
@click.option("--term", "expression", required=True, help="Bv. 'werkdagen(10)' of 'weken(6)'.")
@click.option("--from", "from_task", default=None, help="De klok loopt vanaf deze taak (standaard: de start).")
@click.option("--escalate-to", default="bestuurder", show_default=True, type=click.Choice(ROLES))
@click.option("--legal", is_flag=True)
@click.option("--extensions", default=None, type=click.IntRange(min=0, max=10),
              help="Hoe vaak de doorlooptijd van deze route verlengd mag worden (standaard: max_extensions van het "
                   "SWV, anders 1).")
@click.option("--reason", default=None, help="Waarom (komt in de geschiedenis van het SWV).")
@pass_ctx
def tenants_term(ctx: Context, tenant_key: str, route: str, expression: str, from_task: str | None,
                 escalate_to: str, legal: bool, extensions: int | None, reason: str | None) -> None:
    """Leg de doorlooptijd vast die dit SWV voor een route belooft (bv. Sterk VO: 2 weken); een gebeurtenis in de
    geschiedenis van het SWV, zoals een wijziging op de webpagina."""
    from engine.errors import InvalidData
    from engine.swv_settings import checked_term

    config = {"term": expression, "from": from_task, "escalateTo": escalate_to, "legal": legal,
              "extensions": extensions}
    with ctx.db.transaction() as session:
        tenant = tenant_by_key(session, tenant_key)
        try:  # the expression must work now, not at the first case that needs it
            term = checked_term(session, tenant, route, config)
        except InvalidData as exc:
            fail("; ".join(f"{field}: {' '.join(messages)}" for field, messages in exc.details.items()))
        change(session, tenant, f"terms.{route}", term, Who(f"cli:{getpass.getuser()}", "cli"), reason=reason)
        due = case_due(Terms(session, tenant), term, {})
    until = clock.local_date(due).isoformat()
    click.echo(f"doorlooptijd {route} voor {tenant_key}: {expression} (vandaag gestart: tot {until})")


@click.group()
def outbox() -> None:
    """Berichten: wat er verstuurd is, wat nog wacht en wat geweigerd werd."""


@outbox.command("list")
@click.option("--tenant", "tenant_key", required=True)
@click.option("--status", type=click.Choice(STATUSES), default=None)
@pass_ctx
def outbox_list(ctx: Context, tenant_key: str, status: str | None) -> None:
    """Toon de berichten van een SWV, oudste eerst, met de fout van wat nog wacht of geweigerd werd."""
    with ctx.db.read() as session:
        tenant = tenant_by_key(session, tenant_key)
    rows = outbox_messages(ctx.db, tenant.id, status)
    click.echo(f"{len(rows)} bericht(en) van {tenant_key}" + (f" met status {status}" if status else ""))
    for m in rows:
        when = clock.format_moment(m.sent_at or m.next_attempt_at)
        line = f"{m.id:>6}  {m.status:<8} {when}  dossier {m.case_id or '-':<6} {m.to_address:<30} {m.subject}"
        if m.status != OutboxStatus.SENT and m.last_error:
            line += f"  [{m.attempts}x: {m.last_error}]"
        if m.status == OutboxStatus.PENDING and m.attachment_name and m.attachment is None:
            line += f"  [wacht op de brief {m.attachment_name}: de scheduler maakt hem]"
        click.echo(line)


@outbox.command("retry")
@click.option("--tenant", "tenant_key", required=True)
@click.argument("message_ids", nargs=-1, type=int)
@pass_ctx
def outbox_retry(ctx: Context, tenant_key: str, message_ids: tuple[int, ...]) -> None:
    """Zet geweigerde berichten opnieuw in de wachtrij (alle, of alleen de genoemde nummers)."""
    with ctx.db.read() as session:
        tenant = tenant_by_key(session, tenant_key)
    click.echo(f"{requeue(ctx.db, tenant.id, list(message_ids))} bericht(en) opnieuw in de wachtrij")
