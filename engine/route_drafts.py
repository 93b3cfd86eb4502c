"""Route drafts (issue 11): an SWV's process owners change a route in the browser before publishing it.

A draft belongs to one SWV, starts from a published version (or from a minimal new route) and holds the BPMN and
the forms. Saves are optimistically locked: each names the draft version it was made on, and a save on an older
version is refused (409), so a second editor never silently overwrites the first. Drafts are never read by a
running case: only ``publish_draft`` makes a version, through engine.publish, the path ``loket processes deploy``
takes too; a published draft is closed for editing.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from . import clock
from .auth import Actor
from .errors import Conflict, Forbidden, InvalidData, NotFound
from .models import Case, Route, RouteDraft, RouteVersion, User
from .publish import Deployment, RouteInvalid, check_content, publish
from .validate import CheckResult, Problem
from .vocabulary import CaseStatus, Role

EDITORS = (Role.PROCESBEHEERDER.value, Role.BEHEERDER.value)
KEY = re.compile(r"^[a-z][a-z0-9-]{1,62}$")
MAX_NOTE = 2000
MAX_BPMN = 900_000  # characters; the request limit (1 MB) usually bites first


def require_editor(actor: Actor) -> None:
    if not set(EDITORS) & set(actor.roles):
        raise Forbidden("Alleen een procesbeheerder of beheerder kan routes bewerken.")


def may_edit(actor: Actor) -> bool:
    return bool(set(EDITORS) & set(actor.roles))


# ---------------------------------------------------------------- reading


@dataclass(frozen=True)
class VersionRow:
    number: int
    sha256: str
    title: str
    published_by: str | None
    published_at: str
    note: str | None
    open_cases: int


def versions(session: Session, tenant_id: int, key: str) -> list[VersionRow]:
    """The route's versions, newest first, with who published them and the SWV's open cases on each."""
    open_cases = (select(Case.route_version_id, func.count().label("n"))
                  .where(Case.status != CaseStatus.CLOSED, Case.tenant_id == tenant_id)
                  .group_by(Case.route_version_id).subquery())
    rows = session.execute(
        select(RouteVersion, User.email, func.coalesce(open_cases.c.n, 0)).join(Route)
        .outerjoin(User, User.id == RouteVersion.published_by_id)
        .outerjoin(open_cases, open_cases.c.route_version_id == RouteVersion.id)
        .where(Route.key == key).order_by(RouteVersion.number.desc())
    ).all()
    return [VersionRow(v.number, v.sha256, v.title, email, v.deployed_at.isoformat(), v.note, n)
            for v, email, n in rows]


def route_keys(session: Session, tenant_id: int) -> list[str]:
    """Every published route, and the routes the SWV has drafts of (a new route has no version yet)."""
    published = set(session.scalars(select(Route.key)))
    drafted = set(session.scalars(select(RouteDraft.route_key).where(RouteDraft.tenant_id == tenant_id)))
    return sorted(published | drafted)


def drafts(session: Session, tenant_id: int, key: str | None = None, open_only: bool = False) -> list[RouteDraft]:
    query = select(RouteDraft).where(RouteDraft.tenant_id == tenant_id)
    if key is not None:
        query = query.where(RouteDraft.route_key == key)
    if open_only:
        query = query.where(RouteDraft.published_version_id.is_(None))
    return list(session.scalars(query.order_by(RouteDraft.id.desc())))


def get(session: Session, actor: Actor, key: str, draft_id: int) -> RouteDraft:
    """The draft of the actor's SWV; another SWV's draft is answered like a missing one."""
    require_editor(actor)
    draft = session.get(RouteDraft, draft_id)
    if draft is None or draft.tenant_id != actor.tenant_id or draft.route_key != key:
        raise NotFound(f"Concept {draft_id} van route '{key}' bestaat niet.")
    return draft


def draft_dict(session: Session, draft: RouteDraft, with_content: bool = True) -> dict[str, Any]:
    base = session.get(RouteVersion, draft.base_version_id) if draft.base_version_id else None
    published = session.get(RouteVersion, draft.published_version_id) if draft.published_version_id else None
    saved_by = session.get(User, draft.saved_by_id)
    out: dict[str, Any] = {
        "id": draft.id, "route": draft.route_key, "title": draft.title, "version": draft.version,
        "base_version": base.number if base else None, "saved_by": saved_by.email if saved_by else None,
        "saved_at": draft.saved_at.isoformat(), "created_at": draft.created_at.isoformat(),
        "published_version": published.number if published else None,
    }
    if with_content:
        out["bpmn"] = draft.bpmn
        out["forms"] = draft.forms
    return out


# ---------------------------------------------------------------- writing


def create(session: Session, actor: Actor, key: str, from_version: int | None = None) -> RouteDraft:
    """A new draft of route ``key``: a copy of version ``from_version`` (default the latest), or, for a route
    that has no version yet, a minimal route with one task."""
    require_editor(actor)
    if not KEY.match(key):
        raise InvalidData("Een routesleutel bestaat uit kleine letters, cijfers en streepjes (bv. tlv-vso).",
                          {"key": ["ongeldige routesleutel"]})
    query = select(RouteVersion).join(Route).where(Route.key == key)
    if from_version is not None:
        query = query.where(RouteVersion.number == from_version)
    base = session.scalar(query.order_by(RouteVersion.number.desc()).limit(1))
    if base is None and from_version is not None:
        raise NotFound(f"Route '{key}' heeft geen versie {from_version}.")
    now = clock.now()
    if base is not None:
        title, bpmn_text, forms = base.title, base.bpmn, dict(base.forms)
    else:
        title, bpmn_text, forms = key, new_route_bpmn(key), {f"{key}-taak.json": NEW_FORM}
    draft = RouteDraft(tenant_id=actor.tenant_id, route_key=key, base_version_id=base.id if base else None,
                       title=title, bpmn=bpmn_text, forms=forms, version=1, created_by_id=actor.user_id,
                       created_at=now, saved_by_id=actor.user_id, saved_at=now)
    session.add(draft)
    session.flush()
    return draft


def save(session: Session, actor: Actor, key: str, draft_id: int, expected: int, bpmn_text: str,
         forms: dict[str, Any]) -> RouteDraft:
    """Save the draft if nobody saved it since version ``expected``; otherwise 409 (the editor reloads)."""
    draft = get(session, actor, key, draft_id)
    if draft.published_version_id is not None:
        raise Conflict("Dit concept is al gepubliceerd en kan niet meer worden gewijzigd; maak een nieuw concept.")
    if expected != draft.version:
        other = session.get(User, draft.saved_by_id)
        who = other.email if other else "een ander"
        raise Conflict(f"Dit concept is intussen opgeslagen door {who} (versie {draft.version}, u bewerkte versie "
                       f"{expected}). Uw wijzigingen zijn niet opgeslagen: laad het concept opnieuw en breng ze "
                       "daarin aan.", {"version": [str(draft.version)]})
    if len(bpmn_text) > MAX_BPMN:
        raise InvalidData(f"De BPMN is te groot (hoogstens {MAX_BPMN // 1000} kB).", {"bpmn": ["te groot"]})
    _check_forms(forms)
    # The counter moves in the UPDATE itself, guarded by the version read: two saves racing on the same version
    # cannot both win, even between the read above and this write.
    result = session.execute(
        update(RouteDraft)
        .where(RouteDraft.id == draft.id, RouteDraft.version == expected)
        .values(bpmn=bpmn_text, forms=forms, version=expected + 1, saved_by_id=actor.user_id, saved_at=clock.now())
        .execution_options(synchronize_session=False)
    )
    updated = getattr(result, "rowcount", 0)
    if updated != 1:
        raise Conflict("Dit concept is zojuist door een ander opgeslagen; laad het opnieuw.")
    session.refresh(draft)
    return draft


def _check_forms(forms: Any) -> None:
    if not isinstance(forms, dict) or not all(isinstance(k, str) and isinstance(v, dict) for k, v in forms.items()):
        raise InvalidData("De formulieren moeten een JSON-object zijn: per bestandsnaam een JSON Schema.",
                          {"forms": ["per bestandsnaam een JSON-object"]})
    for name in forms:
        if not re.fullmatch(r"[A-Za-z0-9_-][A-Za-z0-9_.-]{0,99}\.json", name):
            raise InvalidData(f"Formuliernaam '{name}' is geen bestandsnaam zoals tlv-vso-besluit.json.",
                              {"forms": [f"ongeldige naam: {name}"]})


def validate(session: Session, draft: RouteDraft) -> CheckResult:
    """The checks of ``loket processes validate``, and the SWV's lanes, on the draft as saved."""
    return check_content(draft.route_key, draft.bpmn, draft.forms, session, draft.tenant_id)


