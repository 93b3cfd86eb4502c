"""A demo to look around in: `loket init --demo` (idempotent). In every SWV of processes/swv a user for every role
(password ``DEMO_PASSWORD``), and several hundred cases made from every route's scenarios through the engine with
the clock moved (``engine.demo``).

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
from engine.cases import Runtime
from engine.db import Database
from engine.models import School, Tenant, User, UserRole
from engine.swv_load import load_all
from engine.vocabulary import ROLES, Role

DEMO_PASSWORD = "loket-demo-2026"
TOKEN_NAME = "demo"
TENANT = ("sterk-vo", "Sterk VO Utrecht en Stichtse Vecht")  # its users keep the addresses the README names
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
    return Console(width=max(shutil.get_terminal_size((150, 24)).columns, 150), highlight=False)


def create_demo(db: Database, runtime: Runtime | None = None, processes_dir: Path | None = None,
                cases: int = cases_demo.CASES, out: Console | None = None) -> cases_demo.DemoReport:
    """The SWVs of processes/swv, a user for every role in each (with fresh tokens, printed) and the demo cases;
    what ``loket init --demo`` does after loading the SWV files."""
    out = out or console()
    runtime = runtime or _runtime(db)
    folder = processes_dir or runtime.settings.processes_dir
    keys = _swvs(db, folder)
    _users(db, keys, out)
    return _cases(runtime, folder, keys, cases, out)


def _runtime(db: Database) -> Runtime:
    from engine.config import Settings
    from engine.runtime import build_runtime

    return build_runtime(db, Settings(database_url=db.url))


def _swvs(db: Database, processes_dir: Path) -> list[str]:
    """The SWV files loaded (``loket init`` did it already; again changes nothing), Sterk VO first."""
    with db.transaction() as session:
        keys = [loaded.key for loaded in load_all(session, processes_dir)]
    return sorted(keys, key=lambda key: (key != TENANT[0], key))


def demo_users(key: str, schools: list[School]) -> list[tuple[str, str, str | None, tuple[str, ...]]]:
    """(e-mail, role, school code, other roles) of an SWV's demo users: Sterk VO's as the README names them; in
    the others a user per role at ``<key>.demo.loket.nl``, the zorgcoördinator of its first two schools and an
    orthopedagoog who is consulent and sits on the commission."""
    if key == TENANT[0]:
        return [(email, role, code, EXTRA_ROLES.get(email, ())) for email, role, code in USERS]
    domain = f"{key}.demo.loket.nl"
    rows: list[tuple[str, str, str | None, tuple[str, ...]]] = [
        (f"zoco@{school.code.lower()}.{domain}", Role.SCHOOL, school.code, ()) for school in schools[:2]]
    local: dict[str, str] = {Role.PROCESBEHEERDER: "procesbeheer", Role.BEHEERDER: "beheer"}  # as Sterk VO's
    rows += [(f"{local.get(role, role)}@{domain}", role, None, ()) for role in ROLES if role != Role.SCHOOL]
    rows.insert(3, (f"ortho@{domain}", Role.CONSULENT, None, (Role.COMMISSIE,)))
    return rows


def _users(db: Database, keys: list[str], out: Console) -> None:
    """A user for every role of every demo SWV, each with a fresh token (the earlier demo tokens revoked)."""
    out.print(f"Wachtwoord van alle demo-gebruikers: [bold]{DEMO_PASSWORD}[/]")
    revoked = 0
    hashed: str | None = None  # one argon2 hash for the one demo password (0.1 s each, 50 users)
    with db.transaction() as session:
        for key in keys:
            tenant = session.scalar(select(Tenant).where(Tenant.key == key))
            assert tenant is not None
            table = Table(title=f"{tenant.name} ({key})", box=box.SIMPLE_HEAD, title_justify="left")
            for column in ("rol", "e-mail", "API-token"):
                table.add_column(column, no_wrap=True)
            schools = list(session.scalars(select(School).where(School.tenant_id == tenant.id).order_by(School.id)))
            by_code = {school.code: school for school in schools}
            for email, role, code, extra in demo_users(key, schools):
                user = session.scalar(select(User).where(User.email == email))
                if user is None:
                    hashed = hashed or auth.hash_password(DEMO_PASSWORD)
                    user = User(tenant_id=tenant.id, email=email, role=role,
                                school_id=by_code[code].id if code else None,
                                password_hash=hashed, active=True, created_at=SINCE,
                                role_rows=[UserRole(role=r) for r in (role, *extra)])
                    session.add(user)
                    session.flush()
                roles = ",".join([role, *extra]) + (f" {code}" if code else "")
                if not user.active:  # deactivated on purpose: it stays so, without a token
                    table.add_row(roles, email, "niet actief: geen token")
                    continue
                revoked += auth.revoke_tokens(session, user.id, name=TOKEN_NAME)
                table.add_row(roles, email, auth.issue_token(session, user, name=TOKEN_NAME))
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
        swvs = len({swv for swv, _ in report.existing})
        out.print(f"{len(report.existing)} routes in {swvs} SWV's hebben al dossiers: daar zijn er geen bijgekomen.")
    if report.figures:
        table = Table(title=f"{report.cases} demo-dossiers gemaakt in {seconds:.0f} s, stand van vandaag",
                      box=box.SIMPLE_HEAD, title_justify="left")
        for column in ("SWV", "route", "dossiers", "open", "bijna termijn", "geëscaleerd", "opgeschort", "gesloten",
                       "overgeslagen"):
            table.add_column(column, justify="left" if column in ("SWV", "route") else "right", no_wrap=True)
        rows = sorted(report.figures.items())
        for number, ((swv, route), f) in enumerate(rows):
            last = number + 1 == len(rows) or rows[number + 1][0][0] != swv
            table.add_row(swv if number == 0 or rows[number - 1][0][0] != swv else "", route, str(f.cases),
                          str(f.open), str(f.near_deadline), str(f.escalated), str(f.suspended), str(f.closed),
                          str(f.skipped), end_section=last)
        out.print(table)
        out.print("bijna termijn: een taak moet binnen een week af; overgeslagen: stappen die de motor na het "
                  "verschuiven weigerde (de zaak liep anders), het vaakst:")
        for reason, count in report.reasons.most_common(3):
            out.print(f"  {count} x {reason}", overflow="ellipsis", no_wrap=True)
    return report
