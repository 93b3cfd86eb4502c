"""Delegation (issue 8): POST /tasks/{id}/delegate hands a claimed task to a named colleague who may do it; the
task_delegated event puts it on the colleague's name, and a replay gives the same inbox."""

from __future__ import annotations

from engine import auth
from engine.models import User
from tests.conftest import make_world
from tests.helpers import call, do, events_of, open_task, replayed
from tests.test_roles import add_user


def claimed(client, world, who: str, task_id: str) -> None:
    assert call(client, world, who, "POST", f"/api/v1/tasks/{task_id}/claim").status_code == 200


def dossiercheck_of(runtime, world, sample) -> tuple[int, str]:
    case = runtime.start_case(world["school"], "tlv-vso", sample["start"])
    do(runtime, world, "school", case.id, "aanmelding", sample["aanmelding"])
    return case.id, open_task(runtime, case.id, "dossiercheck").id


def delegate(client, world, who: str, task_id: str, user):
    return call(client, world, who, "POST", f"/api/v1/tasks/{task_id}/delegate", {"user": user})


def test_a_claimed_task_goes_to_a_colleague_of_the_same_role(runtime, world, sample, client):
    case_id, task_id = dossiercheck_of(runtime, world, sample)
    claimed(client, world, "consulent", task_id)
    resp = delegate(client, world, "consulent", task_id, "Consulent2@sterk-vo.test")
    assert resp.status_code == 200, resp.get_json()
    assert (resp.get_json()["assignee"], resp.get_json()["status"]) == ("consulent2@sterk-vo.test", "claimed")
    [event] = events_of(runtime, case_id, "task_delegated")
    assert (event.actor, event.role, event.task_name) == ("consulent@sterk-vo.test", "consulent", "dossiercheck")
    assert event.payload == {"to": world["consulent2"].user_id, "to_email": "consulent2@sterk-vo.test"}
    mine = call(client, world, "consulent2", "GET", "/api/v1/tasks?scope=mine").get_json()
    assert [t["id"] for t in mine] == [task_id]
    assert call(client, world, "consulent", "GET", "/api/v1/tasks?scope=mine").get_json() == []
    # The colleague completes it; the delegator no longer can. Replay reproduces the assignee at every step.
    assert call(client, world, "consulent", "POST", f"/api/v1/tasks/{task_id}/complete",
                {"data": {"dossier_compleet": True}}).status_code == 409
    assert call(client, world, "consulent2", "POST", f"/api/v1/tasks/{task_id}/complete",
                {"data": {"dossier_compleet": True}}).status_code == 200
    assert replayed(runtime, case_id).consistent


def test_the_colleague_can_be_named_by_id_and_hand_it_on(runtime, world, sample, client):
    case_id, task_id = dossiercheck_of(runtime, world, sample)
    claimed(client, world, "consulent", task_id)
    assert delegate(client, world, "consulent", task_id, world["consulent2"].user_id).status_code == 200
    assert delegate(client, world, "consulent2", task_id, world["consulent"].user_id).status_code == 200
    assert open_task(runtime, case_id, "dossiercheck").assignee_id == world["consulent"].user_id
    assert replayed(runtime, case_id).consistent


def test_who_cannot_take_the_task_over(runtime, world, sample, client, db):
    case_id, task_id = dossiercheck_of(runtime, world, sample)
    assert delegate(client, world, "consulent", task_id, "consulent2@sterk-vo.test").status_code == 409  # unclaimed
    claimed(client, world, "consulent", task_id)
    other = make_world(db, "ander-swv")
    with db.transaction() as session:
        gone = session.get(User, world["consulent2"].user_id)
        auth.deactivate(session, gone)
    cases = [
        ("commissie@sterk-vo.test", "commissie@sterk-vo.test heeft de rol consulent niet, die deze taak vraagt."),
        ("niemand@sterk-vo.test", "Gebruiker niemand@sterk-vo.test bestaat niet."),
        (other["consulent"].email, f"Gebruiker {other['consulent'].email} bestaat niet."),
        (other["consulent"].user_id, f"Gebruiker {other['consulent'].user_id} bestaat niet."),
        ("consulent2@sterk-vo.test", "consulent2@sterk-vo.test is niet actief."),
        ("consulent@sterk-vo.test", "Deze taak is al van u."),
    ]
    for user, message in cases:
        resp = delegate(client, world, "consulent", task_id, user)
        assert resp.status_code == 422, (user, resp.get_json())
        assert resp.get_json()["error"]["details"] == {"user": [message]}
    for body in ({"user": None}, {"user": ""}, {"user": True}, {"user": [1]}, {}, {"user": 1, "ook": 2}):
        resp = call(client, world, "consulent", "POST", f"/api/v1/tasks/{task_id}/delegate", body)
        assert resp.status_code in (400, 422), (body, resp.get_json())
    assert events_of(runtime, case_id, "task_delegated") == []


def test_a_school_task_stays_within_its_school(runtime, world, sample, client, db):
    add_user(db, world, "mentor@16px00.test", "school", school="16PX00")
    case = runtime.start_case(world["school"], "tlv-vso", sample["start"])
    task_id = open_task(runtime, case.id, "aanmelding").id
    claimed(client, world, "school", task_id)
    resp = delegate(client, world, "school", task_id, "school2@sterk-vo.test")
    assert resp.status_code == 422
    assert resp.get_json()["error"]["details"] == {"user": ["school2@sterk-vo.test hoort bij een andere school dan "
                                                            "dit dossier."]}
    assert delegate(client, world, "school", task_id, "mentor@16px00.test").status_code == 200
    assert call(client, world, "mentor@16px00.test", "POST", f"/api/v1/tasks/{task_id}/complete",
                {"data": sample["aanmelding"]}).status_code == 200


def test_delegation_respects_separated_duties(runtime, world, sample, client, db):
    add_user(db, world, "ortho@sterk-vo.test", "consulent", "commissie")
    case_id, task_id = dossiercheck_of(runtime, world, sample)
    claimed(client, world, "ortho@sterk-vo.test", task_id)
    assert call(client, world, "ortho@sterk-vo.test", "POST", f"/api/v1/tasks/{task_id}/complete",
                {"data": {"dossier_compleet": True}}).status_code == 200
    do(runtime, world, "consulent", case_id, "knooppuntoverleg", sample["knooppuntoverleg"])
    besluit = open_task(runtime, case_id, "besluit").id
    claimed(client, world, "commissie", besluit)
    resp = delegate(client, world, "commissie", besluit, "ortho@sterk-vo.test")
    assert resp.status_code == 403
    error = resp.get_json()["error"]
    assert error["code"] == "separation_of_duties"
    assert error["message"].startswith("ortho@sterk-vo.test mag 'Besluit TLV' niet doen: die heeft in dit dossier "
                                       "al 'Dossier controleren' gedaan")
    assert open_task(runtime, case_id, "besluit").assignee_id == world["commissie"].user_id
