"""Migration 0009's indexes (issue 8): the searches on a pupil's name find the same cases as before and read the
name index (the query's expression is the indexed one, on both databases); the inbox's page is the same page."""

from __future__ import annotations

import importlib.util

from sqlalchemy import select

from engine import case_list, name_search, worklist
from engine.config import PROJECT_ROOT
from engine.models import Case
from tests.helpers import task_id


def _migration():
    path = PROJECT_ROOT / "migrations" / "versions" / "0009_inbox_indexes.py"
    spec = importlib.util.spec_from_file_location("migration_0009", path)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_migration_indexes_the_expression_the_engine_searches_in():
    migration = _migration()
    assert migration.PUPIL_SQLITE == name_search.index_sql("sqlite")
    assert migration.PUPIL_POSTGRES == name_search.index_sql("postgresql")


def _start(runtime, world, sample, **pupil):
    start = {**sample["start"], "leerling": {**sample["start"]["leerling"], **pupil}}
    case = runtime.start_case(world["school"], "tlv-vso", start)
    runtime.complete(world["school"], task_id(runtime, case.id, "aanmelding"), sample["aanmelding"])
    return case.id


def test_name_searches_find_the_same_cases_and_read_the_name_index(db, runtime, world, sample):
    noor = _start(runtime, world, sample, voornaam="Noor", tussenvoegsel="van", achternaam="Dijk")
    sanne = _start(runtime, world, sample)
    consulent = world["consulent"]
    with db.read() as session:
        # The case list searches the whole name, tussenvoegsel included, every word; case folded.
        assert [c.id for c in case_list.list_cases(session, consulent, q="noor DIJK").cases] == [noor]
        assert [c.id for c in case_list.list_cases(session, consulent, q="van").cases] == [noor]
        assert [c.id for c in case_list.list_cases(session, consulent, q=f"#{sanne}").cases] == [sanne]
        # The inbox searches voornaam and achternaam (not the tussenvoegsel), or a case number.
        def found(text: str) -> list[int]:
            rows, counts = worklist.search(session, consulent, scope="all", filters=worklist.Filters(text=text))
            assert counts["all"] == len(rows)
            return sorted(row.task.case_id for row in rows)
        assert found("noor dijk") == [noor]
        assert found("van") == []
        assert found("vries") == [sanne]
        assert found(str(sanne)) == [sanne]
        assert found("i") == sorted([noor, sanne])

        dialect = session.get_bind().dialect.name
        name = name_search.pupil_text(dialect).contains("noor", autoescape=True)
        # SQLite reads the SWV's entries of its index; PostgreSQL's trigram index holds every SWV.
        query = select(Case.id).where(Case.tenant_id == consulent.tenant_id, name) if dialect == "sqlite" \
            else select(Case.id).where(name)
        sql = str(query.compile(session.get_bind(), compile_kwargs={"literal_binds": True}))
        if dialect == "sqlite":
            plan = " ".join(row[-1] for row in session.connection().exec_driver_sql("EXPLAIN QUERY PLAN " + sql))
        else:  # a handful of rows: without this PostgreSQL reads the table, as it should at this size
            session.connection().exec_driver_sql("SET LOCAL enable_seqscan = off")
            plan = " ".join(row[0] for row in session.connection().exec_driver_sql("EXPLAIN " + sql))
        assert "ix_cases_pupil_name" in plan, plan