def problem_list(result: CheckResult) -> list[dict[str, str]]:
    """Problems and warnings as the editor lists and marks them: element id, file, severity, Dutch message."""
    def row(problem: Problem, severity: str) -> dict[str, str]:
        message = problem.message.removeprefix("waarschuwing: ")
        return {"severity": severity, "element": problem.element, "file": problem.file, "message": message}

    return [row(p, "fout") for p in result.problems] + [row(p, "waarschuwing") for p in result.warnings]


def publish_draft(session: Session, actor: Actor, key: str, draft_id: int, note: str,
                  expected: int | None = None) -> Deployment:
    """Publish the draft as a new immutable version with ``note``: refused (409, problems in details) while
    strict validation or the route's scenarios fail. Running cases stay on their own version."""
    draft = get(session, actor, key, draft_id)
    note = (note or "").strip()
    if not note:
        raise InvalidData("Geef bij het publiceren een toelichting: wat is er veranderd en waarom?",
                          {"note": ["verplicht"]})
    if len(note) > MAX_NOTE:
        raise InvalidData(f"De toelichting is te lang (hoogstens {MAX_NOTE} tekens).", {"note": ["te lang"]})
    if draft.published_version_id is not None:
        raise Conflict("Dit concept is al gepubliceerd.")
    if expected is not None and expected != draft.version:
        raise Conflict(f"Dit concept is intussen opnieuw opgeslagen (versie {draft.version}); bekijk het en "
                       "publiceer dan opnieuw.", {"version": [str(draft.version)]})
    result = validate(session, draft)
    try:
        deployment = publish(session, result, strict=True, note=note, published_by=actor.user_id,
                             run_scenarios=True)
    except RouteInvalid as exc:
        rows = problem_list(CheckResult(None, None, exc.problems))
        raise Conflict(f"Publiceren geweigerd: {len(rows)} punt(en) op te lossen.",
                       {"problems": [f"{r['element'] or r['file']}: {r['message']}" for r in rows]}) from exc
    if not deployment.created:
        raise Conflict(f"Dit concept is gelijk aan versie {deployment.number}: er is niets nieuws te publiceren.")
    version = session.scalar(select(RouteVersion).where(RouteVersion.sha256 == deployment.sha256))
    draft.published_version_id = version.id if version else None
    draft.title = version.title if version else draft.title
    session.flush()
    return deployment


