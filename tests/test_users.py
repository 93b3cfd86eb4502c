"""Users and their API tokens: tokens expire, can be revoked at once, note their last use cheaply; an inactive
user is refused; `loket users` lists, deactivates, revokes and resets passwords; bad input is a `fout:` line."""

from __future__ import annotations

import io
import re
import sys
from dataclasses import dataclass
from datetime import timedelta

import pytest
from sqlalchemy import create_engine, event, select, update

from engine import auth, clock
from engine.errors import Conflict, Unauthorized
from engine.models import ApiToken, User


@dataclass
class Result:
    code: int
    out: str
    err: str


@pytest.fixture
def loket_in_process(db_url, monkeypatch, capsys):
    """``loket ARGS`` through the real entry point (``cli.run``: exit codes, `fout:` lines) in this process."""
    import cli

    monkeypatch.setenv("LOKET_DATABASE_URL", db_url)

    def run(*args: str, stdin: str = "") -> Result:
        monkeypatch.setattr(sys, "argv", ["loket", *args])
        monkeypatch.setattr(sys, "stdin", io.StringIO(stdin))
        capsys.readouterr()
        code = 0
        try:
            cli.run()
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else 1
        captured = capsys.readouterr()
        return Result(code, captured.out, captured.err)

    return run


def one_error(result: Result) -> str:
    """The single `fout:` line a refused command prints (and nothing on stdout, no traceback)."""
    assert result.code != 0, result
    lines = result.err.splitlines()
    assert len(lines) >= 1 and lines[0].startswith("fout: "), result.err
    assert "Traceback" not in result.err
    return lines[0]


def user_named(db, email: str) -> User:
    with db.read() as session:
        return session.scalars(select(User).where(User.email == email)).one()


def authenticate(db, token: str):
    with db.read() as session:
        return auth.authenticate(session, token)


# ---------------------------------------------------------------- the token lifecycle in the engine

def test_a_token_expires_after_its_days(db, world):
    with db.transaction() as session:
        token = auth.issue_token(session, session.get(User, world["consulent"].user_id), name="ci", days=1)
    assert authenticate(db, token).email == world["consulent"].email
    with clock.frozen(clock.now() + timedelta(days=1, seconds=1)), pytest.raises(Unauthorized) as refused:
        authenticate(db, token)
    assert "verlopen" in refused.value.message


def test_a_token_lives_ninety_days_unless_told_otherwise(db, world):
    with db.transaction() as session:
        auth.issue_token(session, session.get(User, world["commissie"].user_id))
        row = session.scalars(select(ApiToken).where(ApiToken.user_id == world["commissie"].user_id)
                              .order_by(ApiToken.id.desc())).first()
        assert row.expires_at - row.created_at == timedelta(days=auth.TOKEN_DAYS) == timedelta(days=90)
        with pytest.raises(ValueError):
            auth.issue_token(session, session.get(User, world["commissie"].user_id), days=0)


def test_a_revoked_token_is_refused_at_once(db, world, client):
    token = world.tokens["consulent"]
    assert client.get("/api/v1/routes", headers={"Authorization": f"Bearer {token}"}).status_code == 200
    with db.transaction() as session:
        assert auth.revoke_tokens(session, world["consulent"].user_id) == 1
    answer = client.get("/api/v1/routes", headers={"Authorization": f"Bearer {token}"})
    assert answer.status_code == 401
    assert answer.get_json()["error"]["code"] == "unauthorized"
    assert "ingetrokken" in answer.get_json()["error"]["message"]


def test_an_inactive_users_tokens_are_refused_and_it_gets_no_new_one(db, world):
    with db.transaction() as session:
        session.execute(update(User).where(User.id == world["auditor"].user_id).values(active=False))
    with pytest.raises(Unauthorized) as refused:
        authenticate(db, world.tokens["auditor"])
    assert "niet actief" in refused.value.message
    with db.transaction() as session, pytest.raises(Conflict):
        auth.issue_token(session, session.get(User, world["auditor"].user_id))


