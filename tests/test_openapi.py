"""The OpenAPI document is the REST API's contract: every operation it lists is called here for real, on a real
case driven through its route, and the answer must carry the success status and match the schema (and headers)
the document declares for it. An operation added to the API without a call here fails the coverage test."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import jsonschema
import pytest

from engine import clock, legal_hold, services
from engine.models import Tenant, User
from tests.helpers import call, do, open_task, task_id, to_besluit

SPEC = "/api/v1/openapi.json"
METHODS = ("get", "put", "post", "patch", "delete")


@dataclass
class Ctx:
    client: object
    runtime: object
    world: object
    sample: dict
    monkeypatch: pytest.MonkeyPatch

    def call(self, role: str, method: str, path: str, json=None):
        return call(self.client, self.world, role, method, path, json)

    def started(self) -> int:
        return self.runtime.start_case(self.world["school"], "tlv-vso", self.sample["start"]).id


Request = Callable[[Ctx], object]
CALLS: dict[tuple[str, str], tuple[Request, str | None]] = {}


def calls(method: str, path: str, mismatch: str | None = None) -> Callable[[Request], Request]:
    """Register the real request for one operation of the document; ``mismatch`` says why its answer does not
    match the declared schema yet (the check is then an xfail that turns into a failure once it is fixed)."""

    def register(request: Request) -> Request:
        CALLS[(method, path)] = (request, mismatch)
        return request

    return register


# ---------------------------------------------------------------- one real request per operation

@calls("GET", "/api/v1/routes")
def _routes(c: Ctx):
    return c.call("school", "GET", "/api/v1/routes")


@calls("POST", "/api/v1/cases")
def _start(c: Ctx):
    return c.call("school", "POST", "/api/v1/cases", {"route": "tlv-vso", "data": c.sample["start"]})


@calls("GET", "/api/v1/cases")
def _cases(c: Ctx):
    c.started()
    return c.call("school", "GET", "/api/v1/cases?q=sanne&status=open&limit=5")


@calls("GET", "/api/v1/figures")
def _figures(c: Ctx):
    c.started()
    return c.call("procesbeheerder", "GET", "/api/v1/figures")


@calls("GET", "/api/v1/figures/thuiszitters")
def _thuiszitters(c: Ctx):
    return c.call("bestuurder", "GET", "/api/v1/figures/thuiszitters?kwartaal=2026-3")


@calls("GET", "/api/v1/cases/{case_id}")
def _case(c: Ctx):
    case_id = c.started()
    do(c.runtime, c.world, "school", case_id, "aanmelding", c.sample["aanmelding"])  # with a deadline or two
    return c.call("school", "GET", f"/api/v1/cases/{case_id}")


@calls("POST", "/api/v1/cases/{case_id}/retry")
def _retry(c: Ctx):
    case_id = to_besluit(c.runtime, c.world, c.sample)
    real = services.get("register_tlv")

    def unreachable(ctx, **params):
        raise ConnectionError("register onbereikbaar")

    c.monkeypatch.setitem(services._registry, "register_tlv", unreachable)
    do(c.runtime, c.world, "commissie", case_id, "besluit", c.sample["toekennen"])  # -> incident
    c.monkeypatch.setitem(services._registry, "register_tlv", real)
    return c.call("beheerder", "POST", f"/api/v1/cases/{case_id}/retry")


@calls("POST", "/api/v1/cases/{case_id}/suspend")
def _suspend(c: Ctx):
    return c.call("consulent", "POST", f"/api/v1/cases/{c.started()}/suspend",
                  {"reason": "Wachten op de zienswijze van de ouders."})


@calls("POST", "/api/v1/cases/{case_id}/legal-hold")
def _legal_hold(c: Ctx):
    return c.call("beheerder", "POST", f"/api/v1/cases/{c.started()}/legal-hold",
                  {"reason": "Bezwaar van de ouders ontvangen."})


@calls("POST", "/api/v1/cases/{case_id}/legal-hold/lift")
def _legal_hold_lift(c: Ctx):
    case_id = c.started()
    legal_hold.set_hold(c.runtime, c.world["beheerder"], case_id, "Bezwaar van de ouders ontvangen.")
    return c.call("beheerder", "POST", f"/api/v1/cases/{case_id}/legal-hold/lift", {"reason": "Bezwaar ingetrokken."})


@calls("POST", "/api/v1/cases/{case_id}/resume")
def _resume(c: Ctx):
    case_id = c.started()
    c.runtime.suspend(c.world["consulent"], case_id, "Wachten op de zienswijze van de ouders.")
    return c.call("consulent", "POST", f"/api/v1/cases/{case_id}/resume", {"reason": "Zienswijze ontvangen."})


@calls("POST", "/api/v1/cases/{case_id}/extend")
def _extend(c: Ctx):
    with c.runtime.db.transaction() as session:  # the SWV's doorlooptijd: two weeks from a complete dossier
        session.get(Tenant, c.world.tenant_id).settings = {
            "terms": {"tlv-vso": {"term": "weken(2)", "from": "knooppuntoverleg", "escalateTo": "bestuurder"}},
            "max_extensions": 1}
    case_id = c.started()
    do(c.runtime, c.world, "school", case_id, "aanmelding", c.sample["aanmelding"])
    do(c.runtime, c.world, "consulent", case_id, "dossiercheck", {"dossier_compleet": True})
    return c.call("consulent", "POST", f"/api/v1/cases/{case_id}/extend",
                  {"weeks": 1, "reason": "Deskundige later beschikbaar."})


@calls("POST", "/api/v1/cases/{case_id}/decision-term/extend")
def _extend_decision_term(c: Ctx):
    case_id = c.started()
    do(c.runtime, c.world, "school", case_id, "aanmelding", c.sample["aanmelding"])  # receipt: the term runs
    return c.call("commissie", "POST", f"/api/v1/cases/{case_id}/decision-term/extend",
                  {"weeks": 4, "reason": "Een tweede deskundige wordt gehoord."})


@calls("GET", "/api/v1/tasks")
def _inbox(c: Ctx):
    c.started()
    c.started()
    return c.call("school", "GET", "/api/v1/tasks?scope=role")


@calls("GET", "/api/v1/tasks/{task_id}")
def _task(c: Ctx):
    return c.call("school", "GET", f"/api/v1/tasks/{task_id(c.runtime, c.started(), 'aanmelding')}")


@calls("POST", "/api/v1/tasks/{task_id}/claim")
def _claim(c: Ctx):
    return c.call("school", "POST", f"/api/v1/tasks/{task_id(c.runtime, c.started(), 'aanmelding')}/claim")


@calls("POST", "/api/v1/tasks/{task_id}/delegate")
def _delegate(c: Ctx):
    task = task_id(c.runtime, c.started(), "aanmelding")
    c.call("school", "POST", f"/api/v1/tasks/{task}/claim")
    with c.runtime.db.transaction() as session:  # a colleague at the same school
        session.add(User(tenant_id=c.world.tenant_id, email="mentor@16px00.test", role="school", password_hash="x",
                         school_id=c.world.schools["16PX00"], active=True, created_at=clock.now()))
    return c.call("school", "POST", f"/api/v1/tasks/{task}/delegate", {"user": "mentor@16px00.test"})


@calls("POST", "/api/v1/tasks/{task_id}/unclaim")
def _unclaim(c: Ctx):
    task = open_task(c.runtime, c.started(), "aanmelding")
    c.runtime.claim(c.world["school"], task.id)
    return c.call("school", "POST", f"/api/v1/tasks/{task.id}/unclaim")


@calls("POST", "/api/v1/tasks/{task_id}/complete")
def _complete(c: Ctx):
    task = task_id(c.runtime, c.started(), "aanmelding")
    return c.call("school", "POST", f"/api/v1/tasks/{task}/complete", {"data": c.sample["aanmelding"]})


@calls("GET", "/api/v1/cases/{case_id}/events")
def _events(c: Ctx):
    return c.call("consulent", "GET", f"/api/v1/cases/{to_besluit(c.runtime, c.world, c.sample)}/events")


@calls("GET", "/api/v1/cases/{case_id}/state")
def _state(c: Ctx):
    return c.call("consulent", "GET", f"/api/v1/cases/{to_besluit(c.runtime, c.world, c.sample)}/state?seq=2")


@calls("POST", "/api/v1/cases/{case_id}/replay")
def _replay(c: Ctx):
    return c.call("auditor", "POST", f"/api/v1/cases/{to_besluit(c.runtime, c.world, c.sample)}/replay")


@calls("GET", "/api/v1/cases/{case_id}/verify")
def _verify(c: Ctx):
    return c.call("auditor", "GET", f"/api/v1/cases/{to_besluit(c.runtime, c.world, c.sample)}/verify")


@calls("GET", "/api/v1/cases/{case_id}/export")
def _export(c: Ctx):
    return c.call("auditor", "GET", f"/api/v1/cases/{to_besluit(c.runtime, c.world, c.sample)}/export")


@calls("GET", "/api/v1/cases/{case_id}/access-log")
def _case_access_log(c: Ctx):
    case_id = c.started()
    c.call("school", "GET", f"/api/v1/cases/{case_id}")  # one read to show
    return c.call("auditor", "GET", f"/api/v1/cases/{case_id}/access-log")


@calls("GET", "/api/v1/users/{user_id}/access-log")
def _user_access_log(c: Ctx):
    c.call("school", "GET", f"/api/v1/cases/{c.started()}")
    return c.call("auditor", "GET", f"/api/v1/users/{c.world['school'].user_id}/access-log")


def _document(c: Ctx) -> tuple[int, int]:
    """A case with one PDF on it (stored in a folder of its own); (case id, document id)."""
    import dataclasses
    import io
    import tempfile

    c.runtime.settings = dataclasses.replace(c.runtime.settings, documents_dir=tempfile.mkdtemp(prefix="loket-docs-"))
    case_id = c.started()
    answer = c.client.post(f"/api/v1/cases/{case_id}/documents", data={
        "file": (io.BytesIO(b"%PDF-1.4\n%%EOF\n"), "opp.pdf"), "kind": "opp"}, content_type="multipart/form-data",
        headers={"Authorization": f"Bearer {c.world.tokens['school']}"})
    return case_id, answer


@calls("POST", "/api/v1/cases/{case_id}/documents")
def _add_document(c: Ctx):
    return _document(c)[1]


@calls("GET", "/api/v1/cases/{case_id}/documents")
def _documents(c: Ctx):
    return c.call("consulent", "GET", f"/api/v1/cases/{_document(c)[0]}/documents")


@calls("GET", "/api/v1/documents/{document_id}")
def _download(c: Ctx):
    return c.call("auditor", "GET", f"/api/v1/documents/{_document(c)[1].get_json()['id']}")


# Route drafts (issue 11): a process owner's draft of tlv-vso, made from its latest version.
DRAFTS = "/api/v1/routes/tlv-vso/drafts"


def _draft(c: Ctx) -> dict:
    return c.call("procesbeheerder", "POST", DRAFTS, {}).get_json()


@calls("GET", "/api/v1/routes/{key}/drafts")
def _drafts(c: Ctx):
    _draft(c)
    return c.call("procesbeheerder", "GET", DRAFTS)


@calls("POST", "/api/v1/routes/{key}/drafts")
def _new_draft(c: Ctx):
    return c.call("procesbeheerder", "POST", DRAFTS, {"from_version": 1})


@calls("GET", "/api/v1/routes/{key}/drafts/{draft_id}")
def _get_draft(c: Ctx):
    return c.call("procesbeheerder", "GET", f"{DRAFTS}/{_draft(c)['id']}")


@calls("PUT", "/api/v1/routes/{key}/drafts/{draft_id}")
def _save_draft(c: Ctx):
    draft = _draft(c)
    return c.call("procesbeheerder", "PUT", f"{DRAFTS}/{draft['id']}",
                  {"bpmn": draft["bpmn"], "forms": draft["forms"], "version": draft["version"]})


@calls("POST", "/api/v1/routes/{key}/drafts/{draft_id}/validate")
def _validate_draft(c: Ctx):
    return c.call("procesbeheerder", "POST", f"{DRAFTS}/{_draft(c)['id']}/validate")


@calls("POST", "/api/v1/routes/{key}/drafts/{draft_id}/publish")
def _publish_draft(c: Ctx):
    draft = _draft(c)
    changed = draft["bpmn"].replace("</bpmn:definitions>", "<!-- 2027 --></bpmn:definitions>")
    c.call("procesbeheerder", "PUT", f"{DRAFTS}/{draft['id']}", {"bpmn": changed, "forms": draft["forms"],
                                                                  "version": 1})
    return c.call("procesbeheerder", "POST", f"{DRAFTS}/{draft['id']}/publish", {"note": "Nieuwe termijnen."})


# Zaken overzetten (issue 11): an open case of tlv-vso v1 and a changed v2 to move it to.
MIGRATION = "/api/v1/routes/tlv-vso/migration"


def _second_version(c: Ctx) -> int:
    from tests.migration_routes import longer_dossiercheck, publish_variant

    c.started()
    return publish_variant(c.runtime.db, longer_dossiercheck)


@calls("GET", "/api/v1/routes/{key}/migration")
def _migration_preview(c: Ctx):
    return c.call("procesbeheerder", "GET", f"{MIGRATION}?from=1&to={_second_version(c)}")


@calls("POST", "/api/v1/routes/{key}/migration")
def _migrate(c: Ctx):
    return c.call("procesbeheerder", "POST", MIGRATION, {"from": 1, "to": _second_version(c)})


@calls("GET", "/api/v1/swv")
def _swv(c: Ctx):
    return c.call("procesbeheerder", "GET", "/api/v1/swv")


@calls("GET", "/api/v1/swv/history")
def _swv_history(c: Ctx):
    c.call("procesbeheerder", "PUT", "/api/v1/swv/terms/tlv-vso", {"term": "weken(2)", "reason": "Besluit bestuur"})
    return c.call("procesbeheerder", "GET", "/api/v1/swv/history?limit=5")


@calls("PUT", "/api/v1/swv/terms/{key}")
def _swv_term(c: Ctx):
    return c.call("procesbeheerder", "PUT", "/api/v1/swv/terms/tlv-vso",
                  {"term": "weken(2)", "from": "knooppuntoverleg", "reason": "Besluit bestuur", "seq": 0})


# ---------------------------------------------------------------- the checks

def operations(spec: dict) -> set[tuple[str, str]]:
    return {(method.upper(), path) for path, item in spec["paths"].items() for method in item if method in METHODS}


def resolved(node, spec: dict):
    """``node``, or what its ``$ref`` (``#/components/...``) points at."""
    while isinstance(node, dict) and "$ref" in node:
        target = spec
        for part in node["$ref"].removeprefix("#/").split("/"):
            target = target[part]
        node = target
    return node


def json_schema(node, spec: dict):
    """An OpenAPI 3.0 schema as plain JSON Schema: references inlined, ``nullable`` as a union with null."""
    node = resolved(node, spec)
    if isinstance(node, list):
        return [json_schema(n, spec) for n in node]
    if not isinstance(node, dict):
        return node
    out = {key: json_schema(value, spec) for key, value in node.items() if key != "nullable"}
    return {"anyOf": [out, {"type": "null"}]} if node.get("nullable") else out


class Mismatch(AssertionError):
    """The answer differs from what the document declares (rather than the request going wrong)."""


def validate(value, schema: dict, what: str) -> None:
    try:
        jsonschema.validate(value, schema, cls=jsonschema.Draft7Validator)
    except jsonschema.ValidationError as exc:
        where = "/".join(map(str, exc.absolute_path)) or "(root)"
        raise Mismatch(f"{what} at {where}: {exc.message}") from exc


def check(response, answer: dict, spec: dict) -> None:
    """The response carries the headers and the body that the document's ``answer`` declares."""
    answer = resolved(answer, spec)
    for name, header in answer.get("headers", {}).items():
        if name not in response.headers:
            raise Mismatch(f"header {name} is declared but missing")
        value = int(response.headers[name]) if header["schema"].get("type") == "integer" else response.headers[name]
        validate(value, json_schema(header["schema"], spec), f"header {name}")
    content = answer.get("content", {})
    if response.mimetype not in content:
        raise Mismatch(f"the answer is {response.mimetype}; the document declares {sorted(content) or 'no body'}")
    schema = content[response.mimetype].get("schema", {})
    if schema.get("format") == "binary":
        return  # a file (a document's bytes): the operation's own tests check what is in it
    validate(response.get_json(), json_schema(schema, spec), "body")


def test_every_operation_in_the_document_is_called_here(client):
    assert operations(client.get(SPEC).get_json()) == set(CALLS)


@pytest.mark.parametrize("operation", [
    pytest.param(op, id=f"{op[0]} {op[1]}",
                 marks=[pytest.mark.xfail(strict=True, raises=Mismatch, reason=mismatch)] if mismatch else [])
    for op, (_, mismatch) in sorted(CALLS.items())])
def test_each_operation_answers_as_the_document_declares(operation, client, runtime, world, sample, monkeypatch):
    method, path = operation
    spec = client.get(SPEC).get_json()
    declared = spec["paths"][path][method.lower()]["responses"]
    [success] = [status for status in declared if status.startswith("2")]
    response = CALLS[operation][0](Ctx(client, runtime, world, sample, monkeypatch))
    assert str(response.status_code) == success, response.get_data(as_text=True)[:500]

    check(response, declared[success], spec)


def test_an_error_answers_as_the_document_declares(client, world):
    spec = client.get(SPEC).get_json()
    response = call(client, world, "school", "GET", "/api/v1/cases/99999")
    assert response.status_code == 404
    declared = spec["paths"]["/api/v1/cases/{case_id}"]["get"]["responses"]
    check(response, declared.get("404", declared["default"]), spec)
