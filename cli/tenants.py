"""``loket tenants`` and ``loket schools``: SWVs and their schools, set up by municipality, and their calendar
settings (5 May, Goede Vrijdag, advisory holidays, a school's own region)."""

from __future__ import annotations

import getpass
from typing import Any

import click
from sqlalchemy import select
from sqlalchemy.orm import Session

from engine import clock
from engine.calendar import REGIONS, CalendarRules
from engine.calendar_settings import advisory_key, describe, setting_row
from engine.models import School, Tenant
from engine.regions import UnknownMunicipality, region_of, split_notes
from engine.tenant_events import Who, change, current

from .context import Context, fail, pass_ctx, tenant_by_key

DAY_CHOICES = ("vrij", "werkdag", "standaard")


def _region(gemeenten: tuple[str, ...], region: str | None) -> tuple[str, list[str]]:
    """The region from the municipalities (or the one given), and the municipalities as the table spells them."""
    if not gemeenten:
        if region is None:  # neither: Click's own "missing option" (usage error, exit 2), naming --region
            ctx = click.get_current_context()
            param = next(p for p in ctx.command.params if p.name == "region")
            raise click.MissingParameter(ctx=ctx, param=param)
        return region, []
    try:
        found, municipalities = region_of(list(gemeenten), region)
    except (UnknownMunicipality, ValueError) as exc:
        fail(str(exc))
    for note in split_notes(municipalities, found):
        click.echo(f"let op: {note}")
    return found, [m.name for m in municipalities]


def _school(session: Session, tenant: Tenant, code: str) -> School:
    school = session.scalar(select(School).where(School.tenant_id == tenant.id, School.code == code))
    if school is None:
        fail(f"school '{code}' bestaat niet in {tenant.key}.")
    return school


def _who() -> Who:
    """The operator at the terminal: every change of an SWV's configuration is an event (engine.tenant_events)."""
    return Who(f"cli:{getpass.getuser()}", "cli")


@click.group()
def tenants() -> None:
    """Samenwerkingsverbanden."""


@tenants.command("add")
@click.argument("key")
@click.option("--name", required=True)
@click.option("--gemeente", "gemeenten", multiple=True, help="Een gemeente van het SWV (herhaalbaar): "
              "Loket leidt de vakantieregio af.")
@click.option("--region", default=None, type=click.Choice(REGIONS), help="De vakantieregio; wint van --gemeente.")
@pass_ctx
def tenants_add(ctx: Context, key: str, name: str, gemeenten: tuple[str, ...], region: str | None) -> None:
    """Maak een SWV aan, met zijn gemeenten (de regio volgt daaruit) of met een regio."""
    region, names = _region(gemeenten, region)
    with ctx.db.transaction() as session:
        if session.scalar(select(Tenant).where(Tenant.key == key)):
            fail(f"SWV '{key}' bestaat al.")
        tenant = Tenant(key=key, name=name, region=region, settings={}, created_at=clock.now())
        session.add(tenant)
        if names:
            session.flush()
            setting_row(session, tenant, create=True).gemeenten = names  # type: ignore[union-attr]
    where = f", gemeenten {', '.join(names)}" if names else ""
    click.echo(f"SWV {key} aangemaakt ({name}, regio {region}{where})")


def _day_rule(value: str | None, current: bool | None) -> bool | None:
    if value is None:
        return current
    return {"vrij": True, "werkdag": False, "standaard": None}[value]


def _on_off(value: bool) -> str:
    return "aan" if value else "uit"


def _rules_lines(rules: CalendarRules, defaults: dict[str, bool], indent: str = "  ") -> list[str]:
    may5 = "vrij (geen werkdag, geen schooldag)" if rules.may5_off else "werkdag en schooldag"
    friday = "vrij (geen werkdag, geen schooldag)" if rules.good_friday_off else "werkdag en schooldag"
    advisory = dict(rules.advisory)
    parts = [f"{name} {_on_off(advisory.get(name, on))}" + ("" if name in advisory else " (standaard)")
             for name, on in defaults.items()]
    parts += [f"{key} {_on_off(on)}" for key, on in sorted(advisory.items()) if ":" in key]
    return [
        f"{indent}5 mei: {may5}",
        f"{indent}Goede Vrijdag: {friday}",
        f"{indent}adviesvakanties: {', '.join(parts)}",
        f"{indent}wettelijke termijnen (Atw): 5 mei, Goede Vrijdag en gelijkgestelde dagen altijd als feestdag",
    ]


@tenants.command("calendar")
@click.argument("key")
@click.option("--school", "school_code", default=None, help="Stel de kalender van deze school in, niet van het SWV.")
@click.option("--5-mei", "may5", type=click.Choice(DAY_CHOICES), default=None,
              help="5 mei in werkdagen en schooldagen (standaard: vrij).")
@click.option("--goede-vrijdag", "good_friday", type=click.Choice(DAY_CHOICES), default=None,
              help="Goede Vrijdag in werkdagen en schooldagen (standaard: vrij).")
