"""The ``loket`` command: set up, administer and run Loket."""

from __future__ import annotations

import getpass
import json
import re
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any

import click
from sqlalchemy.exc import OperationalError, ProgrammingError

import handlers  # noqa: F401  (the CLI is an edge of Loket: importing the handlers registers them)
from engine.auth import Actor
from engine.errors import LoketError

from .audit import audit, retention
from .backup import backup, restore
from .context import Context, cli_actor, fail, pass_ctx
from .figures import figures
from .migrate import processes_migrate
from .scenarios import processes_test
from .serve import scheduler, serve
from .tenants import schools, tenants
from .terms import calendar, outbox, tenants_term
from .tlv import tlv
from .users import users

# Click's own messages about the command line, in Dutch. Matched on Click's English wording, in this order; a
# message that a later Click rewords stays English, but still comes as Loket's `fout:` line.
DUTCH = [
    (r"Missing argument", "ontbrekend argument"),
    (r"Missing option", "ontbrekende optie"),
    (r"Missing parameter:?", "ontbrekende parameter"),
    (r"Missing command\.", "ontbrekend commando."),
    (r"No such option:?", "onbekende optie"),
    (r"No such command:?", "onbekend commando"),
    (r"\(Did you mean one of: (.*)\?\)", r"(Bedoelt u een van: \1?)"),
    (r"Did you mean (.*)\?", r"Bedoelt u \1?"),
    (r"Invalid value for ", "ongeldige waarde voor "),
    (r"Invalid value: ", "ongeldige waarde: "),
    (r" is not a valid integer\.", " is geen geheel getal."),
    (r" is not a valid float\.", " is geen getal."),
    (r" is not a valid boolean\. Recognized values: ", " is geen ja of nee; geldig zijn: "),
    (r" is not one of (.*)\.", r" is geen geldige keuze; kies uit \1."),
    (r" is not ('[^']*')\.", r" is geen geldige keuze; kies \1."),
    (r" is not in the range ", " valt buiten het bereik "),
    (r" does not match the formats? ", " past niet bij "),
    (r",\n\t", ", "),
    (r"Choose from:\s*(.*)", r"Kies uit: \1."),
    (r"Got unexpected extra arguments \((.*)\)", r"onverwachte extra argumenten: \1."),
    (r"Got unexpected extra argument \((.*)\)", r"onverwacht extra argument: \1."),
    (r"Option (\S+) requires an argument\.", r"optie \1 heeft een waarde nodig."),
    (r"Option (\S+) requires (\d+) arguments\.", r"optie \1 heeft \2 waarden nodig."),
    (r"Option (\S+) does not take a value\.", r"optie \1 neemt geen waarde."),
    (r"Argument (\S+) takes (\d+) values\.", r"argument \1 neemt \2 waarden."),
    (r"(\d+) values are required, but (\d+) (?:was|were) given\.", r"er zijn \1 waarden nodig, niet \2."),
    (r"Could not open file (.*?): ", r"kan bestand \1 niet openen: "),
]


def dutch(message: str) -> str:
    for english, translated in DUTCH:
        message = re.sub(english, translated, message)
    return message


class CommandLineError(click.ClickException):
    """One of Click's own errors as Loket says it: one `fout:` line in Dutch (and where help is), instead of
    Click's English usage block."""

    def __init__(self, message: str, help_for: str | None = None) -> None:
        super().__init__(message)
        self.help_for = help_for

    def show(self, file: IO[Any] | None = None) -> None:
        click.echo(f"fout: {self.message}", file=file, err=True)
        if self.help_for:
            click.echo(f"Zie '{self.help_for} --help'.", file=file, err=True)


class CommandLineUsageError(CommandLineError):
    exit_code = 2  # as Click's usage errors


@contextmanager
def _in_dutch(help_for: Callable[[], str]) -> Iterator[None]:
    try:
        yield
    except (CommandLineError, click.exceptions.NoArgsIsHelpError):  # already said; or the help, as Click shows it
        raise
    except click.UsageError as exc:
        where = exc.ctx.command_path if exc.ctx is not None else help_for()
        raise CommandLineUsageError(dutch(exc.format_message()), where) from None
    except click.ClickException as exc:
        raise CommandLineError(dutch(exc.format_message())) from None
    except click.exceptions.Abort:
        raise CommandLineError("afgebroken.") from None


def _command_path(ctx: click.Context, argv: list[str]) -> str:
    """``loket cases extend``: the (sub)commands named at the start of ``argv``."""
    path, command = [ctx.command_path], ctx.command
    for word in argv:
        sub = command.get_command(ctx, word) if isinstance(command, click.Group) else None
        if sub is None:
            break
        path.append(word)
        command = sub
    return " ".join(path)


class LoketGroup(click.Group):
    """The ``loket`` group: every usage error below it (missing argument, unknown option or command, a bad
    value) comes out as a :class:`CommandLineError`, in ``run()`` and under Click's standalone handling alike."""

    def make_context(self, info_name: str | None, args: list[str], parent: click.Context | None = None,
                     **extra: Any) -> click.Context:
        argv = list(args)
        with _in_dutch(lambda: info_name or "loket"):
            ctx = super().make_context(info_name, args, parent, **extra)
        ctx.meta["loket.argv"] = argv  # to name the subcommand when Click's error does not carry its context
        return ctx

    def invoke(self, ctx: click.Context) -> Any:
        with _in_dutch(lambda: _command_path(ctx, ctx.meta.get("loket.argv", []))):
            return super().invoke(ctx)


