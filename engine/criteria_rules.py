"""The national criteria of praktijkonderwijs (route ``tlv-pro``) and leerwegondersteunend onderwijs (route
``lwoo``), as form rules any route can name in ``x-loket-rules``.

The school sends the test data (an intelligence test and the leerachterstand per domain as DL and DLE); the
consulent judges at the dossiercheck whether the pupil meets the criteria, and Loket holds that judgement to the
criteria themselves; the commission grants only what meets them (legal-review R1, R2; domain.md):

- PrO: total IQ 55-80 and a leerachterstand (LA = (DL - DLE) / DL) of at least 0.50 - three years at the end of
  primary school - on at least two of the four domains, one of them begrijpend lezen or inzichtelijk rekenen;
- lwoo: total IQ 75-90, or 91-120 with sociaal-emotionele problematiek, and a leerachterstand of 0.25 up to
  0.50 (one and a half to three years) on at least two domains, one of them begrijpend lezen or inzichtelijk
  rekenen; a pupil who meets the PrO criteria belongs in PrO, not lwoo;
- for both: the tests at most two years old on the day of the request.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

from .form_rules import Messages, RuleContext, rule

DOMAINS = {"begrijpend_lezen": "begrijpend lezen", "inzichtelijk_rekenen": "inzichtelijk rekenen",
           "technisch_lezen": "technisch lezen", "spellen": "spellen"}
CORE = ("begrijpend_lezen", "inzichtelijk_rekenen")  # one of the domains behind must be one of these
MAX_TEST_YEARS = 2
GRANTS = ("toekennen", "toewijzen")  # a TLV is granted, lwoo is assigned


@dataclass(frozen=True)
class Criteria:
    name: str  # as a message names it
    iq: tuple[int, int]
    iq_with_problems: tuple[int, int] | None  # the wider band that needs sociaal-emotionele problematiek
    la: tuple[float, float | None]  # lower bound inclusive, upper bound exclusive (None: open)
    source: str


PRO = Criteria("praktijkonderwijs", (55, 80), None, (0.50, None),
               "landelijke criteria praktijkonderwijs (art. 10g WVO (oud), Uitvoeringsbesluit WVO)")
LWOO = Criteria("leerwegondersteunend onderwijs", (75, 90), (91, 120), (0.25, 0.50),
                "landelijke criteria lwoo (art. 10e WVO (oud), Uitvoeringsbesluit WVO)")


def leerachterstand(item: dict[str, Any]) -> float | None:
    """LA = (DL - DLE) / DL, rounded to two decimals; None without a didactische leeftijd."""
    dl, dle = item.get("dl"), item.get("dle")
    if not isinstance(dl, int | float) or not isinstance(dle, int | float) or dl <= 0:
        return None
    return round((dl - dle) / dl, 2)


def _years(item: dict[str, Any]) -> str:
    dl, dle = item.get("dl") or 0, item.get("dle") or 0
    return f"{(dl - dle) / 10:.1f}".replace(".", ",")  # a school year has ten didactic months


def verdict(criteria: Criteria, data: dict[str, Any]) -> tuple[bool, list[str]]:
    """Do these test data meet the criteria? With the reasons in Dutch, one per criterion, met or not."""
    reasons: list[str] = []
    iq = (data.get("intelligentie") or {}).get("totaal_iq")
    problems = bool((data.get("sociaal_emotioneel") or {}).get("aanwezig"))
    low, high = criteria.iq
    iq_ok = isinstance(iq, int) and low <= iq <= high
    if not iq_ok and criteria.iq_with_problems and isinstance(iq, int):
        wide_low, wide_high = criteria.iq_with_problems
        if wide_low <= iq <= wide_high:
            iq_ok = problems
            reasons.append(f"IQ {iq} ligt in {wide_low}-{wide_high}: dat telt alleen met sociaal-emotionele "
                           f"problematiek ({'aanwezig' if problems else 'niet aangetoond'})")
    if not reasons:
        band = f"{low}-{high}" + (f" (of {criteria.iq_with_problems[0]}-{criteria.iq_with_problems[1]} met "
                                  "sociaal-emotionele problematiek)" if criteria.iq_with_problems else "")
        reasons.append(f"IQ {iq if iq is not None else 'onbekend'} {'ligt' if iq_ok else 'ligt niet'} in {band}")
    la_low, la_high = criteria.la
    behind = []
    for item in data.get("leerachterstanden") or []:
        la = leerachterstand(item)
        if la is not None and la >= la_low and (la_high is None or la < la_high):
            behind.append(str(item.get("domein")))
    core = any(domain in CORE for domain in behind)
    band = f"LA {la_low:.2f}".replace(".", ",") + (f" tot {la_high:.2f}".replace(".", ",") if la_high else " of meer")
    named = ", ".join(DOMAINS.get(d, d) for d in behind) or "geen"
    la_ok = len(behind) >= 2 and core
    reasons.append(f"leerachterstand ({band}) op {len(behind)} domein(en): {named}; nodig: twee, waarvan één "
                   f"begrijpend lezen of inzichtelijk rekenen")
    return iq_ok and la_ok, reasons


def years_before(day: date, years: int) -> date:
    """The same day ``years`` years earlier (29 February: the 28th)."""
    try:
        return day.replace(year=day.year - years)
    except ValueError:
        return day.replace(year=day.year - years, day=28)


def _day(value: Any) -> date | None:
    try:
        return date.fromisoformat(str(value)) if value else None
    except ValueError:
        return None


@rule("onderzoek_actueel")
def onderzoek_actueel(data: dict[str, Any], ctx: RuleContext) -> Messages:
    """The tests are at most two years old on the day of the request, none lies ahead, each domain once."""
    oldest = years_before(ctx.today, MAX_TEST_YEARS)  # exactly two years old is still valid
    tests = [("intelligentie", data.get("intelligentie") or {})]
    tests += [(f"leerachterstanden.{i}", item) for i, item in enumerate(data.get("leerachterstanden") or [])]
    for path, test in tests:
        day = _day(test.get("datum"))
        if day is None:
            continue
        if day > ctx.today:
            yield f"{path}.datum", "De datum van het onderzoek kan niet na vandaag liggen."
        elif day < oldest:
            yield f"{path}.datum", (f"Regel actueel onderzoek (landelijke criteria): een onderzoek is op de dag van "
                                    f"de aanvraag hoogstens {MAX_TEST_YEARS} jaar oud; dit is van {day.isoformat()}. "
                                    "Laat het opnieuw afnemen.")
    seen: set[str] = set()
    for i, item in enumerate(data.get("leerachterstanden") or []):
        domain = str(item.get("domein"))
        if domain in seen:
            yield (f"leerachterstanden.{i}.domein",
                   f"Het domein {DOMAINS.get(domain, domain)} staat er al; één keer per domein.")
        seen.add(domain)


def _judged(criteria: Criteria, data: dict[str, Any], ctx: RuleContext) -> Messages:
    if data.get("dossier_compleet") is not True or "criteria_voldaan" not in data:
        return
    merged = {**ctx.case_data, **{k: v for k, v in data.items() if k in ("intelligentie", "leerachterstanden",
                                                                           "sociaal_emotioneel")}}
    meets, reasons = verdict(criteria, merged)
    if bool(data["criteria_voldaan"]) != meets:
        said = "voldoet" if data["criteria_voldaan"] else "voldoet niet"
        truth = "voldoet wel" if meets else "voldoet niet"
        yield "criteria_voldaan", (f"Regel {criteria.source}: u vult in dat de leerling {said}, maar volgens de "
                                   f"gegevens in het dossier {truth}: {'; '.join(reasons)}.")


@rule("pro_criteria")
def pro_criteria(data: dict[str, Any], ctx: RuleContext) -> Messages:
    """At the dossiercheck: the consulent's judgement of the PrO criteria agrees with the test data."""
    yield from _judged(PRO, data, ctx)