@click.option("--advies", "advies", multiple=True, metavar="NAAM[:SCHOOLJAAR]=aan|uit|standaard",
              help="Een adviesvakantie aan of uit: herfstvakantie, voorjaarsvakantie (carnaval), meivakantie-week2.")
@click.option("--zonder", multiple=True, metavar="NAAM[:SCHOOLJAAR]", help="Kort voor --advies NAAM=uit.")
@click.option("--gemeente", "gemeenten", multiple=True, help="De gemeente(n); de regio volgt daaruit.")
@click.option("--region", default=None, type=click.Choice(REGIONS), help="De vakantieregio; wint van --gemeente.")
@pass_ctx
def tenants_calendar(ctx: Context, key: str, school_code: str | None, may5: str | None, good_friday: str | None,
                     advies: tuple[str, ...], zonder: tuple[str, ...], gemeenten: tuple[str, ...],
                     region: str | None) -> None:
    """Stel de kalender van een SWV of van een van zijn scholen in."""
    changes: dict[str, bool | None] = {}
    try:
        for item in advies:
            name, sep, value = item.partition("=")
            if not sep or value.strip().lower() not in ("aan", "uit", "standaard"):
                raise ValueError(f"'{item}': schrijf NAAM=aan, NAAM=uit of NAAM=standaard.")
            changes[advisory_key(name)] = {"aan": True, "uit": False}.get(value.strip().lower())
        for item in zonder:
            changes[advisory_key(item)] = False
    except ValueError as exc:
        fail(str(exc))
    if gemeenten or region:
        region, names = _region(gemeenten, region)
    with ctx.db.transaction() as session:
        tenant = tenant_by_key(session, key)
        school = _school(session, tenant, school_code) if school_code else None
        who = _who()
        path = f"calendar.{school_code}" if school_code else "calendar"
        rules = dict(current(session, tenant, path))
        rules["may5_off"] = _day_rule(may5, rules["may5_off"])
        rules["good_friday_off"] = _day_rule(good_friday, rules["good_friday_off"])
        advisory = dict(rules["advisory"])
        for name, on in changes.items():
            if on is None:
                advisory.pop(name, None)
            else:
                advisory[name] = on
        rules["advisory"] = advisory
        change(session, tenant, path, rules, who)
        if (gemeenten or region) and school is None:
            change(session, tenant, "area", {"gemeenten": names, "region": region}, who)
        elif gemeenten or region:
            assert school is not None
            base = current(session, tenant, f"schools.{school.code}") or {"name": school.name}
            place = {"region": region, **({"gemeente": names[0]} if names else {}),
                     **({"gemeenten": names} if len(names) > 1 else {})}
            kept = {k: v for k, v in base.items() if k not in ("gemeente", "gemeenten", "region")}
            change(session, tenant, f"schools.{school.code}", {**kept, **place}, who)
        session.flush()
        lines = _show_calendar(describe(session, tenant), school_code)
    click.echo(f"kalender van {school_code + ' in ' if school_code else ''}{key} bijgewerkt:")
    for line in lines:
        click.echo(line)


def _show_calendar(info: dict[str, Any], school_code: str | None = None) -> list[str]:
    if school_code is None:
        lines = _rules_lines(info["rules"], info["advisory_defaults"])
        lines += [f"  vrije dag {d.isoformat()}: {name}" for d, name in info["days_off"]]
        return lines
    (school,) = [s for s in info["schools"] if s["code"] == school_code]
    lines = [f"  regio {school['region']}" + (" (eigen regio)" if school["own_region"] else "")]
    lines += _rules_lines(school["rules"], info["advisory_defaults"])
    lines += [f"  eigen vrije dag {d}: {name}" for d, name in school["days_off"].items()]
    return lines


@tenants.command("show")
@click.argument("key")
@click.option("--history", "history_count", default=10, show_default=True, type=click.IntRange(0, 500),
              help="Hoeveel van de laatste wijzigingen te tonen.")
@pass_ctx
def tenants_show(ctx: Context, key: str, history_count: int) -> None:
    """Toon de hele inrichting van een SWV: code, regio, gemeenten, commissies, routes, eigen termijnen,
    aanmeldvensters, herbeoordeling, labels, kalender, scholen en de laatste wijzigingen."""
    with ctx.db.read() as session:
        tenant = tenant_by_key(session, key)
        shown = _configuration(session, tenant, history_count)
    for line in shown:
        click.echo(line)


