"""Route drafts (issue 11): an SWV's process owner saves a draft (optimistic locking), validates it, and publishes
it as a new immutable version, through the same code path as ``loket processes deploy``; running cases stay on
their own version; drafts belong to one SWV; only procesbeheerder and beheerder may touch them."""

from __future__ import annotations

import pytest
from sqlalchemy import select, update

from engine import route_drafts, routes
from engine.models import Case, RouteVersion, User
from engine.publish import RouteInvalid
from tests.conftest import make_world

API = "/api/v1/routes"


def auth(world, role: str = "procesbeheerder", **extra) -> dict[str, str]:
    return {"Authorization": f"Bearer {world.tokens[role]}", **extra}


def new_draft(client, world, key: str = "proef-route", role: str = "procesbeheerder", **body) -> dict:
    answer = client.post(f"{API}/{key}/drafts", json=body, headers=auth(world, role))
    assert answer.status_code == 201, answer.get_json()
    return answer.get_json()


def save(client, world, draft: dict, bpmn: str | None = None, forms: dict | None = None, version=None, **headers):
    body = {"bpmn": draft["bpmn"] if bpmn is None else bpmn, "forms": draft["forms"] if forms is None else forms}
    if version is not None:
        body["version"] = version
    return client.put(f"{API}/{draft['route']}/drafts/{draft['id']}", json=body, headers=auth(world, **headers))


def publish(client, world, draft: dict, note: str = "Termijn aangepast aan het ondersteuningsplan 2027."):
    return client.post(f"{API}/{draft['route']}/drafts/{draft['id']}/publish", json={"note": note},
                       headers=auth(world))


def test_a_new_route_draft_is_valid_and_publishes_as_version_1_with_publisher_and_note(client, world, db):
    draft = new_draft(client, world)
    assert draft["version"] == 1 and draft["base_version"] is None and "proef-route-taak.json" in draft["forms"]
    checked = client.post(f"{API}/proef-route/drafts/{draft['id']}/validate", headers=auth(world)).get_json()
    assert checked == {"ok": True, "problems": []}
    answer = publish(client, world, draft)
    assert answer.status_code == 201, answer.get_json()
    assert answer.get_json()["version"] == 1
    with db.read() as session:
        rows = route_drafts.versions(session, world.tenant_id, "proef-route")
    assert [(r.number, r.published_by, r.note) for r in rows] == [
        (1, "procesbeheerder@sterk-vo.test", "Termijn aangepast aan het ondersteuningsplan 2027.")]
    listed = client.get(f"{API}/proef-route/drafts", headers=auth(world)).get_json()
    assert [(d["id"], d["published_version"]) for d in listed] == [(draft["id"], 1)]


def test_a_stale_save_is_refused_with_409_and_never_overwrites(client, world):
    draft = new_draft(client, world)
    first = save(client, world, draft, bpmn=draft["bpmn"].replace('name="Taak"', 'name="Eerste"'), version=1)
    assert first.status_code == 200 and first.get_json()["version"] == 2 and first.headers["ETag"] == '"2"'
    stale = save(client, world, draft, bpmn=draft["bpmn"].replace('name="Taak"', 'name="Tweede"'),
                 **{"If-Match": '"1"'})
    assert stale.status_code == 409
    error = stale.get_json()["error"]
    assert error["code"] == "conflict" and "intussen opgeslagen door procesbeheerder@sterk-vo.test" in error["message"]
    kept = client.get(f"{API}/proef-route/drafts/{draft['id']}", headers=auth(world)).get_json()
    assert 'name="Eerste"' in kept["bpmn"] and kept["version"] == 2
    # Without a version (no field, no If-Match) a save is refused: the editor must say what it worked on.
    assert save(client, world, draft).status_code == 400
    assert save(client, world, draft, **{"If-Match": '"2"'}).status_code == 200


