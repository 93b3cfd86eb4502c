"""``loket tlv``: an SWV's TLV settings (SWV code, end day, minimum duration, register margin), its TLV register,
and the legal hold of a case while an objection or appeal runs (issue 9)."""

from __future__ import annotations

import getpass
import re

import click

from engine.auth import Actor
from engine.vocabulary import Role

from .context import Context, fail, pass_ctx, tenant_by_key


@click.group()
def tlv() -> None:
    """TLV: instellingen per SWV, het TLV-register en de juridische bewaarplicht van een dossier."""


@tlv.command("settings")
@click.argument("key")
@click.option("--code", default=None, help="De SWV-code van DUO, bijvoorbeeld 'VO 31.04' (TLV-nummers worden "
                                             "VO3104-TLV-2026-0001).")
@click.option("--einddag", default=None, help="Vaste einddag van een TLV als MM-DD (standaard 07-31), of 'geen'.")
@click.option("--minimale-looptijd", "months", type=click.IntRange(0, 120), default=None,
              help="Minimale looptijd in maanden (standaard 12; 0 = geen).")
@click.option("--register-marge", "margin", type=click.IntRange(0, 120), default=None,
              help="Maanden dat het TLV-register een TLV na de einddatum bewaart (standaard 12).")
@pass_ctx
def tlv_settings(ctx: Context, key: str, code: str | None, einddag: str | None, months: int | None,
                 margin: int | None) -> None:
    """Stel de TLV-regels van een SWV in, of toon ze (zonder opties)."""
    from engine.tlv_register import normalise_code
    from engine.tlv_rules import tlv_settings as effective

    changes: dict[str, object] = {}
    if code is not None:
        try:
            changes["code"] = normalise_code(code)
        except ValueError as exc:
            fail(str(exc))
    if einddag is not None:
        if einddag.lower() == "geen":
            changes["einddag"] = None
        elif not re.fullmatch(r"(0[1-9]|1[0-2])-(0[1-9]|[12]\d|3[01])", einddag):
            fail(f"'{einddag}' is geen einddag; gebruik MM-DD, bijvoorbeeld 07-31, of 'geen'")
        else:
            changes["einddag"] = einddag
    if months is not None:
        changes["minimale_looptijd_maanden"] = months
    if margin is not None:
        changes["register_marge_maanden"] = margin
    with ctx.db.transaction() as session:
        tenant = tenant_by_key(session, key)
        updated = bool(changes)
        # The TLV rules are part of the SWV's configuration: events (engine.tenant_events), the code its own path.
        from engine.tenant_events import Who, change, current

        who = Who(f"cli:{getpass.getuser()}", "cli")
        if "code" in changes:
            change(session, tenant, "code", changes.pop("code"), who)
        if changes:
            change(session, tenant, "tlv", {**current(session, tenant, "tlv"), **changes}, who)
        settings = dict(tenant.settings or {})
        shown = effective(settings)
        own = dict(settings.get("tlv") or {})
    click.echo(f"TLV-regels van {key}{' bijgewerkt' if updated else ''}:")
    click.echo(f"  SWV-code: {shown['code'] or 'geen (nummers TLV-<jaar>-<nnnn>)'}")
    click.echo(f"  einddag: {shown['einddag'] or 'geen vaste einddag'}")
    click.echo(f"  minimale looptijd: {shown['minimale_looptijd_maanden'] or 0} maanden")
    click.echo(f"  registermarge: {own.get('register_marge_maanden', 12)} maanden na de einddatum")


@tlv.command("register")
@click.argument("key")
@pass_ctx
def tlv_register_list(ctx: Context, key: str) -> None:
    """Toon het TLV-register van een SWV: nummer, besluitdatum, looptijd, soort en categorie, bewaard tot."""
    from engine.tlv_register import entries

    with ctx.db.read() as session:
        tenant = tenant_by_key(session, key)
        rows = entries(session, tenant.id)
        if not rows:
            click.echo("geen TLV's in het register")
        for row in rows:
            click.echo(f"{row.nummer}  besluit {row.besluitdatum}  {row.ingangsdatum} t/m {row.einddatum}  "
                       f"{row.soort or '-'}/{row.categorie or '-'}  dossier {row.case_id or '-'}  "
                       f"bewaard tot {row.keep_until}")


def _actor(ctx: Context, case_id: int) -> Actor:
    from engine.models import Case

    with ctx.db.read() as session:
        case = session.get(Case, case_id)
        if case is None:
            fail(f"dossier {case_id} bestaat niet.")
        return Actor(None, f"cli:{getpass.getuser()}", Role.BEHEERDER, case.tenant_id)


@tlv.command("hold")
@click.argument("case_id", type=int)
@click.option("--reason", required=True, help="Waarom: bijvoorbeeld 'bezwaar ouders ontvangen 12-01-2027'.")
@pass_ctx
def tlv_hold(ctx: Context, case_id: int, reason: str) -> None:
    """Stel een juridische bewaarplicht in: de bewaartermijn slaat het dossier over zolang bezwaar of beroep loopt."""
    from engine import legal_hold

    legal_hold.set_hold(ctx.runtime, _actor(ctx, case_id), case_id, reason)
    click.echo(f"dossier {case_id}: juridische bewaarplicht ingesteld ({reason})")


@tlv.command("release")
@click.argument("case_id", type=int)
@click.option("--reason", required=True, help="Waarom: bijvoorbeeld 'uitspraak Raad van State 2020-04-08'.")
@pass_ctx
def tlv_release(ctx: Context, case_id: int, reason: str) -> None:
    """Hef de juridische bewaarplicht op: de eigen bewaartermijn van het dossier geldt weer."""
    from engine import legal_hold

    legal_hold.lift_hold(ctx.runtime, _actor(ctx, case_id), case_id, reason)
    click.echo(f"dossier {case_id}: juridische bewaarplicht opgeheven ({reason})")
