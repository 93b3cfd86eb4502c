"""Several roles per user (issue 8): a task's lane picks the role that acts, events record it, separated duties
keep the besluit from whoever did the dossiercheck or the knooppuntoverleg; the CLI and migration 0005."""

from __future__ import annotations

from click.testing import CliRunner
from sqlalchemy import column, create_engine, insert, select, table

from cli import main
from engine import auth, clock
from engine.models import Tenant, User, UserRole
from tests.helpers import call, cli, do, events_of, open_task, replayed


def add_user(db, world, email: str, *roles: str, school: str | None = None):
    """A user of the world's SWV holding ``roles`` (the first is the primary one); its Actor and API token."""
    with db.transaction() as session:
        user = User(tenant_id=world.tenant_id, email=email, role=roles[0], password_hash="x", active=True,
                    school_id=world.schools[school] if school else None, created_at=clock.now(),
                    role_rows=[UserRole(role=role) for role in roles])
        session.add(user)
        session.flush()
        world.actors[email] = auth.actor_for(user)
        world.tokens[email] = auth.issue_token(session, user)
    return world.actors[email]


ORTHO = "ortho@sterk-vo.test"


def to_dossiercheck(runtime, world, sample) -> int:
    case = runtime.start_case(world["school"], "tlv-vso", sample["start"])
    do(runtime, world, "school", case.id, "aanmelding", sample["aanmelding"])
    return case.id


def inbox_names(client, world, who: str, scope: str = "role") -> list[str]:
    resp = call(client, world, who, "GET", f"/api/v1/tasks?scope={scope}")
    assert resp.status_code == 200, resp.get_json()
    return sorted(t["name"] for t in resp.get_json())


def test_an_orthopedagoog_works_as_consulent_and_sits_on_the_commission(runtime, world, sample, client, db):
    ortho = add_user(db, world, ORTHO, "consulent", "commissie")
    assert ortho.roles == {"consulent", "commissie"} and ortho.role == "consulent" and ortho.has("commissie")
    case_id = to_dossiercheck(runtime, world, sample)
    assert inbox_names(client, world, ORTHO) == ["dossiercheck"]
    # Another consulent does the dossier work; the orthopedagoog may then decide, acting as commissie.
    do(runtime, world, "consulent", case_id, "dossiercheck", {"dossier_compleet": True})
    do(runtime, world, "consulent", case_id, "knooppuntoverleg", sample["knooppuntoverleg"])
    assert inbox_names(client, world, ORTHO) == ["besluit"]
    besluit = open_task(runtime, case_id, "besluit").id
    done = call(client, world, ORTHO, "POST", f"/api/v1/tasks/{besluit}/complete", {"data": sample["toekennen"]})
    assert done.status_code == 200, done.get_json()
    roles = [(e.task_name, e.actor, e.role) for e in events_of(runtime, case_id, "task_completed")]
    assert roles[1:] == [("dossiercheck", "consulent@sterk-vo.test", "consulent"),
                         ("knooppuntoverleg", "consulent@sterk-vo.test", "consulent"),
                         ("besluit", ORTHO, "commissie")]
    assert replayed(runtime, case_id).consistent


def test_whoever_did_the_dossiercheck_may_not_take_the_besluit(runtime, world, sample, client, db):
    add_user(db, world, ORTHO, "consulent", "commissie")
    case_id = to_dossiercheck(runtime, world, sample)
    dossiercheck = open_task(runtime, case_id, "dossiercheck").id
    assert call(client, world, ORTHO, "POST", f"/api/v1/tasks/{dossiercheck}/complete",
                {"data": {"dossier_compleet": True}}).status_code == 200
    do(runtime, world, "consulent", case_id, "knooppuntoverleg", sample["knooppuntoverleg"])
    besluit = open_task(runtime, case_id, "besluit").id

    # Not offered: neither in the inbox of her roles nor as the next task after her own work.
    assert inbox_names(client, world, ORTHO) == []
    assert "besluit" in inbox_names(client, world, ORTHO, "all")  # she still reads the case and its tasks
    for action, body in (("claim", None), ("complete", {"data": sample["toekennen"]})):
        refused = call(client, world, ORTHO, "POST", f"/api/v1/tasks/{besluit}/{action}", body)
        assert refused.status_code == 403
        error = refused.get_json()["error"]
        assert error["code"] == "separation_of_duties"
        assert error["message"] == ("U mag 'Besluit TLV' niet doen: u heeft in dit dossier al 'Dossier controleren' "
                                    "gedaan, en deze stappen moeten door verschillende personen worden gedaan "
                                    "(functiescheiding).")
    # The commission's other member decides.
    assert call(client, world, "commissie", "POST", f"/api/v1/tasks/{besluit}/complete",
                {"data": sample["toekennen"]}).status_code == 200


def test_the_knooppuntoverleg_counts_too_and_next_tasks_leave_the_besluit_out(runtime, world, sample, client, db):
    add_user(db, world, ORTHO, "consulent", "commissie")
    case_id = to_dossiercheck(runtime, world, sample)
    do(runtime, world, "consulent", case_id, "dossiercheck", {"dossier_compleet": True})
    knooppunt = open_task(runtime, case_id, "knooppuntoverleg").id
    done = call(client, world, ORTHO, "POST", f"/api/v1/tasks/{knooppunt}/complete",
                {"data": sample["knooppuntoverleg"]})
    assert done.status_code == 200 and done.get_json()["next_tasks"] == []
    besluit = open_task(runtime, case_id, "besluit").id
    refused = call(client, world, ORTHO, "POST", f"/api/v1/tasks/{besluit}/claim")
    assert refused.get_json()["error"]["code"] == "separation_of_duties"
    assert "'Knooppuntoverleg" in refused.get_json()["error"]["message"]


