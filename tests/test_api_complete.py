"""POST /api/v1/tasks/{id}/complete answers with what the client needs next: the completed task (without its
form), where the case stands, and the case's open tasks this user may work, without logging a read."""

from __future__ import annotations

from sqlalchemy import func, select

from engine.auth import Actor
from engine.models import AccessLog, Task
from engine.permissions import may_work
from tests.helpers import call


def start(client, world, sample) -> dict:
    resp = call(client, world, "school", "POST", "/api/v1/cases", {"route": "tlv-vso", "data": sample["start"]})
    assert resp.status_code == 201, resp.get_json()
    return resp.get_json()


def complete(client, world, role, task_id, data) -> dict:
    resp = call(client, world, role, "POST", f"/api/v1/tasks/{task_id}/complete", {"data": data})
    assert resp.status_code == 200, resp.get_json()
    return resp.get_json()


def reads_logged(db) -> int:
    with db.read() as session:
        return session.scalar(select(func.count()).select_from(AccessLog))


def test_completing_aanmelding_offers_the_school_no_next_task(client, world, sample, db):
    case = start(client, world, sample)
    done = complete(client, world, "school", case["tasks"][0]["id"], sample["aanmelding"])
    assert "form" not in done
    assert (done["name"], done["status"], done["case_id"]) == ("aanmelding", "completed", case["id"])
    assert done["case"] == {"id": case["id"], "status": "open", "outcome": None}
    assert done["next_tasks"] == []  # dossiercheck is the consulent's


def test_completing_dossiercheck_offers_the_consulent_knooppuntoverleg(client, world, sample):
    case = start(client, world, sample)
    complete(client, world, "school", case["tasks"][0]["id"], sample["aanmelding"])
    inbox = call(client, world, "consulent", "GET", "/api/v1/tasks?scope=role").get_json()
    check = next(t for t in inbox if t["case_id"] == case["id"] and t["name"] == "dossiercheck")
    done = complete(client, world, "consulent", check["id"], {"dossier_compleet": True})
    assert [t["name"] for t in done["next_tasks"]] == ["knooppuntoverleg"]
    nxt = done["next_tasks"][0]
    assert (nxt["case_id"], nxt["lane"], nxt["status"], nxt["assignee"]) == (case["id"], "consulent", "ready", None)
    assert "form" not in nxt
    # The client goes on with the task it was given, without reading the case.
    after = complete(client, world, "consulent", nxt["id"], sample["knooppuntoverleg"])
    assert after["next_tasks"] == []  # besluit is the commissie's


def test_a_whole_case_from_the_completion_answers_alone_logs_no_read(client, world, sample, db):
    """Each step's task comes from the previous answer or from the role's inbox; no case read is logged."""
    case = start(client, world, sample)
    before = reads_logged(db)
    steps = [("school", "aanmelding", sample["aanmelding"]), ("consulent", "dossiercheck", {"dossier_compleet": True}),
             ("consulent", "knooppuntoverleg", sample["knooppuntoverleg"]),
             ("commissie", "besluit", sample["toekennen"]), ("school", "plaatsing", sample["plaatsing"])]
    offered = case["tasks"]
    previous_role = "school"
    for role, name, data in steps:
        if role != previous_role:
            offered = call(client, world, role, "GET", "/api/v1/tasks?scope=role").get_json()
        task = next(t for t in offered if t["case_id"] == case["id"] and t["name"] == name)
        done = complete(client, world, role, task["id"], data)
        offered, previous_role = done["next_tasks"], role
    assert done["case"] == {"id": case["id"], "status": "closed", "outcome": "toegekend"}
    assert done["next_tasks"] == []
    assert reads_logged(db) == before


def test_next_tasks_leave_out_another_schools_and_claimed_tasks(client, world, sample, db):
    case = start(client, world, sample)
    complete(client, world, "school", case["tasks"][0]["id"], sample["aanmelding"])
    with db.read() as session:
        task = session.scalar(select(Task).where(Task.case_id == case["id"], Task.name == "dossiercheck"))
    assert may_work(world["consulent"], task) and may_work(world["consulent2"], task)
    assert not may_work(world["commissie"], task)
    assert not may_work(Actor(world["consulent"].user_id, "x@elders.test", "consulent", world.tenant_id + 1), task)
    task.assignee_id = world["consulent2"].user_id
    assert may_work(world["consulent2"], task) and not may_work(world["consulent"], task)
    task.lane, task.assignee_id = "school", None
    assert may_work(world["school"], task) and not may_work(world["school2"], task)
    task.lane = None  # no lane: anyone of the SWV, as the engine allows
    assert may_work(world["commissie"], task)
    task.status = "completed"
    assert not may_work(world["consulent"], task)


def test_a_task_claimed_by_someone_else_is_not_offered(client, world, sample, db):
    case = start(client, world, sample)
    complete(client, world, "school", case["tasks"][0]["id"], sample["aanmelding"])
    check = next(t for t in call(client, world, "consulent", "GET", "/api/v1/tasks?scope=role").get_json()
                 if t["case_id"] == case["id"])
    knooppunt = complete(client, world, "consulent", check["id"], {"dossier_compleet": True})["next_tasks"][0]
    assert knooppunt["assignee"] is None
    assert call(client, world, "consulent", "POST", f"/api/v1/tasks/{knooppunt['id']}/claim").status_code == 200
    with db.read() as session:
        claimed = session.get(Task, knooppunt["id"])
    assert may_work(world["consulent"], claimed) and not may_work(world["consulent2"], claimed)


def test_openapi_declares_the_completion_answer(client):
    spec = client.get("/api/v1/openapi.json").get_json()
    ok = spec["paths"]["/api/v1/tasks/{task_id}/complete"]["post"]["responses"]["200"]
    ref = ok["content"]["application/json"]["schema"]["$ref"].rsplit("/", 1)[-1]
    schemas = spec["components"]["schemas"]
    answer = schemas[ref]["properties"]
    assert {"id", "name", "status", "case", "next_tasks"} <= set(answer) and "form" not in answer
    nested = answer["next_tasks"]["items"]["$ref"].rsplit("/", 1)[-1]
    assert "form" not in schemas[nested]["properties"]
    assert set(schemas[answer["case"]["$ref"].rsplit("/", 1)[-1]]["properties"]) == {"id", "status", "outcome"}
