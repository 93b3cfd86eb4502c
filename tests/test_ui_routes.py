"""The process owner's pages (issue 11): /routes lists versions (publisher, note, open cases) and drafts; the
editor page carries the draft and its problems; saving through the page is optimistically locked and validates;
the form preview renders as the task page does. Only procesbeheerder and beheerder see them."""

from __future__ import annotations

import json

import pytest

from tests.ui import csrf, make_app, post, web_client


@pytest.fixture
def web_app(runtime, settings, db, world):
    return make_app(runtime, settings, db)


def editor(client, key: str = "tlv-vso") -> tuple[str, str]:
    """Make a draft of ``key`` through the routes page; (its editor URL, the editor's HTML)."""
    answer = post(client, f"/routes/{key}/drafts", {"from_version": "1"}, page="/routes")
    assert answer.status_code == 302
    url = answer.headers["Location"]
    return url, client.get(url).get_data(as_text=True)


@pytest.mark.parametrize("role", ["procesbeheerder", "beheerder"])
def test_process_owners_see_routes_with_versions_and_drafts(web_app, world, runtime, sample, role):
    runtime.start_case(world["school"], "tlv-vso", sample["start"])
    client = web_client(web_app, world, role)
    home = client.get("/").get_data(as_text=True)
    assert 'href="/routes"' in home
    editor(client)
    html = client.get("/routes").get_data(as_text=True)
    assert 'data-testid="versions-tlv-vso"' in html and "commandoregel (deploy)" in html
    assert '<td class="utrecht-table__cell" data-testid="open-cases">1</td>' in html
    assert "Concept 1</a>" in html and f"laatst opgeslagen door {world[role].email}" in html


@pytest.mark.parametrize("role", ["school", "consulent", "commissie", "auditor", "leerplicht"])
def test_other_roles_have_no_routes_menu_and_get_403(web_app, world, role):
    client = web_client(web_app, world, role)
    assert 'href="/routes"' not in client.get("/").get_data(as_text=True)
    assert client.get("/routes").status_code == 403
    assert client.get("/routes/tlv-vso/drafts/1").status_code == 403


def test_the_editor_saves_with_locking_and_validates_on_every_save(web_app, world):
    client = web_client(web_app, world, "procesbeheerder")
    created = post(client, "/routes/nieuw", {"key": "proef-route"}, page="/routes")  # no scenarios: fast
    url = created.headers["Location"]
    html = client.get(url).get_data(as_text=True)
    assert 'data-version="1"' in html and "dist/modeler.js" in html and "proef-route-taak.json" in html
    bpmn = client.get(f"{url}/bpmn").get_data(as_text=True)
    forms = json.loads(client.get(url.replace("/routes/", "/api/v1/routes/"), headers={
        "Authorization": f"Bearer {world.tokens['procesbeheerder']}"}).get_data(as_text=True))["forms"]
    token = csrf(client, url)
    broken = bpmn.replace('name="consulent"', 'name="kantoor"', 1)
    answer = client.post(f"{url}/opslaan", json={"bpmn": broken, "forms": forms, "version": 1},
                         headers={"X-CSRFToken": token})
    assert answer.status_code == 200
    result = answer.get_json()
    assert result["version"] == 2
    assert any(p["severity"] == "fout" and p["element"] == "Lane_consulent" for p in result["problems"])
    stale = client.post(f"{url}/opslaan", json={"bpmn": bpmn, "forms": forms, "version": 1},
                        headers={"X-CSRFToken": token})
    assert stale.status_code == 409 and "intussen opgeslagen" in stale.get_json()["error"]["message"]
    # Publishing is refused while the lane has no role; after the fix it goes through, with its note.
    refused = client.post(f"{url}/publiceren", json={"note": "Nieuwe baan", "version": 2},
                          headers={"X-CSRFToken": token})
    assert refused.status_code == 409
    fixed = client.post(f"{url}/opslaan", json={"bpmn": bpmn, "forms": forms, "version": 2},
                        headers={"X-CSRFToken": token})
    assert fixed.status_code == 200 and fixed.get_json()["problems"] == []
    done = client.post(f"{url}/publiceren", json={"note": "Eerste versie", "version": 3},
                       headers={"X-CSRFToken": token})
    assert done.status_code == 200 and done.get_json()["version"] == 1
    page = client.get("/routes").get_data(as_text=True)
    assert "Eerste versie" in page and "gepubliceerd als v1" in page


