"""Test fixtures: every database test runs on a real SQLite file, and on PostgreSQL when
``LOKET_TEST_POSTGRES_URL`` is set (each xdist worker gets a database of its own, dropped at the end)."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import partial
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

import handlers  # noqa: F401  (the tests compose Loket as the app and the CLI do: handlers registered)
from engine import auth, clock
from engine.auth import Actor
from engine.config import PROJECT_ROOT, Settings
from engine.db import Database, upgrade
from engine.models import Base, School, Tenant, User
from tests.helpers import checked_cli

PG_URL = os.environ.get("LOKET_TEST_POSTGRES_URL")
BACKENDS = ["sqlite", "postgres"] if PG_URL else ["sqlite"]
PROCESSES = PROJECT_ROOT / "processes"


def _worker() -> str:
    return os.environ.get("PYTEST_XDIST_WORKER", "main")


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("template") / "loket.db"
    upgrade(f"sqlite:///{path}")
    return path


@contextmanager
def scratch_postgres(label: str) -> Iterator[str]:
    """The URL of an empty PostgreSQL database of this worker's own, next to PG_URL's; dropped afterwards."""
    admin = make_url(PG_URL)
    name = f"loket_{label}_{_worker()}_{os.getpid()}"
    admin_engine = create_engine(admin, isolation_level="AUTOCOMMIT")
    with admin_engine.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield admin.set(database=name).render_as_string(hide_password=False)
    finally:
        with admin_engine.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin_engine.dispose()


@pytest.fixture(scope="session")
def postgres_database():
    """A migrated database for this worker; tests empty it with TRUNCATE instead of re-creating it."""
    if not PG_URL:
        pytest.skip("LOKET_TEST_POSTGRES_URL is niet gezet")
    with scratch_postgres("test") as url:
        upgrade(url)
        yield url


@pytest.fixture(params=BACKENDS)
def empty_db_url(request, tmp_path):
    """An empty database of its own, for tests that migrate step by step (they stop at an older revision)."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'empty.db'}"
        return
    with scratch_postgres("empty") as url:
        yield url


@pytest.fixture(params=BACKENDS)
def db_url(request, tmp_path, sqlite_template) -> str:
    if request.param == "sqlite":
        path = tmp_path / "loket.db"
        shutil.copy(sqlite_template, path)
        return f"sqlite:///{path}"
    url = request.getfixturevalue("postgres_database")
    engine = create_engine(url)
    with engine.begin() as conn:
        tables = ", ".join(f'"{t.name}"' for t in Base.metadata.sorted_tables)
        conn.execute(text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))
    engine.dispose()
    return url


@pytest.fixture
def db(db_url) -> Database:
    database = Database(db_url)
    yield database
    database.dispose()


@pytest.fixture
def settings(db_url) -> Settings:
    return Settings(database_url=db_url, processes_dir=PROCESSES)


@pytest.fixture
def runtime(db, settings):
    from engine import routes
    from engine.runtime import build_runtime

    rt = build_runtime(db, settings)
    with db.transaction() as session:
        routes.deploy_dir(session, PROCESSES)
    return rt


@pytest.fixture
def client(runtime, settings, db):
    """The REST API in this process, on the test's own runtime (so frozen clocks and patched handlers apply)."""
    from web import create_app  # here, not at the top: bench/ imports this module and needs no Flask

    app = create_app(settings, db)
    app.extensions["loket"] = runtime
    return app.test_client()


@dataclass
class World:
    """One SWV with two schools and a user (with API token) for every role."""

    tenant_id: int
    actors: dict[str, Actor]
    tokens: dict[str, str]
    schools: dict[str, int]

    def __getitem__(self, role: str) -> Actor:
        return self.actors[role]


def make_world(db: Database, key: str = "sterk-vo", region: str = "midden") -> World:
    with db.transaction() as session:
        now = clock.now()
        tenant = Tenant(key=key, name=f"SWV {key}", region=region, settings={}, created_at=now)
        session.add(tenant)
        session.flush()
        schools = {}
        for code in ("16PX00", "20LJ00"):
            school = School(tenant_id=tenant.id, code=code, name=f"School {code}")
            session.add(school)
            session.flush()
            schools[code] = school.id
        actors, tokens = {}, {}
        roles = [("school", "16PX00"), ("school2", "20LJ00"), ("consulent", None), ("consulent2", None),
                 ("commissie", None), ("bestuurder", None), ("auditor", None), ("beheerder", None),
                 ("procesbeheerder", None), ("leerplicht", None)]
        for name, code in roles:
            role = name.rstrip("2")
            user = User(tenant_id=tenant.id, email=f"{name}@{key}.test", role=role,
                        school_id=schools[code] if code else None, password_hash="x", active=True, created_at=now)
            session.add(user)
            session.flush()
            actors[name] = auth.actor_for(user)
            tokens[name] = auth.issue_token(session, user)
    return World(tenant.id, actors, tokens, schools)


@pytest.fixture
def world(db) -> World:
    return make_world(db)


START_DATA = {
    "leerling": {"voornaam": "Sanne", "achternaam": "de Vries", "geboortedatum": "2013-04-02"},
    "school": "16PX00",
}
AANMELDING = {
    "onderwijsbehoeften": "Sanne heeft een kleine groep en veel structuur nodig.",
    "opp": {"documentnummer": "OPP-2026-117", "datum": "2026-09-15"},
    "groeidocument": {"documentnummer": "GD-2026-117", "datum": "2026-09-20"},
    "zienswijze_ouders": {"standpunt": "eens", "datum": "2026-10-01", "ouders_gehoord": True},
    "adviezen": [
        {"discipline": "orthopedagoog", "auteur": "drs. A. Jansen", "datum": "2026-10-05",
         "samenvatting": "Aangewezen op VSO cluster 4."},
        {"discipline": "arts", "auteur": "J. Bakker", "datum": "2026-10-07", "samenvatting": "Eens met advies."},
    ],
    "aanvragende_school": "vo", "woongemeente": "Utrecht", "vso_school": "De Ster VSO",
}
KNOOPPUNT = {
    "datum": "2026-11-02", "deelnemers": [{"naam": "M. de Boer", "rol": "consulent", "soort": "swv"}],
    "toestemming_ouders": True, "afspraken": "Aanvraag TLV VSO doorzetten.", "advies": "tlv_vso",
    "uitkomst": "doorgaan",
}
TOEKENNEN = {"besluit": "toekennen", "soort": "lg", "categorie": "midden", "ingangsdatum": "2026-12-01",
             "einddatum": "2028-07-31", "motivering": "Beide deskundigen adviseren VSO."}
AFWIJZEN = {"besluit": "afwijzen", "motivering": "Ondersteuning in het regulier onderwijs is nog niet benut."}
PLAATSING = {"plaatsing_uitkomst": "geplaatst", "vso_school": "De Ster VSO", "datum_inschrijving": "2026-12-01"}


@pytest.fixture
def loket(db_url):
    """``loket ARGS`` in this process against the test's database (``tests.helpers.checked_cli``)."""
    return partial(checked_cli, {"LOKET_DATABASE_URL": db_url})


@pytest.fixture
def sample():
    """Valid form data for each step of tlv-vso."""
    return {"start": START_DATA, "aanmelding": AANMELDING, "knooppuntoverleg": KNOOPPUNT,
            "toekennen": TOEKENNEN, "afwijzen": AFWIJZEN, "plaatsing": PLAATSING}
