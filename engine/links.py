"""Linked cases: a case started from another case (issue 12) — a bezwaar from a decided case, a herbeoordeling
from the case of an ending TLV, a follow-up (vervolg) such as an OPDC placement that ends in a TLV request.

A route says how it links with process properties (processes.md, *Gekoppelde dossiers*):

- ``linkRelation``: what the new case is to the one it comes from (``bezwaar``, ``herbeoordeling``; default
  ``vervolg``);
- ``linkFrom``: the routes it may be started from (comma list; absent: any route);
- ``linkRequired``: ``true`` when the route only starts from another case (a bezwaar always names its decision).

The link is recorded on both cases in the start's transaction: the new case's ``case_started`` carries
``link: {case_id, route, relation}``, the source case gets ``case_linked`` ``{case_id, route, relation}``; when the
linked case closes, its source gets ``linked_case_closed`` ``{case_id, route, relation, outcome}``. A row in
``case_links`` (engine.models_links) is their projection for lookups. A bezwaar also puts the source case under
a legal hold (engine.legal_hold), with the bezwaar case as its reason: the decision stands meanwhile, and its
dossier stays while the objection, and the appeal after it, can run.

The rules per relation are the law's, not the route's: a bezwaar needs a decision record and a bezwaarschrift
received within its objection term (Awb 6:7, 6:8) unless the user confirms a late one (its verschoonbaarheid is
then judged, Awb 6:11); a herbeoordeling needs a TLV in the register that has not ended, and one per TLV.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from . import bpmn, clock, legal_hold, permissions, renewals, retention
from .auth import Actor
from .clock import format_date
from .errors import Conflict, InvalidData, NotFound
from .models import Case, Event, Route, RouteVersion
from .models_links import CaseLink
from .models_tlv import TlvRegister
from .routes import latest_version
from .vocabulary import CaseStatus, EventType, Role
from .workflow import spec_kind

if TYPE_CHECKING:
    from .recording import Open, Recorder

BEZWAAR = "bezwaar"
HERBEOORDELING = "herbeoordeling"
VERVOLG = "vervolg"
# What a link is called on each side: (on the new case, on the case it came from).
LABELS = {
    BEZWAAR: ("bezwaar tegen het besluit in", "bezwaar"),
    HERBEOORDELING: ("herbeoordeling van de TLV uit", "herbeoordeling"),
    VERVOLG: ("vervolg op", "vervolg"),
}
FIELD = "linked_case_id"


@dataclass(frozen=True)
class RouteLinks:
    """How a route links to the case it is started from (its process properties)."""

    relation: str
    sources: tuple[str, ...]  # empty: any route
    required: bool


def declared(version: RouteVersion) -> RouteLinks:
    props = retention.declared(version)
    sources = tuple(s.strip() for s in (props.get("linkFrom") or "").split(",") if s.strip())
    return RouteLinks(props.get("linkRelation") or VERVOLG, sources,
                      (props.get("linkRequired") or "false").strip().lower() == "true")


@dataclass(frozen=True)
class Link:
    """A start from another case, checked: the source case and what the new case's data gets from it."""

    source: Case
    route: str  # the source's route
    relation: str
    extra: dict[str, Any]  # data the new case starts with besides its start form (bron, and per relation)

    def payload(self) -> dict[str, Any]:
        return {"case_id": self.source.id, "route": self.route, "relation": self.relation}


def _invalid(message: str, field: str = FIELD) -> InvalidData:
    return InvalidData(message, {field: [message]})


