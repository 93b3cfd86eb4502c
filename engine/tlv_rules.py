"""The data rules of a TLV (route ``tlv-vso``), as form rules any route can name in ``x-loket-rules``.

Each message names its rule and its source, so a school, a consulent or a lawyer sees why data is refused:

- ``deskundigenadviezen`` / ``deskundigenadviezen_dossier``: two written advices by two different people, the
  first by an orthopedagoog or psycholoog, the second by a kinder- of jeugdpsycholoog, pedagoog, kinderpsychiater,
  maatschappelijk werker or arts (art. 17a lid 11 WVO; LBT expects it in the file);
- ``cluster_categorie``: the soort (cluster 3: ZML, LZ, LG, MG; cluster 4) fixes the bekostigingscategorie
  (laag = ZML, LZ and all of cluster 4; midden = LG; hoog = MG);
- ``tlv_looptijd``: ingangsdatum not before the decision date unless motivated, einddatum after both, and the
  SWV's standard end day and minimum duration (SWV policy, tenant setting ``tlv``);
- ``verantwoordelijk_swv``: the pupil's home municipality decides which SWV decides (art. 17a WVO);
- ``zorgplicht``: the parents' written registration lies not in the future; the school's term (6 weeks, once
  extendable by 4) is computed by ``zorgplicht_termijnen``.
"""

from __future__ import annotations

import re
from datetime import date, timedelta
from typing import Any

from . import clock, regions
from .form_rules import Messages, RuleContext, rule
from .legal_days import atw_end

# The disciplines the law names (art. 17a lid 11 WVO). A kinder- of jeugdpsycholoog is a psycholoog too, so it
# may give the first advice as well as the second.
FIRST = ("orthopedagoog", "psycholoog", "kinder_of_jeugdpsycholoog")
SECOND = ("kinder_of_jeugdpsycholoog", "pedagoog", "kinderpsychiater", "maatschappelijk_werker", "arts")
DISCIPLINES = {"orthopedagoog": "orthopedagoog", "psycholoog": "psycholoog",
               "kinder_of_jeugdpsycholoog": "kinder- of jeugdpsycholoog", "pedagoog": "pedagoog",
               "kinderpsychiater": "kinderpsychiater", "maatschappelijk_werker": "maatschappelijk werker",
               "arts": "arts"}
ADVIES_RULE = "Regel deskundigenadviezen (art. 17a lid 11 WVO)"

# Bekostigingscategorie per soort (encyclopedie.vensters.nl, "Zorgcategorie"; legal-review T5).
CATEGORIE = {"zml": "laag", "lz": "laag", "lg": "midden", "mg": "hoog", "cluster_4": "laag"}
SOORTEN = {"zml": "cluster 3 ZML", "lz": "cluster 3 LZ", "lg": "cluster 3 LG", "mg": "cluster 3 MG",
           "cluster_4": "cluster 4"}

# SWV policy unless the SWV sets its own (tenant settings {"tlv": {"einddag": "07-31", "minimale_looptijd_maanden":
# 12}}); null switches a rule off. Sources: swvnoord-kennemerland.nl ("altijd 31-07-20.. met een minimale
# looptijd van één jaar"), swvam.nl.
DEFAULT_END_DAY = "07-31"
DEFAULT_MIN_MONTHS = 12
MONTHS = ("januari", "februari", "maart", "april", "mei", "juni", "juli", "augustus", "september", "oktober",
          "november", "december")

# Zorgplicht (WVO): the school decides within 6 weeks of the parents' written registration, extendable once by 4
# (legal-review T8: pold.nl, swvzout.nl; the article number was not retrieved).
ZORGPLICHT_WEEKS = 6
ZORGPLICHT_EXTRA_WEEKS = 4

_TITLES = re.compile(r"\b(drs|dr|mr|ir|ing|prof|msc|ma|ba|bsc|phd)\b\.?", re.IGNORECASE)


def tlv_settings(settings: dict[str, Any]) -> dict[str, Any]:
    """The SWV's TLV rules with Loket's defaults filled in."""
    own = dict(settings.get("tlv") or {})
    return {"einddag": own.get("einddag", DEFAULT_END_DAY),
            "minimale_looptijd_maanden": own.get("minimale_looptijd_maanden", DEFAULT_MIN_MONTHS),
            "code": own.get("code")}


def _person(name: Any) -> str:
    """An author as a person: without academic titles, initials' dots, case and spacing."""
    text = _TITLES.sub(" ", str(name or ""))
    return " ".join(re.sub(r"[.,]", " ", text).split()).casefold()


def _day(value: Any) -> date | None:
    try:
        return date.fromisoformat(str(value))
    except ValueError:
        return None


