"""What the test modules share: drive a case through the engine, read its rows back, and speak to the REST API
and the ``loket`` command as a user would. Fixtures live in conftest.py; one copy of each helper lives here."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from sqlalchemy import select

from engine import audit, clock, routes
from engine.config import PROJECT_ROOT
from engine.models import Case, Event, Task
from engine.vocabulary import OPEN_TASK

AMS = ZoneInfo("Europe/Amsterdam")


def at(text: str) -> datetime:
    """An ISO moment; without an offset it is Dutch time, as a case worker reads a date on the wall calendar."""
    moment = datetime.fromisoformat(text)
    return moment if moment.tzinfo else moment.replace(tzinfo=AMS)


# ---------------------------------------------------------------- a case through the engine

def open_tasks(runtime, case_id: int) -> list[Task]:
    """The case's inbox rows, oldest first (read from the projection, as the inbox does)."""
    with runtime.db.read() as session:
        return list(session.scalars(select(Task).where(Task.case_id == case_id, Task.status.in_(OPEN_TASK))
                                    .order_by(Task.created_at, Task.id)))


def open_names(runtime, case_id: int) -> list[str]:
    return [t.name for t in open_tasks(runtime, case_id)]


def open_task(runtime, case_id: int, name: str) -> Task:
    tasks = [t for t in open_tasks(runtime, case_id) if t.name == name]
    assert len(tasks) == 1, f"expected one open {name}, got {open_names(runtime, case_id)}"
    return tasks[0]


def task_id(runtime, case_id: int, name: str) -> str:
    return open_task(runtime, case_id, name).id


def do(runtime, world, role: str, case_id: int, name: str, data: dict) -> None:
    """The user with ``role`` completes the case's open task ``name``."""
    runtime.complete(world[role], open_task(runtime, case_id, name).id, data)


def to_besluit(runtime, world, sample, rounds: int = 0) -> int:
    """A tlv-vso case up to its besluit, after ``rounds`` rounds of an incomplete dossier and its aanvulling."""
    case = runtime.start_case(world["school"], "tlv-vso", sample["start"])
    do(runtime, world, "school", case.id, "aanmelding", sample["aanmelding"])
    for n in range(rounds):
        do(runtime, world, "consulent", case.id, "dossiercheck",
           {"dossier_compleet": False, "ontbrekend": f"Tweede advies ontbreekt (ronde {n + 1})."})
        do(runtime, world, "school", case.id, "aanvulling", {"aanvulling": f"Nagestuurd in ronde {n + 1}."})
    do(runtime, world, "consulent", case.id, "dossiercheck", {"dossier_compleet": True})
    do(runtime, world, "consulent", case.id, "knooppuntoverleg", sample["knooppuntoverleg"])
    return case.id


# The smallest file Loket keeps as a PDF (its type is read from the content).
PDF = b"%PDF-1.4\n1 0 obj <<>> endobj\ntrailer <<>>\n%%EOF\n"


def add_document(runtime, world, role: str, case_id: int, kind: str | None = "opp", data: bytes = PDF,
                 name: str = "opp.pdf"):
    """The user with ``role`` adds a document to the case (stored under ``runtime.settings.documents_dir``:
    give the runtime a folder of the test's own first, e.g. the ``documents_dir`` fixture of test_retention)."""
    from engine import documents

    return documents.add(runtime, world[role], case_id, name=name, data=data, kind=kind)


def load_case(runtime, case_id: int) -> Case:
    with runtime.db.read() as session:
        return session.get(Case, case_id)


def events_of(runtime, case_id: int, type_: str | None = None) -> list[Event]:
    """The case's events in order, or only those of one type."""
    query = select(Event).where(Event.case_id == case_id).order_by(Event.seq)
    if type_ is not None:
        query = query.where(Event.type == type_)
    with runtime.db.read() as session:
        return list(session.scalars(query))


def event_types(runtime, case_id: int) -> list[str]:
    return [e.type for e in events_of(runtime, case_id)]


def replayed(runtime, case_id: int):
    with runtime.db.read() as session:
        return audit.replay(runtime, session, session.get(Case, case_id))


