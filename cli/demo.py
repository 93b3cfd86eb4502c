"""A demo to look around in: `loket init --demo` (idempotent). It sets up the demo SWV with its schools, a user for
every role (password ``DEMO_PASSWORD``) and several hundred cases made from every route's scenarios through the
engine with the clock moved (``engine.demo``).

Each run prints a fresh API token for every demo user and revokes the tokens an earlier run printed (those named
``demo``), so running `make run` again and again leaves one live demo token per user; a token issued by hand with
`loket users token` stays. A second run adds no cases to a route an SWV already has cases on."""

from __future__ import annotations

import shutil
import time as timer
from datetime import datetime, time
from pathlib import Path

from rich import box
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table
from sqlalchemy import select

from engine import auth, clock
from engine import demo as cases_demo
from engine.calendar_settings import setting_row
from engine.cases import Runtime
from engine.db import Database
from engine.models import School, Tenant, User, UserRole
from engine.regions import region_of

DEMO_PASSWORD = "loket-demo-2026"
TOKEN_NAME = "demo"
TENANT = ("sterk-vo", "Sterk VO Utrecht en Stichtse Vecht")
GEMEENTEN = ["Utrecht", "Stichtse Vecht"]  # set up by its municipalities: the region (midden) follows from them
SCHOOLS = [("16PX00", "Christelijk College Zeist"), ("20LJ00", "Utrechts Stedelijk Gymnasium")]
USERS = [
    ("zoco@ccz.demo.loket.nl", "school", "16PX00"),
    ("zoco@usg.demo.loket.nl", "school", "20LJ00"),
    ("consulent@demo.loket.nl", "consulent", None),
    ("ortho@demo.loket.nl", "consulent", None),  # also on the commission: EXTRA_ROLES
    ("commissie@demo.loket.nl", "commissie", None),
    ("bestuurder@demo.loket.nl", "bestuurder", None),
    ("leerplicht@demo.loket.nl", "leerplicht", None),
    ("procesbeheer@demo.loket.nl", "procesbeheerder", None),
    ("auditor@demo.loket.nl", "auditor", None),
    ("beheer@demo.loket.nl", "beheerder", None),
]
# The demo's users exist from the start of the school year its cases run in.
SINCE = datetime.combine(cases_demo.SCHOOL_YEAR_START, time(8), clock.TZ)


# A small SWV's orthopedagoog works as consulent and sits on the commission; separated duties keep her from deciding
# a case whose dossiercheck or knooppuntoverleg she did.
EXTRA_ROLES = {"ortho@demo.loket.nl": ("commissie",)}


def console() -> Console:
    # Wide enough that a token stays on one line (to copy it); a narrower terminal wraps the line itself.
    return Console(width=max(shutil.get_terminal_size((120, 24)).columns, 120), highlight=False)


def create_demo(db: Database, runtime: Runtime | None = None, processes_dir: Path | None = None,
                cases: int = cases_demo.CASES, out: Console | None = None) -> cases_demo.DemoReport:
    """The demo SWV, its users (with fresh tokens, printed) and its cases; what ``loket init --demo`` does."""
    out = out or console()
    runtime = runtime or _runtime(db)
    keys = [_swv(db)]
    _users(db, keys, out)
    return _cases(runtime, processes_dir or runtime.settings.processes_dir, keys, cases, out)


def _runtime(db: Database) -> Runtime:
    from engine.config import Settings
    from engine.runtime import build_runtime

    return build_runtime(db, Settings(database_url=db.url))


def _swv(db: Database) -> str:
    key, name = TENANT
    region, _ = region_of(GEMEENTEN)
    with db.transaction() as session:
        tenant = session.scalar(select(Tenant).where(Tenant.key == key))
        if tenant is None:
            # Sterk VO's own promise: from a complete request to action in at most two weeks.
            terms = {"tlv-vso": {"term": "weken(2)", "from": "knooppuntoverleg", "escalateTo": "bestuurder",
                                 "legal": False}}
            tenant = Tenant(key=key, name=name, region=region, settings={"terms": terms}, created_at=SINCE)
            session.add(tenant)
            session.flush()
            setting_row(session, tenant, create=True).gemeenten = list(GEMEENTEN)  # type: ignore[union-attr]
        for code, school_name in SCHOOLS:
            if session.scalar(select(School).where(School.tenant_id == tenant.id, School.code == code)) is None:
                session.add(School(tenant_id=tenant.id, code=code, name=school_name))
    return key