def _configuration(session: Session, tenant: Tenant, history_count: int) -> list[str]:
    from engine.swv_settings import spoken, window_text
    from engine.tenant_events import differences, history, loaded_file, short

    info = describe(session, tenant)
    settings = dict(tenant.settings or {})
    out = [f"SWV {tenant.key}: {tenant.name}"]
    code = (settings.get("tlv") or {}).get("code")
    out.append(f"SWV-code: {code or 'geen'}")
    gemeenten = f" (gemeenten: {', '.join(info['gemeenten'])})" if info["gemeenten"] else ""
    out.append(f"regio: {info['region']}{gemeenten}")
    out.append(f"aangemaakt: {clock.format_moment(tenant.created_at)}")
    marker = loaded_file(session, tenant.id)
    if marker is not None:
        out.append(f"bestand: processes/swv/{marker.after.get('file')} versie {marker.version}, geladen "
                   f"{clock.format_moment(marker.at)}")
    routes = settings.get("routes")
    out.append(f"routes: {', '.join(routes) if routes is not None else 'alle gedeployde routes'}")
    out.append("lwoo: " + ("toewijzing per leerling" if settings.get("lwoo") == "toewijzing" else
                           "geen toewijzing per leerling (opting-out)" if routes is not None else "niet ingesteld"))
    commissions = settings.get("commissions") or []
    out.append(f"commissies: {len(commissions)}")
    for commission in commissions:
        abbreviation = f" ({commission['short']})" if commission.get("short") else ""
        out.append(f"  {commission['name']}{abbreviation}: {', '.join(commission['routes'])}")
    out.append("kalender:")
    out += _show_calendar(info)
    terms = settings.get("terms") or {}
    out.append(f"eigen doorlooptijden: {len(terms)}")
    for route, term in sorted(terms.items()):
        start = f" vanaf {term['from']}" if term.get("from") else ""
        legal = ", wettelijk" if term.get("legal") else ""
        more = f", hoogstens {term['extensions']} keer verlengen" if term.get("extensions") is not None else ""
        out.append(f"  {route}: {term['term']}{start}, escalatie naar {term.get('escalateTo')}{legal}{more}")
    if "max_extensions" in settings:
        out.append(f"verlengen: hoogstens {settings['max_extensions']} keer")
    windows = settings.get("intake_windows") or {}
    out.append(f"aanmeldvensters: {len(windows)}")
    for route, route_windows in sorted(windows.items()):
        out.append(f"  {route}: {'; '.join(window_text(w) for w in route_windows)}")
    if settings.get("herbeoordeling"):
        again = settings["herbeoordeling"]
        out.append(f"herbeoordeling: aanvragen uiterlijk {spoken(again['deadline'])}, zaken "
                   f"{again.get('open_weeks_before', 12)} weken eerder geopend")
    labels = settings.get("labels") or {}
    if labels:
        out.append("labels: " + ", ".join(f"{task} = {text}" for task, text in sorted(labels.items())))
    kinds = {code: own.get("kind") for code, own in (settings.get("schools") or {}).items()}
    out.append(f"scholen: {len(info['schools'])}")
    for school in info["schools"]:
        kind = f" [{kinds[school['code']]}]" if kinds.get(school["code"]) else ""
        where = f", gemeente {school['gemeente']}" if school["gemeente"] else ""
        own = " (eigen regio)" if school["own_region"] else ""
        extra = ", eigen kalender" if school["differs"] or school["days_off"] else ""
        out.append(f"  {school['code']:<8} {school['name']}{kind}: regio {school['region']}{own}{where}{extra}")
    drifted = differences(session, tenant)
    if drifted:  # a setting written without its event (an older Loket, or by hand in the database)
        out.append(f"waarschuwing: deze instellingen wijken af van hun gebeurtenissen: {', '.join(drifted)}")
    changes = history(session, tenant.id, limit=history_count) if history_count else []
    if changes:
        out.append(f"laatste wijzigingen: {len(changes)}")
    for event in changes:
        why = f" ({event.reason})" if event.reason else ""
        out.append(f"  {clock.format_moment(event.at)} {event.actor} via {event.channel}: {event.path}: "
                   f"{short(event.before, event.path)} => {short(event.after, event.path)}{why}")
    return out


@click.group()
def schools() -> None:
    """Scholen van een SWV."""


@schools.command("add")
@click.argument("code")
@click.option("--tenant", "tenant_key", required=True)
@click.option("--name", required=True)
@click.option("--gemeente", default=None, help="De gemeente van de school: een school in een andere "
              "vakantieregio dan het SWV telt haar eigen schooldagen.")
@click.option("--region", default=None, type=click.Choice(REGIONS), help="De vakantieregio van de school; "
              "wint van --gemeente.")
@pass_ctx
def schools_add(ctx: Context, code: str, tenant_key: str, name: str, gemeente: str | None,
                region: str | None) -> None:
    """Voeg een school toe aan een SWV."""
    names: list[str] = []
    if gemeente or region:
        region, names = _region((gemeente,) if gemeente else (), region)
    with ctx.db.transaction() as session:
        tenant = tenant_by_key(session, tenant_key)
        if session.scalar(select(School).where(School.tenant_id == tenant.id, School.code == code)):
            fail(f"School '{code}' bestaat al in {tenant_key}.")
        own = region if region and region != tenant.region else None
        place = {"region": region, **({"gemeente": names[0]} if names else {})} if names or own else {}
        change(session, tenant, f"schools.{code}", {"name": name, **place}, _who())
        swv_region = tenant.region
    where = f", gemeente {names[0]}" if names else ""
    note = f", eigen vakantieregio {own} (het SWV: {swv_region})" if own else ""
    click.echo(f"school {code} aangemaakt in {tenant_key}{where}{note}")