def test_the_form_preview_renders_as_the_task_page(web_app, world):
    client = web_client(web_app, world, "procesbeheerder")
    url, _ = editor(client)
    schema = {"type": "object", "required": ["besluit"], "properties": {
        "besluit": {"type": "string", "title": "Besluit", "enum": ["toekennen", "afwijzen"]},
        "motivering": {"type": "string", "title": "Motivering", "maxLength": 5000}}}
    html = post(client, f"{url}/voorbeeld", {"schema": json.dumps(schema)}, htmx=True, page=url).get_data(as_text=True)
    assert 'name="d.besluit"' in html and 'type="radio"' in html and "Motivering" in html
    bad = post(client, f"{url}/voorbeeld", {"schema": "{kapot"}, htmx=True, page=url).get_data(as_text=True)
    assert "Geen geldige JSON" in bad


def test_a_new_route_starts_as_a_valid_draft(web_app, world):
    client = web_client(web_app, world, "procesbeheerder")
    answer = post(client, "/routes/nieuw", {"key": "passend-aanbod"}, page="/routes")
    assert answer.status_code == 302
    html = client.get(answer.headers["Location"]).get_data(as_text=True)
    assert "Nieuwe route" in html and "data-problems='[]'" in html
    wrong = post(client, "/routes/nieuw", {"key": "Niet Goed!"}, page="/routes")
    assert wrong.status_code == 302
    assert "kleine letters" in client.get("/routes").get_data(as_text=True)


def test_what_changed_between_versions_and_in_a_draft_is_listed_in_words(web_app, world):
    api = {"Authorization": f"Bearer {world.tokens['procesbeheerder']}"}
    client = web_client(web_app, world, "procesbeheerder")
    first = web_app.test_client().post("/api/v1/routes/proef-route/drafts", json={}, headers=api).get_json()
    web_app.test_client().post(f"/api/v1/routes/proef-route/drafts/{first['id']}/publish",
                               json={"note": "Eerste versie"}, headers=api)
    url, _ = editor(client, "proef-route")
    draft_id = int(url.rsplit("/", 1)[1])
    draft = web_app.test_client().get(f"/api/v1/routes/proef-route/drafts/{draft_id}", headers=api).get_json()
    bpmn = draft["bpmn"].replace(
        '<spiffworkflow:property name="formJsonSchemaFilename" value="proef-route-taak.json" />',
        '<spiffworkflow:property name="formJsonSchemaFilename" value="proef-route-taak.json" />'
        '<spiffworkflow:property name="deadline" value="werkdagen(10)" />')
    forms = {"proef-route-taak.json": {**draft["forms"]["proef-route-taak.json"], "properties": {
        "toelichting": {"type": "string", "title": "Toelichting", "maxLength": 4000}}}}
    saved = web_app.test_client().put(f"/api/v1/routes/proef-route/drafts/{draft_id}",
                                      json={"bpmn": bpmn, "forms": forms, "version": 1}, headers=api)
    assert saved.status_code == 200
    html = client.get(f"{url}/verschil").get_data(as_text=True)
    assert 'data-changed="taak"' in html and "property deadline: (leeg) → werkdagen(10)" in html
    assert "proef-route-taak.json: veld toelichting gewijzigd (maxLength)" in html
    published = web_app.test_client().post(f"/api/v1/routes/proef-route/drafts/{draft_id}/publish",
                                           json={"note": "Termijn"}, headers=api)
    assert published.status_code == 201
    assert 'href="/routes/proef-route/verschil?van=1&amp;naar=2"' in client.get("/routes").get_data(as_text=True)
    versions = client.get("/routes/proef-route/verschil?van=1&naar=2").get_data(as_text=True)
    assert "property deadline: (leeg) → werkdagen(10)" in versions
    # Both versions drawn side by side, their BPMN from the version itself; the draft against its base likewise.
    assert 'data-old-url="/routes/proef-route/versies/1/bpmn"' in versions
    assert 'data-new-url="/routes/proef-route/versies/2/bpmn"' in versions
    assert '"changed": ["taak"]' in versions and 'data-testid="diff-legend"' in versions
    assert 'data-new-url="/routes/proef-route/drafts/' in html
    drawn = client.get("/routes/proef-route/versies/2/bpmn")
    assert drawn.status_code == 200 and drawn.mimetype == "application/xml"
    assert 'name="deadline" value="werkdagen(10)"' in drawn.get_data(as_text=True)
    assert client.get("/routes/proef-route/versies/9/bpmn").status_code == 404
    assert web_client(web_app, world, "consulent").get("/routes/proef-route/versies/1/bpmn").status_code == 403
    assert 'data-testid="diff-empty"' in client.get("/routes/proef-route/verschil?van=2&naar=2").get_data(as_text=True)
    assert client.get("/routes/proef-route/verschil?van=1&naar=9").status_code == 404