def _nl(day: date) -> str:
    return f"{day.day} {MONTHS[day.month - 1]} {day.year}"


def _day_month(end_day: str) -> str:
    month, day = (int(part) for part in end_day.split("-"))
    return f"{day} {MONTHS[month - 1]}"


# ---------------------------------------------------------------- deskundigenadviezen


def advies_problems(adviezen: list[dict[str, Any]], complete: bool) -> list[str]:
    """What is wrong with these advices together; ``complete``: they must already make the required pair."""
    problems = []
    people = [_person(a.get("auteur")) for a in adviezen]
    if len(set(people)) < len(people):
        problems.append(f"{ADVIES_RULE}: elk advies moet van een andere deskundige zijn; twee adviezen hebben "
                        "dezelfde auteur.")
        return problems  # the pair is judged once each advice has its own author
    pair = any(i != j and a.get("discipline") in FIRST and b.get("discipline") in SECOND and people[i] != people[j]
               for i, a in enumerate(adviezen) for j, b in enumerate(adviezen))
    if len(adviezen) >= 2 and not pair:
        given = ", ".join(DISCIPLINES.get(str(a.get("discipline")), str(a.get("discipline"))) for a in adviezen)
        problems.append(f"{ADVIES_RULE}: het eerste advies is van een orthopedagoog of psycholoog, het tweede van "
                        "een kinder- of jeugdpsycholoog, pedagoog, kinderpsychiater, maatschappelijk werker of arts "
                        f"(nu: {given}).")
    elif complete and len(adviezen) < 2:
        problems.append(f"{ADVIES_RULE}: een compleet dossier heeft twee schriftelijke adviezen van twee "
                        f"verschillende deskundigen (nu: {len(adviezen)}).")
    return problems


@rule("deskundigenadviezen")
def deskundigenadviezen(data: dict[str, Any], ctx: RuleContext) -> Messages:
    """The advices that come with the application: each by another person; two make the pair the law asks."""
    for problem in advies_problems(list(data.get("adviezen") or []), complete=False):
        yield "adviezen", problem


@rule("deskundigenadviezen_dossier")
def deskundigenadviezen_dossier(data: dict[str, Any], ctx: RuleContext) -> Messages:
    """At the dossiercheck: the school's advices and the SWV's own together; a complete dossier holds the pair."""
    # The SWV's advices of an earlier round count until this round names its own.
    own = data["adviezen_swv"] if "adviezen_swv" in data else ctx.case_data.get("adviezen_swv")
    together = [*list(ctx.case_data.get("adviezen") or []), *list(own or [])]
    for problem in advies_problems(together, complete=data.get("dossier_compleet") is True):
        yield "adviezen_swv", problem


# ---------------------------------------------------------------- cluster and category


@rule("cluster_categorie")
def cluster_categorie(data: dict[str, Any], ctx: RuleContext) -> Messages:
    soort, categorie = data.get("soort"), data.get("categorie")
    if data.get("besluit") != "toekennen" or soort not in CATEGORIE or categorie is None:
        return
    if CATEGORIE[soort] != categorie:
        yield "categorie", (f"Regel cluster en categorie (bekostigingscategorieën): bij {SOORTEN[soort]} hoort "
                            f"categorie {CATEGORIE[soort]}, niet {categorie} (laag = ZML, LZ en cluster 4; "
                            "midden = LG; hoog = MG).")


# ---------------------------------------------------------------- dates


def earliest_end(start: date, months: int) -> date:
    """The last day of a looptijd of ``months`` months from ``start`` (1 Aug 2026 + 12 months: 31 Jul 2027)."""
    index = start.month - 1 + months
    year, month = start.year + index // 12, index % 12 + 1
    day = min(start.day, [31, 29 if year % 4 == 0 and (year % 100 or year % 400 == 0) else 28, 31, 30, 31, 30,
                          31, 31, 30, 31, 30, 31][month - 1])
    return date(year, month, day) - timedelta(days=1)


def next_end_day(on_or_after: date, end_day: str) -> date:
    """The first standard end day (``MM-DD``) on or after a date."""
    month, day = (int(part) for part in end_day.split("-"))
    found = date(on_or_after.year, month, day)
    return found if found >= on_or_after else date(on_or_after.year + 1, month, day)