def test_deactivating_revokes_every_token_at_once(db, world):
    user_id = world["bestuurder"].user_id
    with db.transaction() as session:
        second = auth.issue_token(session, session.get(User, user_id), name="tweede")
    with db.transaction() as session:
        assert auth.deactivate(session, session.get(User, user_id)) == 2
    for token in (world.tokens["bestuurder"], second):
        with pytest.raises(Unauthorized):
            authenticate(db, token)
    with db.read() as session:
        rows = session.scalars(select(ApiToken).where(ApiToken.user_id == user_id)).all()
        assert all(row.revoked_at is not None for row in rows) and not session.get(User, user_id).active


def test_last_use_is_written_at_most_once_a_minute(db, world):
    """Authenticating is a read: only the first use in a minute writes the token's last_used_at."""
    token, user_id = world.tokens["consulent"], world["consulent"].user_id
    writes: list[str] = []

    @event.listens_for(db.engine, "before_cursor_execute")
    def count(conn, cursor, statement, *args) -> None:
        if statement.lstrip().upper().startswith("UPDATE"):
            writes.append(statement)

    start = clock.now()

    def last_used():
        with db.read() as session:
            return session.scalars(select(ApiToken.last_used_at).where(ApiToken.user_id == user_id)).one()

    with clock.frozen(start):
        authenticate(db, token)
    assert last_used() == start and len(writes) == 1
    for seconds in (1, 30, 59):
        with clock.frozen(start + timedelta(seconds=seconds)):
            authenticate(db, token)
    assert last_used() == start and len(writes) == 1  # three reads, no write
    with clock.frozen(start + timedelta(seconds=61)):
        authenticate(db, token)
    assert last_used() == start + timedelta(seconds=61) and len(writes) == 2


def test_passwords_hash_with_argon2_and_old_scrypt_hashes_still_verify():
    stored = auth.hash_password("een-lang-wachtwoord")
    assert stored.startswith("$argon2id$")
    assert auth.verify_password("een-lang-wachtwoord", stored)
    assert not auth.verify_password("een-ander-wachtwoord", stored)
    # a hash as Loket wrote it before argon2 (scrypt, n=2**14, r=8, p=1)
    old = ("scrypt$000102030405060708090a0b0c0d0e0f$"
           + __import__("hashlib").scrypt(b"oud-wachtwoord-1", salt=bytes(range(16)), n=2**14, r=8, p=1).hex())
    assert auth.verify_password("oud-wachtwoord-1", old)
    assert not auth.verify_password("oud-wachtwoord-2", old)
    assert auth.password_needs_rehash(old) and not auth.password_needs_rehash(stored)
    assert not auth.verify_password("x", "geen-hash")


@pytest.mark.parametrize("email", ["not-an-email", "a@b", "@school.nl", "jan@", "jan @school.nl", "jan@school..nl",
                                   ".jan@school.nl", "jan.@school.nl", "jan..de@school.nl", "jan@-school.nl",
                                   "jan@school.nl.", "jan@@school.nl", "jan@school.n", "x" * 250 + "@school.nl",
                                   "jan<script>@school.nl"])
def test_an_email_address_must_look_like_one(email):
    with pytest.raises(ValueError):
        auth.normalise_email(email)


@pytest.mark.parametrize("email", ["jan@school.nl", "Jan.de.Vries@School.NL", "zoco+tlv@ccz.demo.loket.nl",
                                   "o'brien@school.ie", "a_b-c@sub.xn--p1ai"])
def test_an_ordinary_email_address_is_accepted_in_lower_case(email):
    assert auth.normalise_email(email) == email.lower()


# ---------------------------------------------------------------- loket users

def test_users_add_refuses_a_bad_email_and_a_school_for_another_role(db, world, loket_in_process):
    password = "een-lang-wachtwoord\n"
    bad = loket_in_process("users", "add", "not-an-email", "--tenant", "sterk-vo", "--role", "consulent",
                           stdin=password)
    assert "not-an-email" in one_error(bad) and "e-mailadres" in one_error(bad)
    school = loket_in_process("users", "add", "c@swv.nl", "--tenant", "sterk-vo", "--role", "consulent",
                              "--school", "16PX00", stdin=password)
    assert "--school" in one_error(school) and "consulent" in one_error(school)
    no_school = loket_in_process("users", "add", "z@swv.nl", "--tenant", "sterk-vo", "--role", "school",
                                 stdin=password)
    assert "--school" in one_error(no_school)
    with db.read() as session:
        assert not session.scalars(select(User).where(User.email.in_(["c@swv.nl", "z@swv.nl"]))).all()

    made = loket_in_process("users", "add", "Nieuw@SWV.nl", "--tenant", "sterk-vo", "--role", "consulent",
                            stdin=password)
    assert made.code == 0, made.err
    assert user_named(db, "nieuw@swv.nl").role == "consulent"
    again = loket_in_process("users", "add", "NIEUW@swv.nl", "--tenant", "sterk-vo", "--role", "commissie",
                             stdin=password)
    assert "bestaat al" in one_error(again)


