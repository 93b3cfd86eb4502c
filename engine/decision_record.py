"""The decision record (beschikking) of a route that decides: what was decided, when it was made known, to whom,
the legal remedy and the objection term counted from the bekendmaking.

- bekendmaking = the day the notice is sent (Awb 3:41: sending to the addressees); Loket sends it, through the
  outbox, on the day of the decision, so the two dates are the same day;
- the objection term is six weeks (Awb 6:7), beginning the day after the bekendmaking (Awb 6:8), ending on
  the same weekday six weeks later, moved by the Algemene termijnenwet (art. 1 and 3) when that is a Saturday,
  Sunday, public holiday or a day equated with one by royal decree;
- recipients: the parents always (belanghebbenden, Awb 3:41), the applying school, and the pupil from 16 on the
  day of the decision;
- the kind of decision (``KINDS``: the TLV VSO, the TLV PrO, the lwoo aanwijzing, a school's toelating) names
  what is decided, the outcomes it knows and where to object; the route chooses it with the ``kind`` parameter.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from .clock import format_date
from .decision import legal_end

OBJECTION_DAYS = 42  # zes weken (Awb 6:7)

# What is decided, per kind of decision (the ``kind`` parameter of the ``decision`` service task; default
# ``tlv_vso``): the name of what is granted, the outcomes the kind knows with their letter titles, and who objects
# where. The TLVs and the lwoo aanwijzing are the SWV's decisions (objection to the SWV's board, LBT advice: the
# LBT reglement covers so, (v)so, pro and toewijzing lwoo); a school's decision on admission (``toelating``) is the
# school board's (bezwaar or herziening there, the Geschillencommissie passend onderwijs; legal-review R7, R8).
KINDS: dict[str, dict[str, Any]] = {
    "tlv_vso": {"naam": "een toelaatbaarheidsverklaring voor het voortgezet speciaal onderwijs",
                "titels": {"toekenning": "Toekenning toelaatbaarheidsverklaring VSO",
                           "afwijzing": "Afwijzing aanvraag toelaatbaarheidsverklaring VSO",
                           "buiten_behandeling": "Aanvraag toelaatbaarheidsverklaring VSO buiten behandeling"},
                "onderwerp": "Besluit TLV", "door": "swv"},
    "tlv_pro": {"naam": "een toelaatbaarheidsverklaring voor het praktijkonderwijs",
                "titels": {"toekenning": "Toekenning toelaatbaarheidsverklaring praktijkonderwijs",
                           "afwijzing": "Afwijzing aanvraag toelaatbaarheidsverklaring praktijkonderwijs",
                           "buiten_behandeling": "Aanvraag toelaatbaarheidsverklaring praktijkonderwijs buiten "
                                                 "behandeling"},
                "onderwerp": "Besluit TLV PrO", "door": "swv"},
    "lwoo": {"naam": "een aanwijzing voor leerwegondersteunend onderwijs (lwoo)",
             "titels": {"toekenning": "Aanwijzing leerwegondersteunend onderwijs",
                        "afwijzing": "Afwijzing aanvraag aanwijzing leerwegondersteunend onderwijs",
                        "buiten_behandeling": "Aanvraag aanwijzing leerwegondersteunend onderwijs buiten behandeling"},
             "onderwerp": "Besluit lwoo", "door": "swv"},
    "toelating": {"naam": "toelating tot de school",
                  "titels": {"toelating": "Besluit over de aanmelding: toelating",
                             "weigering": "Besluit over de aanmelding: weigering van toelating"},
                  "onderwerp": "Besluit aanmelding", "door": "school"},
    # The SWV board's decision on an objection (Awb 7:11, after the LBT's advice, 7:13): against it no new objection
    # but beroep at the rechtbank within six weeks (Awb 7:1, 8:1, 6:7), the record's bezwaar_tot is that term's end.
    "bezwaar": {"naam": "een beslissing op bezwaar",
                "titels": {"gegrond": "Beslissing op bezwaar: gegrond",
                           "ongegrond": "Beslissing op bezwaar: ongegrond",
                           "niet_ontvankelijk": "Beslissing op bezwaar: niet-ontvankelijk"},
                "onderwerp": "Beslissing op bezwaar", "door": "swv", "rechtsmiddel": "beroep"},
}
DEFAULT_KIND = "tlv_vso"
OUTCOME_TITLES = KINDS[DEFAULT_KIND]["titels"]  # the TLV VSO's, as before kinds existed


def outcomes(kind: str = DEFAULT_KIND) -> tuple[str, ...]:
    """The outcomes a kind of decision knows (a route's ``outcome`` parameter must be one of them)."""
    return tuple(KINDS[kind]["titels"])


def objection_until(bekendmaking: date) -> date:
    """The last day to object: six weeks from the day after the bekendmaking, moved by the Atw."""
    return legal_end(bekendmaking, OBJECTION_DAYS)


def age_on(birth: date, day: date) -> int:
    return day.year - birth.year - ((day.month, day.day) < (birth.month, birth.day))


def pupil_name(data: dict[str, Any]) -> str:
    leerling = data.get("leerling") or {}
    parts = [leerling.get("voornaam"), leerling.get("tussenvoegsel"), leerling.get("achternaam")]
    return " ".join(p for p in parts if p) or "de leerling"


def recipients(data: dict[str, Any], school: str | None, day: date) -> list[dict[str, Any]]:
    """Who receives the decision: the parents, the applying school, the pupil from 16."""
    name = pupil_name(data)
    out: list[dict[str, Any]] = [{"wie": "ouders", "naam": f"De ouders/verzorgers van {name}"}]
    if school:
        out.append({"wie": "school", "naam": school})
    birth = (data.get("leerling") or {}).get("geboortedatum")
    if birth and age_on(date.fromisoformat(birth), day) >= 16:
        out.append({"wie": "leerling", "naam": name})
    return out


def remedy_clause(swv: str, until: date, reference: str, kind: str = DEFAULT_KIND, school: str | None = None) -> str:
    if KINDS[kind].get("rechtsmiddel") == "beroep":
        return (f"Bent u het niet eens met deze beslissing op bezwaar? Dan kunt u binnen zes weken na de dag waarop "
                f"zij bekend is gemaakt beroep instellen bij de rechtbank (bestuursrecht) van het arrondissement "
                f"waar u woont (artikel 8:1 en 6:7 van de Algemene wet bestuursrecht); die termijn eindigt op "
                f"{format_date(until)}. Noem het kenmerk van deze beslissing ({reference}). Tegen de uitspraak van "
                f"de rechtbank is hoger beroep mogelijk bij de Afdeling bestuursrechtspraak van de Raad van State.")
    if KINDS[kind]["door"] == "school":
        return (f"Bent u het niet eens met dit besluit? Dan kunt u binnen zes weken na de dag waarop het besluit "
                f"bekend is gemaakt bezwaar maken (openbare school) of om herziening vragen (bijzondere school) bij "
                f"het bevoegd gezag van {school or 'de school'}; die termijn eindigt op {format_date(until)}. Noem "
                f"het kenmerk van dit besluit ({reference}). U kunt het geschil over de toelating binnen dezelfde zes "
                f"weken ook voorleggen aan de Geschillencommissie passend onderwijs, en een onderwijsconsulent kan u "
                f"kosteloos helpen een oplossing te vinden.")
    return (f"Bent u het niet eens met dit besluit? Dan kunt u binnen zes weken na de dag waarop het besluit "
            f"bekend is gemaakt bezwaar maken bij het bestuur van {swv}; die termijn eindigt op "
            f"{format_date(until)}. Zet in uw bezwaarschrift uw naam en adres, de datum, het kenmerk van dit "
            f"besluit ({reference}) en waarom u het er niet mee eens bent, en onderteken het. Het "
            f"samenwerkingsverband vraagt over uw bezwaar advies aan de Landelijke Bezwaaradviescommissie "
            f"Toelaatbaarheidsverklaringen (LBT), tenzij het uw bezwaar volledig toewijst. Ouders, de school en "
            f"de leerling vanaf 16 jaar kunnen bezwaar maken.")


def _period(data: dict[str, Any]) -> str:
    start, end = _day(data.get("ingangsdatum")), _day(data.get("einddatum"))
    if start and end:
        return f", geldig van {format_date(start)} tot en met {format_date(end)}"
    return f", geldig vanaf {format_date(start)}" if start else ""


def decision_text(outcome: str, data: dict[str, Any], kind: str = DEFAULT_KIND, school: str | None = None) -> str:
    name, what = pupil_name(data), KINDS[kind]["naam"]
    if kind == "bezwaar":
        return _on_objection(outcome, data, name)
    if kind == "toelating":
        where = school or "de school"
        if outcome == "toelating":
            return f"{where} laat {name} toe als leerling{_period(data)}."
        elsewhere = f" {data['andere_school']} is bereid {name} toe te laten." if data.get("andere_school") else ""
        return f"{where} laat {name} niet toe als leerling.{elsewhere}"
    if outcome == "toekenning":
        if kind == DEFAULT_KIND:
            tlv = data.get("tlv") or {}
            number = f" met nummer {tlv['nummer']}" if tlv.get("nummer") else ""
            return (f"Het samenwerkingsverband geeft {name} een toelaatbaarheidsverklaring voor het voortgezet "
                    f"speciaal onderwijs{number}, categorie {data.get('categorie') or '-'}, geldig van "
                    f"{format_date(_day(data.get('ingangsdatum')))} tot en met "
                    f"{format_date(_day(data.get('einddatum')))}.")
        granted = data.get("tlv")
        number = f" met nummer {granted['nummer']}" if isinstance(granted, dict) and granted.get("nummer") else ""
        return f"Het samenwerkingsverband geeft {name} {what}{number}{_period(data)}."
    if outcome == "afwijzing":
        if kind == DEFAULT_KIND:
            return (f"Het samenwerkingsverband wijst de aanvraag van een toelaatbaarheidsverklaring voor het "
                    f"voortgezet speciaal onderwijs voor {name} af.")
        return f"Het samenwerkingsverband wijst de aanvraag van {what} voor {name} af."
    rounds = data.get("aanvulling_rondes") or 0
    subject = "een toelaatbaarheidsverklaring" if kind == DEFAULT_KIND else what
    return (f"Het samenwerkingsverband neemt de aanvraag van {subject} voor {name} niet in "
            f"behandeling (artikel 4:5 van de Algemene wet bestuursrecht): de aanvraag is na {rounds} "
            f"verzoek(en) om aanvulling, binnen de daarvoor gestelde termijn, niet compleet gemaakt. U kunt een "
            f"nieuwe, complete aanvraag indienen.")


def _on_objection(outcome: str, data: dict[str, Any], name: str) -> str:
    contested = data.get("bestreden_besluit") or {}
    of = (f"het besluit van {format_date(_day(contested.get('besluitdatum')))} (kenmerk {contested.get('kenmerk')})"
          if contested.get("besluitdatum") else "het bestreden besluit")
    verdict = {"gegrond": "gegrond", "ongegrond": "ongegrond", "niet_ontvankelijk": "niet-ontvankelijk"}[outcome]
    text = f"Het bestuur van het samenwerkingsverband verklaart het bezwaar tegen {of} over {name} {verdict}."
    if outcome == "gegrond":
        replaced = data.get("nieuw_besluit")
        new = f" en neemt daarvoor in de plaats dit besluit: {replaced}" if replaced else ""
        return f"{text} Het herroept het bestreden besluit{new} (artikel 7:11 Awb)."
    if outcome == "ongegrond":
        return f"{text} Het bestreden besluit blijft in stand."
    return f"{text} Het bezwaar is daarom niet inhoudelijk beoordeeld."


def build(*, outcome: str, day: date, swv: str, case_id: int, school: str | None, data: dict[str, Any],
          clock_state: dict[str, Any] | None, kind: str = DEFAULT_KIND) -> dict[str, Any]:
    """The decision record of one decision, as the event log keeps it (the letter is rendered from it)."""
    if kind not in KINDS:
        raise ValueError(f"onbekende soort besluit: '{kind}' (kies {', '.join(KINDS)})")
    titles = KINDS[kind]["titels"]
    if outcome not in titles:
        raise ValueError(f"onbekende uitkomst van een besluit: '{outcome}' (kies {', '.join(titles)})")
    reference = f"{case_id}-{outcome}"
    until = objection_until(day)
    motivation = data.get("motivering") if outcome != "buiten_behandeling" else data.get("ontbrekend")
    state = clock_state or {}
    by_school = KINDS[kind]["door"] == "school"
    record = {
        "uitkomst": outcome,
        "titel": titles[outcome],
        "kenmerk": reference,
        "swv": swv,
        "dossier": case_id,
        "leerling": pupil_name(data),
        "besluitdatum": day.isoformat(),
        "bekendmaking": day.isoformat(),
        "ontvangers": recipients(data, None if by_school else school, day),
        "besluit": decision_text(outcome, data, kind, school),
        "motivering": motivation or "",
        "beslistermijn": state.get("due"),
        "te_laat": bool(state.get("due")) and day.isoformat() > state["due"],
        "bezwaar_tot": until.isoformat(),
        "rechtsmiddel": remedy_clause(swv, until, reference, kind, school),
    }
    if kind != DEFAULT_KIND:  # the TLV VSO's record stays as its events hold it
        record["soort"] = kind
    if by_school:  # the school decides: the letter is in its name, not the SWV's
        record["afzender"] = school or swv
        record["ondertekening"] = f"het bevoegd gezag van {school or 'de school'}"
    return record


def _day(value: Any) -> date | None:
    try:
        return date.fromisoformat(value) if isinstance(value, str) else None
    except ValueError:
        return None
