"""The access log in chains per case (and per reader outside a case): readers of different cases do not wait on
each other, every kind of tampering is still found, and the per-SWV chain of before migration 0003 still
verifies. Also the TLV counter's upsert, the scheduler's next-due lookup, and the indexes they rely on."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import create_engine, delete, insert, select, text, update
from sqlalchemy.exc import OperationalError

from engine import access, clock, scheduler
from engine.auth import Actor
from engine.db import Database, alembic_config, upgrade
from engine.events import GENESIS
from engine.models import AccessHead, AccessLog, Case, Counter, Deadline, Tenant, User, UTCDateTime
from engine.services import ServiceContext
from handlers.register_tlv import next_number, register_tlv
from tests.helpers import cli


def start(runtime, world, sample) -> int:
    return runtime.start_case(world["school"], "tlv-vso", sample["start"]).id


def logged(db) -> list[AccessLog]:
    with db.read() as session:
        return list(session.scalars(select(AccessLog).order_by(AccessLog.id)))


def report(db, tenant_id: int) -> access.AccessReport:
    with db.read() as session:
        return access.verify(session, tenant_id)


def wait_for_a_waiter(db, seconds: float = 10) -> None:
    """Until another transaction of this database waits on a lock, so a test knows the race is on."""
    with db.engine.connect() as watch:
        for _ in range(int(seconds / 0.02)):
            if watch.execute(text("SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                                  "AND wait_event_type = 'Lock'")).scalar():
                return
            threading.Event().wait(0.02)


def sql(db, statement) -> None:
    """Plain SQL, as someone with database access would tamper."""
    with db.engine.begin() as conn:
        conn.execute(statement)


# ---------------------------------------------------------------- chains


def test_each_case_and_each_reader_outside_a_case_has_a_chain(runtime, world, sample, db):
    first, second = start(runtime, world, sample), start(runtime, world, sample)
    access.record(db, world["consulent"], "case", "api", first)
    access.record(db, world["commissie"], "case", "api", second)
    access.record(db, world["auditor"], "events", "api", first)
    access.record(db, world["auditor"], "access-log", "api")  # a user's reads: not about one case
    cli_reader = Actor(user_id=None, tenant_id=world.tenant_id, email="cli:beheer@host", role="beheerder")
    access.record(db, cli_reader, "access-log", "cli")
    assert [e.chain for e in logged(db)] == [f"case:{first}", f"case:{second}", f"case:{first}",
                                             f"user:{world['auditor'].user_id}", "actor:cli:beheer@host"]
    with db.read() as session:
        heads = {h.chain: h.entries for h in session.scalars(select(AccessHead))}
    assert heads == {f"case:{first}": 2, f"case:{second}": 1, f"user:{world['auditor'].user_id}": 1,
                     "actor:cli:beheer@host": 1}
    checked = report(db, world.tenant_id)
    assert checked.intact and checked.entries == 5 and checked.chains == 4


def test_concurrent_readers_of_many_cases_keep_every_chain_whole(runtime, world, sample, db):
    cases = [start(runtime, world, sample) for _ in range(3)]
    barrier = threading.Barrier(4)
    errors: list[Exception] = []

    def read(role: str) -> None:
        barrier.wait()
        try:
            for i in range(12):
                access.record(db, world[role], "case", "api", cases[i % 3])
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=read, args=(r,)) for r in ("consulent", "commissie", "auditor", "beheerder")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    checked = report(db, world.tenant_id)
    assert checked.intact and checked.entries == 48 and checked.chains == 3


def test_a_reader_of_another_case_does_not_wait_for_a_held_chain(runtime, world, sample, db):
    """One transaction holds case A's chain head (as a slow read would); reading case B, or reading outside a
    case, goes ahead, while a second read of A must wait its turn. lock_timeout turns waiting into an error,
    so the test does not depend on timing."""
    if db.is_sqlite:
        pytest.skip("SQLite has one writer at a time; chains per case matter on PostgreSQL")
    a, b, c = (start(runtime, world, sample) for _ in range(3))
    access.record(db, world["consulent"], "case", "api", a)
    access.record(db, world["consulent"], "case", "api", b)

    def other_reader(case_id: int | None, role: str = "commissie") -> None:
        with db.engine.connect() as conn, conn.begin():
            conn.exec_driver_sql("SET LOCAL lock_timeout = '300ms'")
            access.append(conn, world[role], "case", "api", case_id)

    with db.engine.connect() as holder:
        held = holder.begin()
        access.append(holder, world["consulent"], "case", "api", a)  # holds A's head until commit
        access.append(holder, world["consulent"], "case", "api", c)  # and C's, created in this transaction
        other_reader(b)  # an existing chain of another case
        other_reader(start(runtime, world, sample))  # a case read for the first time
        other_reader(None, "auditor")  # a read outside any case
        with pytest.raises(OperationalError, match="lock timeout"):
            other_reader(a)  # the same case: waits on the holder
        with pytest.raises(OperationalError, match="lock timeout"):
            other_reader(c)  # a chain the holder is creating: waits on it too
        # A second first reader of C that does wait: it appends after the holder's entry once that commits.
        waiting = threading.Thread(target=access.record, args=(db, world["auditor"], "case", "api", c))
        waiting.start()
        wait_for_a_waiter(db)
        held.commit()
        waiting.join(10)
    other_reader(a)
    checked = report(db, world.tenant_id)
    assert checked.intact and checked.entries == 9
    assert [e.role for e in logged(db) if e.case_id == c] == ["consulent", "auditor"]


# ---------------------------------------------------------------- tampering, chain by chain


@pytest.fixture
def two_chains(runtime, world, sample, db) -> tuple[int, int, list[int], list[int]]:
    """Case A read five times, case B three times, interleaved."""
    a, b = start(runtime, world, sample), start(runtime, world, sample)
    for i in range(5):
        access.record(db, world["consulent"], "case", "api", a)
        if i < 3:
            access.record(db, world["commissie"], "case", "api", b)
    ids_a = [e.id for e in logged(db) if e.case_id == a]
    ids_b = [e.id for e in logged(db) if e.case_id == b]
    assert report(db, world.tenant_id).intact
    return a, b, ids_a, ids_b


def broken(db, world) -> list[tuple[int | None, str | None]]:
    return [(b.entry_id, b.chain) for b in report(db, world.tenant_id).breaks]


def test_an_edited_entry_is_found_in_its_chain(world, db, db_url, two_chains):
    a, _, ids_a, _ = two_chains
    sql(db, update(AccessLog.__table__).where(AccessLog.id == ids_a[2]).values(what="niets"))
    assert broken(db, world) == [(ids_a[2], f"case:{a}")]
    result = cli(db_url, "audit", "verify", "--all")
    assert result.exit_code == 1 and f"toegangslog sterk-vo, regel {ids_a[2]}" in result.output


def test_a_deleted_entry_is_found(world, db, two_chains):
    a, b, ids_a, _ = two_chains
    sql(db, delete(AccessLog.__table__).where(AccessLog.id == ids_a[1]))
    # The entry after the hole, and the head that counts one entry more than there are.
    assert broken(db, world) == [(ids_a[2], f"case:{a}"), (None, f"case:{a}")]
    with db.read() as session:  # one case's chain alone
        only_a = access.verify(session, world.tenant_id, case_id=a)
        only_b = access.verify(session, world.tenant_id, case_id=b)
    assert [x.entry_id for x in only_a.breaks] == [ids_a[2], None] and only_a.entries == 4
    assert only_b.intact and only_b.entries == 3 and only_b.chains == 1


def test_deleting_the_last_entry_of_a_chain_shows_against_its_head(world, db, db_url, two_chains):
    _, b, _, ids_b = two_chains
    sql(db, delete(AccessLog.__table__).where(AccessLog.id == ids_b[-1]))
    breaks = report(db, world.tenant_id).breaks
    assert [(x.entry_id, x.chain) for x in breaks] == [(None, f"case:{b}")]
    assert f"dossier {b}" in breaks[0].message and "3 regels, er zijn er 2" in breaks[0].message
    result = cli(db_url, "audit", "verify", "--all")
    assert result.exit_code == 1 and "toegangslog sterk-vo, kop:" in result.output


def test_deleting_a_whole_chain_shows_against_its_head(world, db, two_chains):
    _, b, _, ids_b = two_chains
    sql(db, delete(AccessLog.__table__).where(AccessLog.id.in_(ids_b)))
    assert broken(db, world) == [(None, f"case:{b}")]


def test_an_inserted_entry_is_found(world, db, two_chains):
    a, _, ids_a, _ = two_chains
    with db.read() as session:
        model = session.get(AccessLog, ids_a[1])
    # A made-up read, hashed correctly onto the second entry, as if it had been logged then.
    fields = {"tenant_id": model.tenant_id, "case_id": a, "user_id": model.user_id, "actor": model.actor,
              "role": model.role, "at": model.at, "what": "verzonnen", "channel": "api"}
    forged = access.entry_hash(model.hash, **fields)
    sql(db, insert(AccessLog.__table__).values(chain=f"case:{a}", prev_hash=model.hash, hash=forged, **fields))
    new_id = max(e.id for e in logged(db))
    assert broken(db, world) == [(new_id, f"case:{a}"), (None, f"case:{a}")]


def test_an_entry_moved_to_another_chain_is_found(world, db, two_chains):
    a, b, ids_a, _ = two_chains
    sql(db, update(AccessLog.__table__).where(AccessLog.id == ids_a[-1]).values(chain=f"case:{b}"))
    found = broken(db, world)
    assert (ids_a[-1], f"case:{b}") in found and (None, f"case:{a}") in found


def test_a_whole_chain_renamed_with_its_head_is_found(world, db, two_chains):
    """Moving a case's reads, head and all, under another case's key: the entries name their own case."""
    a, _, ids_a, _ = two_chains
    sql(db, update(AccessLog.__table__).where(AccessLog.id.in_(ids_a)).values(chain="case:999999"))
    sql(db, update(AccessHead.__table__).where(AccessHead.chain == f"case:{a}").values(chain="case:999999"))
    assert {entry_id for entry_id, _ in broken(db, world)} == set(ids_a)


# ---------------------------------------------------------------- the migration keeps the old chain


def test_reads_logged_before_0003_still_verify_after_it(empty_db_url):
    from alembic import command
    from sqlalchemy import column, table

    command.upgrade(alembic_config(empty_db_url), "0002")
    engine = create_engine(empty_db_url)
    now = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)
    old_log = table("access_log", column("at", UTCDateTime()), *(column(c) for c in (
        "tenant_id", "case_id", "user_id", "actor", "role", "what", "channel", "prev_hash", "hash")))
    old_head = table("access_heads", column("tenant_id"), column("entries"), column("last_hash"))
    with engine.begin() as conn:
        tenant_id = conn.execute(insert(Tenant).values(key="oud", name="SWV oud", region="noord", settings={},
                                                       created_at=now).returning(Tenant.id)).scalar_one()
        user_id = conn.execute(insert(User).values(tenant_id=tenant_id, email="a@oud.test", role="auditor",
                                                   password_hash="x", active=True, created_at=now)
                               .returning(User.id)).scalar_one()
        prev = GENESIS
        for i in range(4):  # the per-SWV chain as 0002 wrote it; no case rows needed for reads outside a case
            fields = {"tenant_id": tenant_id, "case_id": None, "user_id": user_id, "actor": "a@oud.test",
                      "role": "auditor", "at": now + timedelta(minutes=i), "what": f"lijst {i}", "channel": "api"}
            digest = access.entry_hash(prev, **fields)
            conn.execute(insert(old_log).values(prev_hash=prev, hash=digest, **fields))
            prev = digest
        conn.execute(insert(old_head).values(tenant_id=tenant_id, entries=4, last_hash=prev))
    engine.dispose()

    db = Database(empty_db_url)
    try:
        db.upgrade()
        checked = report(db, tenant_id)
        assert checked.intact and checked.entries == 4 and checked.chains == 1
        assert {e.chain for e in logged(db)} == {access.LEGACY}
        reader = Actor(user_id=user_id, tenant_id=tenant_id, email="a@oud.test", role="auditor")
        access.record(db, reader, "access-log", "api")  # new reads go to the reader's own chain
        checked = report(db, tenant_id)
        assert checked.intact and checked.entries == 5 and checked.chains == 2
        first = logged(db)[0].id
        sql(db, update(AccessLog.__table__).where(AccessLog.id == first).values(what="iets anders"))
        breaks = report(db, tenant_id).breaks
        assert [(b.entry_id, b.chain) for b in breaks] == [(first, access.LEGACY)]
    finally:
        db.dispose()


# ---------------------------------------------------------------- TLV numbers


def tlv_context(session, world, now: datetime) -> ServiceContext:
    return ServiceContext(session=session, tenant_id=world.tenant_id, case_id=0, now=now, task_name="besluit")


def test_tlv_numbers_count_per_swv_and_year(db, world):
    now = datetime(2027, 1, 4, 10, 0, tzinfo=UTC)
    with db.transaction() as session:
        numbers = [register_tlv(tlv_context(session, world, now))["nummer"] for _ in range(3)]
        next_year = register_tlv(tlv_context(session, world, now.replace(year=2028)))["nummer"]
    assert numbers == ["TLV-2027-0001", "TLV-2027-0002", "TLV-2027-0003"] and next_year == "TLV-2028-0001"
    with pytest.raises(RuntimeError), db.transaction() as session:  # a grant that fails takes its number back
        assert next_number(session, world.tenant_id, "tlv-2027") == 4
        raise RuntimeError
    with db.read() as session:
        assert session.get(Counter, (world.tenant_id, "tlv-2027")).value == 3


def test_two_first_grants_of_a_year_at_the_same_moment_both_get_a_number(db, world):
    """The first number of a year, asked for in two transactions at once: the second waits on the first's
    new counter row, then takes the next number (before the upsert it failed on the key, and its case went
    to incident)."""
    if db.is_sqlite:
        pytest.skip("SQLite has one writer at a time, so two first grants cannot overlap")
    now = datetime(2029, 1, 2, 9, 0, tzinfo=UTC)
    second: dict[str, object] = {}
    inserted = threading.Event()

    def grant() -> None:
        inserted.wait(10)
        try:
            with db.transaction() as session:
                second["nummer"] = register_tlv(tlv_context(session, world, now))["nummer"]
        except Exception as exc:  # pragma: no cover - reported below
            second["error"] = exc

    thread = threading.Thread(target=grant)
    thread.start()
    with db.transaction() as session:
        first = register_tlv(tlv_context(session, world, now))["nummer"]
        inserted.set()
        wait_for_a_waiter(db)  # the other grant has reached the counter row
    thread.join(10)
    assert second == {"nummer": "TLV-2029-0002"} and first == "TLV-2029-0001"


# ---------------------------------------------------------------- the scheduler's next-due lookup


def test_next_due_is_the_earliest_pending_deadline_of_a_case_it_fires_on(runtime, world, sample, db):
    cases = [start(runtime, world, sample) for _ in range(4)]
    base = clock.now() + timedelta(days=400)  # later than anything the route itself set
    with db.transaction() as session:
        session.execute(update(Deadline).values(status="cancelled"))
        for case_id, status, hours in zip(cases, ("suspended", "closed", "incident", "open"), (1, 2, 3, 4),
                                          strict=True):
            session.execute(update(Case).where(Case.id == case_id).values(status=status))
            session.add(Deadline(case_id=case_id, tenant_id=world.tenant_id, kind="case",
                                 due_at=base + timedelta(hours=hours), status="pending"))
        session.add(Deadline(case_id=cases[3], tenant_id=world.tenant_id, kind="case",
                             due_at=base, status="fired"))
    assert scheduler.next_due(runtime) == base + timedelta(hours=3)  # the case in incident, not the earlier ones
    with db.transaction() as session:
        session.execute(update(Deadline).where(Deadline.case_id == cases[2]).values(status="cancelled"))
    assert scheduler.next_due(runtime) == base + timedelta(hours=4)
    with db.transaction() as session:
        session.execute(update(Deadline).values(status="cancelled"))
    assert scheduler.next_due(runtime) is None


def test_the_reads_that_grow_with_the_database_have_their_indexes(db):
    """The schema the migrations build has what the case read and the scheduler need (their plans at 100,000
    cases are in bench/growth.py)."""
    from sqlalchemy import inspect

    with db.engine.connect() as conn:
        indexes = {i["name"]: i["column_names"] for i in inspect(conn).get_indexes("deadlines")}
        access_indexes = {i["name"]: i["column_names"] for i in inspect(conn).get_indexes("access_log")}
    assert indexes["ix_deadlines_case"] == ["case_id", "status", "due_at"]
    assert indexes["ix_deadlines_due"] == ["status", "due_at"]
    assert "ix_deadlines_case_id" not in indexes  # a prefix of ix_deadlines_case: no second index to write
    assert access_indexes["ix_access_chain"] == ["tenant_id", "chain", "id"]


def test_sqlite_gathers_statistics_after_migrating(tmp_path):
    db = Database(f"sqlite:///{tmp_path / 'stats.db'}")
    try:
        db.upgrade()
        with db.engine.connect() as conn:
            assert conn.exec_driver_sql("SELECT count(*) FROM sqlite_master WHERE name = 'sqlite_stat1'").scalar()
    finally:
        db.dispose()


def test_the_schema_matches_the_models(db_url):
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    from engine.models import Base

    upgrade(db_url)
    engine = create_engine(db_url)
    with engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), Base.metadata)
    engine.dispose()
    assert diff == []
