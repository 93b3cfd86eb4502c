"""Zaken overzetten (issue 11): open tlv-vso cases at every step move to a changed version of the route — or are
refused with the reason — keeping their terms; each move is one case_migrated event that replay reproduces, and
an undo (moving back while nothing else happened) puts everything back as it was."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from engine import clock, migration
from engine.errors import InvalidData, NotFound
from engine.models import Case, Deadline, Event
from engine.vocabulary import CaseStatus, DeadlineKind, DeadlineStatus
from tests.conftest import make_world
from tests.helpers import (
    at,
    cli,
    do,
    events_of,
    load_case,
    open_names,
    open_task,
    open_tasks,
    replayed,
    verified,
)
from tests.migration_routes import (
    condition_on_new_data,
    longer_dossiercheck,
    publish_variant,
    renamed_knooppunt,
    without_hoorzitting,
)

ONEENS = {"standpunt": "oneens", "datum": "2026-10-01", "ouders_gehoord": True,
          "toelichting": "De ouders willen dat Sanne op haar school blijft."}
HOORZITTING = {"datum": "2026-11-10", "ouders_gehoord": True, "verslag": "De ouders lichtten hun standpunt toe."}


def at_step(runtime, world, sample, step: str) -> int:
    """A tlv-vso case whose open task is ``step``."""
    aanmelding = dict(sample["aanmelding"])
    if step == "hoorzitting_ouders":
        aanmelding["zienswijze_ouders"] = ONEENS
    case = runtime.start_case(world["school"], "tlv-vso", sample["start"])
    if step == "aanmelding":
        return case.id
    do(runtime, world, "school", case.id, "aanmelding", aanmelding)
    if step == "dossiercheck":
        return case.id
    if step == "aanvulling":
        do(runtime, world, "consulent", case.id, "dossiercheck", {"dossier_compleet": False, "ontbrekend": "Advies."})
        return case.id
    do(runtime, world, "consulent", case.id, "dossiercheck", {"dossier_compleet": True})
    if step == "knooppuntoverleg":
        return case.id
    do(runtime, world, "consulent", case.id, "knooppuntoverleg", sample["knooppuntoverleg"])
    if step in ("besluit", "hoorzitting_ouders"):
        return case.id
    do(runtime, world, "commissie", case.id, "besluit", sample["toekennen"])
    assert step == "plaatsing"
    return case.id


STEPS = ["aanmelding", "dossiercheck", "aanvulling", "knooppuntoverleg", "hoorzitting_ouders", "besluit", "plaatsing"]


def migrate(runtime, world, to: int, frm: int = 1, **kwargs) -> migration.Outcome:
    return migration.Migrator(runtime).migrate("tlv-vso", frm, to, lambda case: world["procesbeheerder"], **kwargs)


def preview(runtime, to: int, frm: int = 1, **kwargs) -> migration.Outcome:
    return migration.Migrator(runtime).preview("tlv-vso", frm, to, **kwargs)


def consistent(runtime, db, case_id: int) -> None:
    """The chain is intact and replay rebuilds exactly what is stored (projection == replay)."""
    assert verified(db, case_id).intact
    replay = replayed(runtime, case_id)
    assert replay.consistent, replay.divergence


def version_of(runtime, case_id: int) -> int:
    return load_case(runtime, case_id).route_version.number


def terms(runtime, case_id: int) -> dict[str, tuple]:
    """Per open task: (id, due, warn, assignee) and its pending deadlines."""
    out = {}
    with runtime.db.read() as session:
        for task in open_tasks(runtime, case_id):
            pending = sorted((d.kind, d.due_at) for d in session.scalars(
                select(Deadline).where(Deadline.task_id == task.id, Deadline.status == DeadlineStatus.PENDING)))
            out[task.name] = (task.id, task.due_at, task.warn_at, task.assignee_id, pending)
    return out


@pytest.mark.parametrize("step", STEPS)
def test_a_case_at_every_step_moves_to_a_version_with_a_longer_dossiercheck(runtime, world, sample, db, step):
    with clock.frozen(at("2026-11-02T09:00")):
        case_id = at_step(runtime, world, sample, step)
    before = terms(runtime, case_id)
    to = publish_variant(db, longer_dossiercheck)
    assert [(v.case_id, v.can, v.reason) for v in preview(runtime, to).cases] == [(case_id, True, None)]
    assert version_of(runtime, case_id) == 1  # a preview moves nothing
    with clock.frozen(at("2026-11-03T09:00")):
        outcome = migrate(runtime, world, to)
    assert [(v.case_id, v.moved) for v in outcome.cases] == [(case_id, True)]
    assert version_of(runtime, case_id) == to
    moved = events_of(runtime, case_id, "case_migrated")
    assert len(moved) == 1
    payload = moved[0].payload
    assert payload["from"]["version"] == 1 and payload["to"]["version"] == to
    assert len(payload["from"]["sha256"]) == 64 and payload["from"]["sha256"] != payload["to"]["sha256"]
    assert [t["to"]["name"] for t in payload["tasks"]] == [step]
    after = terms(runtime, case_id)
    if step == "dossiercheck":  # its term changed: two werkdagen more; the warning (3 werkdagen ahead now) follows
        (task, due, warn, _, _), (task2, due2, warn2, _, pending) = before[step], after[step]
        assert task2 == task and due2 > due and clock.local_date(due2) == clock.local_date(due) + timedelta(days=2)
        assert clock.local_date(warn2).isoformat() == "2026-11-06" != clock.local_date(warn).isoformat()
        assert pending == sorted([(DeadlineKind.ESCALATION, due2), (DeadlineKind.WARNING, warn2)])
    else:  # every term kept to the second, the same task (id) in the inbox
        assert after == before
    consistent(runtime, db, case_id)
    assert cli(runtime.settings.database_url, "audit", "verify", str(case_id)).exit_code == 0


def test_the_moved_term_equals_that_of_a_case_started_on_the_new_version(runtime, world, sample, db):
    with clock.frozen(at("2026-11-02T09:00")):
        old = at_step(runtime, world, sample, "dossiercheck")
    to = publish_variant(db, longer_dossiercheck)
    with clock.frozen(at("2026-11-02T09:00")):
        new = at_step(runtime, world, sample, "dossiercheck")
    with clock.frozen(at("2026-11-20T09:00")):
        migrate(runtime, world, to)
    assert version_of(runtime, new) == to
    old_task, new_task = open_task(runtime, old, "dossiercheck"), open_task(runtime, new, "dossiercheck")
    assert (old_task.due_at, old_task.warn_at) == (new_task.due_at, new_task.warn_at)


def test_a_moved_case_runs_on_to_its_end_on_the_new_version_and_replays(runtime, world, sample, db):
    case_id = at_step(runtime, world, sample, "knooppuntoverleg")
    to = publish_variant(db, renamed_knooppunt)
    outcome = migrate(runtime, world, to)
    assert outcome.cases[0].moved
    assert "taak 'Knooppuntoverleg' heet in de nieuwe versie 'Overleg met ouders en school'" in outcome.cases[0].remarks
    assert open_names(runtime, case_id) == ["overleg"]
    assert open_task(runtime, case_id, "overleg").title == "Overleg met ouders en school"
    do(runtime, world, "consulent", case_id, "overleg", sample["knooppuntoverleg"])
    do(runtime, world, "commissie", case_id, "besluit", sample["toekennen"])
    do(runtime, world, "school", case_id, "plaatsing", sample["plaatsing"])
    assert load_case(runtime, case_id).status == CaseStatus.CLOSED
    consistent(runtime, db, case_id)


def test_done_work_on_a_renamed_task_moves_with_it(runtime, world, sample, db):
    case_id = at_step(runtime, world, sample, "besluit")
    to = publish_variant(db, renamed_knooppunt)
    assert migrate(runtime, world, to).cases[0].moved
    do(runtime, world, "commissie", case_id, "besluit", sample["toekennen"])
    consistent(runtime, db, case_id)


def test_a_removed_task_refuses_the_cases_that_stand_at_it_or_did_it_and_moves_the_others(runtime, world, sample,
                                                                                          db):
    at_hoorzitting = at_step(runtime, world, sample, "hoorzitting_ouders")
    heard = at_step(runtime, world, sample, "hoorzitting_ouders")
    do(runtime, world, "commissie", heard, "hoorzitting_ouders", HOORZITTING)
    at_besluit = at_step(runtime, world, sample, "besluit")
    to = publish_variant(db, without_hoorzitting)
    verdicts = {v.case_id: v for v in preview(runtime, to).cases}
    assert not verdicts[at_hoorzitting].can
    assert verdicts[at_hoorzitting].reason == "de open taak 'Ouders horen' bestaat niet in de nieuwe versie"
    assert not verdicts[heard].can and "afgeronde stap 'Ouders horen'" in verdicts[heard].reason
    assert verdicts[at_besluit].can
    states = {c: (load_case(runtime, c).version, terms(runtime, c)) for c in (at_hoorzitting, heard)}
    outcome = migrate(runtime, world, to)
    assert [(v.case_id, v.moved) for v in outcome.cases] == [(at_hoorzitting, False), (heard, False),
                                                             (at_besluit, True)]
    for case_id, state in states.items():  # refused: not a row changed
        assert (load_case(runtime, case_id).version, terms(runtime, case_id)) == state
        assert version_of(runtime, case_id) == 1 and not events_of(runtime, case_id, "case_migrated")
    consistent(runtime, db, at_besluit)


def test_a_condition_ahead_that_needs_data_the_case_lacks_refuses_it(runtime, world, sample, db):
    case_id = at_step(runtime, world, sample, "besluit")
    done = at_step(runtime, world, sample, "plaatsing")  # past that gateway: nothing ahead reads it
    to = publish_variant(db, condition_on_new_data)
    verdicts = {v.case_id: v for v in preview(runtime, to).cases}
    assert not verdicts[case_id].can
    assert "'spoedplaatsing'" in verdicts[case_id].reason and "Besluit" in verdicts[case_id].reason
    assert verdicts[done].can


def test_a_claimed_task_stays_claimed_and_a_suspended_case_stays_suspended(runtime, world, sample, db):
    claimed = at_step(runtime, world, sample, "dossiercheck")
    runtime.claim(world["consulent"], open_task(runtime, claimed, "dossiercheck").id)
    with clock.frozen(at("2026-11-02T09:00")):
        suspended = at_step(runtime, world, sample, "besluit")
        runtime.suspend(world["consulent"], suspended, "Wachten op een deskundigenadvies.")
    before = terms(runtime, suspended)
    to = publish_variant(db, longer_dossiercheck)
    with clock.frozen(at("2026-11-04T09:00")):
        assert [v.moved for v in migrate(runtime, world, to).cases] == [True, True]
    assert open_task(runtime, claimed, "dossiercheck").assignee_id == world["consulent"].user_id
    case = load_case(runtime, suspended)
    assert case.status == CaseStatus.SUSPENDED and terms(runtime, suspended) == before
    with clock.frozen(at("2026-11-09T09:00")):  # a week suspended: the terms move by it, as ever
        runtime.resume(world["consulent"], suspended)
    due = open_task(runtime, suspended, "besluit").due_at
    assert due == before["besluit"][1] + timedelta(days=7)
    do(runtime, world, "consulent", claimed, "dossiercheck", {"dossier_compleet": True})
    for case_id in (claimed, suspended):
        consistent(runtime, db, case_id)


def test_a_case_in_incident_is_refused(runtime, world, sample, db):
    case_id = at_step(runtime, world, sample, "besluit")
    with db.transaction() as session:
        session.get(Case, case_id).status = CaseStatus.INCIDENT
    to = publish_variant(db, longer_dossiercheck)
    verdict = migrate(runtime, world, to).cases[0]
    assert not verdict.moved and "incident" in verdict.reason
    assert version_of(runtime, case_id) == 1


def test_undo_puts_the_case_back_exactly_while_nothing_else_happened(runtime, world, sample, db):
    with clock.frozen(at("2026-11-02T09:00")):
        undone = at_step(runtime, world, sample, "dossiercheck")
        touched = at_step(runtime, world, sample, "dossiercheck")
    before = {c: terms(runtime, c) for c in (undone, touched)}
    to = publish_variant(db, longer_dossiercheck)
    with clock.frozen(at("2026-11-03T09:00")):
        migrate(runtime, world, to)
    assert terms(runtime, undone) != before[undone]
    runtime.claim(world["consulent"], open_task(runtime, touched, "dossiercheck").id)
    back = migrate(runtime, world, 1, frm=to)
    verdicts = {v.case_id: v for v in back.cases}
    assert verdicts[undone].moved and verdicts[undone].undo
    assert not verdicts[touched].moved and "zolang er daarna niets met het dossier is gebeurd" in verdicts[
        touched].reason
    assert version_of(runtime, undone) == 1 and version_of(runtime, touched) == to
    assert terms(runtime, undone) == before[undone]
    assert events_of(runtime, undone, "case_migrated")[-1].payload["undoes"] == events_of(
        runtime, undone, "case_migrated")[0].seq
    do(runtime, world, "consulent", undone, "dossiercheck", {"dossier_compleet": True})
    for case_id in (undone, touched):
        consistent(runtime, db, case_id)


def test_moving_back_without_a_migration_to_undo_is_refused(runtime, world, sample, db):
    to = publish_variant(db, longer_dossiercheck)
    case_id = at_step(runtime, world, sample, "dossiercheck")  # started on the new version
    verdict = migrate(runtime, world, 1, frm=to).cases[0]
    assert verdict.case_id == case_id and not verdict.moved and "alleen als ongedaan maken" in verdict.reason


def test_a_request_that_means_nothing_is_refused_whole(runtime, world, sample, db):
    at_step(runtime, world, sample, "dossiercheck")
    to = publish_variant(db, longer_dossiercheck)
    with pytest.raises(InvalidData) as same:
        migrate(runtime, world, 1)
    assert "gelijk" in same.value.message
    with pytest.raises(InvalidData) as missing:
        migrate(runtime, world, 9)
    assert missing.value.details == {"to": ["Route 'tlv-vso' heeft geen versie 9."]}
    with pytest.raises(NotFound):
        migration.Migrator(runtime).preview("bestaat-niet", 1, to)
    assert version_of(runtime, 1) == 1


def test_named_cases_of_another_route_version_or_swv_are_refused_with_why(runtime, world, sample, db):
    from engine import route_drafts

    other = make_world(db, key="ander-swv")
    theirs = at_step(runtime, other, sample, "dossiercheck")
    mine = at_step(runtime, world, sample, "dossiercheck")
    with db.transaction() as session:
        draft = route_drafts.create(session, world["procesbeheerder"], "proef-route")
        route_drafts.publish_draft(session, world["procesbeheerder"], "proef-route", draft.id, "Eerste versie.")
    proef = runtime.start_case(world["consulent"], "proef-route", {}).id
    to = publish_variant(db, longer_dossiercheck)
    outcome = migrate(runtime, world, to, tenant_id=world.tenant_id, case_ids=[mine, theirs, proef, 999])
    verdicts = {v.case_id: v for v in outcome.cases}
    assert verdicts[mine].moved
    assert "bestaat niet" in verdicts[theirs].reason and "bestaat niet" in verdicts[999].reason
    assert "loopt op route 'proef-route'" in verdicts[proef].reason
    assert version_of(runtime, theirs) == 1


def test_one_case_failing_leaves_it_as_it_was_and_the_others_moved(runtime, world, sample, db, monkeypatch):
    first, broken, last = (at_step(runtime, world, sample, "besluit") for _ in range(3))
    to = publish_variant(db, longer_dossiercheck)
    real = migration.plan_case

    def fails_for_one(session, tenant, status, rows, data, workflow, *args):
        if rows and rows[0].case_id == broken:
            raise RuntimeError("schijf vol")
        return real(session, tenant, status, rows, data, workflow, *args)

    monkeypatch.setattr(migration, "plan_case", fails_for_one)
    outcome = migrate(runtime, world, to)
    assert [(v.case_id, v.moved) for v in outcome.cases] == [(first, True), (broken, False), (last, True)]
    assert "het dossier is ongewijzigd" in outcome.cases[1].reason
    assert version_of(runtime, broken) == 1 and not events_of(runtime, broken, "case_migrated")
    do(runtime, world, "commissie", broken, "besluit", sample["toekennen"])  # it works on as before
    for case_id in (first, broken, last):
        consistent(runtime, db, case_id)


def test_the_event_log_names_the_move(runtime, world, sample, db):
    case_id = at_step(runtime, world, sample, "besluit")
    to = publish_variant(db, longer_dossiercheck)
    migrate(runtime, world, to)
    with db.read() as session:
        event = session.scalar(select(Event).where(Event.case_id == case_id).order_by(Event.seq.desc()).limit(1))
    assert event.type == "case_migrated" and event.actor == "procesbeheerder@sterk-vo.test"
    assert event.role == "procesbeheerder"


# ---------------------------------------------------------------- loket processes migrate


def test_the_command_previews_then_migrates_and_names_why_a_case_cannot(runtime, world, sample, db, db_url):
    movable = at_step(runtime, world, sample, "besluit")
    stuck = at_step(runtime, world, sample, "hoorzitting_ouders")
    to = publish_variant(db, without_hoorzitting)
    dry = cli(db_url, "processes", "migrate", "tlv-vso", "--from", "1", "--to", str(to), "--dry-run")
    assert dry.exit_code == 0, dry.output
    assert f"dossier {movable} (sterk-vo) [Besluit TLV]: kan over" in dry.output
    assert (f"dossier {stuck} (sterk-vo) [Ouders horen]: kan niet: de open taak 'Ouders horen' bestaat niet in de "
            "nieuwe versie") in dry.output
    assert "1 van 2 dossier(s) kunnen over, 1 niet (proefdraai, niets overgezet)" in dry.output
    assert version_of(runtime, movable) == 1
    done = cli(db_url, "processes", "migrate", "tlv-vso", "--from", "1", "--to", str(to), "--swv", "sterk-vo")
    assert done.exit_code == 0, done.output
    assert f"dossier {movable} (sterk-vo) [Besluit TLV]: overgezet" in done.output
    assert "1 van 2 dossier(s) overgezet, 1 niet." in done.output
    assert version_of(runtime, movable) == to and version_of(runtime, stuck) == 1
    assert events_of(runtime, movable, "case_migrated")[0].actor.startswith("cli:")
    # Of what is asked nothing can move: exit code 1, nothing changed.
    only_stuck = cli(db_url, "processes", "migrate", "tlv-vso", "--from", "1", "--to", str(to), "--case", str(stuck))
    assert only_stuck.exit_code == 1 and "0 van 1 dossier(s) overgezet" in only_stuck.output
    back = cli(db_url, "processes", "migrate", "tlv-vso", "--from", str(to), "--to", "1", "--case", str(movable))
    assert back.exit_code == 0 and f"dossier {movable} (sterk-vo) [Besluit TLV]: teruggezet" in back.output
    consistent(runtime, db, movable)


def test_the_command_refuses_a_request_that_means_nothing_in_dutch(runtime, world, sample, db):
    from tests.helpers import loket

    at_step(runtime, world, sample, "dossiercheck")
    url = runtime.settings.database_url
    same = loket("processes", "migrate", "tlv-vso", "--from", "1", "--to", "1", url=url)
    assert same.returncode == 1 and same.stderr.startswith("fout: Van- en naar-versie zijn gelijk")
    assert "Traceback" not in same.stderr
    missing = loket("processes", "migrate", "tlv-vso", "--from", "1", "--to", "7", url=url)
    assert missing.returncode == 1 and "heeft geen versie 7" in missing.stderr
    unknown = loket("processes", "migrate", "geen-route", "--from", "1", "--to", "2", url=url)
    assert unknown.returncode == 1 and "Route 'geen-route' bestaat niet" in unknown.stderr
    assert version_of(runtime, 1) == 1


# ---------------------------------------------------------------- the REST API

API = "/api/v1/routes/tlv-vso/migration"


def test_the_api_previews_and_migrates_the_swvs_own_cases_without_pupil_data(client, runtime, world, sample, db):
    from tests.helpers import call

    mine = at_step(runtime, world, sample, "besluit")
    stuck = at_step(runtime, world, sample, "hoorzitting_ouders")
    other = make_world(db, key="ander-swv")
    theirs = at_step(runtime, other, sample, "besluit")
    to = publish_variant(db, without_hoorzitting)
    answer = call(client, world, "procesbeheerder", "GET", f"{API}?from=1")  # to: the newest version
    assert answer.status_code == 200, answer.get_json()
    preview = answer.get_json()
    assert (preview["from"], preview["to"], preview["dry_run"], preview["total"], preview["can"]) == (1, to, True, 2, 1)
    assert [(c["case_id"], c["can"], c["tasks"]) for c in preview["cases"]] == [
        (mine, True, ["Besluit TLV"]), (stuck, False, ["Ouders horen"])]
    assert "Sanne" not in answer.get_data(as_text=True) and "de Vries" not in answer.get_data(as_text=True)
    moved = call(client, world, "beheerder", "POST", API, {"from": 1, "to": to})
    assert moved.status_code == 200
    body = moved.get_json()
    assert (body["moved"], body["cannot"]) == (1, 1) and body["cases"][0]["moved"]
    assert version_of(runtime, mine) == to and version_of(runtime, stuck) == 1 and version_of(runtime, theirs) == 1
    assert events_of(runtime, mine, "case_migrated")[0].role == "beheerder"
    back = call(client, world, "procesbeheerder", "POST", API, {"from": to, "to": 1, "cases": [mine, theirs]})
    assert [(c["case_id"], c["moved"], c["undo"]) for c in back.get_json()["cases"]] == [
        (mine, True, True), (theirs, False, False)]
    assert version_of(runtime, theirs) == 1
    consistent(runtime, db, mine)


@pytest.mark.parametrize("role", ["consulent", "commissie", "school", "auditor", "bestuurder"])
def test_only_process_owners_and_beheerders_may_migrate(client, runtime, world, sample, db, role):
    from tests.helpers import call

    case_id = at_step(runtime, world, sample, "besluit")
    to = publish_variant(db, longer_dossiercheck)
    assert call(client, world, role, "GET", f"{API}?from=1&to={to}").status_code == 403
    assert call(client, world, role, "POST", API, {"from": 1, "to": to}).status_code == 403
    assert version_of(runtime, case_id) == 1


def test_the_api_answers_bad_requests_per_field_in_dutch(client, runtime, world, sample, db):
    from tests.helpers import call

    at_step(runtime, world, sample, "besluit")
    same = call(client, world, "procesbeheerder", "POST", API, {"from": 1, "to": 1})
    assert same.status_code == 422 and "gelijk" in same.get_json()["error"]["message"]
    missing = call(client, world, "procesbeheerder", "GET", f"{API}?from=1&to=5")
    assert missing.status_code == 422 and missing.get_json()["error"]["details"] == {
        "to": ["Route 'tlv-vso' heeft geen versie 5."]}
    no_from = call(client, world, "procesbeheerder", "POST", API, {"to": 1})
    assert no_from.status_code == 422 and "from" in no_from.get_json()["error"]["details"]
    unknown = call(client, world, "procesbeheerder", "GET", "/api/v1/routes/geen-route/migration?from=1&to=2")
    assert unknown.status_code == 404
    assert version_of(runtime, 1) == 1


# ---------------------------------------------------------------- the page (/routes -> Zaken overzetten)


def test_the_routes_page_offers_to_move_older_versions_cases_and_the_page_does_it(runtime, settings, db, world,
                                                                                  sample):
    from tests.ui import make_app, post, web_client

    movable = at_step(runtime, world, sample, "besluit")
    stuck = at_step(runtime, world, sample, "hoorzitting_ouders")
    to = publish_variant(db, without_hoorzitting)
    client = web_client(make_app(runtime, settings, db), world, "procesbeheerder")
    routes = client.get("/routes").get_data(as_text=True)
    assert f'href="/routes/tlv-vso/overzetten?van=1&amp;naar={to}"' in routes
    assert f"Zaken overzetten naar v{to}" in routes
    page = f"/routes/tlv-vso/overzetten?van=1&naar={to}"
    html = client.get(page).get_data(as_text=True)
    assert f"versie 1 → versie {to}" in html
    assert f'<tr class="utrecht-table__row" data-case="{movable}" data-can="ja">' in html
    assert "de open taak &#39;Ouders horen&#39; bestaat niet in de nieuwe versie" in html
    assert f"1 dossier overzetten naar versie {to}" in html and "Sanne" not in html
    assert version_of(runtime, movable) == 1  # looking moves nothing
    # Without the CSRF token nothing happens.
    assert client.post("/routes/tlv-vso/overzetten", data={"van": "1", "naar": str(to)}).status_code in (400, 403)
    assert version_of(runtime, movable) == 1
    done = post(client, "/routes/tlv-vso/overzetten", {"van": "1", "naar": str(to)}, htmx=True, page=page)
    assert done.status_code == 200
    result = done.get_data(as_text=True)
    assert result.lstrip().startswith('<section id="overzetten"')  # htmx: the section only
    assert "1 van 2 dossiers overgezet naar versie" in result and "niet overgezet" in result
    assert version_of(runtime, movable) == to and version_of(runtime, stuck) == 1
    assert events_of(runtime, movable, "case_migrated")[0].actor == world["procesbeheerder"].email
    after = client.get("/routes").get_data(as_text=True)
    assert f'href="/routes/tlv-vso/overzetten?van=1&amp;naar={to}"' in after  # the stuck case is still on v1


@pytest.mark.parametrize("role", ["consulent", "auditor", "school"])
def test_other_roles_cannot_open_the_migration_page(runtime, settings, db, world, sample, role):
    from tests.ui import make_app, web_client

    at_step(runtime, world, sample, "besluit")
    to = publish_variant(db, longer_dossiercheck)
    client = web_client(make_app(runtime, settings, db), world, role)
    assert client.get(f"/routes/tlv-vso/overzetten?van=1&naar={to}").status_code == 403


def test_the_page_answers_a_version_that_does_not_exist_in_dutch(runtime, settings, db, world, sample):
    from tests.ui import make_app, web_client

    client = web_client(make_app(runtime, settings, db), world, "procesbeheerder")
    answer = client.get("/routes/tlv-vso/overzetten?van=1&naar=8")
    assert answer.status_code == 422 and "heeft geen versie 8" in answer.get_data(as_text=True)
    assert client.get("/routes/tlv-vso/overzetten?van=1").status_code == 422


# ---------------------------------------------------------------- a route with a timer (thuiszitter's monitoring)


def waiting_on_monitoring(runtime, world) -> int:
    """A thuiszitter case whose plan is made: it waits on the monitoring timer."""
    import yaml

    from tests.conftest import PROCESSES

    data = yaml.safe_load((PROCESSES / "scenarios" / "thuiszitter" / "_data.yaml").read_text(encoding="utf-8"))
    with clock.frozen(at("2026-09-07T09:00")):
        case = runtime.start_case(world["school"], "thuiszitter", data["start"])
        do(runtime, world, "school", case.id, "verzuimmelding", data["verzuimmelding"])
        do(runtime, world, "leerplicht", case.id, "intake_leerplicht", data["intake"])
    with clock.frozen(at("2026-09-14T10:00")):
        do(runtime, world, "consulent", case.id, "casustafel", data["casustafel"])
        do(runtime, world, "consulent", case.id, "plan", data["plan"])
    assert open_names(runtime, case.id) == []
    return case.id


def timer_due(runtime, case_id: int):
    with runtime.db.read() as session:
        return session.scalars(select(Deadline.due_at).where(
            Deadline.case_id == case_id, Deadline.kind == DeadlineKind.TIMER,
            Deadline.status == DeadlineStatus.PENDING)).all()


def test_a_waiting_timer_of_an_unchanged_element_keeps_its_moment_and_fires_then(runtime, world, db):
    from engine import scheduler
    from tests.migration_routes import longer_plan

    case_id = waiting_on_monitoring(runtime, world)
    before = timer_due(runtime, case_id)
    assert len(before) == 1
    to = publish_variant(db, longer_plan, route="thuiszitter")
    with clock.frozen(at("2026-09-30T09:00")):
        outcome = migration.Migrator(runtime).migrate("thuiszitter", 1, to, lambda case: world["procesbeheerder"])
    assert [v.moved for v in outcome.cases] == [True]
    assert timer_due(runtime, case_id) == before
    consistent(runtime, db, case_id)
    scheduler.fire_due(runtime, before[0] + timedelta(seconds=1))
    assert open_names(runtime, case_id) == ["monitoring"]
    consistent(runtime, db, case_id)


def test_a_changed_timer_is_armed_again_from_the_migration_and_an_undo_restores_it(runtime, world, db):
    from tests.migration_routes import longer_monitoring

    case_id = waiting_on_monitoring(runtime, world)
    before = timer_due(runtime, case_id)
    to = publish_variant(db, longer_monitoring, route="thuiszitter")
    mover = migration.Migrator(runtime)
    with clock.frozen(at("2026-09-30T09:00")):
        assert mover.migrate("thuiszitter", 1, to, lambda case: world["procesbeheerder"]).cases[0].moved
    after = timer_due(runtime, case_id)
    assert len(after) == 1 and clock.local_date(after[0]).isoformat() == "2026-11-04"  # 4 + 1 weeks from Wed 30 Sep
    consistent(runtime, db, case_id)
    with clock.frozen(at("2026-10-01T09:00")):
        assert mover.migrate("thuiszitter", to, 1, lambda case: world["procesbeheerder"]).cases[0].moved
    assert timer_due(runtime, case_id) == before
    consistent(runtime, db, case_id)


def test_a_claimed_task_that_moves_to_another_role_is_refused_an_unclaimed_one_moves_lane(runtime, world, sample,
                                                                                          db):
    from tests.migration_routes import dossiercheck_by_commissie

    claimed = at_step(runtime, world, sample, "dossiercheck")
    runtime.claim(world["consulent"], open_task(runtime, claimed, "dossiercheck").id)
    free = at_step(runtime, world, sample, "dossiercheck")
    to = publish_variant(db, dossiercheck_by_commissie)
    verdicts = {v.case_id: v for v in migrate(runtime, world, to).cases}
    assert not verdicts[claimed].moved
    assert verdicts[claimed].reason == ("de geclaimde taak 'Dossier controleren' gaat in de nieuwe versie naar de rol "
                                        "commissie; geef haar eerst vrij")
    assert verdicts[free].moved and open_task(runtime, free, "dossiercheck").lane == "commissie"
    do(runtime, world, "commissie", free, "dossiercheck", {"dossier_compleet": True})
    consistent(runtime, db, free)


def test_a_changed_form_that_no_longer_fits_the_cases_data_is_refused(runtime, world, sample, db):
    from tests.migration_routes import no_waiting_list

    first = at_step(runtime, world, sample, "plaatsing")
    waiting = at_step(runtime, world, sample, "plaatsing")
    do(runtime, world, "school", waiting, "plaatsing", {"plaatsing_uitkomst": "wachtlijst"})
    assert open_names(runtime, waiting) == ["plaatsing"]
    to = publish_variant(db, lambda text: text, forms_change=no_waiting_list)
    verdicts = {v.case_id: v for v in preview(runtime, to).cases}
    assert verdicts[first].can
    assert verdicts[waiting].reason == ("het formulier van 'Plaatsing VSO' is gewijzigd en veld 'plaatsing_uitkomst' "
                                        "past niet meer bij wat het dossier al heeft")
