"""``loket serve`` and ``loket scheduler``: Loket as a running server.

``loket serve`` is a gunicorn master (prefork: a worker process that crashes or leaks is replaced, and several
processes use several cores, which one Python process cannot) with ``--workers`` worker processes of
``--threads`` threads each, plus one scheduler process that the master starts, watches and restarts. The
scheduler process stands for election (engine.leader), so several servers on one PostgreSQL database run one
scheduler between them, and a ``loket scheduler`` started alongside waits instead of working twice.

It binds the port itself before saying it listens and before gunicorn starts: a busy port or an unknown host
is one ``fout:`` line, as is a database that is not initialised.
"""

from __future__ import annotations

import errno
import logging
import os
import shutil
import signal
import socket
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from datetime import datetime
from functools import cache
from typing import Any

import click

from engine import clock

from .context import Context, fail, pass_ctx, require_schema

log = logging.getLogger("loket.serve")

# Threads per worker: requests that wait on the database (or on SQLite's one writer) do not hold up the rest.
DEFAULT_THREADS = 8
# Seconds an idle kept-alive connection stays open: longer than a proxy's or a client's idle timeout (often 60),
# so that the client, not Loket, closes it; otherwise a request sent just as Loket closes fails without an answer.
KEEPALIVE_SECONDS = 75
# Seconds the master waits before starting a scheduler process again after one ended.
SCHEDULER_RESTART_SECONDS = 5.0


def default_workers(is_sqlite: bool) -> int:
    """SQLite: one process, since SQLite lets one writer in at a time and a write from another process waits
    for the file lock (busy timeout) instead of queueing in this one; its threads still read in parallel.
    PostgreSQL: two per core, the usual gunicorn choice for work that waits on the database."""
    if is_sqlite:
        return 1
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    return 2 * cores


def listen(host: str, port: int) -> socket.socket:
    """A listening socket on host:port, or one ``fout:`` line and exit."""
    try:
        family, kind, proto, _, address = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0]
    except (socket.gaierror, UnicodeError):
        fail(f"kan niet luisteren op {host}:{port}: onbekend adres.")
    sock = socket.socket(family, kind, proto)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(address)
        sock.listen(2048)
    except OSError as exc:
        sock.close()
        if exc.errno == errno.EADDRINUSE:
            fail(f"poort {port} op {host} is al in gebruik; kies een andere met --port of LOKET_PORT "
                 "(make run PORT=...).")
        fail(f"kan niet luisteren op {host}:{port}: {exc.strerror or exc}.")
    return sock


def multiprocess_metrics() -> str | None:
    """Point prometheus_client at a directory the workers and the scheduler share (PROMETHEUS_MULTIPROC_DIR, or
    a fresh temporary one), emptied at start as the client asks. Answers the directory to remove at exit."""
    made = None
    directory = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    if directory:
        os.makedirs(directory, exist_ok=True)
        for name in os.listdir(directory):
            if name.endswith(".db"):
                os.unlink(os.path.join(directory, name))
    else:
        directory = made = tempfile.mkdtemp(prefix="loket-metrics-")
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = directory
    from prometheus_client import values

    values.ValueClass = values.get_value_class()  # in case the client was imported before the directory was set
    return made


@click.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8000, show_default=True, type=click.IntRange(1, 65535), envvar="LOKET_PORT",
              help="De poort (ook via LOKET_PORT).")
@click.option("--workers", type=click.IntRange(1, 64), default=None, envvar="LOKET_WORKERS",
              help="Aantal werkprocessen (ook via LOKET_WORKERS); standaard 1 op SQLite, 2 per core op PostgreSQL.")
@click.option("--threads", type=click.IntRange(1, 64), default=DEFAULT_THREADS, show_default=True,
              envvar="LOKET_THREADS", help="Threads per werkproces (ook via LOKET_THREADS).")
@click.option("--scheduler/--no-scheduler", "with_scheduler", default=True, show_default=True,
              help="Start ook een schedulerproces (zonder: draai 'loket scheduler' apart).")
