"""A Loket server for bench/api.py: what `loket serve` runs (the app, waitress with 8 threads, the scheduler in
the same process), plus a count of the SQL it sends, per kind of request.

Bench-only: the counts are served at ``GET /_bench/stats`` and zeroed by ``POST /_bench/stats``; it listens on
127.0.0.1 only.

    .venv/bin/python bench/api_server.py --database URL --port P [--no-scheduler]
"""

from __future__ import annotations

import argparse
import json
import re
import signal
import sys
import threading
import time
from collections import defaultdict
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlalchemy import event  # noqa: E402
from waitress import create_server  # noqa: E402

from engine import services  # noqa: E402
from engine.config import Settings  # noqa: E402
from engine.scheduler import Scheduler  # noqa: E402
from web import create_app  # noqa: E402

# Requests by what they do; SQL sent outside a request (the scheduler's threads) counts as "background".
KINDS = [("POST", re.compile(r"/api/v1/tasks/[^/]+/complete$"), "complete"),
         ("POST", re.compile(r"/api/v1/cases$"), "start"),
         ("GET", re.compile(r"/api/v1/tasks$"), "inbox"),
         ("GET", re.compile(r"/api/v1/cases/\d+$"), "read")]


class Stats:
    """Statements, commits, requests and server time per kind; a lock because waitress serves in threads."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.local = threading.local()
        self.reset()

    def reset(self) -> None:
        with self.lock:
            self.counts: dict[str, dict[str, float]] = defaultdict(lambda: defaultdict(float))
            self.cpu = time.process_time()
            self.wall = time.perf_counter()

    def add(self, what: str, amount: float = 1, kind: str | None = None) -> None:
        kind = kind or getattr(self.local, "kind", None) or "background"
        with self.lock:
            self.counts[kind][what] += amount

    def snapshot(self) -> dict[str, Any]:
        with self.lock:
            return {"kinds": {k: dict(v) for k, v in self.counts.items()},
                    "cpu_seconds": time.process_time() - self.cpu, "wall_seconds": time.perf_counter() - self.wall}


def instrument(app: Any, stats: Stats) -> Callable[..., Iterable[bytes]]:
    engine = app.extensions["loket"].db.engine
    event.listen(engine, "before_cursor_execute", lambda *args, **kwargs: stats.add("statements"))
    event.listen(engine, "commit", lambda conn: stats.add("commits"))

    def wsgi(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        method, path = environ["REQUEST_METHOD"], environ.get("PATH_INFO", "")
        if path == "/_bench/stats":
            if method == "POST":
                stats.reset()
            body = json.dumps(stats.snapshot()).encode()
            start_response("200 OK", [("Content-Type", "application/json"), ("Content-Length", str(len(body)))])
            return [body]
        kind = next((k for m, pattern, k in KINDS if m == method and pattern.search(path)), "other")
        stats.local.kind = kind
        t0 = time.perf_counter()
        try:
            # Flask runs the view inside this call, so all of a request's SQL is counted under its kind.
            return list(app(environ, start_response))
        finally:
            stats.local.kind = None
            stats.add("requests", kind=kind)
            stats.add("seconds", time.perf_counter() - t0, kind=kind)

    return wsgi


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--database", required=True)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--no-scheduler", action="store_true", help="the API alone, without the scheduler")
    args = parser.parse_args()

    app = create_app(Settings(database_url=args.database))
    if not services.names():
        # A server without handlers sends every TLV case to incident at registreer_tlv: say so, and measure
        # the API path with them, as `loket serve` is meant to run.
        print("note: de app registreerde geen service-handlers; de bench laadt ze zelf (services.load())",
              flush=True)
        services.load()
    stats = Stats()
    wsgi = instrument(app, stats)
    scheduler = None if args.no_scheduler else Scheduler(app.extensions["loket"])
    if scheduler:
        scheduler.start()
    server = create_server(wsgi, host="127.0.0.1", port=args.port, threads=8, ident="Loket")
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    print(f"listening on 127.0.0.1:{args.port}", flush=True)
    try:
        server.run()
    finally:
        if scheduler:
            scheduler.shutdown()
        server.close()


if __name__ == "__main__":
    main()
