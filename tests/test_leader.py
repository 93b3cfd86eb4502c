"""Leader election of the scheduler: of several schedulers on one database exactly one leads; when the leader
is killed, another takes the lead within seconds. On PostgreSQL an advisory lock, on SQLite a lock file."""

from __future__ import annotations

import json
import os
import queue
import signal
import subprocess
import sys
import threading
import time

import pytest

from engine.config import PROJECT_ROOT
from engine.leader import FileLeadership, PostgresLeadership, lead, leadership_for

WAIT = 30.0  # seconds a test waits for a line at most (a bound, not a timing assertion)


def test_a_lock_file_has_one_holder_at_a_time(tmp_path):
    first, second = FileLeadership(tmp_path / "a.lock"), FileLeadership(tmp_path / "a.lock")
    assert first.hold() and first.hold()  # and keeps it
    assert not second.hold()
    first.release()
    assert second.hold() and not first.hold()
    second.release()


def test_an_advisory_lock_has_one_holder_and_is_freed_with_its_connection(db_url):
    if db_url.startswith("sqlite"):
        pytest.skip("PostgreSQL only")
    first, second = PostgresLeadership(db_url), PostgresLeadership(db_url)
    try:
        assert first.hold() and first.hold()
        assert not second.hold()
        assert first._conn is not None
        first._conn.invalidate()  # the leader's connection dies (as when its process is killed)
        assert not first.hold()  # it notices, and stops leading
        deadline = time.monotonic() + WAIT  # the server ends the dead session in a moment, and the lock with it
        while not second.hold() and time.monotonic() < deadline:
            time.sleep(0.05)
        assert second.hold()
    finally:
        first.release()
        second.release()


def test_lead_starts_the_work_only_while_leading(tmp_path):
    class Work:
        def __init__(self) -> None:
            self.stopped = threading.Event()

        def shutdown(self) -> None:
            self.stopped.set()

    started: list[Work] = []

    def start() -> Work:
        started.append(Work())
        return started[-1]

    holder = FileLeadership(tmp_path / "b.lock")
    assert holder.hold()
    stop = threading.Event()
    follower = threading.Thread(target=lead, args=(FileLeadership(tmp_path / "b.lock"), start, stop, 0.05))
    follower.start()
    try:
        time.sleep(0.3)
        assert started == []  # another holds the lead
        holder.release()
        deadline = time.monotonic() + WAIT
        while not started and time.monotonic() < deadline:
            time.sleep(0.05)
        assert len(started) == 1
    finally:
        stop.set()
        follower.join(WAIT)
    assert started[0].stopped.is_set()  # stopping shuts the work down and frees the lead
    assert leadership_for(f"sqlite:///{tmp_path / 'b'}").hold()


class Scheduler:
    """A ``loket scheduler`` process whose JSON log lines are read as they come."""

    def __init__(self, db_url: str) -> None:
        env = {**os.environ, "LOKET_DATABASE_URL": db_url, "LOKET_LOG_FORMAT": "json", "LOKET_LEADER_SECONDS": "0.2"}
        self.process = subprocess.Popen([sys.executable, "-c", "import cli; cli.run()", "scheduler"],
                                        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, env=env,
                                        cwd=PROJECT_ROOT)
        self.lines: queue.Queue[str] = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.process.stderr is not None
        for line in self.process.stderr:
            self.lines.put(line)

    def wait_for(self, *words: str) -> str:
        """The first 'loket.leader' message containing one of ``words``."""
        deadline = time.monotonic() + WAIT
        while time.monotonic() < deadline:
            try:
                line = self.lines.get(timeout=0.5)
            except queue.Empty:
                continue
            try:
                record = json.loads(line)
            except ValueError:
                raise AssertionError(f"not a JSON log line: {line!r}") from None
            if record["logger"] == "loket.leader" and any(word in record["message"] for word in words):
                return record["message"]
        raise AssertionError(f"no message with {words} from pid {self.process.pid}")

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait(timeout=WAIT)


def test_two_schedulers_one_leads_and_the_other_takes_over_when_it_is_killed(db_url):
    first = Scheduler(db_url)
    try:
        assert "leidt" in first.wait_for("leidt", "wacht")  # alone: it leads
        second = Scheduler(db_url)
        try:
            assert "wacht" in second.wait_for("leidt", "wacht")  # exactly one leads
            first.process.send_signal(signal.SIGKILL)  # the leader dies without a word
            first.process.wait(timeout=WAIT)
            assert second.wait_for("leidt") == f"scheduler leidt (pid {second.process.pid})"
        finally:
            second.stop()
    finally:
        first.stop()