def check(session: Session, actor: Actor | None, version: RouteVersion, linked_from: int | None,
          data: dict[str, Any], confirm_late: bool = False) -> Link | None:
    """The link a start asks for, checked against the route and the relation's rules (422 per field, 409 when
    the source already has such a case running). ``actor`` None: the scheduler, which sees every case."""
    rules = declared(version)
    route = version.route.key
    if linked_from is None:
        if rules.required:
            raise _invalid(f"Een dossier op route '{route}' start vanuit een ander dossier: geef {FIELD} "
                           f"(het dossier waar het {LABELS.get(rules.relation, LABELS[VERVOLG])[1]} over gaat).")
        return None
    if isinstance(linked_from, bool) or not isinstance(linked_from, int) or not 1 <= linked_from < 2 ** 31:
        raise _invalid("Geef het nummer van een dossier.")
    try:
        if actor is None:
            source = session.get(Case, linked_from)
        else:
            source = permissions.case_for(session, actor, linked_from)
    except NotFound:
        source = None
    if source is None or (actor is not None and source.tenant_id != actor.tenant_id):
        raise _invalid(f"Dossier {linked_from} bestaat niet.")
    source_route = source.route_version.route.key
    if rules.sources and source_route not in rules.sources:
        raise _invalid(f"Een dossier op route '{route}' start niet vanuit een dossier op route '{source_route}' "
                       f"(wel vanuit: {', '.join(rules.sources)}).")
    if session.scalar(select(Event.id).where(Event.case_id == source.id, Event.type == EventType.DATA_PURGED)):
        raise Conflict(f"De gegevens van dossier {source.id} zijn al verwijderd na de bewaartermijn.")
    extra: dict[str, Any] = {"bron": {"dossier": source.id, "route": source_route, "relatie": rules.relation}}
    if (source.data or {}).get("leerling") and "leerling" not in data:
        extra["leerling"] = source.data["leerling"]
    if rules.relation == BEZWAAR:
        extra.update(_objection(session, source, data, confirm_late))
    elif rules.relation == HERBEOORDELING:
        extra.update(_renewal(session, source))
    return Link(source, source_route, rules.relation, extra)


def _running(session: Session, source: Case, relation: str) -> list[Case]:
    return list(session.scalars(select(Case).join(CaseLink, CaseLink.to_case_id == Case.id)
                                .where(CaseLink.from_case_id == source.id, CaseLink.relation == relation)
                                .order_by(Case.id)))


def _objection(session: Session, source: Case, data: dict[str, Any], confirm_late: bool) -> dict[str, Any]:
    """A bezwaar: against a decision taken (its record), within the objection term unless confirmed late."""
    record = (source.decision or {}).get("record") if isinstance(source.decision, dict) else None
    if not record or not record.get("bezwaar_tot"):
        raise _invalid(f"Dossier {source.id} heeft (nog) geen besluit; bezwaar kan alleen tegen een genomen besluit.")
    if record.get("soort") == BEZWAAR:
        raise _invalid(f"Dossier {source.id} is een beslissing op bezwaar: daartegen staat beroep open bij de "
                       "rechtbank, geen nieuw bezwaar (Awb 7:1).")
    running = [c for c in _running(session, source, BEZWAAR) if c.status != CaseStatus.CLOSED]
    if running:
        raise Conflict(f"Tegen het besluit van dossier {source.id} loopt al een bezwaar (dossier {running[0].id}); "
                       "voeg dit bezwaarschrift daaraan toe.")
    today = clock.local_date(clock.now())
    received = _day(data.get("datum_ontvangst")) or today
    decided = date.fromisoformat(record["bekendmaking"] if record.get("bekendmaking") else record["besluitdatum"])
    until = date.fromisoformat(record["bezwaar_tot"])
    if received > today:
        raise _invalid("De datum van ontvangst ligt in de toekomst.", "datum_ontvangst")
    if received < decided:
        raise _invalid(f"De datum van ontvangst ligt vóór de bekendmaking van het besluit ({format_date(decided)}).",
                       "datum_ontvangst")
    late = received > until
    if late and not confirm_late:
        raise _invalid(f"De bezwaartermijn liep tot en met {format_date(until)}; dit bezwaar is ontvangen op "
                       f"{format_date(received)}, te laat. Bevestig dat u een te laat bezwaar registreert: of de "
                       "termijnoverschrijding verschoonbaar is, wordt dan beoordeeld (Awb 6:11).", "confirm_late")
    return {
        "bestreden_besluit": {k: record.get(k) for k in ("uitkomst", "kenmerk", "besluitdatum", "bekendmaking",
                                                         "bezwaar_tot")},
        "datum_ontvangst": received.isoformat(),
        "bezwaartermijn_einde": until.isoformat(),
        "te_laat": late,
    }