@pass_ctx
def serve(ctx: Context, host: str, port: int, workers: int | None, threads: int, with_scheduler: bool) -> None:
    """Start de web-UI en de API (gunicorn, meerdere werkprocessen) en de scheduler."""
    from web import logs

    require_schema(ctx.db)
    workers = workers or default_workers(ctx.db.is_sqlite)
    sock = listen(host, port)
    ctx.db.dispose()  # no pooled connection of this process may be shared with the workers it forks
    fmt = logs.configure(default="json")
    os.environ["LOKET_LOG_FORMAT"] = fmt  # the workers and the scheduler log as the master does
    made = multiprocess_metrics()
    import web  # noqa: F401  (imported once in the master, so every forked worker starts with it loaded)

    server = GunicornServer(ctx, sock.detach(), workers, threads, fmt, with_scheduler)
    click.echo(f"Loket luistert op http://{host}:{port}/ (API: /api/v1, OpenAPI: /api/v1/openapi.json; "
               f"{workers} werkproces{'sen' if workers > 1 else ''})")
    master = os.getpid()
    try:
        server.run()
    finally:
        # A worker leaves through here too (gunicorn forks it inside run() and it exits with SystemExit): only
        # the master, last to go, removes the directory that every process writes its metrics to.
        if made and os.getpid() == master:
            shutil.rmtree(made, ignore_errors=True)


class GunicornServer:
    """gunicorn, configured from Python rather than its command line, on the socket ``serve`` bound."""

    def __init__(self, ctx: Context, fd: int, workers: int, threads: int, fmt: str, with_scheduler: bool) -> None:
        from gunicorn.app.base import BaseApplication

        settings = ctx.settings
        options: dict[str, Any] = {
            "bind": [f"fd://{fd}"], "workers": workers, "threads": threads, "worker_class": "gthread",
            "proc_name": "loket", "errorlog": "-", "accesslog": None, "loglevel": "info",
            "logger_class": json_gunicorn_logger() if fmt == "json" else "gunicorn.glogging.Logger",
            "graceful_timeout": 20, "keepalive": KEEPALIVE_SECONDS, "control_socket_disable": True,
            "child_exit": _child_exit,
        }

        class App(BaseApplication):
            def load_config(self) -> None:
                for key, value in options.items():
                    if key in self.cfg.settings:  # a setting this gunicorn does not know is left out
                        self.cfg.set(key, value)

            def load(self) -> Callable[..., Any]:
                from web import create_app

                return create_app(settings)

            def run(self) -> None:
                arbiter(self).run()

        arbiter = type("Arbiter", (arbiter_class(),), {"with_scheduler": with_scheduler})
        self.app = App()

    def run(self) -> None:
        self.app.run()


def _child_exit(server: Any, worker: Any) -> None:
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(worker.pid)


def json_gunicorn_logger() -> type:
    """gunicorn's own log lines (workers booting, a worker that timed out) as Loket's JSON lines."""
    from gunicorn.glogging import Logger

    from web.logs import JsonFormatter

    class JsonLogger(Logger):
        def setup(self, cfg: Any) -> None:
            super().setup(cfg)
            for handler in self.error_log.handlers:
                handler.setFormatter(JsonFormatter())

    return JsonLogger


