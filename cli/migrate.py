"""``loket processes migrate``: preview or move the open cases of a route version onto another version (issue 11).

Run by a server administrator: it acts as 'beheerder' of each case's SWV, named after the OS user. Every case
moves in its own transaction (engine.migration); a progress bar on a terminal when there are many.
"""

from __future__ import annotations

import getpass
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import click
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from engine.auth import Actor
from engine.migration import Migrator, Outcome
from engine.models import Case
from engine.vocabulary import Role

from .context import Context, pass_ctx, tenant_by_key

# Below this many cases the answer comes fast enough without a bar.
_BAR_FROM = 50


@click.command("migrate")
@click.argument("route")
@click.option("--from", "from_number", type=click.IntRange(1), required=True, help="De versie waar de dossiers nu op "
                                                                                    "lopen.")
@click.option("--to", "to_number", type=click.IntRange(1), required=True, help="De versie waar ze naartoe gaan.")
@click.option("--dry-run", is_flag=True, help="Alleen tonen wat kan en wat niet (en waarom); niets overzetten.")
@click.option("--case", "case_ids", type=click.IntRange(1), multiple=True, help="Alleen dit dossier (herhaalbaar).")
@click.option("--swv", "swv_key", default=None, help="Alleen de dossiers van dit SWV.")
@pass_ctx
def processes_migrate(ctx: Context, route: str, from_number: int, to_number: int, dry_run: bool,
                      case_ids: tuple[int, ...], swv_key: str | None) -> None:
    """Zet lopende dossiers van een routeversie over naar een andere versie van dezelfde route; per dossier kan
    het wel of niet, met de reden. Terug naar de vorige versie kan zolang er na de overzetting niets gebeurde.
    Exitcode 1 als van wat gevraagd is niets over kon."""
    tenant_id = None
    if swv_key is not None:
        with ctx.db.read() as session:
            tenant_id = tenant_by_key(session, swv_key).id
    migrator = Migrator(ctx.runtime)
    user = getpass.getuser()

    def actor_for(case: Case) -> Actor:
        return Actor(None, f"cli:{user}", Role.BEHEERDER, case.tenant_id)

    wanted = list(case_ids) or None
    with _bar(ctx, route, from_number, tenant_id, wanted, dry_run) as step:
        if dry_run:
            outcome = migrator.preview(route, from_number, to_number, tenant_id=tenant_id, case_ids=wanted,
                                       progress=step)
        else:
            outcome = migrator.migrate(route, from_number, to_number, actor_for, tenant_id=tenant_id,
                                       case_ids=wanted, progress=step)
    _report(outcome)
    done = outcome.can if dry_run else outcome.moved
    if outcome.cases and done == 0:
        sys.exit(1)


@contextmanager
def _bar(ctx: Context, route: str, from_number: int, tenant_id: int | None, wanted: list[int] | None,
         dry_run: bool) -> Iterator[Callable[[int], None] | None]:
    """A progress bar on stderr for many cases on a terminal; nothing otherwise."""
    total = len(wanted) if wanted else _open_count(ctx, route, from_number, tenant_id)
    if total < _BAR_FROM or not sys.stderr.isatty():
        yield None
        return
    label = "bekijken" if dry_run else "overzetten"
    with Progress(TextColumn(f"dossiers {label}"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn(),
                  console=Console(stderr=True), transient=True) as progress:
        task = progress.add_task(label, total=total)
        yield lambda n: progress.advance(task, n)


def _open_count(ctx: Context, route: str, from_number: int, tenant_id: int | None) -> int:
    from engine.routes import list_versions

    with ctx.db.read() as session:
        return next((v.open_cases for v in list_versions(session, tenant_id)
                     if v.key == route and v.number == from_number), 0)


def _report(outcome: Outcome) -> None:
    head = f"{outcome.route} v{outcome.from_version} -> v{outcome.to_version}"
    if not outcome.cases:
        click.echo(f"{head}: geen lopende dossiers om over te zetten.")
        return
    for verdict in outcome.cases:
        where = ", ".join(verdict.tasks) or "-"
        if verdict.moved:
            state = "teruggezet" if verdict.undo else "overgezet"
        elif verdict.can:
            state = "kan terug" if verdict.undo else "kan over"
        else:
            state = f"kan niet: {verdict.reason}"
        swv = f" ({verdict.tenant})" if verdict.tenant else ""
        click.echo(f"dossier {verdict.case_id}{swv} [{where}]: {state}")
        for remark in verdict.remarks:
            click.echo(f"    {remark}")
    total = len(outcome.cases)
    if outcome.dry_run:
        click.echo(f"{head}: {outcome.can} van {total} dossier(s) kunnen over, {total - outcome.can} niet "
                   "(proefdraai, niets overgezet).")
    else:
        click.echo(f"{head}: {outcome.moved} van {total} dossier(s) overgezet, {total - outcome.moved} niet.")