def test_users_token_names_and_dates_a_token_and_refuses_an_inactive_user(db, world, loket_in_process):
    email = world["consulent"].email
    issued = loket_in_process("users", "token", email.upper(), "--name", "koppeling", "--days", "7")
    assert issued.code == 0, issued.err
    token = issued.out.strip()
    assert re.fullmatch(r"lkt_\S+", token) and "geldig tot" in issued.err
    assert authenticate(db, token).email == email
    with db.read() as session:
        row = session.scalars(select(ApiToken).where(ApiToken.token_hash == auth.token_hash(token))).one()
        assert row.name == "koppeling" and row.expires_at - row.created_at == timedelta(days=7)

    too_long = loket_in_process("users", "token", email, "--days", "100000")
    assert too_long.code == 2 and too_long.err.startswith("fout: ")
    assert loket_in_process("users", "deactivate", email).code == 0
    refused = loket_in_process("users", "token", email)
    assert "niet actief" in one_error(refused) and refused.out == ""
    unknown = loket_in_process("users", "token", "niemand@swv.nl")
    assert "bestaat niet" in one_error(unknown)


def test_users_list_shows_role_school_state_live_tokens_and_last_use(db, world, loket_in_process):
    authenticate(db, world.tokens["school"])
    assert loket_in_process("users", "deactivate", world["auditor"].email).code == 0
    listed = loket_in_process("users", "list", "--tenant", "sterk-vo")
    assert listed.code == 0, listed.err
    lines = {line.split()[0]: line for line in listed.out.splitlines()[1:]}
    header = listed.out.splitlines()[0]
    for column in ("e-mail", "rollen", "school", "actief", "tokens", "laatst gebruikt"):
        assert column in header
    school = lines[world["school"].email].split()
    assert school[1:5] == ["school", "16PX00", "ja", "1"]
    assert clock.format_moment(clock.now())[:10] in lines[world["school"].email]
    auditor = lines[world["auditor"].email].split()
    assert auditor[1:5] == ["auditor", "-", "nee", "0"]
    assert lines[world["consulent"].email].split()[-1] == "-"  # never used
    assert len(lines) == len(world.actors)

    assert "fout: SWV 'elders' bestaat niet" in loket_in_process("users", "list", "--tenant", "elders").err
    everyone = loket_in_process("users", "list")
    assert everyone.code == 0 and world["school"].email in everyone.out


def test_users_tokens_and_revoke_one_or_all(db, world, loket_in_process):
    email = world["commissie"].email
    second = loket_in_process("users", "token", email, "--name", "tweede").out.strip()
    with db.read() as session:
        ids = session.scalars(select(ApiToken.id).where(ApiToken.user_id == world["commissie"].user_id)
                              .order_by(ApiToken.id)).all()
    shown = loket_in_process("users", "tokens", email)
    assert shown.code == 0, shown.err
    assert all(word in shown.out.splitlines()[0] for word in ("id", "naam", "aangemaakt", "verloopt",
                                                               "laatst gebruikt", "ingetrokken"))
    assert "tweede" in shown.out and len(shown.out.splitlines()) == 3

    neither = loket_in_process("users", "revoke", email)
    assert "--all" in one_error(neither)
    both = loket_in_process("users", "revoke", email, str(ids[0]), "--all")
    assert "--all" in one_error(both)
    other = loket_in_process("users", "revoke", world["consulent"].email, str(ids[0]))
    assert "hoort niet bij" in one_error(other)

    one = loket_in_process("users", "revoke", email, str(ids[0]))
    assert one.code == 0, one.err
    with pytest.raises(Unauthorized):
        authenticate(db, world.tokens["commissie"])
    assert authenticate(db, second).email == email
    row = [line for line in loket_in_process("users", "tokens", email).out.splitlines()
           if line.split()[0] == str(ids[0])][0]
    assert "ingetrokken" in row

    everything = loket_in_process("users", "revoke", email, "--all")
    assert everything.code == 0 and "1 token" in everything.out
    with pytest.raises(Unauthorized):
        authenticate(db, second)