@cache
def arbiter_class() -> type:
    """gunicorn's master, which also keeps one scheduler process (``loket scheduler``) running beside the
    workers: started after them, started again when it ends, stopped with them. (Made on first use: the other
    ``loket`` commands need not import gunicorn.)"""
    from gunicorn.arbiter import Arbiter

    class LoketArbiter(Arbiter):
        with_scheduler = True
        scheduler_pid = 0
        scheduler_started = 0.0

        def manage_workers(self) -> None:
            super().manage_workers()
            if self.with_scheduler:
                self._keep_scheduler()

        def handle_chld(self) -> None:
            self._reap_scheduler()  # before gunicorn's waitpid(-1) takes it for an unknown child
            super().handle_chld()

        def stop(self, graceful: bool = True) -> None:
            pid, self.with_scheduler = self.scheduler_pid, False
            if pid:
                try:
                    os.kill(pid, signal.SIGTERM)
                except ProcessLookupError:
                    pass
            super().stop(graceful)
            deadline = time.monotonic() + 10
            while pid and self._alive(pid) and time.monotonic() < deadline:
                time.sleep(0.1)
            if pid:
                self.log.info("scheduler (pid %s) gestopt", pid)

        def _alive(self, pid: int) -> bool:
            try:
                done, _ = os.waitpid(pid, os.WNOHANG)
            except ChildProcessError:  # already reaped (by gunicorn's waitpid(-1))
                return False
            return not done

        def _reap_scheduler(self) -> None:
            if self.scheduler_pid and not self._alive(self.scheduler_pid):
                self.log.warning("scheduler (pid %s) gestopt; wordt opnieuw gestart", self.scheduler_pid)
                self.scheduler_pid = 0

        def _keep_scheduler(self) -> None:
            self._reap_scheduler()
            if self.scheduler_pid or time.monotonic() - self.scheduler_started < SCHEDULER_RESTART_SECONDS:
                return
            env = {**os.environ, "LOKET_SCHEDULER_PARENT": str(os.getpid())}
            argv = [sys.executable, "-c", "import cli; cli.run()", "scheduler"]
            # The scheduler serves no requests: it does not keep the listening socket open.
            closed = [(os.POSIX_SPAWN_CLOSE, listener.fileno()) for listener in self.LISTENERS]
            self.scheduler_pid = os.posix_spawn(sys.executable, argv, env, file_actions=closed)
            self.scheduler_started = time.monotonic()
            self.log.info("scheduler gestart (pid %s)", self.scheduler_pid)

    return LoketArbiter


@click.command()
@click.option("--once", is_flag=True, help="Eén ronde: handel af wat nu verlopen is, bezorg berichten, stop.")
@click.option("--now", "now_text", default=None, metavar="ISO", help="Doe alsof het dit moment is (met --once).")
@pass_ctx
def scheduler(ctx: Context, once: bool, now_text: str | None) -> None:
    """De scheduler alleen: termijnen, timers en berichten (voor opstellingen met meerdere processen). Van alle
    schedulers op één database werkt er één tegelijk (verkiezing); de andere nemen het binnen enkele seconden
    over als die stopt."""
    from engine.scheduler import fire_due, run_led

    if now_text and not once:
        fail("--now kan alleen samen met --once.")
    require_schema(ctx.db)
    if once:
        moment = parse_moment(now_text) if now_text else clock.now()
        with clock.frozen(moment):
            report = fire_due(ctx.runtime, moment)
            from engine.decision_letters import make_due
            from engine.mail import deliver_due
            from engine.renewals import sweep

            renewals = sweep(ctx.runtime, moment)
            make_due(ctx.runtime)
            mail = deliver_due(ctx.db, ctx.settings.smtp_url, moment)
        click.echo(f"{moment.isoformat()}: {report}; {renewals}; berichten: {mail}")
        return
    from engine import metrics
    from web import logs

    logs.configure(default="json")
    metrics.watch(ctx.db.engine)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    # Started by `loket serve`: end with it, even when it was killed without a chance to stop us.
    parent = int(os.environ.pop("LOKET_SCHEDULER_PARENT", "0") or 0)
    beat = float(os.environ.get("LOKET_LEADER_SECONDS") or 2)
    click.echo("scheduler draait (Ctrl-C stopt)")
    run_led(ctx.runtime, stop, beat=beat, alive=lambda: not parent or os.getppid() == parent)


def parse_moment(text: str) -> datetime:
    try:
        return clock.parse_local(text)
    except ValueError:
        fail(f"'{text}' is geen ISO-tijdstip (bv. 2027-01-15T09:00:00+01:00).")