# ---------------------------------------------------------------- a new route

NEW_FORM: dict[str, Any] = {
    "type": "object", "title": "Taak", "required": ["toelichting"],
    "properties": {"toelichting": {"type": "string", "title": "Toelichting", "maxLength": 2000}},
}


def new_route_bpmn(key: str) -> str:
    """A minimal route that passes the checks: start, one consulent task with a form, end."""
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" \
xmlns:bpmndi="http://www.omg.org/spec/BPMN/20100524/DI" xmlns:dc="http://www.omg.org/spec/DD/20100524/DC" \
xmlns:di="http://www.omg.org/spec/DD/20100524/DI" xmlns:spiffworkflow="http://spiffworkflow.org/bpmn/schema/1.0/core" \
id="Definitions_{key}" targetNamespace="http://loket.example/routes">
  <bpmn:collaboration id="Collaboration_{key}">
    <bpmn:participant id="Participant_{key}" name="{key}" processRef="Process_{key.replace('-', '_')}" />
  </bpmn:collaboration>
  <bpmn:process id="Process_{key.replace('-', '_')}" name="{key}" isExecutable="true">
    <bpmn:laneSet id="LaneSet_{key}">
      <bpmn:lane id="Lane_consulent" name="consulent">
        <bpmn:flowNodeRef>start</bpmn:flowNodeRef>
        <bpmn:flowNodeRef>taak</bpmn:flowNodeRef>
        <bpmn:flowNodeRef>einde</bpmn:flowNodeRef>
      </bpmn:lane>
    </bpmn:laneSet>
    <bpmn:startEvent id="start"><bpmn:outgoing>f1</bpmn:outgoing></bpmn:startEvent>
    <bpmn:userTask id="taak" name="Taak">
      <bpmn:extensionElements>
        <spiffworkflow:properties>
          <spiffworkflow:property name="formJsonSchemaFilename" value="{key}-taak.json" />
        </spiffworkflow:properties>
      </bpmn:extensionElements>
      <bpmn:incoming>f1</bpmn:incoming><bpmn:outgoing>f2</bpmn:outgoing>
    </bpmn:userTask>
    <bpmn:endEvent id="einde"><bpmn:incoming>f2</bpmn:incoming></bpmn:endEvent>
    <bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="taak" />
    <bpmn:sequenceFlow id="f2" sourceRef="taak" targetRef="einde" />
  </bpmn:process>
  <bpmndi:BPMNDiagram id="Diagram_{key}">
    <bpmndi:BPMNPlane id="Plane_{key}" bpmnElement="Collaboration_{key}">
      <bpmndi:BPMNShape id="Participant_{key}_di" bpmnElement="Participant_{key}" isHorizontal="true">
        <dc:Bounds x="100" y="60" width="600" height="200" /></bpmndi:BPMNShape>
      <bpmndi:BPMNShape id="Lane_consulent_di" bpmnElement="Lane_consulent" isHorizontal="true">
        <dc:Bounds x="130" y="60" width="570" height="200" /></bpmndi:BPMNShape>
      <bpmndi:BPMNShape id="start_di" bpmnElement="start"><dc:Bounds x="182" y="142" width="36" height="36" />
      </bpmndi:BPMNShape>
      <bpmndi:BPMNShape id="taak_di" bpmnElement="taak"><dc:Bounds x="300" y="120" width="100" height="80" />
      </bpmndi:BPMNShape>
      <bpmndi:BPMNShape id="einde_di" bpmnElement="einde"><dc:Bounds x="502" y="142" width="36" height="36" />
      </bpmndi:BPMNShape>
      <bpmndi:BPMNEdge id="f1_di" bpmnElement="f1"><di:waypoint x="218" y="160" /><di:waypoint x="300" y="160" />
      </bpmndi:BPMNEdge>
      <bpmndi:BPMNEdge id="f2_di" bpmnElement="f2"><di:waypoint x="400" y="160" /><di:waypoint x="502" y="160" />
      </bpmndi:BPMNEdge>
    </bpmndi:BPMNPlane>
  </bpmndi:BPMNDiagram>
</bpmn:definitions>
"""
