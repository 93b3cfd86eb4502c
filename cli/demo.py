"""A demo SWV to look around in: `loket init --demo` (idempotent). Each run prints a fresh API token for every
demo user and revokes the tokens an earlier run printed (those named ``demo``), so running `make run` again and
again leaves one live demo token per user; a token issued by hand with `loket users token` stays."""

from __future__ import annotations

import click
from sqlalchemy import select

from engine import auth, clock
from engine.calendar_settings import setting_row
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
    ("procesbeheer@demo.loket.nl", "procesbeheerder", None),
    ("auditor@demo.loket.nl", "auditor", None),
    ("beheer@demo.loket.nl", "beheerder", None),
]


# A small SWV's orthopedagoog works as consulent and sits on the commission; separated duties keep her from deciding
# a case whose dossiercheck or knooppuntoverleg she did.
EXTRA_ROLES = {"ortho@demo.loket.nl": ("commissie",)}


def create_demo(db: Database) -> None:
    key, name = TENANT
    region, _ = region_of(GEMEENTEN)
    with db.transaction() as session:
        now = clock.now()
        tenant = session.scalar(select(Tenant).where(Tenant.key == key))
        if tenant is None:
            # Sterk VO's own promise: from a complete request to action in at most two weeks.
            terms = {"tlv-vso": {"term": "weken(2)", "from": "knooppuntoverleg", "escalateTo": "bestuurder",
                                 "legal": False}}
            tenant = Tenant(key=key, name=name, region=region, settings={"terms": terms}, created_at=now)
            session.add(tenant)
            session.flush()
            setting_row(session, tenant, create=True).gemeenten = list(GEMEENTEN)  # type: ignore[union-attr]
        schools = {}
        for code, school_name in SCHOOLS:
            school = session.scalar(select(School).where(School.tenant_id == tenant.id, School.code == code))
            if school is None:
                school = School(tenant_id=tenant.id, code=code, name=school_name)
                session.add(school)
                session.flush()
            schools[code] = school
        click.echo(f"demo-SWV {key} ({name}); wachtwoord van alle demo-gebruikers: {DEMO_PASSWORD}")
        revoked = 0
        for email, role, school_code in USERS:
            user = session.scalar(select(User).where(User.email == email))
            if user is None:
                user = User(tenant_id=tenant.id, email=email, role=role,
                            school_id=schools[school_code].id if school_code else None,
                            password_hash=auth.hash_password(DEMO_PASSWORD), active=True, created_at=now,
                            role_rows=[UserRole(role=r) for r in (role, *EXTRA_ROLES.get(email, ()))])
                session.add(user)
                session.flush()
            if not user.active:  # deactivated on purpose: it stays so, without a token
                click.echo(f"  {role:<20} {email:<30} niet actief: geen token")
                continue
            revoked += auth.revoke_tokens(session, user.id, name=TOKEN_NAME)
            token = auth.issue_token(session, user, name=TOKEN_NAME)
            roles = ",".join([role, *EXTRA_ROLES.get(email, ())])
            click.echo(f"  {roles:<20} {email:<30} token: {token}")
        if revoked:
            click.echo(f"de {revoked} demo-tokens van de vorige keer zijn ingetrokken; "
                       f"deze zijn {auth.TOKEN_DAYS} dagen geldig")
