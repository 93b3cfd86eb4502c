"""The inbox and the case list at 100,000 cases (issue 8, "Benchmark"): the first inbox page with its counts per
tab, a filtered search, and the case list searched on a pupil's name, each as the JSON API and as the HTML page,
for a consulent, a school user and a user with two roles (consulent and commissie), on SQLite and PostgreSQL.

The database is grown as bench/growth.py grows it: per SWV a real tlv-vso case at each stage (made through the
runtime; the multi-role user did the consulent's steps, so separated duties keep the besluit from it), copied
with INSERT ... SELECT as the engine wrote the rows (cases, tasks, deadlines, events), then each copy given its own
pupil (name) and one of 12 schools. Stages 0-3 and closed: 3 tasks per case on average, 4 of 5 cases open.

Every figure is measured at --small cases (the baseline, same run) and at --cases; prints median and p95 at
both and the ratio. Never pass/fail; the aim is p95 under 50 ms everywhere. --explain prints the plans.

    .venv/bin/python bench/inbox.py [--cases 100000] [--small 1000] [--reads 60] [--postgres URL] [--explain]
                                    [--only NAME] [--sqlite-only]
"""

from __future__ import annotations

import argparse
import random
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlalchemy import Column, Integer, MetaData, String, Table, func, insert, select, text  # noqa: E402

import handlers  # noqa: E402,F401  (composed as the app does)
from bench.growth import (  # noqa: E402
    AANMELDING,
    KNOOPPUNT,
    PLAATSING,
    TOEKENNEN,
    Bench,
    add_size_arguments,
    open_database,
    sample,
)
from bench.throwaway import postgres_database  # noqa: E402
from engine import auth  # noqa: E402
from engine.models import Case, School, User, UserRole  # noqa: E402
from tests.ui import give_passwords, login  # noqa: E402

SWVS = 5
# tlv-vso's user tasks in order, with who completes them: "multi" (consulent and commissie) does the
# consulent's steps, so the besluit is kept from it by separated duties.
STEPS = [("school", "aanmelding", AANMELDING), ("multi", "dossiercheck", {"dossier_compleet": True}),
         ("multi", "knooppuntoverleg", KNOOPPUNT), ("commissie", "besluit", TOEKENNEN),
         ("school", "plaatsing", PLAATSING)]
STAGES = (0, 1, 2, 3, 5)  # 1+2+3+4+5 tasks over 5 cases: 3 per case
SCHOOLS = 12
USERS = ("consulent", "school", "multi")
FIRST = ("Sanne", "Daan", "Noor", "Levi", "Emma", "Finn", "Julia", "Sem", "Tess", "Lucas", "Mila", "Bram", "Özlem",
         "Yusuf", "Fleur", "Milan", "Sophie", "Thijs", "Lotte", "Jesse", "Anouk", "Ruben", "Isa", "Mohammed")
LAST = ("de Vries", "Jansen", "de Jong", "Bakker", "Visser", "Smit", "Meijer", "de Boer", "Mulder", "Bos", "Vos",
        "Peters", "Hendriks", "van Leeuwen", "Dekker", "Brouwer", "de Wit", "Dijkstra", "Smits", "Yilmaz", "Kaya",
        "El Amrani", "Verhoeven", "Kramer", "van Dam", "Prins", "Post", "Kuipers", "Veenstra", "Koster")

_scratch = MetaData()
PUPILS = Table("bench_pupils", _scratch, Column("id", Integer, primary_key=True), Column("voornaam", String(40)),
               Column("achternaam", String(60)), Column("school_id", Integer))


def pupil(i: int) -> tuple[str, str]:
    """A name per case number, spread so a search on voornaam + achternaam finds a handful of cases."""
    rng = random.Random(i)
    return rng.choice(FIRST), f"{rng.choice(LAST)}{'' if i % 3 else '-' + rng.choice(LAST)}"