@rule("lwoo_criteria")
def lwoo_criteria(data: dict[str, Any], ctx: RuleContext) -> Messages:
    """At the dossiercheck: the judgement of the lwoo criteria agrees with the test data; PrO comes first."""
    yield from _judged(LWOO, data, ctx)
    if data.get("dossier_compleet") is True and data.get("criteria_voldaan") is True:
        meets_pro, _ = verdict(PRO, ctx.case_data)
        if meets_pro:
            yield "criteria_voldaan", ("Regel landelijke criteria: de leerling voldoet aan de criteria van het "
                                       "praktijkonderwijs; vraag een TLV praktijkonderwijs aan in plaats van lwoo.")


@rule("criteria_besluit")
def criteria_besluit(data: dict[str, Any], ctx: RuleContext) -> Messages:
    """The commission grants only what meets the national criteria (no SWV may deviate from them)."""
    if data.get("besluit") in GRANTS and ctx.case_data.get("criteria_voldaan") is not True:
        yield "besluit", ("Regel landelijke criteria: bij de dossiercheck is vastgesteld dat de leerling niet aan "
                          "de landelijke criteria voldoet; het samenwerkingsverband kan dan niet toekennen.")


@rule("aanwijzing_looptijd")
def aanwijzing_looptijd(data: dict[str, Any], ctx: RuleContext) -> Messages:
    """An assignment that ends, ends after it begins (without an einddatum it lasts the whole vmbo)."""
    start, end = _day(data.get("ingangsdatum")), _day(data.get("einddatum"))
    if data.get("besluit") in GRANTS and start is not None and end is not None and end <= start:
        yield "einddatum", "De einddatum moet na de ingangsdatum liggen (of leeg: voor de duur van de opleiding)."
