"""``loket audit`` and ``loket retention``: verify, replay and export a case's history; purge after the term.

The CLI is run by a server administrator: it reads as 'beheerder' of the case's SWV, named after the OS
user, and every read of a case's history is recorded in the access log with channel 'cli'.
"""

from __future__ import annotations

import getpass
import json
import sys
from collections.abc import Iterable
from datetime import datetime
from pathlib import Path
from typing import Any

import click
from sqlalchemy import select
from sqlalchemy.orm import Session

from engine import clock
from engine.auth import Actor
from engine.models import Case, RouteVersion, Tenant, User
from engine.vocabulary import Role

from .context import Context, fail, pass_ctx, tenant_by_key


def moment(text: str | None, option: str) -> datetime | None:
    """An ISO moment; without a zone it is Dutch time."""
    if text is None:
        return None
    try:
        return clock.parse_local(text)
    except ValueError:
        fail(f"{option} is geen ISO-tijdstip (bv. 2026-11-02T14:00 of 2026-11-02T14:00+01:00): {text}")


def case_reader(ctx: Context, session: Session, case_id: int) -> tuple[Case, Actor]:
    case = session.get(Case, case_id)
    if case is None:
        fail(f"dossier {case_id} bestaat niet.")
    return case, Actor(None, f"cli:{getpass.getuser()}", Role.BEHEERDER, case.tenant_id)


def echo_json(value: Any) -> None:
    click.echo(json.dumps(value, indent=2, ensure_ascii=False, default=str))


@click.group()
def audit() -> None:
    """Audit: keten controleren, opnieuw afspelen, exporteren, toegangslog."""


@audit.command("verify")
@click.argument("case_id", type=int, required=False)
@click.option("--all", "all_cases", is_flag=True, help="Alle dossiers en de toegangslogs van alle SWV's.")
@click.option("--tenant", "tenant_key", default=None, help="Met --all: alleen dit SWV.")
@pass_ctx
def audit_verify(ctx: Context, case_id: int | None, all_cases: bool, tenant_key: str | None) -> None:
    """Controleer de hash-keten van een dossier (of van alle); exitcode 1 als er iets gebroken is."""
    from engine import access
    from engine import audit as audits

    if (case_id is None) == (not all_cases):
        fail("geef een dossiernummer of --all.")
    broken = 0
    with ctx.db.read() as session:
        if case_id is not None:
            case = session.get(Case, case_id)
            if case is None:
                fail(f"dossier {case_id} bestaat niet.")
            reports: Iterable[audits.ChainReport] = [audits.verify_case(session, case)]
        else:
            tenant_id = tenant_by_key(session, tenant_key).id if tenant_key else None
            reports = audits.verify_all(session, tenant_id)
        checked, intact = 0, []
        for report in reports:
            checked += 1
            if report.intact:
                intact.append(report.case_id)
                if case_id is not None:
                    click.echo(f"dossier {report.case_id}: keten intact ({report.events} events, "
                               f"kop {report.head[:16]})")
                continue
            broken += 1
            for item in report.breaks:
                where = f"event {item.seq}" if item.seq is not None else "keten"
                click.echo(f"dossier {report.case_id}, {where}: {item.message}", err=True)
        # An intact chain is not enough: the case's rows (tasks, deadlines, clock) must be what it says.
        differs = 0
        for result in audits.replay_all(ctx.runtime, session, intact):
            if not result.consistent:
                differs += 1
                click.echo(f"dossier {result.case_id}: wijkt af van zijn geschiedenis: "
                           f"{(result.divergence or {}).get('message')}", err=True)
            elif case_id is not None:
                click.echo(f"dossier {result.case_id}: gegevens kloppen met de geschiedenis (opnieuw afgespeeld)")
        broken += differs
        if all_cases:
            tenants = select(Tenant.id, Tenant.key).order_by(Tenant.id)
            if tenant_key:
                tenants = tenants.where(Tenant.key == tenant_key)
            logs_broken = 0
            for tenant_id, key in session.execute(tenants):
                log = access.verify(session, tenant_id)
                for gap in log.breaks:
                    where = f"regel {gap.entry_id}" if gap.entry_id is not None else "kop"
                    click.echo(f"toegangslog {key}, {where}: {gap.message}", err=True)
                logs_broken += not log.intact
            click.echo(f"{checked} dossiers gecontroleerd, {broken - differs} met een gebroken keten, {differs} "
                       f"wijken af van hun geschiedenis; "
                       f"toegangslogs: {'intact' if not logs_broken else f'{logs_broken} gebroken'}")
            broken += logs_broken
    if broken:
        sys.exit(1)


@audit.command("replay")
@click.argument("case_id", type=int)
@click.option("--at", "at_text", default=None, help="De toestand op dit moment (ISO; zonder zone: Nederlandse tijd).")
@click.option("--seq", type=int, default=None, help="De toestand direct na dit event.")
@pass_ctx
def audit_replay(ctx: Context, case_id: int, at_text: str | None, seq: int | None) -> None:
    """Herbouw een dossier uit zijn geschiedenis en vergelijk; exitcode 1 bij een afwijking."""
    from engine import access
    from engine import audit as audits

    at = moment(at_text, "--at")
    with ctx.db.read() as session:
        case, actor = case_reader(ctx, session, case_id)
        replayer = audits.Replayer(ctx.runtime, session)
        result = replayer.run(case, at=at, seq=seq) if (at or seq) else replayer.run(case)
    what = f"state@{at.isoformat()}" if at else (f"state#{seq}" if seq else "replay")
    access.record(ctx.db, actor, what, "cli", case_id)
    echo_json(result.to_json())
    if not result.consistent:
        sys.exit(1)