class InboxBench(Bench):
    steps = STEPS

    def __init__(self, url: str) -> None:  # growth.Bench's setup, with the multi-role user and more schools
        self.db, self.runtime, self.worlds = open_database(url)
        self.schools: dict[int, list[int]] = {}
        for world in self.worlds:
            self.add_users(world)
        self.made: dict[tuple[int, int], int] = {}
        self.templates = [self.template(world, stage) for world in self.worlds for stage in STAGES]
        self.last_template = max(self.templates)
        _scratch.create_all(self.db.engine)
        from bench.growth import _scratch as copies
        copies.create_all(self.db.engine)
        give_passwords(self.db)
        from web import create_app

        self.app = create_app(self.runtime.settings, self.db)
        self.app.extensions["loket"] = self.runtime
        self.client = self.app.test_client()
        self.pages = {}  # a logged-in test client per (world, user)
        for world in self.worlds:
            for user in USERS:
                client = self.app.test_client()
                response = login(client, world[user].email)
                assert response.status_code == 302, response.get_data(as_text=True)
                self.pages[world.tenant_id, user] = client

    def add_users(self, world: Any) -> None:
        with self.db.transaction() as session:
            now = session.scalar(select(User.created_at).where(User.tenant_id == world.tenant_id).limit(1))
            for n in range(SCHOOLS - len(world.schools)):
                session.add(School(tenant_id=world.tenant_id, code=f"{30 + n}AB00", name=f"School {30 + n}AB00"))
            user = User(tenant_id=world.tenant_id, email=f"multi@swv-{world.tenant_id}.test", role="consulent",
                        school_id=None, password_hash="x", active=True, created_at=now)
            user.role_rows.append(UserRole(role="commissie"))
            session.add(user)
            session.flush()
            world.actors["multi"] = auth.actor_for(user)
            world.tokens["multi"] = auth.issue_token(session, user)
            self.schools[world.tenant_id] = list(session.scalars(
                select(School.id).where(School.tenant_id == world.tenant_id).order_by(School.id)))

    def grow_distinct(self, total: int) -> float:
        """Grow as growth.Bench does, then give every new case its own pupil and school (tasks follow)."""
        with self.db.read() as session:
            before = session.scalar(select(func.max(Case.id))) or 0
        took = self.grow(total)
        t0 = time.perf_counter()
        with self.db.transaction() as session:
            tenants = dict(session.execute(select(Case.id, Case.tenant_id).where(Case.id > before)).all())
            session.execute(PUPILS.delete())
            rows = []
            for case_id, tenant in tenants.items():
                first, last = pupil(case_id)
                schools = self.schools[tenant]
                rows.append({"id": case_id, "voornaam": first, "achternaam": last,
                             "school_id": schools[case_id % len(schools)]})
            if rows:
                session.execute(insert(PUPILS), rows)
            if self.db.is_sqlite:
                session.execute(text(
                    "UPDATE cases SET data = json_set(data, '$.leerling.voornaam', p.voornaam, "
                    "'$.leerling.achternaam', p.achternaam), school_id = p.school_id "
                    "FROM bench_pupils p WHERE p.id = cases.id"))
            else:
                session.execute(text(
                    "UPDATE cases SET data = jsonb_set(jsonb_set(data, '{leerling,voornaam}', to_jsonb(p.voornaam)), "
                    "'{leerling,achternaam}', to_jsonb(p.achternaam)), school_id = p.school_id "
                    "FROM bench_pupils p WHERE p.id = cases.id"))
            session.execute(text("UPDATE tasks SET school_id = p.school_id FROM bench_pupils p "
                                 "WHERE p.id = tasks.case_id"))
        if not self.db.is_sqlite:
            with self.db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
                conn.exec_driver_sql("VACUUM ANALYZE")
        return took + time.perf_counter() - t0

    # ------------------------------------------------------------ measuring

    def calls(self) -> dict[str, Callable[[int], Callable[[], None]]]:
        """name -> (sample number -> one request). Searches pick a pupil that exists in the SWV."""
        rng = random.Random(8)
        with self.db.read() as session:
            names = {w.tenant_id: [(first, last, school) for first, last, school in session.execute(
                select(PUPILS.c.voornaam, PUPILS.c.achternaam, PUPILS.c.school_id)
                .join(Case, Case.id == PUPILS.c.id).where(Case.tenant_id == w.tenant_id).limit(500))]
                for w in self.worlds}
            numbers = {w.tenant_id: list(session.scalars(select(Case.id).where(Case.tenant_id == w.tenant_id)
                                                         .order_by(Case.id.desc()).limit(500)))
                       for w in self.worlds}

        def api(path: Callable[[Any, str], str]) -> Callable[[str], Callable[[int], Callable[[], None]]]:
            def for_user(user: str) -> Callable[[int], Callable[[], None]]:
                def make(i: int) -> Callable[[], None]:
                    world = self.worlds[i % SWVS]
                    url, headers = path(world, user), {"Authorization": f"Bearer {world.tokens[user]}"}

                    def go() -> None:
                        response = self.client.get(url, headers=headers)
                        assert response.status_code == 200, (url, response.get_json())
                    return go
                return make
            return for_user

        def page(path: Callable[[Any, str], str]) -> Callable[[str], Callable[[int], Callable[[], None]]]:
            def for_user(user: str) -> Callable[[int], Callable[[], None]]:
                def make(i: int) -> Callable[[], None]:
                    world = self.worlds[i % SWVS]
                    url, client = path(world, user), self.pages[world.tenant_id, user]

                    def go() -> None:
                        response = client.get(url)
                        assert response.status_code == 200, (url, response.status_code)
                    return go
                return make
            return for_user

        def some_name(world: Any, user: str) -> tuple[str, str, int]:
            found = names[world.tenant_id]
            if user == "school":  # a pupil of the school user's own school, when the SWV has one
                found = [n for n in found if n[2] == world.schools["16PX00"]] or found
            return rng.choice(found) if found else ("Sanne", "Vries", world.schools["16PX00"])

        def inbox_search(world: Any, user: str) -> str:
            first, last, school = some_name(world, user)
            return f"/?tab=alle&route=tlv-vso&school={school}&q={first}+{last.split()[-1]}"

        def case_search(world: Any, user: str) -> str:
            first, last, _ = some_name(world, user)
            return f"{first} {last.split()[-1]}".replace(" ", "+")

        kinds = {
            "API tasks, page 1 (Team)": api(lambda w, u: "/api/v1/tasks?limit=50"),
            "API tasks, Alle + route": api(lambda w, u: "/api/v1/tasks?scope=all&route=tlv-vso&limit=50"),
            "page /, page 1 + counts": page(lambda w, u: "/"),
            "page /, route+school+text": page(inbox_search),
            "page /, text: case number": page(lambda w, u: f"/?tab=alle&q={rng.choice(numbers[w.tenant_id])}"),
            "API cases, page 1": api(lambda w, u: "/api/v1/cases?limit=50"),
            "API cases ?q=name": api(lambda w, u: f"/api/v1/cases?limit=50&q={case_search(w, u)}"),
            "page /cases ?q=name": page(lambda w, u: f"/cases?q={case_search(w, u)}"),
        }
        return {f"{kind} [{user}]": make(user) for kind, make in kinds.items() for user in USERS}

    def explain(self) -> None:
        """The plans of the statements behind the inbox page (counts, page) and the case list searched on a name,
        for each user of the first SWV, as the database ran them (statements caught on their way out)."""
        from sqlalchemy import event

        from engine import case_list, worklist

        world = self.worlds[0]
        first, last = pupil(self.last_template + 7)
        words = f"{first} {last.split()[-1]}"
        prefix = "EXPLAIN QUERY PLAN " if self.db.is_sqlite else "EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF) "
        caught: list[tuple[str, Any]] = []

        def catch(conn: Any, cursor: Any, statement: str, parameters: Any, context: Any, many: bool) -> None:
            if statement.lstrip().upper().startswith("SELECT"):
                caught.append((statement, parameters))

        for user in USERS:
            actor = world[user]
            runs = {"inbox, Team, page 1": lambda s, a=actor: worklist.search(s, a, scope="role"),
                    "inbox, Alle, route + name": lambda s, a=actor: worklist.search(
                        s, a, scope="all", filters=worklist.Filters(route="tlv-vso", text=words)),
                    "case list, q=name": lambda s, a=actor: case_list.list_cases(s, a, q=words)}
            for label, run_it in runs.items():
                with self.db.read() as session:
                    caught.clear()
                    event.listen(self.db.engine, "before_cursor_execute", catch)
                    try:
                        run_it(session)
                    finally:
                        event.remove(self.db.engine, "before_cursor_execute", catch)
                    statements = list(caught)
                with self.db.engine.connect() as conn:
                    for n, (statement, parameters) in enumerate(statements):
                        print(f"    plan of {label} [{user}], statement {n + 1}:")
                        for row in conn.exec_driver_sql(prefix + statement, parameters):
                            print(f"      {row[-1]}")

    def measure_all(self, reads: int, only: str | None) -> dict[str, tuple[float, float, float]]:
        results = {}
        for name, make in self.calls().items():
            if only and only not in name:
                continue
            results[name] = sample(make, reads, warm_up=5)
        return results


