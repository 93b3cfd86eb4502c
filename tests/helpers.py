"""What the test modules share: drive a case through the engine, read its rows back, and speak to the REST API
and the ``loket`` command as a user would. Fixtures live in conftest.py; one copy of each helper lives here."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import datetime
from zoneinfo import ZoneInfo

from sqlalchemy import select

from engine import audit
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


def loket(*args: str, url: str | None = None, stdin: str | None = None) -> subprocess.CompletedProcess:
    """``loket ARGS`` as a real process, as an operator runs it (entry point, exit code, stderr and all)."""
    env = dict(os.environ)
    if url:
        env["LOKET_DATABASE_URL"] = url
    return subprocess.run([sys.executable, "-c", "import cli; cli.run()", *args], input=stdin, capture_output=True,
                          text=True, env=env, cwd=PROJECT_ROOT, timeout=120)