@audit.command("export")
@click.argument("case_id", type=int)
@click.option("--format", "fmt", type=click.Choice(["json", "pdf"]), default="json", show_default=True)
@click.option("--output", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Bestand; standaard JSON naar standaarduitvoer, PDF naar dossier-<nr>-audit.pdf.")
@pass_ctx
def audit_export(ctx: Context, case_id: int, fmt: str, output: Path | None) -> None:
    """De volledige geschiedenis en het toegangslog van een dossier, als JSON of PDF-rapport."""
    from engine import access
    from engine.audit_export import export, render_pdf

    with ctx.db.read() as session:
        case, actor = case_reader(ctx, session, case_id)
        document = export(ctx.runtime, session, case)
    access.record(ctx.db, actor, f"export:{fmt}", "cli", case_id)
    if fmt == "json":
        text = json.dumps(document, indent=2, ensure_ascii=False, default=str)
        if output is None:
            click.echo(text)
            return
        output.write_text(text + "\n", encoding="utf-8")
    else:
        output = output or Path(f"dossier-{case_id}-audit.pdf")
        output.write_bytes(render_pdf(document))
    click.echo(f"export van dossier {case_id} geschreven naar {output}", err=True)


@audit.command("access-log")
@click.option("--case", "case_id", type=int, default=None, help="Wie dit dossier las.")
@click.option("--user", "email", default=None, help="Wat deze gebruiker las.")
@click.option("--limit", type=int, default=50, show_default=True)
@pass_ctx
def audit_access_log(ctx: Context, case_id: int | None, email: str | None, limit: int) -> None:
    """Toon het toegangslog van een dossier of een gebruiker (nieuwste eerst)."""
    from engine import access

    if (case_id is None) == (email is None):
        fail("geef --case of --user.")
    with ctx.db.read() as session:
        if case_id is not None:
            case, actor = case_reader(ctx, session, case_id)
            rows, total = access.for_case(session, case.tenant_id, case_id, limit)
        else:
            user = session.scalar(select(User).where(User.email == email))
            if user is None:
                fail(f"gebruiker {email} bestaat niet.")
            actor = None
            rows, total = access.for_user(session, user.tenant_id, user.id, limit)
        lines = [f"{clock.format_moment(e.at, seconds=True)}  {e.actor:<30} {e.role:<12} {e.channel:<4} "
                 f"{'dossier ' + str(e.case_id) if e.case_id else '':<14} {e.what}" for e in rows]
    if actor is not None:
        access.record(ctx.db, actor, "access-log", "cli", case_id)
    for line in lines:
        click.echo(line)
    click.echo(f"({len(lines)} van {total} regels)", err=True)


# ---------------------------------------------------------------- retention


@click.group()
def retention() -> None:
    """Bewaartermijnen: persoonsgegevens verwijderen van dossiers waarvan de termijn verstreken is."""


@retention.command("run")
@click.option("--now", "now_text", default=None, help="Doe alsof het nu dit moment is (ISO).")
@click.option("--dry-run", is_flag=True, help="Toon alleen wat er verwijderd zou worden.")
@pass_ctx
def retention_run(ctx: Context, now_text: str | None, dry_run: bool) -> None:
    """Verwijder of anonimiseer de persoonsgegevens van gesloten dossiers na hun bewaartermijn."""
    from engine.retention import run_retention

    result = run_retention(ctx.db, moment(now_text, "--now"), dry_run=dry_run, settings=ctx.settings)
    verb = "zou verwijderen" if dry_run else "verwijderd"
    for item in result.purged:
        click.echo(f"dossier {item.case_id}: {verb} ({item.rule}; termijn verstreken op "
                   f"{clock.format_date(item.due_at)}; {item.documents} document(en))")
    for case_id, message in result.errors:
        click.echo(f"dossier {case_id}: fout: {message}", err=True)
    for route in sorted(result.without_policy):
        click.echo(f"route {route} heeft geen bewaartermijn (property retentionPeriod); niets verwijderd",
                   err=True)
    click.echo(f"{len(result.purged)} dossier(s) {verb}, {result.waiting} gesloten dossier(s) binnen de termijn")
    files = "" if dry_run else f"{result.files} bestand(en) van documenten, "
    click.echo(f"ook {verb}: {files}{result.logins} inlogpoging(en) ouder dan {ctx.settings.login_attempts_days} "
               f"dagen, {result.drafts} concept(en) van taken die niet meer open zijn")
    if result.errors:
        sys.exit(1)


@retention.command("show")
@pass_ctx
def retention_show(ctx: Context) -> None:
    """Toon de bewaartermijn van elke route-versie."""
    from engine.retention import policy_for

    with ctx.db.read() as session:
        for version in session.scalars(select(RouteVersion).order_by(RouteVersion.route_id, RouteVersion.number)):
            try:
                policy = policy_for(version)
                text = policy.rule if policy else "geen bewaartermijn"
                if policy and policy.keep:
                    text += f"; blijft bewaard: {', '.join(policy.keep)}"
            except ValueError as exc:
                text = f"fout: {exc}"
            click.echo(f"{version.route.key} v{version.number}: {text}")
    click.echo(f"inlogpogingen: {ctx.settings.login_attempts_days} dagen bewaard (LOKET_LOGIN_ATTEMPTS_DAYS)")