def _users(db: Database, keys: list[str], out: Console) -> None:
    """A user for every role of every demo SWV, each with a fresh token (the earlier demo tokens revoked)."""
    out.print(f"Wachtwoord van alle demo-gebruikers: [bold]{DEMO_PASSWORD}[/]")
    revoked = 0
    with db.transaction() as session:
        for key in keys:
            tenant = session.scalar(select(Tenant).where(Tenant.key == key))
            assert tenant is not None
            schools = {s.code: s for s in session.scalars(select(School).where(School.tenant_id == tenant.id))}
            table = Table(title=f"{tenant.name} ({key})", box=box.SIMPLE_HEAD, title_justify="left")
            for column in ("rol", "e-mail", "school", "API-token"):
                table.add_column(column, no_wrap=True)
            for email, role, school_code in USERS:
                user = session.scalar(select(User).where(User.email == email))
                if user is None:
                    user = User(tenant_id=tenant.id, email=email, role=role,
                                school_id=schools[school_code].id if school_code else None,
                                password_hash=auth.hash_password(DEMO_PASSWORD), active=True, created_at=SINCE,
                                role_rows=[UserRole(role=r) for r in (role, *EXTRA_ROLES.get(email, ()))])
                    session.add(user)
                    session.flush()
                roles = ",".join([role, *EXTRA_ROLES.get(email, ())])
                school = school_code or ""
                if not user.active:  # deactivated on purpose: it stays so, without a token
                    table.add_row(roles, email, school, "niet actief: geen token")
                    continue
                revoked += auth.revoke_tokens(session, user.id, name=TOKEN_NAME)
                table.add_row(roles, email, school, auth.issue_token(session, user, name=TOKEN_NAME))
            out.print(table)
    if revoked:
        out.print(f"De {revoked} demo-tokens van de vorige keer zijn ingetrokken; deze zijn {auth.TOKEN_DAYS} "
                  "dagen geldig.")


def _cases(runtime: Runtime, processes_dir: Path, keys: list[str], cases: int,
           out: Console) -> cases_demo.DemoReport:
    began = timer.perf_counter()
    columns = (TextColumn("demo-dossiers"), BarColumn(), MofNCompleteColumn(), TextColumn("stappen"),
               TimeElapsedColumn())
    with Progress(*columns, console=out, disable=not out.is_terminal, transient=True) as bar:
        job = bar.add_task("demo", total=None)

        def progress(done: int, total: int) -> None:
            bar.update(job, completed=done, total=total)

        report = cases_demo.build(runtime, processes_dir / "scenarios", keys, cases=cases, progress=progress)
    seconds = timer.perf_counter() - began
    for problem in report.problems:
        out.print(f"scenario overgeslagen: {problem}")
    if report.existing:
        done = ", ".join(f"{swv}/{route}" for swv, route in report.existing)
        out.print(f"Al demo-dossiers, niets toegevoegd: {done}")
    if report.figures:
        table = Table(title=f"{report.cases} demo-dossiers gemaakt in {seconds:.0f} s (stand van vandaag)",
                      box=box.SIMPLE_HEAD, title_justify="left")
        for column in ("SWV", "route", "dossiers", "open", "bijna termijn", "geëscaleerd", "opgeschort", "gesloten",
                       "stappen overgeslagen"):
            table.add_column(column, justify="left" if column in ("SWV", "route") else "right")
        for (swv, route), f in sorted(report.figures.items()):
            table.add_row(swv, route, str(f.cases), str(f.open), str(f.near_deadline), str(f.escalated),
                          str(f.suspended), str(f.closed), str(f.skipped))
        out.print(table)
    return report
