"""The decision record (beschikking) of a route that decides: what was decided, when it was made known, to whom,
the legal remedy and the objection term counted from the bekendmaking.

- bekendmaking = the day the notice is sent (Awb 3:41: sending to the addressees); Loket sends it, through the
  outbox, on the day of the decision, so the two dates are the same day;
- the objection term is six weeks (Awb 6:7), beginning the day after the bekendmaking (Awb 6:8), ending on
  the same weekday six weeks later, moved by the Algemene termijnenwet (art. 1 and 3) when that is a Saturday,
  Sunday, public holiday or a day equated with one by royal decree;
- recipients: the parents always (belanghebbenden, Awb 3:41), the applying school, and the pupil from 16 on the
  day of the decision.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from .clock import format_date
from .decision import legal_end

OBJECTION_DAYS = 42  # zes weken (Awb 6:7)

OUTCOME_TITLES = {
    "toekenning": "Toekenning toelaatbaarheidsverklaring VSO",
    "afwijzing": "Afwijzing aanvraag toelaatbaarheidsverklaring VSO",
    "buiten_behandeling": "Aanvraag toelaatbaarheidsverklaring VSO buiten behandeling",
}


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


def remedy_clause(swv: str, until: date, reference: str) -> str:
    return (f"Bent u het niet eens met dit besluit? Dan kunt u binnen zes weken na de dag waarop het besluit "
            f"bekend is gemaakt bezwaar maken bij het bestuur van {swv}; die termijn eindigt op "
            f"{format_date(until)}. Zet in uw bezwaarschrift uw naam en adres, de datum, het kenmerk van dit "
            f"besluit ({reference}) en waarom u het er niet mee eens bent, en onderteken het. Het "
            f"samenwerkingsverband vraagt over uw bezwaar advies aan de Landelijke Bezwaaradviescommissie "
            f"Toelaatbaarheidsverklaringen (LBT), tenzij het uw bezwaar volledig toewijst. Ouders, de school en "
            f"de leerling vanaf 16 jaar kunnen bezwaar maken.")


def decision_text(outcome: str, data: dict[str, Any]) -> str:
    name = pupil_name(data)
    if outcome == "toekenning":
        tlv = data.get("tlv") or {}
        number = f" met nummer {tlv['nummer']}" if tlv.get("nummer") else ""
        return (f"Het samenwerkingsverband geeft {name} een toelaatbaarheidsverklaring voor het voortgezet "
                f"speciaal onderwijs{number}, categorie {data.get('categorie') or '-'}, geldig van "
                f"{format_date(_day(data.get('ingangsdatum')))} tot en met {format_date(_day(data.get('einddatum')))}.")
    if outcome == "afwijzing":
        return (f"Het samenwerkingsverband wijst de aanvraag van een toelaatbaarheidsverklaring voor het voortgezet "
                f"speciaal onderwijs voor {name} af.")
    rounds = data.get("aanvulling_rondes") or 0
    return (f"Het samenwerkingsverband neemt de aanvraag van een toelaatbaarheidsverklaring voor {name} niet in "
            f"behandeling (artikel 4:5 van de Algemene wet bestuursrecht): de aanvraag is na {rounds} "
            f"verzoek(en) om aanvulling, binnen de daarvoor gestelde termijn, niet compleet gemaakt. U kunt een "
            f"nieuwe, complete aanvraag indienen.")


def build(*, outcome: str, day: date, swv: str, case_id: int, school: str | None, data: dict[str, Any],
          clock_state: dict[str, Any] | None) -> dict[str, Any]:
    """The decision record of one decision, as the event log keeps it (the letter is rendered from it)."""
    if outcome not in OUTCOME_TITLES:
        raise ValueError(f"onbekende uitkomst van een besluit: '{outcome}' (kies {', '.join(OUTCOME_TITLES)})")
    reference = f"{case_id}-{outcome}"
    until = objection_until(day)
    motivation = data.get("motivering") if outcome != "buiten_behandeling" else data.get("ontbrekend")
    state = clock_state or {}
    return {
        "uitkomst": outcome,
        "titel": OUTCOME_TITLES[outcome],
        "kenmerk": reference,
        "swv": swv,
        "dossier": case_id,
        "leerling": pupil_name(data),
        "besluitdatum": day.isoformat(),
        "bekendmaking": day.isoformat(),
        "ontvangers": recipients(data, school, day),
        "besluit": decision_text(outcome, data),
        "motivering": motivation or "",
        "beslistermijn": state.get("due"),
        "te_laat": bool(state.get("due")) and day.isoformat() > state["due"],
        "bezwaar_tot": until.isoformat(),
        "rechtsmiddel": remedy_clause(swv, until, reference),
    }


def _day(value: Any) -> date | None:
    try:
        return date.fromisoformat(value) if isinstance(value, str) else None
    except ValueError:
        return None