def _renewal(session: Session, source: Case) -> dict[str, Any]:
    """A herbeoordeling: of the TLV the source case registered, once, before it has ended."""
    entry = session.scalar(select(TlvRegister).where(TlvRegister.case_id == source.id)
                           .order_by(TlvRegister.besluitdatum.desc(), TlvRegister.id.desc()).limit(1))
    if entry is None:
        raise _invalid(f"Dossier {source.id} heeft geen TLV in het TLV-register; herbeoordeling gaat over een "
                       "toegekende TLV.")
    earlier = _running(session, source, HERBEOORDELING)
    if earlier:
        raise Conflict(f"Voor TLV {entry.nummer} (dossier {source.id}) is al een herbeoordeling gestart "
                       f"(dossier {earlier[0].id}).")
    today = clock.local_date(clock.now())
    if entry.einddatum is None:
        raise _invalid(f"TLV {entry.nummer} heeft geen einddatum: er is niets te verlengen.")
    if entry.einddatum < today:
        raise _invalid(f"TLV {entry.nummer} is op {format_date(entry.einddatum)} geëindigd; vraag een nieuwe TLV aan.")
    # The SWV's own deadline for the request (settings.herbeoordeling, engine.renewals): the aanvraag's term.
    until = renewals.deadline_for(source.tenant, entry.einddatum)
    return {"huidige_tlv": tlv_json(entry), "aanvraag_uiterlijk": until.isoformat()}


def tlv_json(entry: TlvRegister) -> dict[str, Any]:
    return {"nummer": entry.nummer, "soort": entry.soort, "categorie": entry.categorie,
            "besluitdatum": entry.besluitdatum.isoformat(),
            "ingangsdatum": entry.ingangsdatum.isoformat() if entry.ingangsdatum else None,
            "einddatum": entry.einddatum.isoformat() if entry.einddatum else None}


def _day(value: Any) -> date | None:
    try:
        return date.fromisoformat(value) if isinstance(value, str) else None
    except ValueError:
        return None


# ---------------------------------------------------------------- recording


def record(recorder: Recorder, session: Session, case: Case, link: Link, actor: Actor, at: datetime) -> None:
    """The source's side of a start from it, in the start's transaction: its ``case_linked`` event, the
    projection row, and for a bezwaar the legal hold on the decided case."""
    source = link.source
    work = recorder.open(session, source, cached=False)  # never the cache: a scheduler's savepoint may roll back
    route = case.route_version.route.key
    recorder.record(session, work, EventType.CASE_LINKED, actor,
                    payload={"case_id": case.id, "route": route, "relation": link.relation})
    session.add(CaseLink(tenant_id=case.tenant_id, from_case_id=source.id, to_case_id=case.id,
                         relation=link.relation, created_at=at))
    if link.relation == BEZWAAR and legal_hold.current(session, source.id) is None:
        recorder.record(session, work, EventType.LEGAL_HOLD_SET, actor, payload={
            "reason": f"Bezwaar loopt (dossier {case.id}): het besluit blijft gelden en het dossier blijft bewaard "
                      "zolang bezwaar en beroep kunnen lopen.", "at": at.isoformat()})
    session.flush()


def on_completed(recorder: Recorder, session: Session, work: Open, actor: Actor, at: datetime) -> None:
    """A linked case closed: its source case records the outcome (``linked_case_closed``)."""
    link = session.scalar(select(CaseLink).where(CaseLink.to_case_id == work.case.id))
    if link is None:
        return
    source = session.get(Case, link.from_case_id)
    if source is None:
        return
    work_source = recorder.open(session, source, cached=False)
    recorder.record(session, work_source, EventType.LINKED_CASE_CLOSED, actor, payload={
        "case_id": work.case.id, "route": work.rows.route_key, "relation": link.relation,
        "outcome": work.rows.case.outcome})


# ---------------------------------------------------------------- reading


