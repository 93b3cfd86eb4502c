"""The throwaway world a scenario runs in: an in-memory SQLite database with Loket's migrated schema, one
scratch SWV with its schools and a user per role (and a second one, ``consulent2``, for separated duties), and
the route under test as its only version. Nothing of it touches the real database, and it is gone when the
scenario ends.

Migrating takes a tenth of a second; a scenario should take about as long as its steps, so the schema is
migrated once per process and every world starts from a copy of those bytes (``sqlite3`` serialize). The
in-memory databases themselves are reused too (a few kept idle): SQLAlchemy caches compiled statements per engine,
and a new engine per world compiled Loket's few hundred statements again in every scenario, about half of what a
scenario cost besides its decision letters. A reused one is refilled from the template, so nothing of the world
before it remains.
"""

from __future__ import annotations

import sqlite3
import tempfile
import threading
import uuid
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.pool import StaticPool

from . import auth, bpmn, calendar_settings, clock
from .auth import Actor
from .config import Settings
from .db import Database, make_engine
from .deadlines import add_day_off
from .models import Route, RouteVersion, School, Tenant, User
from .validate import check
from .vocabulary import ROLES, Role

_template: bytes | None = None
_template_lock = threading.Lock()
# In-memory databases kept for the next world (one per scenario running side by side is enough); 0: a new engine
# for every world (what bench/scenarios.py compares against).
IDLE_DATABASES = 4
_idle: list[MemoryDatabase] = []
_idle_lock = threading.Lock()
SCHOOLS = ("16PX00", "20LJ00")


class RouteUnusable(Exception):
    """The route under test does not pass validation; ``problems`` are its Dutch lines."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("\n".join(problems))
        self.problems = problems


@dataclass(frozen=True)
class RouteUnderTest:
    """A route as it would be deployed: checked once, then put into each scenario's world as its version."""

    key: str
    number: int  # the version it stands for (a draft: the next one)
    sha256: str
    process_id: str
    title: str
    bpmn: str
    forms: dict[str, dict]
    spec: str
    user_tasks: frozenset[str] = field(default_factory=frozenset)


def route_from_files(key: str, bpmn_text: str | bytes, forms: dict[str, Any], number: int = 0) -> RouteUnderTest:
    """A draft (or the files in processes/): BPMN and forms as text, checked as ``loket processes validate``
    checks them. Raises RouteUnusable with the validator's Dutch problems."""
    import json

    with tempfile.TemporaryDirectory(prefix="loket-scenario-") as folder:
        path = Path(folder) / f"{key}.bpmn"
        path.write_bytes(bpmn_text.encode() if isinstance(bpmn_text, str) else bpmn_text)
        (Path(folder) / "forms").mkdir()
        for name, form in forms.items():
            if "/" in name or "\\" in name or name.startswith("."):
                raise RouteUnusable([f"{name}: geen geldige naam voor een formulier"])
            text = form if isinstance(form, str) else json.dumps(form, ensure_ascii=False)
            (Path(folder) / "forms" / name).write_text(text, encoding="utf-8")
        result = check(path)
    if not result.ok or result.source is None or result.parsed is None:
        raise RouteUnusable([str(p).replace(str(path.parent) + "/", "") for p in result.problems])
    parsed, source = result.parsed, result.source
    return RouteUnderTest(key, number, source.sha256, parsed.process_id, parsed.title, source.bpmn.decode(),
                          source.forms, bpmn.dump_spec(parsed), _user_tasks(source.bpmn))


def route_from_version(version: RouteVersion) -> RouteUnderTest:
    """A deployed version, as it is (no new check: it passed one when it was deployed)."""
    return RouteUnderTest(version.route.key, version.number, version.sha256, version.process_id, version.title,
                          version.bpmn, dict(version.forms), version.spec, _user_tasks(version.bpmn.encode()))


def _user_tasks(source: bytes) -> frozenset[str]:
    root = bpmn.parse_xml(source)
    return frozenset(str(t.get("id")) for t in root.iterfind(".//bpmn:userTask", bpmn.NS))


def _schema() -> bytes:
    """Loket's schema at its newest migration, as SQLite bytes (migrated once per process)."""
    global _template
    with _template_lock:
        if _template is None:
            db = MemoryDatabase()
            try:
                db.upgrade()
                raw = db.engine.raw_connection()
                try:
                    _template = raw.driver_connection.serialize()  # type: ignore[union-attr]
                finally:
                    raw.close()
            finally:
                db.dispose()
        return _template


class MemoryDatabase(Database):
    """A Database on one in-memory SQLite connection, whichever thread uses it (a web request may build the
    world in one thread and read it in another): StaticPool, never a pool that would open a second, empty one."""

    def __init__(self) -> None:  # noqa: D107  (Database's own, with the pool named)
        self.url = _memory_url()
        self.engine = make_engine(self.url, 1, poolclass=StaticPool)
        self.is_sqlite = True
        self.sessions = sessionmaker(self.engine, expire_on_commit=False)


def _memory_url() -> str:
    # Its own name per database: caches keyed by the database URL (the SWV calendar) never mix two databases, and
    # World.close empties them before the database serves another world.
    return f"sqlite:///file:loket-scenario-{uuid.uuid4().hex}?mode=memory&uri=true"


def _fresh_database() -> MemoryDatabase:
    """A database holding Loket's empty migrated schema: an idle one refilled from the template, or a new one."""
    with _idle_lock:
        db = _idle.pop() if _idle else None
    if db is not None:
        try:
            _fill(db)
            return db
        except sqlite3.Error:  # left in a transaction by a world that broke off: not worth saving
            db.dispose()
    db = MemoryDatabase()
    _fill(db)
    return db


