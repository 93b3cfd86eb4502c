"""The case list (GET /api/v1/cases, engine.case_list) and need to know (engine.visibility) at scale.

100,000 cases with 300,000 tasks across 5 SWVs, on SQLite and PostgreSQL. The rows are copied in bulk with the
shape an engine-made TLV case has (its data holds the pupil and the aanmelding, ~2 kB), then VACUUM ANALYZEd. Per role
(consulent reads the SWV, school its school, leerplicht only cases with a task in its lane, bestuurder only
escalated ones) the first page, a search on the pupil's name and a filtered later page: p50/p95 of 30 runs.

    python bench/case_list.py [--cases N] [--postgres ADMIN_URL]
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlalchemy import insert, select  # noqa: E402

import handlers  # noqa: E402,F401  (the routes name their handlers)
from bench.throwaway import ADMIN_URL, postgres_database  # noqa: E402
from engine import clock, routes  # noqa: E402
from engine.auth import Actor  # noqa: E402
from engine.case_list import list_cases  # noqa: E402
from engine.config import PROJECT_ROOT  # noqa: E402
from engine.db import Database, upgrade  # noqa: E402
from engine.models import Case, RouteVersion, School, Task, Tenant  # noqa: E402

FIRST = ["Sanne", "Daan", "Fatima", "Noah", "Emma", "Liam", "Julia", "Sem", "Mila", "Lucas", "Yara", "Ömer"]
LAST = ["de Vries", "Jansen", "El Amrani", "Bakker", "Visser", "Smit", "Meijer", "de Boer", "Mulder", "Bos"]
AANMELDING = {
    "onderwijsbehoeften": "Een kleine groep, veel structuur en een vaste begeleider. " * 8,
    "opp": {"documentnummer": "OPP-2026-117", "datum": "2026-09-15"},
    "groeidocument": {"documentnummer": "GD-2026-117", "datum": "2026-09-20"},
    "zienswijze_ouders": {"standpunt": "eens", "datum": "2026-10-01", "ouders_gehoord": True},
    "adviezen": [{"discipline": "orthopedagoog", "auteur": "drs. A. Jansen", "datum": "2026-10-05",
                  "samenvatting": "Aangewezen op VSO cluster 4. " * 6},
                 {"discipline": "arts", "auteur": "J. Bakker", "datum": "2026-10-07", "samenvatting": "Eens. " * 6}],
}


def fill(db: Database, n: int) -> list[tuple[int, list[int]]]:
    rnd = random.Random(1)
    now = clock.now()
    with db.transaction() as session:
        routes.deploy_dir(session, PROJECT_ROOT / "processes")
        version = session.scalar(select(RouteVersion.id))
        tenants = []
        for t in range(5):
            tenant = Tenant(key=f"swv{t}", name=f"SWV {t}", region="midden", settings={}, created_at=now)
            session.add(tenant)
            session.flush()
            schools = []
            for k in range(20):
                school = School(tenant_id=tenant.id, code=f"S{t}{k:02d}", name=f"School {t}.{k}")
                session.add(school)
                session.flush()
                schools.append(school.id)
            tenants.append((tenant.id, schools))
    cases, tasks = [], []
    for i in range(n):
        tenant_id, schools = tenants[i % 5]
        school = rnd.choice(schools)
        pupil = {"voornaam": rnd.choice(FIRST), "achternaam": rnd.choice(LAST), "geboortedatum": "2013-04-02"}
        cases.append({"id": i + 1, "tenant_id": tenant_id, "school_id": school, "route_version_id": version,
                      "status": rnd.choice(["open", "open", "closed"]), "data": {"leerling": pupil, **AANMELDING},
                      "state": "", "version": 1, "event_seq": 0, "last_hash": "0" * 64,
                      "opened_at": now - timedelta(minutes=i), "suspended_seconds": 0, "extensions_used": 0})
        for j, name in enumerate(("aanmelding", "dossiercheck", "besluit")):
            lane = {"aanmelding": "school", "dossiercheck": "consulent", "besluit": "commissie"}[name]
            tasks.append({"id": f"{i}-{j}", "case_id": i + 1, "tenant_id": tenant_id, "school_id": school,
                          "route_key": "tlv-vso", "name": name, "title": name,
                          "lane": "leerplicht" if rnd.random() < 0.001 else lane, "status": "completed",
                          "escalated": rnd.random() < 0.01, "created_at": now})
    with db.transaction() as session:
        for k in range(0, n, 5000):
            session.execute(insert(Case), cases[k:k + 5000])
        for k in range(0, len(tasks), 15000):
            session.execute(insert(Task), tasks[k:k + 15000])
    with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        # As autovacuum leaves a table some time after a bulk load (SQLite has no autovacuum: statistics only).
        conn.exec_driver_sql("ANALYZE" if conn.dialect.name == "sqlite" else "VACUUM ANALYZE")
    return tenants


def measure(db: Database, backend: str, n: int) -> None:
    tenant_id, schools = fill(db, n)[0]
    actors = {"consulent": Actor(None, "c", "consulent", tenant_id),
              "school": Actor(None, "s", "school", tenant_id, schools[0]),
              "leerplicht": Actor(10**6, "l", "leerplicht", tenant_id),
              "bestuurder": Actor(10**6 + 1, "b", "bestuurder", tenant_id)}
    for role, actor in actors.items():
        for label, query in (("first page", {}), ("q=sanne vries", {"q": "sanne vries"}),
                             ("status=open offset=500", {"status": "open", "offset": 500})):
            times = []
            for _ in range(30):
                with db.read() as session:
                    started = time.perf_counter()
                    page = list_cases(session, actor, **query)  # type: ignore[arg-type]
                    times.append((time.perf_counter() - started) * 1000)
            times.sort()
            print(f"{backend:10} {role:10} {label:24} total {page.total:6}  "
                  f"p50 {statistics.median(times):6.1f} ms  p95 {times[int(len(times) * 0.95) - 1]:6.1f} ms")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=int, default=100_000)
    parser.add_argument("--postgres", default=ADMIN_URL)
    args = parser.parse_args()
    print(f"case list: {args.cases} cases, {3 * args.cases} tasks, 5 SWVs (one SWV's share is read)")
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{tmp}/bench.db"
        upgrade(url)
        db = Database(url)
        measure(db, "sqlite", args.cases)
        db.dispose()
    with postgres_database(args.postgres, "case_list") as pg_url:
        if pg_url:
            upgrade(pg_url)
            db = Database(pg_url)
            measure(db, "postgresql", args.cases)
            db.dispose()


if __name__ == "__main__":
    main()