def test_a_role_the_user_does_not_hold_still_cannot_act(runtime, world, sample, client):
    case_id = to_dossiercheck(runtime, world, sample)
    dossiercheck = open_task(runtime, case_id, "dossiercheck").id
    for who in ("commissie", "auditor", "leerplicht"):
        assert call(client, world, who, "POST", f"/api/v1/tasks/{dossiercheck}/claim").status_code == 403


def test_a_school_user_gets_its_own_school_filled_in_and_may_name_no_other(client, world, sample):
    data = {"leerling": sample["start"]["leerling"]}
    started = call(client, world, "school2", "POST", "/api/v1/cases", {"route": "tlv-vso", "data": data})
    assert started.status_code == 201, started.get_json()
    assert (started.get_json()["school"], started.get_json()["data"]["school"]) == ("20LJ00", "20LJ00")
    other = call(client, world, "school2", "POST", "/api/v1/cases",
                 {"route": "tlv-vso", "data": {**data, "school": "16PX00"}})
    assert other.status_code == 403
    assert other.get_json()["error"]["message"] == "Een school start alleen dossiers voor de eigen school."
    # A consulent starting one names the school itself.
    assert call(client, world, "consulent", "POST", "/api/v1/cases",
                {"route": "tlv-vso", "data": data}).status_code == 422


# ---------------------------------------------------------------- loket users

def test_users_add_takes_role_more_than_once_and_list_shows_every_role(db_url, world):
    run = CliRunner().invoke(main, ["users", "add", "ortho@sterk-vo.test", "--tenant", "sterk-vo", "--role",
                                    "consulent", "--role", "commissie", "--role", "consulent"],
                             input="een-lang-wachtwoord\n", env={"LOKET_DATABASE_URL": db_url})
    assert run.exit_code == 0, run.output
    assert "gebruiker ortho@sterk-vo.test aangemaakt (consulent, commissie in sterk-vo)" in run.output
    listed = cli(db_url, "users", "list", "--tenant", "sterk-vo")
    line = next(row for row in listed.output.splitlines() if row.startswith("ortho@"))
    assert line.split()[1] == "consulent,commissie"
    for roles, message in ((["school", "consulent"], "de rol school gaat niet samen met andere rollen"),
                           (["auditor", "consulent"], "de rol auditor gaat niet samen met andere rollen")):
        args = [arg for role in roles for arg in ("--role", role)]
        refused = CliRunner().invoke(main, ["users", "add", "x@sterk-vo.test", "--tenant", "sterk-vo", *args,
                                            "--school", "16PX00"], input="een-lang-wachtwoord\n",
                                     env={"LOKET_DATABASE_URL": db_url})
        assert refused.exit_code != 0 and message in refused.output


# ---------------------------------------------------------------- migration 0005

def test_migration_0005_gives_every_user_its_role_and_goes_back(empty_db_url):
    from alembic import command

    from engine.db import Database, alembic_config

    command.upgrade(alembic_config(empty_db_url), "0004")
    engine = create_engine(empty_db_url)
    now = clock.now()
    with engine.begin() as conn:
        tenant_id = conn.execute(insert(Tenant).values(key="oud", name="SWV oud", region="noord", settings={},
                                                       created_at=now).returning(Tenant.id)).scalar_one()
        users = table("users", column("tenant_id"), column("email"), column("role"), column("password_hash"),
                      column("active"), column("created_at"))
        for email, role in (("a@oud.test", "consulent"), ("b@oud.test", "commissie")):
            conn.execute(insert(users).values(tenant_id=tenant_id, email=email, role=role, password_hash="x",
                                              active=True, created_at=now.replace(tzinfo=None)))
    engine.dispose()

    command.upgrade(alembic_config(empty_db_url), "0005")
    db = Database(empty_db_url)
    try:
        with db.transaction() as session:
            found = {u.email: u.roles for u in session.scalars(select(User))}
            assert found == {"a@oud.test": {"consulent"}, "b@oud.test": {"commissie"}}
            user = session.scalars(select(User).where(User.email == "a@oud.test")).one()
            user.role_rows.append(UserRole(role="commissie"))
    finally:
        db.dispose()
    command.downgrade(alembic_config(empty_db_url), "0004")
    engine = create_engine(empty_db_url)
    with engine.connect() as conn:
        assert sorted(conn.execute(select(users.c.email, users.c.role)).all()) == [
            ("a@oud.test", "consulent"), ("b@oud.test", "commissie")]
    engine.dispose()
    command.upgrade(alembic_config(empty_db_url), "head")


def test_a_release_is_recorded_in_the_role_it_was_worked_in(runtime, world, sample, client, db):
    add_user(db, world, "beheer-en-consulent@sterk-vo.test", "beheerder", "consulent")
    case_id = to_dossiercheck(runtime, world, sample)
    task_id = open_task(runtime, case_id, "dossiercheck").id
    for who in ("beheer-en-consulent@sterk-vo.test", "consulent"):
        assert call(client, world, who, "POST", f"/api/v1/tasks/{task_id}/claim").status_code == 200
        assert call(client, world, "beheer-en-consulent@sterk-vo.test", "POST",
                    f"/api/v1/tasks/{task_id}/unclaim").status_code == 200
    claims = [(e.type, e.actor, e.role) for e in events_of(runtime, case_id) if e.type.startswith("task_")][1:]
    assert claims == [("task_claimed", "beheer-en-consulent@sterk-vo.test", "consulent"),
                      ("task_unclaimed", "beheer-en-consulent@sterk-vo.test", "consulent"),
                      ("task_claimed", "consulent@sterk-vo.test", "consulent"),
                      ("task_unclaimed", "beheer-en-consulent@sterk-vo.test", "beheerder")]
