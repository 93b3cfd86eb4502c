"""``loket backup`` and ``loket restore``: a consistent copy of the whole database while Loket runs, and putting
one back, after which every case is checked as ``loket audit verify --all`` checks it."""

from __future__ import annotations

from pathlib import Path

import click

from engine import backup as backups
from engine.db import Database, schema_state

from .audit import audit_verify
from .context import Context, fail, pass_ctx


def _size(size: int) -> str:
    return f"{size / 1_000_000:.1f} MB" if size >= 1_000_000 else f"{max(size // 1000, 1)} kB"


@click.command("backup")
@click.argument("path", type=click.Path(path_type=Path))
@click.option("--force", is_flag=True, help="Overschrijf een bestaand bestand.")
@pass_ctx
def backup(ctx: Context, path: Path, force: bool) -> None:
    """Maak een backup van de database terwijl Loket draait (SQLite: online backup; PostgreSQL: pg_dump)."""
    try:
        made = backups.backup(ctx.settings.database_url, path, overwrite=force)
    except backups.BackupError as exc:
        fail(exc.message)
    form = "SQLite-database" if made.backend == "sqlite" else "pg_dump, custom format"
    click.echo(f"backup geschreven naar {made.path} ({form}, {_size(made.size)})")


@click.command("restore")
@click.argument("path", type=click.Path(path_type=Path))
@click.option("--force", is_flag=True, help="Overschrijf een database die al dossiers bevat.")
@click.pass_context
def restore(click_ctx: click.Context, path: Path, force: bool) -> None:
    """Zet een backup terug (stop eerst Loket) en controleer daarna elk dossier; exitcode 1 bij een afwijking."""
    ctx = click_ctx.ensure_object(Context)
    url = ctx.settings.database_url
    try:
        backups.restore(url, path, force=force)
    except backups.BackupError as exc:
        fail(exc.message)
    click.echo(f"backup {path} teruggezet in {backups.backend(url)}-database")
    database = Database(url)
    try:
        state = schema_state(database.engine)
        if state == "behind":  # a backup of an older Loket: bring it to this version, as `loket init` would
            database.upgrade()
            click.echo("database bijgewerkt naar de versie van deze Loket")
        elif state != "current":
            fail("de teruggezette database is niet van deze versie van Loket; controle overgeslagen.")
    finally:
        database.dispose()
    click.echo("controle van alle dossiers (loket audit verify --all):")
    click_ctx.invoke(audit_verify, case_id=None, all_cases=True, tenant_key=None)
