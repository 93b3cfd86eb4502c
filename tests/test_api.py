"""The REST API as a client sees it: status codes, error shapes, JSON fields."""

from __future__ import annotations

from tests.helpers import call


def task_named(client, world, role, case_id, name):
    case = call(client, world, role, "GET", f"/api/v1/cases/{case_id}").get_json()
    return next(t for t in case["tasks"] if t["name"] == name)


def test_a_full_tlv_case_through_the_api(client, world, sample):
    routes = call(client, world, "school", "GET", "/api/v1/routes").get_json()
    tlv = next(r for r in routes if r["key"] == "tlv-vso")
    assert tlv["start_form"]["properties"]["leerling"]["type"] == "object"

    resp = call(client, world, "school", "POST", "/api/v1/cases", {"route": "tlv-vso", "data": sample["start"]})
    assert resp.status_code == 201
    case = resp.get_json()
    assert set(case) >= {"id", "route", "version", "tenant", "school", "status", "data", "tasks", "deadlines",
                         "opened_at", "closed_at"}
    assert (case["route"], case["tenant"], case["school"], case["status"]) == ("tlv-vso", "sterk-vo", "16PX00",
                                                                               "open")
    assert [t["name"] for t in case["tasks"]] == ["aanmelding"]

    steps = [("school", "aanmelding", sample["aanmelding"]), ("consulent", "dossiercheck", {"dossier_compleet": True}),
             ("consulent", "knooppuntoverleg", sample["knooppuntoverleg"]),
             ("commissie", "besluit", sample["toekennen"]), ("school", "plaatsing", sample["plaatsing"])]
    for role, name, data in steps:
        task = task_named(client, world, role, case["id"], name)
        one = call(client, world, role, "GET", f"/api/v1/tasks/{task['id']}").get_json()
        assert set(one) >= {"id", "case_id", "route", "name", "title", "lane", "status", "assignee", "due_at",
                            "overdue", "form"}
        assert one["lane"] == role and one["form"]["type"] == "object"
        assert call(client, world, role, "POST", f"/api/v1/tasks/{task['id']}/claim").get_json()["assignee"] == \
            world[role].email
        done = call(client, world, role, "POST", f"/api/v1/tasks/{task['id']}/complete", {"data": data})
        assert done.status_code == 200, done.get_json()
        assert done.get_json()["status"] == "completed"

    final = call(client, world, "consulent", "GET", f"/api/v1/cases/{case['id']}").get_json()
    assert (final["status"], final["outcome"]) == ("closed", "toegekend")
    assert final["closed_at"] and final["data"]["tlv"]["nummer"].endswith("-0001")


def test_inbox_scopes(client, world, sample):
    for _ in range(2):
        call(client, world, "school", "POST", "/api/v1/cases", {"route": "tlv-vso", "data": sample["start"]})
    resp = call(client, world, "school", "GET", "/api/v1/tasks?scope=role")
    assert resp.status_code == 200 and resp.headers["X-Total-Count"] == "2"
    assert {t["name"] for t in resp.get_json()} == {"aanmelding"}
    assert call(client, world, "school2", "GET", "/api/v1/tasks?scope=all").get_json() == []
    assert call(client, world, "consulent", "GET", "/api/v1/tasks?scope=role").get_json() == []
    first = resp.get_json()[0]
    call(client, world, "school", "POST", f"/api/v1/tasks/{first['id']}/claim")
    mine = call(client, world, "school", "GET", "/api/v1/tasks?scope=mine").get_json()
    assert [t["id"] for t in mine] == [first["id"]]
    bad = call(client, world, "school", "GET", "/api/v1/tasks?scope=iedereen")
    assert bad.status_code == 422 and "scope" in bad.get_json()["error"]["details"]


def test_errors_have_one_json_shape_and_the_right_status(client, world, sample):
    assert client.get("/api/v1/routes").status_code == 401
    assert client.get("/api/v1/routes", headers={"Authorization": "Bearer nee"}).get_json()["error"]["code"] == \
        "unauthorized"

    malformed = call(client, world, "school", "POST", "/api/v1/cases", raw="{niet json")
    assert malformed.status_code == 400
    assert malformed.get_json()["error"]["code"] == "bad_request"

    unknown = call(client, world, "school", "POST", "/api/v1/cases", {"route": "tlv-vso", "data": {}, "extra": 1})
    assert unknown.status_code == 422 and "extra" in unknown.get_json()["error"]["details"]

    wrong_type = call(client, world, "school", "POST", "/api/v1/cases", {"route": 5, "data": []})
    assert wrong_type.status_code == 422
    assert set(wrong_type.get_json()["error"]["details"]) == {"route", "data"}

    invalid = call(client, world, "school", "POST", "/api/v1/cases",
                   {"route": "tlv-vso", "data": {"leerling": {"voornaam": "A"}, "school": "16PX00"}})
    assert invalid.status_code == 422
    details = invalid.get_json()["error"]["details"]
    assert details["leerling.achternaam"] == ["Dit veld is verplicht."]

    assert call(client, world, "school", "POST", "/api/v1/cases",
                {"route": "bestaat-niet", "data": {}}).status_code == 404
    assert call(client, world, "commissie", "POST", "/api/v1/cases",
                {"route": "tlv-vso", "data": sample["start"]}).status_code == 403

    case = call(client, world, "school", "POST", "/api/v1/cases",
                {"route": "tlv-vso", "data": sample["start"]}).get_json()
    task = case["tasks"][0]
    forbidden = call(client, world, "consulent", "POST", f"/api/v1/tasks/{task['id']}/complete",
                     {"data": sample["aanmelding"]})
    assert forbidden.status_code == 403 and forbidden.get_json()["error"]["code"] == "forbidden"
    assert call(client, world, "school2", "GET", f"/api/v1/cases/{case['id']}").status_code == 403
    not_an_object = call(client, world, "school", "POST", f"/api/v1/tasks/{task['id']}/complete", {"data": []})
    assert not_an_object.status_code == 422 and "data" in not_an_object.get_json()["error"]["details"]
    ok = call(client, world, "school", "POST", f"/api/v1/tasks/{task['id']}/complete", {"data": sample["aanmelding"]})
    assert ok.status_code == 200
    again = call(client, world, "school", "POST", f"/api/v1/tasks/{task['id']}/complete",
                 {"data": sample["aanmelding"]})
    assert again.status_code == 409 and again.get_json()["error"]["code"] == "conflict"
    assert call(client, world, "school", "GET", "/api/v1/tasks/nope").status_code == 404
    assert call(client, world, "school", "GET", "/api/v1/cases/99999").status_code == 404
    unknown_url = client.get("/api/v1/onbekend").get_json()["error"]
    assert unknown_url == {"code": "not_found", "message": "Deze URL bestaat niet.", "details": {}}
    assert client.delete("/api/v1/routes").status_code == 405
    assert client.get("/").headers["Location"].startswith("/login")  # the pages (the inbox) ask for a login

