"""``loket processes test``: run the scenarios of the routes (processes/scenarios/<route>/*.yaml), each in a
throwaway in-memory database, and say per scenario whether it went as written."""

from __future__ import annotations

import sys
import time
from pathlib import Path

import click

from .context import Context, fail, pass_ctx


def _routes_of(directory: Path, processes_dir: Path, route: str | None) -> list[str]:
    if route is not None:
        return [route]
    keys = {p.name for p in directory.iterdir() if p.is_dir()} if directory.is_dir() else set()
    return sorted(keys | {p.stem for p in processes_dir.glob("*.bpmn")})


@click.command("test")
@click.argument("route", required=False)
@click.option("--verbose", "-v", is_flag=True, help="Toon per stap wat er gebeurde (taken, termijnen, escalaties).")
@click.option("--deployed", is_flag=True, help="Test de laatst gedeployde versie in de database in plaats van "
              "de bestanden in processes/.")
@pass_ctx
def processes_test(ctx: Context, route: str | None, verbose: bool, deployed: bool) -> None:
    """Draai de scenario's van alle routes (of van ROUTE); exitcode 1 als er één mislukt."""
    from engine import scenarios

    processes_dir = ctx.settings.processes_dir
    directory = processes_dir / "scenarios"
    began = time.perf_counter()
    ran = failed = 0
    for key in _routes_of(directory, processes_dir, route):
        try:
            under_test = _route(ctx, key, processes_dir, deployed)
        except scenarios.RouteUnusable as exc:
            for problem in exc.problems:
                click.echo(f"fout: {problem}", err=True)
            failed += 1
            continue
        trial = scenarios.try_route(under_test, directory)
        if not trial.results and not trial.problems:
            if route is not None:  # asked for by name: that it has none is the answer, and not a pass
                fail(f"route {key} heeft geen scenario's ({directory / key}/*.yaml)")
            click.echo(f"waarschuwing: route {key} heeft geen scenario's ({directory / key}/*.yaml)", err=True)
        for problem in trial.problems:
            click.echo(f"fout: {problem}", err=True)
        failed += len(trial.problems)
        for result in trial.results:
            ran += 1
            failed += not result.ok
            for line in scenarios.describe(result, verbose):
                click.echo(line)
    seconds = time.perf_counter() - began
    click.echo(f"{ran} scenario's, {ran - min(failed, ran)} ok, {failed} mislukt ({seconds:.1f} s)")
    if failed:
        sys.exit(1)


def _route(ctx: Context, key: str, processes_dir: Path, deployed: bool):  # -> scenarios.RouteUnderTest
    from engine import scenarios

    if deployed:
        from engine.errors import NotFound
        from engine.routes import latest_version

        with ctx.db.read() as session:
            try:
                return scenarios.route_from_version(latest_version(session, key))
            except NotFound as exc:
                fail(exc.message)
    path = processes_dir / f"{key}.bpmn"
    if not path.is_file():
        raise scenarios.RouteUnusable([f"route {key} bestaat niet: {path} ontbreekt"])
    forms = {p.name: p.read_text(encoding="utf-8") for p in (processes_dir / "forms").glob("*.json")}
    return scenarios.route_from_files(key, path.read_bytes(), forms)
