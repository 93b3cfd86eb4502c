"""``loket backup`` while Loket writes, and ``loket restore`` into a fresh place: every case verifies and replays,
and the restored database holds exactly what the original held at the moment of the backup."""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, func, select

from engine import backup as backups
from engine.models import Base, Event
from tests.conftest import scratch_postgres
from tests.helpers import cli, do, to_besluit


def several_cases(runtime, world, sample) -> None:
    """Cases in different states: closed twice (toegekend, afgewezen), at the besluit, at the aanmelding,
    suspended, and one that went through an aanvulling round."""
    granted = to_besluit(runtime, world, sample)
    do(runtime, world, "commissie", granted, "besluit", sample["toekennen"])
    do(runtime, world, "school", granted, "plaatsing", sample["plaatsing"])
    refused = to_besluit(runtime, world, sample)
    do(runtime, world, "commissie", refused, "besluit", sample["afwijzen"])
    to_besluit(runtime, world, sample, rounds=1)
    runtime.start_case(world["school"], "tlv-vso", sample["start"])
    suspended = runtime.start_case(world["school"], "tlv-vso", sample["start"])
    runtime.suspend(world["consulent"], suspended.id, "Wachten op het tweede advies.")


class Writer(threading.Thread):
    """Another connection that keeps writing: starts cases and completes their aanmelding."""

    def __init__(self, runtime, world, sample) -> None:
        super().__init__(daemon=True)
        self.runtime, self.world, self.sample = runtime, world, sample
        self.done = 0
        self.stop = threading.Event()
        self.progress = threading.Condition()
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            while not self.stop.is_set():
                case = self.runtime.start_case(self.world["school"], "tlv-vso", self.sample["start"])
                do(self.runtime, self.world, "school", case.id, "aanmelding", self.sample["aanmelding"])
                with self.progress:
                    self.done += 1
                    self.progress.notify_all()
        except BaseException as exc:  # noqa: BLE001  (reported by the test)
            self.error = exc
            with self.progress:
                self.progress.notify_all()

    def wait_for(self, count: int) -> None:
        with self.progress:
            assert self.progress.wait_for(lambda: self.done >= count or self.error is not None, timeout=60)
        assert self.error is None, self.error


@pytest.fixture
def fresh_url(db_url, tmp_path) -> Iterator[str]:
    """An empty place to restore into, of the same backend as the test's database."""
    if db_url.startswith("sqlite"):
        yield f"sqlite:///{tmp_path / 'restored' / 'loket.db'}"
        return
    with scratch_postgres("restore") as url:
        yield url


def counts(url: str) -> dict[str, int]:
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            return {t.name: conn.execute(select(func.count()).select_from(t)).scalar_one()
                    for t in Base.metadata.sorted_tables}
    finally:
        engine.dispose()


def chains(url: str) -> dict[int, list[tuple[int, str]]]:
    """Every case's events as (seq, hash)."""
    engine = create_engine(url)
    out: dict[int, list[tuple[int, str]]] = {}
    try:
        with engine.connect() as conn:
            for case_id, seq, hash_ in conn.execute(select(Event.case_id, Event.seq, Event.hash)
                                                    .order_by(Event.case_id, Event.seq)):
                out.setdefault(case_id, []).append((seq, hash_))
    finally:
        engine.dispose()
    return out