def test_users_password_sets_a_new_password_from_stdin(db, world, loket_in_process):
    email = world["beheerder"].email
    short = loket_in_process("users", "password", email, stdin="kort\n")
    assert "10 tekens" in one_error(short)
    changed = loket_in_process("users", "password", email, stdin="een-nieuw-wachtwoord\n")
    assert changed.code == 0, changed.err
    stored = user_named(db, email).password_hash
    assert stored.startswith("$argon2id$") and auth.verify_password("een-nieuw-wachtwoord", stored)
    assert "bestaat niet" in one_error(loket_in_process("users", "password", "niemand@swv.nl", stdin="x" * 12))


# ---------------------------------------------------------------- the demo SWV

def test_init_demo_again_revokes_the_demo_tokens_it_printed_before(db, capsys):
    from cli.demo import USERS, create_demo

    def printed_tokens() -> dict[str, str]:
        create_demo(db)
        return dict(re.findall(r"(\S+@\S+)\s.*?(lkt_\S+)", capsys.readouterr().out))  # the table's rows

    first = printed_tokens()
    assert {email for email, *_ in USERS} <= set(first)  # Sterk VO's as the README names them, and the other SWVs'
    with db.transaction() as session:  # a token someone made by hand stays
        by_hand = auth.issue_token(session, session.scalars(select(User).where(User.email == USERS[2][0])).one(),
                                   name="postman")
    second = printed_tokens()
    for email, token in first.items():
        with pytest.raises(Unauthorized):
            authenticate(db, token)
        assert authenticate(db, second[email]).email == email
    assert authenticate(db, by_hand).email == USERS[2][0]
    with db.read() as session:
        live = session.scalars(select(ApiToken).where(ApiToken.revoked_at.is_(None), ApiToken.name == "demo")).all()
        assert len(live) == len(first)


# ---------------------------------------------------------------- migration 0004

def test_tokens_from_before_0004_get_an_expiry_and_going_back_keeps_expired_ones_dead(empty_db_url):
    """A token issued before 0004 keeps working after it, for 90 days from the upgrade; a downgrade marks a
    token that has expired as revoked, as the older schema knows no expiry."""
    from alembic import command
    from sqlalchemy import column, insert, table

    from engine.db import Database, alembic_config
    from engine.models import Tenant, UTCDateTime

    command.upgrade(alembic_config(empty_db_url), "0003")
    engine = create_engine(empty_db_url)
    now = clock.now()
    old_tokens = table("api_tokens", column("user_id"), column("token_hash"), column("created_at", UTCDateTime()))
    with engine.begin() as conn:
        tenant_id = conn.execute(insert(Tenant).values(key="oud", name="SWV oud", region="noord", settings={},
                                                       created_at=now).returning(Tenant.id)).scalar_one()
        user_id = conn.execute(insert(User).values(tenant_id=tenant_id, email="a@oud.test", role="auditor",
                                                   password_hash="x", active=True, created_at=now)
                               .returning(User.id)).scalar_one()
        conn.execute(insert(old_tokens).values(user_id=user_id, token_hash=auth.token_hash("lkt_oud"),
                                               created_at=now - timedelta(days=400)))
    engine.dispose()

    command.upgrade(alembic_config(empty_db_url), "head")
    db = Database(empty_db_url)
    try:
        assert authenticate(db, "lkt_oud").email == "a@oud.test"
        with db.read() as session:
            row = session.scalars(select(ApiToken)).one()
            assert row.name == "token"
            assert abs(row.expires_at - (now + timedelta(days=90))) < timedelta(minutes=5)
        with db.transaction() as session:
            session.execute(update(ApiToken).values(expires_at=now - timedelta(days=1)))
    finally:
        db.dispose()

    command.downgrade(alembic_config(empty_db_url), "0003")
    engine = create_engine(empty_db_url)
    revoked = table("api_tokens", column("revoked_at", UTCDateTime()))
    with engine.connect() as conn:
        assert conn.execute(select(revoked.c.revoked_at)).scalar_one() is not None
    engine.dispose()
