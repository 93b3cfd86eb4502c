"""The scenario runner: what a process owner reads when a scenario fails or is badly written, a draft tried
before it is published, isolation from the real database, and `loket processes test`'s answer and exit code.

These use a small test route of their own (tests/bpmn/timers/termijn.bpmn: one task `beoordelen` of werkdagen(5),
warning werkdagen(2), escalation to the commissie with reassignment, and a boundary timer of schooldagen(2) that
leads to `opvolgen`), so they do not change when tlv-vso does."""

from __future__ import annotations

import shutil
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import func, select

from engine import clock, scenarios
from engine.models import Case, Event, Tenant, User

ROUTE_DIR = Path(__file__).parent / "bpmn" / "timers"
BPMN = (ROUTE_DIR / "termijn.bpmn").read_text(encoding="utf-8")
FORMS = {p.name: p.read_text(encoding="utf-8") for p in (ROUTE_DIR / "forms").glob("*.json")}

# Monday 2 February 2026, 09:00: beoordelen is due Monday 9 February (werkdagen(5)), warned from Thursday 5
# February; the timer (schooldagen(2)) runs out at the end of Wednesday 4 February.
HEAD = """
name: Termijn
start:
  at: 2026-02-02T09:00
  as: consulent
  data: {wachttijd: P14D}
steps:
"""


@pytest.fixture(scope="module")
def route() -> scenarios.RouteUnderTest:
    return scenarios.route_from_files("termijn", BPMN, FORMS)


def run(route, steps: str, name: str = "proef.yaml") -> scenarios.ScenarioResult:
    return scenarios.run_text(HEAD + steps, route, name)


def test_a_passing_scenario_reports_what_happened_per_step(route):
    result = run(route, """
  - expect: {task: beoordelen, due: 2026-02-09, warn: 2026-02-05, lane: consulent}
  - complete: beoordelen
    with: {oordeel: goed}
  - expect: {status: closed, outcome: beoordeeld, open_tasks: [], done: [beoordelen]}
""")
    assert result.ok, result.reason()
    start, _, done, _ = result.steps
    assert "taak beoordelen klaar voor consulent: termijn tot ma 09-02-2026 23:59" in " ".join(start.happened)
    assert "zaak gesloten, uitkomst beoordeeld" in done.happened
    assert result.seconds > 0


def test_a_failed_expectation_names_the_step_and_what_happened_instead(route):
    result = run(route, """
  - complete: beoordelen
    claim: beoordelen
""".replace("    claim: beoordelen\n", "    with: {}\n") + """  - expect: {outcome: opgevolgd}
""")
    assert not result.ok
    assert result.failed is not None and result.failed.number == 2
    assert result.reason() == ("stap 2 (expect outcome: opgevolgd): uitkomst: verwacht opgevolgd, maar het is "
                               "beoordeeld (status closed)")

    result = run(route, "  - expect: {task: beoordelen, due: 2026-02-10}\n")
    assert "stap 1" in result.reason()
    assert "termijn van beoordelen: verwacht 2026-02-10, maar het is ma 09-02-2026 23:59" in result.reason()
    lines = scenarios.describe(result)
    assert lines[0].startswith("MISLUKT  proef.yaml") and "stap 1" in lines[1]


def test_time_passes_in_werkdagen_and_the_scheduler_fires_warnings_timers_and_escalations(route):
    result = run(route, """
  - let: 1 werkdagen
  - expect: {no_warning: beoordelen, open_tasks: [beoordelen]}
  - let: 1 werkdagen
  - expect: {open_tasks: [opvolgen], no_escalation: beoordelen}
""")
    assert result.ok, result.reason()
    # The rest of Monday and Tuesday, then Wednesday, have passed: Thursday 00:00 Dutch time. The timer (due at
    # the end of Wednesday, schooldagen(2)) went; the warning from Thursday 00:00 did not, the task it was for
    # having been left by the timer's path.
    assert result.steps[3].at.isoformat() == "2026-02-04T23:00:00+00:00"
    assert "timer wachttijd_om afgegaan" in result.steps[3].happened

    # A refusal that the scenario expects is a passing step; an unexpected one fails with the engine's words.
    result = run(route, """
  - complete: beoordelen
    as: commissie
    refused: rol consulent
  - complete: beoordelen
    as: commissie
""")
    assert result.reason() == ("stap 2 (complete beoordelen als commissie): geweigerd: Deze taak is voor de rol "
                               "consulent.")