def test_a_backup_made_while_loket_writes_restores_whole_and_every_case_verifies(
        runtime, world, sample, db_url, fresh_url, tmp_path):
    several_cases(runtime, world, sample)
    before = counts(db_url)["cases"]
    writer = Writer(runtime, world, sample)
    writer.start()
    try:
        writer.wait_for(1)
        made = cli(db_url, "backup", str(tmp_path / "loket.backup"))
        assert made.exit_code == 0, made.output
        assert "backup geschreven naar" in made.output
        writer.wait_for(writer.done + 1)  # the writer went on during and after the backup
    finally:
        writer.stop.set()
        writer.join(60)
    assert writer.error is None, writer.error

    restored = cli(fresh_url, "restore", str(tmp_path / "loket.backup"))
    assert restored.exit_code == 0, restored.output
    assert "0 met een gebroken keten, 0 wijken af van hun geschiedenis; toegangslogs: intact" in restored.output

    # The backup is the database at one moment: every case in it is whole (its events a prefix of the original's),
    # the cases made before the backup are all there, and the ones made after it are not.
    original, copy = chains(db_url), chains(fresh_url)
    assert before < len(copy) <= len(original)
    for case_id, events in copy.items():
        assert events == original[case_id][:len(events)]
    assert counts(fresh_url)["cases"] == len(copy)

    # Once nothing writes, a second backup restored over the first (--force) is row for row the original.
    again = cli(db_url, "backup", str(tmp_path / "quiet.backup"))
    assert again.exit_code == 0, again.output
    forced = cli(fresh_url, "restore", "--force", str(tmp_path / "quiet.backup"))
    assert forced.exit_code == 0, forced.output
    assert counts(fresh_url) == counts(db_url)
    assert chains(fresh_url) == chains(db_url)


def test_restore_refuses_a_database_that_holds_cases(runtime, world, sample, db_url, tmp_path):
    runtime.start_case(world["school"], "tlv-vso", sample["start"])
    assert cli(db_url, "backup", str(tmp_path / "b")).exit_code == 0
    runtime.start_case(world["school"], "tlv-vso", sample["start"])
    refused = cli(db_url, "restore", str(tmp_path / "b"))
    assert refused.exit_code == 1
    assert "fout: de database bevat al 2 dossiers; geef --force om hem te overschrijven." in refused.output
    assert counts(db_url)["cases"] == 2  # untouched


def test_backup_refuses_to_overwrite_a_file(runtime, db_url, tmp_path):
    target = tmp_path / "b"
    target.write_text("iets anders")
    refused = cli(db_url, "backup", str(target))
    assert refused.exit_code == 1 and "bestaat al" in refused.output
    assert target.read_text() == "iets anders"


def test_restore_reports_a_case_that_differs_from_its_history(runtime, world, sample, db_url, tmp_path):
    if not db_url.startswith("sqlite"):
        pytest.skip("the backup file is edited with sqlite3")
    case_id = to_besluit(runtime, world, sample)
    path = tmp_path / "b"
    assert cli(db_url, "backup", str(path)).exit_code == 0
    with sqlite3.connect(path) as conn:  # someone edits the backup: the case's stored status no longer fits
        conn.execute("UPDATE cases SET status = 'closed' WHERE id = ?", (case_id,))
    restored = cli(f"sqlite:///{tmp_path / 'elsewhere.db'}", "restore", str(path))
    assert restored.exit_code == 1
    assert f"dossier {case_id}: wijkt af van zijn geschiedenis" in restored.output


def test_a_backup_of_the_other_kind_or_no_backup_is_refused(db_url, tmp_path):
    junk = tmp_path / "junk"
    junk.write_bytes(b"geen backup")
    refused = cli(db_url, "restore", str(junk))
    assert refused.exit_code == 1 and "geen backup van Loket" in refused.output
    assert "bestaat niet" in cli(db_url, "restore", str(tmp_path / "missing")).output


def test_postgresql_backup_without_or_with_a_failing_pg_dump_is_one_fout_line(monkeypatch, tmp_path):
    # No server needed: pg_dump is looked for before it connects, and port 1 refuses the connection.
    url = "postgresql+psycopg://loket@127.0.0.1:1/loket"
    monkeypatch.setattr(backups, "PG_DUMP", "pg_dump-dat-niet-bestaat")
    missing = cli(url, "backup", str(tmp_path / "b.dump"))
    assert missing.exit_code == 1
    assert missing.output.startswith("fout: pg_dump-dat-niet-bestaat is niet gevonden")
    monkeypatch.undo()
    if not Path("/usr/bin/pg_dump").exists():
        return
    failing = cli(url, "backup", str(tmp_path / "b.dump"))
    assert failing.exit_code == 1
    assert failing.output.startswith("fout: pg_dump mislukte: ") and failing.output.count("\n") == 1
    assert not list(tmp_path.iterdir())  # no half-written backup left behind