@click.group(cls=LoketGroup, name="loket")
def main() -> None:
    """Loket: zaakbehandeling voor samenwerkingsverbanden passend onderwijs."""


@main.command()
@click.option("--demo", is_flag=True, help="Maak ook een demo-SWV met scholen, gebruikers en dossiers.")
@pass_ctx
def init(ctx: Context, demo: bool) -> None:
    """Maak of upgrade de database, deploy alle routes in processes/ en laad de SWV-bestanden (processes/swv/)."""
    from engine import routes

    ctx.db.upgrade()
    click.echo(f"database: {ctx.settings.database_url}")
    with ctx.db.transaction() as session:
        for d in routes.deploy_dir(session, ctx.settings.processes_dir):
            click.echo(f"route {d.key} v{d.number} {'gedeployed' if d.created else 'ongewijzigd'} ({d.sha256[:12]})")
    _load_swvs(ctx)
    if demo:
        from cli.demo import create_demo

        create_demo(ctx.db, ctx.runtime, ctx.settings.processes_dir)


def _load_swvs(ctx: Context) -> None:
    """The SWV files (processes/swv/*.yaml): made or updated through events, after the routes they name."""
    from engine.swv_config import SwvFileInvalid
    from engine.swv_load import load_all

    try:
        with ctx.db.transaction() as session:
            for loaded in load_all(session, ctx.settings.processes_dir):
                click.echo(loaded.line())
    except SwvFileInvalid as exc:
        for problem in exc.problems:
            click.echo(f"fout: {problem}", err=True)
        sys.exit(1)


# ---------------------------------------------------------------- processes

@main.group()
def processes() -> None:
    """Routes: tonen, controleren en deployen."""


@processes.command("list")
@pass_ctx
def processes_list(ctx: Context) -> None:
    """Toon alle routes en versies met hun aantal open dossiers."""
    from engine.routes import list_versions

    with ctx.db.read() as session:
        rows = list_versions(session)
    if not rows:
        click.echo("Geen routes gedeployed (loket processes deploy).")
    for v in rows:
        mark = "*" if v.latest else " "
        click.echo(f"{mark} {v.key:<20} v{v.number:<3} {v.sha256[:12]}  open: {v.open_cases:<5} {v.title}")