def test_suspension_moves_the_due_date_and_nothing_fires_meanwhile(route):
    result = run(route, """
  - at: 2026-02-03T09:00
  - suspend: Wachten op de ouders
  - at: 2026-02-10T09:00
  - expect: {status: suspended, no_escalation: beoordelen, open_tasks: [beoordelen]}
  - resume: Ouders gehoord
  - expect: {status: open, task: beoordelen, due: 2026-02-16}
""")
    assert result.ok, result.reason()
    assert "termijn van beoordelen verschoven: ma 09-02-2026 23:59 -> ma 16-02-2026 23:59" in result.steps[5].happened


def test_a_draft_is_tried_as_given(route):
    """The web editor's case: the route as text, changed and not deployed anywhere."""
    draft = scenarios.route_from_files("termijn", BPMN.replace('value="werkdagen(5)"', 'value="werkdagen(3)"'),
                                       FORMS)
    steps = "  - expect: {task: beoordelen, due: 2026-02-09}\n"
    assert run(route, steps).ok
    assert "maar het is do 05-02-2026 23:59" in run(draft, steps).reason()

    with pytest.raises(scenarios.RouteUnusable) as refused:
        scenarios.route_from_files("termijn", BPMN.replace('name="consulent"', 'name="conciërge"'), FORMS)
    assert any("conciërge" in problem for problem in refused.value.problems)


@pytest.mark.parametrize(("text", "message"), [
    ("name: x\nstart: [\n", "proef.yaml: geen geldige YAML (regel 3"),
    ("- 1\n", "proef.yaml: een scenario is een YAML-object met name, start en steps"),
    (HEAD.replace("start:", "begin:") + "  - let: 1 werkdagen\n", "proef.yaml: 'start' ontbreekt"),
    (HEAD + "  - let: 1 werkdagen\n  - complete: beoordelen\n    als: consulent\n",
     "proef.yaml: stap 2: onbekende sleutel 'als'; bekend zijn: as, complete, note, refused, with"),
    (HEAD + "  - complete: beoordelen\n    let: 2 werkdagen\n",
     "proef.yaml: stap 1: een stap doet precies één ding (nu: complete, let)"),
    (HEAD + "  - let: 10 werkdag\n",
     "proef.yaml: stap 1: let: '10 werkdag' is geen tijdsduur; schrijf bv. '10 werkdagen'"),
    (HEAD + "  - expect: {due: 2026-02-09}\n", "proef.yaml: stap 1: expect: 'due', 'warn', 'lane', 'claimed_by' en "
     "'escalated' horen bij een 'task: ...'"),
    (HEAD + "  - complete: beoordelen\n    as: conciërge\n", "proef.yaml: stap 1: as: 'conciërge' is geen rol"),
    (HEAD + "  - complete: beoordelen\n    with: '@oordeel'\n",
     "proef.yaml: stap 1: with: gegevens '@oordeel' staan niet in _data.yaml van de route"),
    (HEAD + "  - at: morgen\n", "proef.yaml: stap 1: at: 'morgen' is geen datum"),
])
def test_a_bad_scenario_file_is_told_in_dutch_with_its_step(route, text, message):
    with pytest.raises(scenarios.ScenarioInvalid) as refused:
        scenarios.run_text(text, route, "proef.yaml")
    assert any(problem.startswith(message) for problem in refused.value.problems), refused.value.problems


def test_a_task_the_route_does_not_have_is_refused_before_anything_runs(route):
    with pytest.raises(scenarios.ScenarioInvalid) as refused:
        run(route, "  - let: 1 werkdagen\n  - expect: {escalation: besluit}\n")
    assert refused.value.problems == ["proef.yaml: stap 2: taak 'besluit' bestaat niet in route termijn "
                                      "(user tasks: beoordelen, opvolgen)"]
    with pytest.raises(scenarios.ScenarioInvalid) as refused:
        scenarios.run_text(HEAD.replace("steps:", "swv: {term: {term: weken(2), from: besluit}}\nsteps:")
                           + "  - let: 1 werkdagen\n", route, "proef.yaml")
    assert refused.value.problems == ["proef.yaml: swv.term.from: taak 'besluit' bestaat niet in route termijn "
                                      "(user tasks: beoordelen, opvolgen)"]