def test_validation_names_the_broken_element_and_publish_is_refused_until_fixed(client, world):
    draft = new_draft(client, world)
    broken = draft["bpmn"].replace(
        '<spiffworkflow:property name="formJsonSchemaFilename" value="proef-route-taak.json" />',
        '<spiffworkflow:property name="formJsonSchemaFilename" value="proef-route-taak.json" />'
        '<spiffworkflow:property name="deadline" value="werkdagen(\'tien\')" />')
    assert save(client, world, draft, bpmn=broken, version=1).status_code == 200
    checked = client.post(f"{API}/proef-route/drafts/{draft['id']}/validate", headers=auth(world)).get_json()
    assert not checked["ok"]
    assert [(p["severity"], p["element"]) for p in checked["problems"]] == [("fout", "taak")]
    assert "rekent niet voor een voorbeelddossier" in checked["problems"][0]["message"]
    refused = publish(client, world, draft)
    assert refused.status_code == 409
    assert any("taak: deadline" in p for p in refused.get_json()["error"]["details"]["problems"])
    fixed = broken.replace("werkdagen('tien')", "werkdagen(10)")
    assert save(client, world, draft, bpmn=fixed, version=2).status_code == 200
    assert publish(client, world, draft).status_code == 201


def test_publish_needs_a_note_and_refuses_warnings_under_strict(client, world, db):
    draft = new_draft(client, world)
    assert publish(client, world, draft, note="").status_code == 422
    # Nobody in the SWV is consulent any more: the task in the consulent lane is a warning, and a warning
    # blocks publishing (strict).
    with db.transaction() as session:
        session.execute(update(User).where(User.tenant_id == world.tenant_id, User.role == "consulent")
                        .values(active=False))
    checked = client.post(f"{API}/proef-route/drafts/{draft['id']}/validate", headers=auth(world)).get_json()
    assert [(p["severity"], p["element"]) for p in checked["problems"]] == [("waarschuwing", "taak")]
    assert "niemand in dit samenwerkingsverband heeft de rol 'consulent'" in checked["problems"][0]["message"]
    assert publish(client, world, draft).status_code == 409


def test_publish_runs_the_routes_scenarios_and_refuses_a_failing_one(client, world, monkeypatch):
    from engine import scenarios

    asked = []

    def failing(key, bpmn, forms, directory=None):
        asked.append(key)
        return ["afgewezen.yaml: stap 5: termijn van besluit: verwacht 2026-03-24, maar het is 2026-03-31"]

    monkeypatch.setattr(scenarios, "failures_for", failing)
    draft = new_draft(client, world)
    refused = publish(client, world, draft)
    assert refused.status_code == 409 and asked == ["proef-route"]
    assert refused.get_json()["error"]["details"]["problems"] == [
        "proef-route.bpmn: scenario faalt: afgewezen.yaml: stap 5: termijn van besluit: verwacht 2026-03-24, "
        "maar het is 2026-03-31"]


def test_published_versions_are_immutable_and_running_cases_stay_on_theirs(client, runtime, world, sample, db,
                                                                           monkeypatch):
    # The scenarios' own run is the test above and the browser test's; here it would only cost seconds.
    from engine import scenarios

    monkeypatch.setattr(scenarios, "failures_for", lambda *args, **kwargs: [])
    case = runtime.start_case(world["school"], "tlv-vso", sample["start"])
    with db.read() as session:
        v1 = routes.latest_version(session, "tlv-vso")
        v1_id, v1_sha, v1_bpmn = v1.id, v1.sha256, v1.bpmn
    draft = new_draft(client, world, "tlv-vso")
    assert draft["base_version"] == v1.number
    # Publishing what is already published makes nothing new.
    assert publish(client, world, draft).status_code == 409
    changed = draft["bpmn"].replace("</bpmn:definitions>", "<!-- termijnen 2027 --></bpmn:definitions>")
    assert save(client, world, draft, bpmn=changed, version=1).status_code == 200
    answer = publish(client, world, draft)
    assert answer.status_code == 201 and answer.get_json()["version"] == v1.number + 1
    with db.read() as session:
        assert session.get(Case, case.id).route_version_id == v1_id
        old = session.get(RouteVersion, v1_id)
        assert (old.sha256, old.bpmn) == (v1_sha, v1_bpmn)
    newer = runtime.start_case(world["school"], "tlv-vso", sample["start"])
    with db.read() as session:
        assert session.get(Case, newer.id).route_version.number == v1.number + 1
    # The published draft is closed: a later save is refused.
    again = save(client, world, draft, bpmn=changed, version=2)
    assert again.status_code == 409 and "al gepubliceerd" in again.get_json()["error"]["message"]