@processes.command("validate")
@click.argument("paths", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("--strict", is_flag=True, help="Weiger ook bij waarschuwingen (zoals bij publiceren).")
def processes_validate(paths: tuple[Path, ...], strict: bool) -> None:
    """Controleer routes zonder ze te deployen; één regel per probleem."""
    from engine.validate import check

    problems = 0
    for path in paths:
        result = check(path)
        for problem in result.problems:
            click.echo(str(problem), err=True)
        for warning in result.warnings:  # worth fixing, but no reason to refuse the route
            click.echo(str(warning), err=True)
        problems += len(result.problems) + (len(result.warnings) if strict else 0)
        if result.ok and not (strict and result.warnings):
            warned = f" ({len(result.warnings)} waarschuwingen)" if result.warnings else ""
            click.echo(f"{path}: in orde{warned}")
    if problems:
        sys.exit(1)


@processes.command("deploy")
@click.argument("paths", nargs=-1, type=click.Path(path_type=Path))
@click.option("--strict", is_flag=True, help="Weiger zoals bij publiceren: bij waarschuwingen, falende scenario's.")
@pass_ctx
def processes_deploy(ctx: Context, paths: tuple[Path, ...], strict: bool) -> None:
    """Deploy routes als nieuwe, onveranderlijke versie (standaard: alles in processes/)."""
    from engine import routes

    files = list(paths) or sorted(ctx.settings.processes_dir.glob("*.bpmn"))
    try:
        with ctx.db.transaction() as session:
            for path in files:
                d = routes.deploy(session, path, strict=strict)  # the web publish's code path (engine.publish)
                click.echo(f"route {d.key} v{d.number} {'gedeployed' if d.created else 'ongewijzigd'} "
                           f"({d.sha256[:12]})")
    except routes.RouteInvalid as exc:
        for problem in exc.problems:
            click.echo(str(problem), err=True)
        sys.exit(1)


# ---------------------------------------------------------------- cases

@main.group()
def cases() -> None:
    """Dossiers."""


@cases.command("start")
@click.argument("route")
@click.option("--tenant", "tenant_key", required=True)
@click.option("--data", "data_json", default="{}", help="Gegevens volgens het startformulier, als JSON.")
@click.option("--linked-from", "linked_from", type=int, default=None,
              help="Het dossier waaruit dit dossier start (bezwaar: het besluit; herbeoordeling: de TLV).")
@click.option("--confirm-late", is_flag=True, help="Bezwaar: het bezwaarschrift kwam na de bezwaartermijn.")
@pass_ctx
def cases_start(ctx: Context, route: str, tenant_key: str, data_json: str, linked_from: int | None,
                confirm_late: bool) -> None:
    try:
        data = json.loads(data_json)
    except json.JSONDecodeError as exc:
        fail(f"--data is geen geldige JSON: {exc.msg} (positie {exc.pos}).")
    with ctx.db.read() as session:
        actor = cli_actor(session, tenant_key)
    case = ctx.runtime.start_case(actor, route, data, linked_from=linked_from, confirm_late=confirm_late)
    _show(ctx, actor, case.id)


@cases.command("show")
@click.argument("case_id", type=int)
@pass_ctx
def cases_show(ctx: Context, case_id: int) -> None:
    from engine import access

    actor = _case_actor(ctx, case_id)
    _show(ctx, actor, case_id)
    access.record(ctx.db, actor, "case", "cli", case_id)  # who saw what


@cases.command("retry")
@click.argument("case_id", type=int)
@pass_ctx
def cases_retry(ctx: Context, case_id: int) -> None:
    """Voer de mislukte stap van een dossier met een incident opnieuw uit."""
    actor = _case_actor(ctx, case_id)
    ctx.runtime.retry(actor, case_id)
    _show(ctx, actor, case_id)


def _case_actor(ctx: Context, case_id: int) -> Actor:
    from engine.models import Case

    with ctx.db.read() as session:
        case = session.get(Case, case_id)
        if case is None:
            fail(f"dossier {case_id} bestaat niet.")
        return Actor(None, f"cli:{getpass.getuser()}", "beheerder", case.tenant_id)


@cases.command("suspend")
@click.argument("case_id", type=int)
@click.option("--reason", required=True)
@pass_ctx
def cases_suspend(ctx: Context, case_id: int, reason: str) -> None:
    """Schort een dossier op: de klok stopt."""
    actor = _case_actor(ctx, case_id)
    ctx.runtime.suspend(actor, case_id, reason)
    _show(ctx, actor, case_id)


@cases.command("resume")
@click.argument("case_id", type=int)
@click.option("--reason", default=None)
@pass_ctx
def cases_resume(ctx: Context, case_id: int, reason: str | None) -> None:
    """Hervat een opgeschort dossier: alle termijnen schuiven op met de opgeschorte tijd."""
    actor = _case_actor(ctx, case_id)
    ctx.runtime.resume(actor, case_id, reason)
    _show(ctx, actor, case_id)


@cases.command("extend")
@click.argument("case_id", type=int)
@click.option("--weeks", required=True, type=int)
@click.option("--reason", required=True)
@pass_ctx
def cases_extend(ctx: Context, case_id: int, weeks: int, reason: str) -> None:
    """Verleng de doorlooptijd van een dossier."""
    actor = _case_actor(ctx, case_id)
    ctx.runtime.extend(actor, case_id, weeks, reason)
    _show(ctx, actor, case_id)


def _show(ctx: Context, actor: Actor, case_id: int) -> None:
    from engine.present import case_json

    rt = ctx.runtime
    with ctx.db.read() as session:
        case = rt.case_for(session, actor, case_id)
        click.echo(json.dumps(case_json(session, case, rt.open_tasks(session, case)), indent=2, ensure_ascii=False))


def run() -> None:
    """Entry point with Loket's error handling: a clear message, never a traceback."""
    try:
        main(prog_name="loket", standalone_mode=False)
    except click.exceptions.Abort:
        fail("afgebroken.")
    except click.ClickException as exc:  # a CommandLineError, or the help of a group given no command
        exc.show()
        sys.exit(exc.exit_code)
    except LoketError as exc:
        click.echo(f"fout: {exc.message}", err=True)
        for field, messages in (exc.details or {}).items():
            for message in messages if isinstance(messages, list) else [messages]:
                click.echo(f"  {field}: {message}", err=True)
        sys.exit(1)
    except SystemExit:
        raise
    except (OperationalError, ProgrammingError) as exc:
        first = str(exc.orig).splitlines()[0] if exc.orig else str(exc)
        click.echo(f"fout: de database is niet bereikbaar of nog niet aangemaakt (loket init): {first}", err=True)
        sys.exit(2)
    except Exception as exc:  # the last line of defence: a message, not a traceback
        click.echo(f"fout: onverwachte fout: {type(exc).__name__}: {exc}", err=True)
        sys.exit(2)


main.add_command(serve)
main.add_command(scheduler)
main.add_command(tenants)
main.add_command(schools)
main.add_command(users)
main.add_command(calendar)
main.add_command(outbox)
main.add_command(audit)
main.add_command(retention)
main.add_command(backup)
main.add_command(tlv)  # loket tlv (cli/tlv.py): SWV code, TLV register, legal hold
main.add_command(restore)
main.add_command(figures)  # loket figures (cli/figures.py): anonymous counts, e.g. the thuiszitters registration
processes.add_command(processes_test)  # loket processes test (cli/scenarios.py)
processes.add_command(processes_migrate)  # loket processes migrate (cli/migrate.py)
tenants.add_command(tenants_term)
