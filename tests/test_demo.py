"""The demo (`loket init --demo`): a smaller one, built as `make run` builds it, through the engine with the clock
moved. Its cases are on every route that has scenarios, spread over what a newcomer should see (closed, open, near
a term, escalated, suspended), every one of them verifies and replays to what the database holds, a second run
adds nothing, and every demo user can log in and use the token printed for it."""

from __future__ import annotations

import io
import re
import shutil
from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass

import pytest
from rich.console import Console
from sqlalchemy import func, select

from cli.demo import DEMO_PASSWORD, USERS, create_demo
from engine import audit, demo, logins, routes, scenarios
from engine.cases import Runtime
from engine.config import Settings
from engine.db import Database, upgrade
from engine.demo import shift_dates
from engine.models import Case, Route, Tenant
from engine.runtime import build_runtime
from engine.vocabulary import ROLES
from web import create_app

from .conftest import BACKENDS, PROCESSES, scratch_postgres

ROUTES = {path.parent.name for path in scenarios.find(PROCESSES / "scenarios")}
# 4 per SWV and route: one of each kind the demo counts out (engine.demo.EVERY).
CASES = 4 * len(list((PROCESSES / "swv").glob("*.yaml"))) * len(ROUTES)


@dataclass
class Demo:
    db: Database
    runtime: Runtime
    settings: Settings
    report: demo.DemoReport
    printed: str


def build(db: Database, runtime: Runtime) -> tuple[demo.DemoReport, str]:
    out = io.StringIO()
    report = create_demo(db, runtime, PROCESSES, cases=CASES, out=Console(file=out, width=250))
    return report, out.getvalue()


@pytest.fixture(scope="module", params=BACKENDS)
def built(request, sqlite_template, tmp_path_factory) -> Iterator[Demo]:
    """One demo per backend for this module's tests (building it is the slow part); the last test builds again."""
    with ExitStack() as stack:
        if request.param == "sqlite":
            path = tmp_path_factory.mktemp("demo") / "loket.db"
            shutil.copy(sqlite_template, path)
            url = f"sqlite:///{path}"
        else:
            url = stack.enter_context(scratch_postgres("demo"))
            upgrade(url)
        db = Database(url)
        stack.callback(db.dispose)
        settings = Settings(database_url=url, processes_dir=PROCESSES)
        runtime = build_runtime(db, settings)
        with db.transaction() as session:
            routes.deploy_dir(session, PROCESSES)
        yield Demo(db, runtime, settings, *build(db, runtime))


def test_demo_cases_cover_every_route_and_the_states_a_newcomer_should_see(built):
    db, report, printed = built.db, built.report, built.printed
    with db.read() as session:
        deployed = set(session.scalars(select(Route.key)))
        swvs = {t.key: (t.settings or {}).get("routes") for t in session.scalars(select(Tenant))}
    with_scenarios = ROUTES & deployed
    assert with_scenarios, "geen route met scenario's"
    for swv, runs in swvs.items():
        for route in with_scenarios:
            if runs is None or route in runs:  # a route the SWV does not run (lwoo, opted out) has none
                assert report.figures[(swv, route)].cases > 0, (swv, route)
    total = demo.RouteFigures()
    for figures in report.figures.values():
        for name in ("cases", "open", "near_deadline", "escalated", "suspended", "closed"):
            setattr(total, name, getattr(total, name) + getattr(figures, name))
    assert total.cases == report.cases
    assert total.closed + total.open + total.suspended == total.cases
    assert total.closed and total.open and total.suspended and total.escalated and total.near_deadline, total
    assert "demo-dossiers gemaakt" in printed and "sterk-vo" in printed
    with db.read() as session:  # spread over the school year, never in the future
        first, last = session.execute(select(func.min(Case.opened_at), func.max(Case.opened_at))).one()
    assert first.date() >= demo.SCHOOL_YEAR_START
    assert (last - first).days > 200
    assert report.reasons.total() <= report.cases, report.reasons.most_common(5)  # few steps skipped


def test_every_demo_case_verifies_and_replays_to_what_the_database_holds(built):
    db, runtime, report = built.db, built.runtime, built.report
    with db.read() as session:
        chains = list(audit.verify_all(session))
        assert len(chains) == report.cases
        assert all(chain.intact for chain in chains), [c.case_id for c in chains if not c.intact]
        replays = list(audit.replay_all(runtime, session, report.case_ids))
    assert len(replays) == report.cases
    assert [r.case_id for r in replays if not r.consistent] == []


def test_every_demo_user_logs_in_with_the_printed_password_and_token(built):
    db, printed_tokens = built.db, tokens(built.printed)
    client = create_app(built.settings, db).test_client()
    roles = set()
    for email, _role, _school in USERS:
        with db.transaction() as session:
            outcome = logins.log_in(session, email, DEMO_PASSWORD)
        assert outcome.user is not None, (email, outcome.message)
        roles |= set(outcome.user.roles)
        answer = client.get("/api/v1/routes", headers={"Authorization": f"Bearer {printed_tokens[email]}"})
        assert answer.status_code == 200, (email, answer.status_code)
    assert roles == set(ROLES)


def test_a_second_demo_adds_no_cases_and_prints_new_tokens(built):
    db, runtime, first, printed = built.db, built.runtime, built.report, built.printed
    with db.read() as session:
        before = session.scalar(select(func.count()).select_from(Case))
    second, again = build(db, runtime)
    with db.read() as session:
        assert session.scalar(select(func.count()).select_from(Case)) == before >= first.cases
    assert second.cases == 0 and second.existing
    assert tokens(printed).keys() == tokens(again).keys()
    assert set(tokens(printed).values()).isdisjoint(tokens(again).values())


def tokens(printed: str) -> dict[str, str]:
    return dict(re.findall(r"(\S+@\S+)\s.*?(lkt_\S+)", printed))


def test_form_dates_move_with_the_case_and_a_tlv_still_ends_on_31_july():
    data = {"datum": "2026-02-10", "einddatum": "2027-07-31", "leerling": {"naam": "x"},
            "adviezen": [{"datum": "2026-01-23"}], "documentnummer": "OPP-2026-117"}
    moved = shift_dates(data, -21 * 7)
    assert moved["datum"] == "2025-09-16" and moved["adviezen"][0]["datum"] == "2025-08-29"
    assert moved["einddatum"] == "2027-07-31"  # 2027-02-27 -> the 31 July after it
    assert shift_dates(data, 30 * 7)["einddatum"] == "2028-07-31"
    assert moved["documentnummer"] == "OPP-2026-117" and moved["leerling"] == {"naam": "x"}