def test_drafts_belong_to_one_swv(client, world, db):
    other = make_world(db, key="ander-swv")
    draft = new_draft(client, world)
    foreign = {"Authorization": f"Bearer {other.tokens['procesbeheerder']}"}
    assert client.get(f"{API}/proef-route/drafts/{draft['id']}", headers=foreign).status_code == 404
    assert client.get(f"{API}/proef-route/drafts", headers=foreign).get_json() == []
    assert client.put(f"{API}/proef-route/drafts/{draft['id']}", json={"bpmn": "x", "forms": {}, "version": 1},
                      headers=foreign).status_code == 404


@pytest.mark.parametrize("role", ["consulent", "school", "commissie", "auditor"])
def test_only_process_owners_and_beheerders_touch_drafts(client, world, role):
    draft = new_draft(client, world, role="beheerder")
    assert client.get(f"{API}/proef-route/drafts", headers=auth(world, role)).status_code == 403
    assert client.post(f"{API}/proef-route/drafts", json={}, headers=auth(world, role)).status_code == 403
    assert client.get(f"{API}/proef-route/drafts/{draft['id']}", headers=auth(world, role)).status_code == 403


def test_deploy_from_the_command_line_takes_the_same_path_and_refuses_warnings_when_strict(db, tmp_path):
    import shutil

    from tests.test_validate import VALID

    shutil.copytree(VALID.parent, tmp_path / "routes")
    path = tmp_path / "routes" / "ok.bpmn"
    with db.transaction() as session:
        with pytest.raises(RouteInvalid) as refused:
            routes.deploy(session, path, strict=True)  # its forms have texts without maxLength: warnings
        assert all("waarschuwing" in p.message for p in refused.value.problems)
        done = routes.deploy(session, path)
        assert done.created and done.number == 1
        version = session.scalar(select(RouteVersion).where(RouteVersion.sha256 == done.sha256))
        assert version.published_by_id is None and version.note is None


def test_a_strict_deploy_runs_the_routes_scenarios_as_a_publish_does(db, tmp_path, monkeypatch):
    import json

    from engine import scenarios

    (tmp_path / "forms").mkdir()
    (tmp_path / "forms" / "proef-route-taak.json").write_text(json.dumps(route_drafts.NEW_FORM))
    path = tmp_path / "proef-route.bpmn"
    path.write_text(route_drafts.new_route_bpmn("proef-route"))
    monkeypatch.setattr(scenarios, "failures_for", lambda key, bpmn, forms, directory=None: [f"{key}: stap 1"])
    with db.transaction() as session:
        with pytest.raises(RouteInvalid) as refused:
            routes.deploy(session, path, strict=True)
        assert [p.message for p in refused.value.problems] == ["scenario faalt: proef-route: stap 1"]
        assert routes.deploy(session, path).created  # without --strict the scenarios are not asked


def test_migration_0010_adds_drafts_and_publishers_and_goes_back(empty_db_url):
    from alembic import command
    from sqlalchemy import create_engine, inspect

    from engine.db import alembic_config, upgrade

    def schema() -> tuple[set[str], set[str]]:
        engine = create_engine(empty_db_url)
        try:
            found = inspect(engine)
            return set(found.get_table_names()), {c["name"] for c in found.get_columns("route_versions")}
        finally:
            engine.dispose()

    upgrade(empty_db_url)
    tables, columns = schema()
    assert "route_drafts" in tables and {"published_by_id", "note"} <= columns
    command.downgrade(alembic_config(empty_db_url), "0009")
    tables, columns = schema()
    assert "route_drafts" not in tables and not {"published_by_id", "note"} & columns
    upgrade(empty_db_url)
    assert "route_drafts" in schema()[0]