def _fill(db: MemoryDatabase) -> None:
    raw = db.engine.raw_connection()  # the one connection of this database
    try:
        raw.driver_connection.deserialize(_schema())  # type: ignore[union-attr]  # replaces all it held
    finally:
        raw.close()


def _release(db: MemoryDatabase) -> None:
    with _idle_lock:
        if len(_idle) < IDLE_DATABASES:
            _idle.append(db)
            return
    db.dispose()


class World:
    """One scenario's database, SWV, users and route. Use as a context manager (it disposes everything)."""

    def __init__(self, route: RouteUnderTest, swv: dict[str, Any], started: datetime) -> None:
        self.route = route
        self.db = _fresh_database()
        self._documents = tempfile.TemporaryDirectory(prefix="loket-scenario-docs-")
        # No SMTP: a notification stays in the world's outbox, and goes with it.
        self.settings = Settings(database_url=self.db.url, smtp_url=None,
                                 documents_dir=Path(self._documents.name))
        self.actors: dict[str, Actor] = {}
        self.school_actors: dict[int, Actor] = {}
        self.school_ids: dict[str, int] = {}  # school code -> id
        with self.db.transaction() as session:
            self.tenant_id = self._setup(session, swv, started)

    def _setup(self, session: Session, swv: dict[str, Any], started: datetime) -> int:
        settings: dict[str, Any] = {}
        if "term" in swv:
            term = swv["term"]
            settings["terms"] = {self.route.key: {"term": term["term"], "from": term.get("from"),
                                                  "escalateTo": term.get("escalate_to", Role.BESTUURDER),
                                                  "legal": bool(term.get("legal", False))}}
        if "max_extensions" in swv:
            settings["max_extensions"] = swv["max_extensions"]
        # What a case start checks (engine.swv_settings.check_start), and the herbeoordeling sweep's deadline.
        for key in ("routes", "intake_windows", "herbeoordeling"):
            if key in swv:
                settings[key] = swv[key]
        tenant = Tenant(key="scenario", name="Scenario-SWV", region=swv.get("region", "midden"), settings=settings,
                        created_at=started)
        session.add(tenant)
        session.flush()
        for day in swv.get("days_off", []):
            add_day_off(session, tenant, date.fromisoformat(day["date"]), day["name"])
        schools = []
        for code in swv.get("schools", SCHOOLS):
            school = School(tenant_id=tenant.id, code=code, name=f"School {code}")
            session.add(school)
            schools.append(school)
        session.flush()
        self.school_ids = {school.code: school.id for school in schools}
        users: list[tuple[str, str, School | None]] = [(role, role, None) for role in ROLES if role != Role.SCHOOL]
        users += [(f"{role}2", role, None) for role in ROLES if role != Role.SCHOOL]
        users += [(f"school:{s.id}", Role.SCHOOL, s) for s in schools]
        for name, role, own in users:
            mail = f"{name.replace(':', '-')}@scenario.loket.test"
            user = User(tenant_id=tenant.id, email=mail, role=role, school_id=own.id if own else None,
                        password_hash="-", active=True, created_at=started)
            session.add(user)
            session.flush()
            actor = auth.actor_for(user)
            if own is not None:
                self.school_actors[own.id] = actor
                self.actors.setdefault("school", actor)  # before a case exists: the first school
            else:
                self.actors[name] = actor
        # school2: another school's user (a school that is not the case's own).
        self.actors["school2"] = self.school_actors[schools[-1].id]
        route = Route(key=self.route.key, title=self.route.title, created_at=started)
        session.add(route)
        session.flush()
        r = self.route
        session.add(RouteVersion(route_id=route.id, number=max(r.number, 1), sha256=r.sha256,
                                 process_id=r.process_id, title=r.title, bpmn=r.bpmn, forms=r.forms, spec=r.spec,
                                 deployed_at=started))
        return tenant.id

    def add_route(self, route: RouteUnderTest) -> None:
        """Another route beside the one under test (the route of the case a scenario starts from)."""
        with self.db.transaction() as session:
            if session.scalar(select(Route.id).where(Route.key == route.key)) is not None:
                return
            started = clock.now()
            row = Route(key=route.key, title=route.title, created_at=started)
            session.add(row)
            session.flush()
            session.add(RouteVersion(route_id=row.id, number=max(route.number, 1), sha256=route.sha256,
                                     process_id=route.process_id, title=route.title, bpmn=route.bpmn,
                                     forms=route.forms, spec=route.spec, deployed_at=started))

    @property
    def route_key(self) -> str:
        return self.route.key

    def actor(self, name: str, school_id: int | None) -> Actor:
        """``school`` is the user of the case's school; every other name a role (or its second user)."""
        if name == Role.SCHOOL and school_id in self.school_actors:
            return self.school_actors[school_id]
        if name == "school2":  # a school that is not the case's own (the first school with one school only)
            others = [actor for school, actor in self.school_actors.items() if school != school_id]
            return others[0] if others else self.actors[name]
        return self.actors[name]

    def close(self) -> None:
        url = self.db.url
        self._documents.cleanup()
        # The SWV calendar cache is keyed by database URL: this world's entries must not serve the next world.
        for key in [k for k in calendar_settings._calendars if k[0] == url]:
            calendar_settings._calendars.pop(key, None)
        _release(self.db)

    def __enter__(self) -> World:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()