def run(url: str, label: str, small: int, big: int, reads: int, explain: bool, only: str | None) -> None:
    print(f"\n== {label} ==", flush=True)
    bench = InboxBench(url)
    figures = {}
    for size in (small, big):
        grew = bench.grow_distinct(size)
        bench.db.analyze()
        print(f"  {size:,} cases ({bench.sizes()}; grown in {grew:.1f} s)", flush=True)
        figures[size] = bench.measure_all(reads, only)
        for name, (median, p95, _) in figures[size].items():
            print(f"    {name:<44} p50 {median:7.2f} ms  p95 {p95:7.2f} ms", flush=True)
    print(f"  {big:,} cases, and the ratio to {small:,} (same run):")
    worst = 0.0
    for name in figures[small]:
        (m0, p0, _), (m1, p1, _) = figures[small][name], figures[big][name]
        worst = max(worst, p1)
        flag = "  > 50 ms" if p1 > 50 else ""
        print(f"    {name:<44} p50 {m1:7.2f} ms ({m1 / m0:4.1f}x)  p95 {p1:7.2f} ms ({p1 / p0:4.1f}x){flag}")
    print(f"  worst p95 at {big:,} cases: {worst:.1f} ms (aim: under 50 ms)")
    if explain:
        bench.explain()
    bench.db.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_size_arguments(parser, "the baseline size (default 1,000)", reads=60,
                       reads_help="samples per figure (spread over the 5 SWVs)")
    parser.add_argument("--sqlite-only", action="store_true", help="skip PostgreSQL")
    parser.add_argument("--postgres-only", action="store_true", help="skip SQLite")
    parser.add_argument("--only", help="measure only the figures whose name holds this text")
    parser.add_argument("--explain", action="store_true", help="print the query plans at the big size")
    args = parser.parse_args()
    options = {"small": args.small, "big": args.cases, "reads": args.reads, "explain": args.explain,
               "only": args.only}
    if not args.postgres_only:
        with tempfile.TemporaryDirectory() as tmp:
            run(f"sqlite:///{tmp}/inbox.db", "SQLite", **options)
    if not args.postgres or args.sqlite_only:
        return
    with postgres_database(args.postgres, "inbox") as url:
        if url is not None:
            run(url, "PostgreSQL", **options)


if __name__ == "__main__":
    main()
