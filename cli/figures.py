"""``loket figures``: anonymous figures of an SWV, such as the Inspectie's quarterly thuiszitters registration."""

from __future__ import annotations

from pathlib import Path

import click

from .context import Context, cli_actor, fail, pass_ctx


@click.group()
def figures() -> None:
    """Anonieme cijfers van een SWV (zonder namen of dossiernummers)."""


@figures.command("thuiszitters")
@click.option("--tenant", "tenant_key", required=True, help="Het SWV.")
@click.option("--kwartaal", required=True, help="Het kwartaal als JJJJ-K, bijvoorbeeld 2026-3 (juli t/m september).")
@click.option("--output", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Schrijf de CSV naar dit bestand (standaard: naar het scherm).")
@pass_ctx
def figures_thuiszitters(ctx: Context, tenant_key: str, kwartaal: str, output: Path | None) -> None:
    """De thuiszittersregistratie voor de Inspectie: aantallen per indeling in een kwartaal, als CSV."""
    from engine.thuiszitters import parse_quarter, registration, to_csv

    try:
        quarter = parse_quarter(kwartaal)
    except ValueError as exc:
        fail(str(exc))
    with ctx.db.read() as session:
        text = to_csv(quarter, registration(session, cli_actor(session, tenant_key), quarter))
    if output is None:
        click.echo(text, nl=False)
        return
    try:
        output.write_text(text, encoding="utf-8")
    except OSError as exc:
        fail(f"kan {output} niet schrijven: {exc.strerror or exc}")
    click.echo(f"{text.count(chr(10)) - 1} regel(s) geschreven naar {output}")