@rule("tlv_looptijd")
def tlv_looptijd(data: dict[str, Any], ctx: RuleContext) -> Messages:
    if data.get("besluit") != "toekennen":
        return
    start, end = _day(data.get("ingangsdatum")), _day(data.get("einddatum"))
    if start is None or end is None:
        return  # the schema already told
    decided = ctx.today
    if start < decided and not str(data.get("motivering_ingangsdatum") or "").strip():
        yield "ingangsdatum", (f"Regel ingangsdatum: de TLV gaat niet in vóór de besluitdatum ({_nl(decided)}), "
                               "tenzij dat gemotiveerd is (ECLI:NL:RBDHA:2019:14810: geldig vanaf de afgifte).")
        yield "motivering_ingangsdatum", "Verplicht als de ingangsdatum vóór de besluitdatum ligt."
    if end <= start:
        yield "einddatum", "Regel looptijd: de einddatum moet na de ingangsdatum liggen."
        return
    if end <= decided:
        yield "einddatum", f"Regel looptijd: de einddatum moet na de besluitdatum ({_nl(decided)}) liggen."
    own = tlv_settings(ctx.settings)
    end_day, months = own["einddag"], own["minimale_looptijd_maanden"]
    if end_day and end.strftime("%m-%d") != end_day:
        example = next_end_day(max(end, earliest_end(start, int(months or 0))), end_day)
        yield "einddatum", (f"Regel einddatum (beleid van het SWV): een TLV eindigt op {_day_month(end_day)} van een "
                            f"schooljaar, bijvoorbeeld {_nl(example)}.")
        return
    if months:
        minimum = earliest_end(start, int(months))
        if end < minimum:
            first = next_end_day(minimum, end_day) if end_day else minimum
            yield "einddatum", (f"Regel minimale looptijd (beleid van het SWV): een TLV loopt minstens {months} "
                                f"maanden; vanaf {_nl(start)} is de vroegste einddatum {_nl(first)}.")


# ---------------------------------------------------------------- who applies


@rule("verantwoordelijk_swv")
def verantwoordelijk_swv(data: dict[str, Any], ctx: RuleContext) -> Messages:
    """The SWV of the pupil's home municipality decides: a pupil from outside this SWV is refused."""
    name = data.get("woongemeente")
    if not name:
        return
    try:
        found = regions.municipality(str(name))
    except regions.UnknownMunicipality:
        yield "woongemeente", f"'{name}' is geen Nederlandse gemeente (gemeentelijst van Loket)."
        return
    own = ctx.swv_gemeenten()
    if own and found.name.casefold() not in {g.casefold() for g in own}:
        swv = ctx.tenant.name if ctx.tenant is not None else "dit SWV"
        yield "woongemeente", (f"Regel verantwoordelijk SWV (art. 17a WVO: het SWV waar de leerling woont beslist): "
                               f"{found.name} hoort niet bij {swv} (gemeenten: {', '.join(own)}). Vraag de TLV "
                               "aan bij het SWV van de woongemeente.")


# ---------------------------------------------------------------- zorgplicht


def zorgplicht_termijnen(registered: date) -> dict[str, date]:
    """The school's terms after the parents' written registration: decide within 6 weeks, once extended by 4 (10
    weeks); legal weeks, so a term ending on a weekend or feestdag runs on (Atw art. 1). 1 June 2026 gives
    13 July and 10 August 2026."""
    extended = timedelta(weeks=ZORGPLICHT_WEEKS + ZORGPLICHT_EXTRA_WEEKS)
    return {"termijn": atw_end(registered, registered + timedelta(weeks=ZORGPLICHT_WEEKS)),
            "verlengd_tot": atw_end(registered, registered + extended)}


@rule("zorgplicht")
def zorgplicht(data: dict[str, Any], ctx: RuleContext) -> Messages:
    registered = _day(data.get("datum_aanmelding_ouders"))
    if registered is not None and registered > ctx.today:
        yield "datum_aanmelding_ouders", (f"De schriftelijke aanmelding door de ouders kan niet na vandaag "
                                          f"({_nl(ctx.today)}) liggen.")


def zorgplicht_view(data: dict[str, Any], tlv_due: date | None = None) -> dict[str, Any] | None:
    """The zorgplicht term of a case, beside the TLV clock: does the TLV (its due date, or the decision already
    taken) fit inside the school's 10 weeks? None: no written registration recorded."""
    registered = _day(data.get("datum_aanmelding_ouders"))
    if registered is None:
        return None
    terms = zorgplicht_termijnen(registered)
    decided = _day((data.get("tlv") or {}).get("besluitdatum")) if isinstance(data.get("tlv"), dict) else None
    against = decided or tlv_due
    return {"aanmelding": registered.isoformat(), "termijn": terms["termijn"].isoformat(),
            "verlengd_tot": terms["verlengd_tot"].isoformat(),
            "tlv_past": None if against is None else against <= terms["verlengd_tot"],
            "vergeleken_met": None if against is None else against.isoformat(),
            "bron": "zorgplicht (WVO): 6 weken na de schriftelijke aanmelding, eenmaal te verlengen met 4; Atw art. 1"}


def today() -> date:
    return clock.local_date(clock.now())
