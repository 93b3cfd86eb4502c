"""The projection is what the history says: a task, deadline or case row changed by plain SQL is found by replay
(naming the row, the field and the event after which stored and replayed part) and by ``loket audit verify``."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import delete, insert, select, text, update

from engine import clock
from engine.models import Case, Deadline, Event, Task, Tenant
from engine.scheduler import fire_due
from tests.helpers import cli, do, open_task, replayed


def rich_case(runtime, world, sample, db) -> int:
    """A case with a claim, an opschorting, fired warning and escalation, an extension, and open and done tasks."""
    with db.transaction() as session:
        session.get(Tenant, world.tenant_id).settings = {
            "terms": {"tlv-vso": {"term": "weken(2)", "from": "knooppuntoverleg"}}, "max_extensions": 1}
    with clock.frozen(datetime(2027, 1, 11, 8, tzinfo=UTC)):
        case = runtime.start_case(world["school"], "tlv-vso", sample["start"])
        do(runtime, world, "school", case.id, "aanmelding", sample["aanmelding"])
        runtime.claim(world["consulent"], open_task(runtime, case.id, "dossiercheck").id)
    with clock.frozen(datetime(2027, 1, 12, 8, tzinfo=UTC)):
        runtime.suspend(world["consulent"], case.id, "Wachten op de zienswijze van de ouders.")
    with clock.frozen(datetime(2027, 1, 22, 8, tzinfo=UTC)):
        runtime.resume(world["consulent"], case.id, "Zienswijze ontvangen.")
    with clock.frozen(datetime(2027, 1, 27, 8, tzinfo=UTC)):
        assert fire_due(runtime).fired == 1  # the warning of the dossiercheck
    with clock.frozen(datetime(2027, 2, 2, 8, tzinfo=UTC)):
        assert fire_due(runtime).fired == 1  # its escalation
        do(runtime, world, "consulent", case.id, "dossiercheck", {"dossier_compleet": True})
    with clock.frozen(datetime(2027, 2, 3, 8, tzinfo=UTC)):
        runtime.extend(world["consulent"], case.id, 1, "Deskundige later beschikbaar.")
    return case.id


def seq_of(db, case_id: int, type_: str, n: int = 0) -> int:
    with db.read() as session:
        return list(session.scalars(select(Event.seq).where(Event.case_id == case_id, Event.type == type_)
                                    .order_by(Event.seq)))[n]


def divergence(runtime, case_id: int) -> dict:
    result = replayed(runtime, case_id)
    assert not result.consistent, "the replay did not notice the edit"
    assert result.divergence["reason"] == "state"
    return result.divergence


def only_difference(found: dict) -> dict:
    [item] = found["details"]["differences"]
    return item


def test_an_untouched_projection_replays_consistently(runtime, world, sample, db, db_url):
    case_id = rich_case(runtime, world, sample, db)
    assert replayed(runtime, case_id).consistent
    result = cli(db_url, "audit", "verify", "--all")
    assert result.exit_code == 0, result.output


# Each edit an auditor could make with plain SQL on an open task, the row it leaves, and the event whose
# effect it undoes (by type and occurrence).
TASK_EDITS = {
    "lane": ({"lane": "commissie"}, ("task_completed", 0)),  # the knooppuntoverleg was made by the dossiercheck
    "assignee_id": ({"assignee_id": None}, None),
    "status": ({"status": "cancelled"}, ("task_completed", 1)),
    "due_at": ({"due_at": datetime(2030, 1, 1, tzinfo=UTC)}, ("task_completed", 1)),
}


@pytest.mark.parametrize("column", TASK_EDITS)
def test_an_edited_task_row_is_named_with_its_field(runtime, world, sample, db, column):
    case_id = rich_case(runtime, world, sample, db)
    runtime.claim(world["consulent"], open_task(runtime, case_id, "knooppuntoverleg").id)
    values, _ = TASK_EDITS[column]
    with db.transaction() as session:
        task = session.scalar(select(Task).where(Task.case_id == case_id, Task.name == "knooppuntoverleg"))
        stored_before = getattr(task, column)
        session.execute(update(Task).where(Task.id == task.id).values(**values))
    found = divergence(runtime, case_id)
    item = only_difference(found)
    assert (item["what"], item["field"], item["row"]["id"]) == ("task", column, task.id)
    assert item["replayed"] == (stored_before.isoformat() if isinstance(stored_before, datetime) else stored_before)
    claimed = seq_of(db, case_id, "task_claimed", 1)
    made = seq_of(db, case_id, "task_completed", 1)  # the dossiercheck that made the knooppuntoverleg
    assert found["seq"] == (claimed if column in ("assignee_id", "status") else made)
    assert f"Na event {found['seq']}" in found["message"] and f"taak knooppuntoverleg ({task.id[:8]}), {column}" in \
        found["message"]


def test_cancelled_deadlines_are_named(runtime, world, sample, db):
    case_id = rich_case(runtime, world, sample, db)
    with db.transaction() as session:
        task = session.scalar(select(Task).where(Task.case_id == case_id, Task.name == "knooppuntoverleg"))
        cancelled = session.execute(update(Deadline).where(Deadline.task_id == task.id).values(status="cancelled"))
        assert cancelled.rowcount == 2  # its warning and its escalation
    found = divergence(runtime, case_id)
    fields = {(d["what"], d["row"]["kind"], d["field"]) for d in found["details"]["differences"]}
    assert fields == {("deadline", "warning", "status"), ("deadline", "escalation", "status")}
    assert found["seq"] == seq_of(db, case_id, "task_completed", 1)
    assert "termijn waarschuwing van taak" in found["message"] or "termijn escalatie van taak" in found["message"]


@pytest.mark.parametrize("column,value,event", [
    ("suspended_seconds", 0, "case_resumed"),
    ("extensions_used", 0, "case_extended"),
    ("suspended_at", datetime(2027, 3, 1, tzinfo=UTC), "case_resumed"),
    ("due_at", datetime(2027, 2, 1, tzinfo=UTC), "case_extended"),
    ("status", "closed", "case_resumed"),  # suspended, then open again
])
def test_an_edited_case_clock_is_named(runtime, world, sample, db, column, value, event):
    case_id = rich_case(runtime, world, sample, db)
    with db.transaction() as session:
        session.execute(update(Case.__table__).where(Case.__table__.c.id == case_id).values({column: value}))
    found = divergence(runtime, case_id)
    item = only_difference(found)
    assert (item["what"], item["field"]) == ("case", column)
    assert found["seq"] == seq_of(db, case_id, event)
    assert f"dossier, {column}" in found["message"]


def test_a_deleted_task_row_is_named(runtime, world, sample, db):
    case_id = rich_case(runtime, world, sample, db)
    with db.transaction() as session:
        done = session.scalar(select(Task).where(Task.case_id == case_id, Task.name == "aanmelding"))
        session.execute(delete(Task).where(Task.id == done.id))
    found = divergence(runtime, case_id)
    item = only_difference(found)
    assert (item["what"], item["only"], item["row"]["id"]) == ("task", "replayed", done.id)
    assert found["seq"] == seq_of(db, case_id, "case_started")  # the aanmelding came with the start
    assert "bestaat alleen in de afgespeelde gegevens" in found["message"]


def test_an_inserted_task_row_is_named(runtime, world, sample, db):
    case_id = rich_case(runtime, world, sample, db)
    with db.transaction() as session:
        model = session.scalar(select(Task).where(Task.case_id == case_id, Task.name == "knooppuntoverleg"))
        row = {c.name: getattr(model, c.name) for c in Task.__table__.columns}
        session.execute(insert(Task.__table__).values({**row, "id": "00000000-0000-4000-8000-00000000beef",
                                                       "name": "besluit", "lane": "commissie"}))
    found = divergence(runtime, case_id)
    item = only_difference(found)
    assert (item["what"], item["only"], item["row"]["name"]) == ("task", "stored", "besluit")


def test_a_deleted_and_an_inserted_deadline_row_are_named(runtime, world, sample, db):
    case_id = rich_case(runtime, world, sample, db)
    with db.transaction() as session:
        case_term = session.scalar(select(Deadline).where(Deadline.case_id == case_id, Deadline.kind == "case"))
        session.execute(delete(Deadline).where(Deadline.id == case_term.id))
    found = divergence(runtime, case_id)
    item = only_difference(found)
    assert (item["what"], item["only"], item["row"]["kind"]) == ("deadline", "replayed", "case")
    assert found["seq"] == seq_of(db, case_id, "task_completed", 1)  # set when the knooppuntoverleg began

    other = rich_case(runtime, world, sample, db)
    with db.transaction() as session:
        session.execute(insert(Deadline.__table__).values(
            case_id=other, tenant_id=world.tenant_id, task_id=None, kind="case",
            due_at=datetime(2027, 2, 5, tzinfo=UTC), status="pending"))
    item = only_difference(divergence(runtime, other))
    assert (item["what"], item["only"], item["row"]["kind"], item["row"]["n"]) == ("deadline", "stored", "case", 2)


def test_audit_verify_all_reports_a_case_whose_rows_were_edited(runtime, world, sample, db, db_url):
    edited = rich_case(runtime, world, sample, db)
    untouched = rich_case(runtime, world, sample, db)
    with db.transaction() as session:
        session.execute(text("UPDATE tasks SET lane = 'school' WHERE case_id = :c AND status = 'ready'"),
                        {"c": edited})
    result = cli(db_url, "audit", "verify", "--all")
    assert result.exit_code == 1
    assert f"dossier {edited}" in result.output and "lane" in result.output
    assert f"dossier {untouched}," not in result.output
    assert "2 dossiers gecontroleerd" in result.output
    single = cli(db_url, "audit", "verify", str(edited))
    assert single.exit_code == 1 and "lane" in single.output