def test_a_scenario_never_touches_the_real_database(db, world, route, monkeypatch):
    monkeypatch.setenv("LOKET_DATABASE_URL", db.url)  # even when the real one is the configured one

    def counts():
        with db.read() as session:
            return [session.scalar(select(func.count()).select_from(model)) for model in (Tenant, User, Case, Event)]

    before = counts()
    result = run(route, "  - complete: beoordelen\n  - expect: {status: closed}\n")
    assert result.ok, result.reason()
    assert counts() == before
    with db.read() as session:
        assert session.scalar(select(Tenant).where(Tenant.key == "scenario")) is None
    assert abs(clock.now() - datetime.now(UTC)) < timedelta(minutes=5)  # its frozen clock stayed inside it


def test_loket_processes_test_prints_per_scenario_and_exits_1_on_a_failure(tmp_path):
    from cli import main

    processes = tmp_path / "processes"
    (processes / "forms").mkdir(parents=True)
    shutil.copy(ROUTE_DIR / "termijn.bpmn", processes)
    for form in (ROUTE_DIR / "forms").glob("*.json"):
        shutil.copy(form, processes / "forms")
    folder = processes / "scenarios" / "termijn"
    folder.mkdir(parents=True)
    (folder / "_data.yaml").write_text("oordeel: {oordeel: goed}\n")
    (folder / "klaar.yaml").write_text(HEAD + "  - complete: beoordelen\n    with: '@oordeel'\n"
                                       "  - expect: {outcome: beoordeeld}\n")
    env = {"LOKET_PROCESSES": str(processes), "LOKET_DATABASE_URL": f"sqlite:///{tmp_path / 'nergens.db'}"}

    answer = CliRunner().invoke(main, ["processes", "test"], env=env)
    assert answer.exit_code == 0, answer.output
    assert "ok  processes/scenarios/termijn/klaar.yaml  (Termijn; " in answer.output
    assert "1 scenario's, 1 ok, 0 mislukt" in answer.output
    assert not (tmp_path / "nergens.db").exists()  # it needs no database at all

    (folder / "te-laat.yaml").write_text(HEAD + "  - let: 5 werkdagen\n  - expect: {open_tasks: [beoordelen]}\n")
    answer = CliRunner().invoke(main, ["processes", "test", "termijn", "--verbose"], env=env)
    assert answer.exit_code == 1
    assert "MISLUKT  processes/scenarios/termijn/te-laat.yaml" in answer.output
    assert ("stap 2 (expect open_tasks: [beoordelen]): open taken: verwacht beoordelen, maar het zijn opvolgen"
            in answer.output)
    assert "timer wachttijd_om afgegaan" in answer.output  # --verbose: what each step did
    assert "2 scenario's, 1 ok, 1 mislukt" in answer.output

    answer = CliRunner().invoke(main, ["processes", "test", "onbekend"], env=env)
    assert answer.exit_code == 1 and "fout: route onbekend bestaat niet" in answer.output


def test_the_swv_promise_extension_and_a_document(route):
    """swv.term gives the case a doorlooptijd (weken(2) from the start: Monday 16 February); extend moves it a week;
    when three weeks have passed it escalates as 'case'. upload adds a document the case then holds."""
    text = HEAD.replace("steps:\n", "swv:\n  term: {term: weken(2)}\nsteps:\n") + """
  - expect: {case_due: 2026-02-16}
  - upload: opp
    as: consulent
  - extend: {weeks: 1, reason: Het tweede advies laat op zich wachten}
  - expect: {case_due: 2026-02-23, no_escalation: case}
  - let: 3 weken
  - expect: {escalation: case}
"""
    result = scenarios.run_text(text, route, "proef.yaml")
    assert result.ok, result.reason()
    assert "document toegevoegd (opp)" in result.steps[2].happened
    assert "doorlooptijd van de zaak tot ma 23-02-2026 23:59" in result.steps[3].happened
    assert "escalatie: doorlooptijd van de zaak verstreken, melding aan bestuurder" in result.steps[5].happened