def verified(db, case_id: int) -> audit.ChainReport:
    with db.read() as session:
        return audit.verify_case(session, session.get(Case, case_id))


# ---------------------------------------------------------------- the REST API and the command line

def call(client, world, role: str, method: str, path: str, json=None, raw: str | None = None):
    """A request as the world's user with ``role``; ``raw`` sends a body that need not be valid JSON."""
    headers = {"Authorization": f"Bearer {world.tokens[role]}"}
    if raw is not None:
        headers["Content-Type"] = "application/json"
        return client.open(path, method=method, headers=headers, data=raw)
    return client.open(path, method=method, headers=headers, json=json)


def cli(db_url: str, *args: str):
    """``loket ARGS`` in this process (Click's test runner), against ``db_url``."""
    from click.testing import CliRunner

    from cli import main

    return CliRunner().invoke(main, list(args), env={"LOKET_DATABASE_URL": db_url})


def checked_cli(env: dict[str, str], *args: str, ok: bool = True):
    """``loket ARGS`` in this process with ``env``: never a traceback, and exit 0 unless ``ok=False``."""
    from click.testing import CliRunner

    from cli import main

    result = CliRunner().invoke(main, list(args), env=env)
    assert "Traceback" not in result.output + result.stderr
    if ok:
        assert result.exit_code == 0, result.stderr
    return result


def deploy_schooldagen_route(runtime, folder: Path):
    """tests/bpmn/timers/termijn.bpmn with a task term of schooldagen(3) and a start form that names the school."""
    timers = Path(__file__).parent / "bpmn" / "timers"
    (folder / "forms").mkdir()
    shutil.copy(timers / "forms" / "herinnering-beoordelen.json", folder / "forms")
    start = json.loads((timers / "forms" / "herinnering-start.json").read_text("utf-8"))
    start["properties"]["school"] = {"type": "string", "title": "School (BRIN)"}
    (folder / "forms" / "herinnering-start.json").write_text(json.dumps(start), "utf-8")
    bpmn = (timers / "termijn.bpmn").read_text("utf-8")
    bpmn = bpmn.replace('name="deadline" value="werkdagen(5)"', 'name="deadline" value="schooldagen(3)"')
    bpmn = bpmn.replace('name="deadlineWarning" value="werkdagen(2)"', 'name="deadlineWarning" value="schooldagen(1)"')
    (folder / "termijn.bpmn").write_text(bpmn, "utf-8")
    with runtime.db.transaction() as session:
        routes.deploy(session, folder / "termijn.bpmn")
    return runtime


def dispute_then_admitted(runtime, world, case_id: int) -> None:
    """zorgplicht-aanmelding after the school's refusal: the parents go to the Geschillencommissie (10 February
    2026), whose judgement (20 April) makes the school admit the pupil after all: a second decision."""
    with clock.frozen(at("2026-02-10T09:00")):
        do(runtime, world, "school", case_id, "geschil",
           {"reactie_ouders": "geschillencommissie", "datum_reactie": "2026-02-10",
            "toelichting": "De ouders vinden dat de school de begeleiding wel kan bieden."})
    with clock.frozen(at("2026-04-21T09:00")):
        do(runtime, world, "school", case_id, "geschil_uitkomst",
           {"uitkomst_geschil": "alsnog_toelaten", "oordeel": "De school heeft onvoldoende onderzocht.",
            "datum_oordeel": "2026-04-20", "ingangsdatum": "2026-08-24",
            "motivering": "Na het oordeel biedt de school de begeleiding toch."})


def loket(*args: str, url: str | None = None, stdin: str | None = None) -> subprocess.CompletedProcess:
    """``loket ARGS`` as a real process, as an operator runs it (entry point, exit code, stderr and all)."""
    env = dict(os.environ)
    if url:
        env["LOKET_DATABASE_URL"] = url
    return subprocess.run([sys.executable, "-c", "import cli; cli.run()", *args], input=stdin, capture_output=True,
                          text=True, env=env, cwd=PROJECT_ROOT, timeout=120)