def objection_route(session: Session, actor: Actor, case: Case) -> dict[str, Any] | None:
    """Where the case page offers *Bezwaar maken*: a decided case, a deployed route that starts a bezwaar from this
    case's route, a user who may start it (its start lane, a consulent or a beheerder, as ``Runtime.start_case``)
    and no bezwaar running yet. The engine checks it all again on start."""
    record = (case.decision or {}).get("record") if isinstance(case.decision, dict) else None
    if not record or record.get("soort") == BEZWAAR or any(c.status != CaseStatus.CLOSED
                                                          for c in _running(session, case, BEZWAAR)):
        return None
    route = case.route_version.route.key
    for key in session.scalars(select(Route.key).order_by(Route.key)):
        version = latest_version(session, key)
        rules = declared(version)
        if rules.relation != BEZWAAR or (rules.sources and route not in rules.sources):
            continue
        start = next((ts for ts in bpmn.loaded(version).spec.task_specs.values() if spec_kind(ts) == "StartEvent"),
                     None)
        if start is not None and actor.has(start.lane or Role.SCHOOL, Role.CONSULENT, Role.BEHEERDER):
            return {"route": key, "until": record.get("bezwaar_tot")}
    return None


def follow_up_route(session: Session, actor: Actor, case: Case) -> dict[str, Any] | None:
    """Where the case page offers *Vervolg starten*: a closed case whose end event names the route that follows
    (property ``followUp``, e.g. opdc's ``tlv_aanvragen`` -> ``tlv-vso``), that route deployed and startable from
    here, a user who may start it, and no such case started from this one yet. The engine checks it again on start."""
    if case.status != CaseStatus.CLOSED or not case.outcome:
        return None
    ends = (ts for ts in bpmn.loaded(case.route_version).spec.task_specs.values() if spec_kind(ts) == "EndEvent")
    end = next((ts for ts in ends if bpmn.properties(ts).get("outcome") == case.outcome), None)
    key = bpmn.properties(end).get("followUp") if end is not None else None
    if not key:
        return None
    try:
        version = latest_version(session, key)
    except NotFound:
        return None
    rules = declared(version)
    if rules.sources and case.route_version.route.key not in rules.sources:
        return None
    if any(c.route_version.route.key == key for c in _running(session, case, rules.relation)):
        return None
    start = next((ts for ts in bpmn.loaded(version).spec.task_specs.values() if spec_kind(ts) == "StartEvent"), None)
    if start is None or not actor.has(start.lane or Role.SCHOOL, Role.CONSULENT, Role.BEHEERDER):
        return None
    return {"route": key, "title": version.title}


def of_case(session: Session, case_id: int) -> list[dict[str, Any]]:
    """The case's links as the case JSON shows them, oldest first: ``direction`` ``from`` (this case was started
    from that one) or ``to`` (that one was started from this case), with the other case's route, status and
    outcome."""
    rows = session.execute(
        select(CaseLink, Case).join(Case, Case.id == CaseLink.to_case_id)
        .where(CaseLink.from_case_id == case_id).order_by(CaseLink.id)).all()
    back = session.execute(
        select(CaseLink, Case).join(Case, Case.id == CaseLink.from_case_id)
        .where(CaseLink.to_case_id == case_id)).all()
    out = [_link_json(link, other, "from") for link, other in back]
    out += [_link_json(link, other, "to") for link, other in rows]
    return out


def _link_json(link: CaseLink, other: Case, direction: str) -> dict[str, Any]:
    words = LABELS.get(link.relation, LABELS[VERVOLG])
    return {"case_id": other.id, "route": other.route_version.route.key, "relation": link.relation,
            "direction": direction, "label": words[0] if direction == "from" else words[1],
            "status": other.status, "outcome": other.outcome, "since": link.created_at.isoformat()}


def source_state(session: Session, source_id: int, case_id: int | None) -> dict[str, Any]:
    """How the case a linked case started from stands (scenarios check it): its outcome, whether it is held, and
    the outcome it recorded for that linked case (None while that case runs)."""
    source = session.get(Case, source_id)
    closed = session.scalars(select(Event).where(Event.case_id == source_id,
                                                 Event.type == EventType.LINKED_CASE_CLOSED)).all()
    recorded = [(e.payload or {}).get("outcome") for e in closed if (e.payload or {}).get("case_id") == case_id]
    return {"outcome": source.outcome if source else None, "legal_hold": legal_hold.current(session, source_id)
            is not None, "linked_outcome": recorded[-1] if recorded else None}