def test_a_publish_runs_the_routes_scenarios_against_the_new_content(tmp_path, route):
    """engine.publish asks failures_for(key, bpmn, forms): none while the scenarios pass, one line per failure."""
    import json

    directory = tmp_path / "processes" / "scenarios"
    (directory / "termijn").mkdir(parents=True)
    (directory / "termijn" / "termijn.yaml").write_text(HEAD + "  - expect: {task: beoordelen, due: 2026-02-09}\n")
    assert scenarios.failures_for("termijn", BPMN, FORMS, directory) == []
    changed = BPMN.replace('value="werkdagen(5)"', 'value="werkdagen(3)"')
    assert scenarios.failures_for("termijn", changed, FORMS, directory) == [
        "processes/scenarios/termijn/termijn.yaml: stap 1 (expect task: beoordelen, due: 2026-02-09): "
        "termijn van beoordelen: verwacht 2026-02-09, maar het is do 05-02-2026 23:59"]
    assert scenarios.failures_for("nieuw", BPMN, FORMS, directory) == []  # no scenarios yet: none fail

    shown = json.loads(json.dumps(scenarios.as_dict(run(route, "  - complete: beoordelen\n"))))
    assert shown["ok"] is True and shown["steps"][0]["open_tasks"][0]["due"] == "2026-02-09T22:59:59+00:00"


def test_loket_processes_test_deployed_tries_the_version_in_the_database(db, tmp_path):
    from cli import main
    from engine import routes

    with db.transaction() as session:
        routes.deploy(session, ROUTE_DIR / "termijn.bpmn")
    folder = tmp_path / "processes" / "scenarios" / "termijn"
    folder.mkdir(parents=True)
    (folder / "klaar.yaml").write_text(HEAD + "  - complete: beoordelen\n  - expect: {outcome: beoordeeld}\n")
    env = {"LOKET_PROCESSES": str(tmp_path / "processes"), "LOKET_DATABASE_URL": db.url}
    answer = CliRunner().invoke(main, ["processes", "test", "termijn", "--deployed"], env=env)
    assert answer.exit_code == 0, answer.output
    assert "1 scenario's, 1 ok, 0 mislukt" in answer.output
    with db.read() as session:  # the version was read, not run: no case in the real database
        assert session.scalar(select(func.count()).select_from(Case)) == 0


def test_scenarios_run_side_by_side_in_threads(route):
    """The route editor runs scenarios in web request threads: each world is its own, whatever the thread."""
    import threading

    results: list[bool] = []
    steps = "  - complete: beoordelen\n  - expect: {outcome: beoordeeld}\n"
    threads = [threading.Thread(target=lambda: results.append(run(route, steps).ok)) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert results == [True, True, True]


def test_a_school_starts_for_the_school_its_start_form_names():
    """tlv-vso's start form names the school: the world's user of that school starts and works the case."""
    from engine.config import PROJECT_ROOT

    processes = PROJECT_ROOT / "processes"
    forms = {p.name: p.read_text(encoding="utf-8") for p in (processes / "forms").glob("*.json")}
    tlv = scenarios.route_from_files("tlv-vso", (processes / "tlv-vso.bpmn").read_bytes(), forms)
    result = scenarios.run_text("""
name: Andere school
start:
  at: 2026-02-02T09:00
  data: {leerling: {voornaam: Sem, achternaam: Jansen, geboortedatum: "2012-05-01"}, school: 20LJ00}
steps:
  - claim: aanmelding
  - expect: {task: aanmelding, claimed_by: school}
  - claim: aanmelding
    as: school2
    refused: andere school
""", tlv, "proef.yaml")
    assert result.ok, result.reason()


def test_a_reused_world_database_holds_nothing_of_the_world_before(route):
    """Worlds reuse idle in-memory databases (their compiled statements stay warm): the next world on the same
    database starts from the empty schema, with only its own SWV, users and route."""
    from engine.scenario_world import World

    swv: dict = {}
    started = datetime(2026, 2, 2, 8, tzinfo=UTC)
    with World(route, swv, started) as first:
        engine = first.db.engine
        first_url = first.db.url
        with first.db.transaction() as session:
            session.add(Tenant(key="nog-een", name="Nog een", region="midden", settings={}, created_at=started))
    with World(route, swv, started) as second:
        assert second.db.engine is engine and second.db.url == first_url  # the same database, again
        with second.db.read() as session:
            assert session.scalars(select(Tenant.key)).all() == ["scenario"]
            assert session.scalar(select(func.count()).select_from(Case)) == 0
