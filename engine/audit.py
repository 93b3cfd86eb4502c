"""Audit: prove that a case's history was not altered.

``verify_case`` walks a case's event chain and names every event where it breaks: an edited row (any
column the chain covers, the payload through its hash, the row order), a deleted row, an inserted row, or a
payload removed without a retention run that accounts for it. Rebuilding the case from its history is in
``engine.replay``; this module re-exports its entry points so callers need one import, and joins the two in
the timeline.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from itertools import groupby
from typing import TYPE_CHECKING, Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from . import statediff
from .divergence import Step
from .events import GENESIS, canonical, chain_hash, sha256
from .migration_plan import first_version
from .models import Case, Event
from .replay import NotReplayable, Replay, Replayer, Run, replay, state_at  # noqa: F401  (re-exported)
from .vocabulary import INPUT_EVENTS

if TYPE_CHECKING:
    from .cases import Runtime

# Who may replay a case, see its access log and export its history. An auditor reads and changes nothing:
# no action of the engine lets the role through.
AUDIT_ROLES = ("auditor", "beheerder")

# At most this many missing sequence numbers are listed one by one; a larger hole is one line.
_LIST_MISSING = 20


@dataclass(frozen=True)
class Break:
    """One place where a case's chain is broken."""

    seq: int | None
    kind: str  # edited | payload | link | missing | inserted | head | order | purge
    message: str

    def to_json(self) -> dict[str, Any]:
        return {"seq": self.seq, "kind": self.kind, "message": self.message}


@dataclass
class ChainReport:
    case_id: int
    events: int
    head: str
    breaks: list[Break] = field(default_factory=list)

    @property
    def intact(self) -> bool:
        return not self.breaks

    def to_json(self) -> dict[str, Any]:
        return {"case_id": self.case_id, "intact": self.intact, "events": self.events, "head": self.head,
                "breaks": [b.to_json() for b in self.breaks]}


def _event_rows(session: Session, *where: Any) -> Iterator[Any]:
    # Plain rows, not ORM objects: a full verify reads every event, and rows are several times cheaper.
    columns = Event.__table__.columns
    query = select(*columns).where(*where).order_by(Event.case_id, Event.seq, Event.id)
    return iter(session.execute(query.execution_options(yield_per=2000)))


def verify_case(session: Session, case: Case) -> ChainReport:
    return check_chain(case.id, case.event_seq, case.last_hash, list(_event_rows(session, Event.case_id == case.id)))


def verify_all(session: Session, tenant_id: int | None = None) -> Iterator[ChainReport]:
    """Every case's chain (of one SWV, or of all), in case order, reading each event once."""
    cases = select(Case.id, Case.event_seq, Case.last_hash).order_by(Case.id)
    where = []
    if tenant_id is not None:
        cases = cases.where(Case.tenant_id == tenant_id)
        where.append(Event.tenant_id == tenant_id)
    heads = list(session.execute(cases))
    groups = groupby(_event_rows(session, *where), key=lambda row: row.case_id)
    current = next(groups, None)
    for case_id, head_seq, head_hash in heads:
        # Events whose case_id points elsewhere are found by that case's own check (as missing or inserted).
        while current is not None and current[0] < case_id:
            current = next(groups, None)
        rows: list[Any] = []
        if current is not None and current[0] == case_id:
            rows = list(current[1])
            current = next(groups, None)
        yield check_chain(case_id, head_seq, head_hash, rows)


def replay_all(runtime: Runtime, session: Session, case_ids: Iterable[int]) -> Iterator[Replay]:
    """Replay each case and compare every projection row with the stored ones (cases whose personal data
    was purged after their term are skipped: their chain is all that can be checked)."""
    replayer = Replayer(runtime, session)
    for case_id in case_ids:
        case = session.get(Case, case_id)
        if case is None:
            continue
        try:
            yield replayer.run(case)
        except NotReplayable:
            continue
        finally:
            session.expunge_all()  # a full check reads every case once: keep the session small


def check_chain(case_id: int, head_seq: int, head_hash: str, rows: Iterable[Any]) -> ChainReport:
    """Check one case's events (in seq order) against each other and against the case's chain head."""
    rows = list(rows)
    breaks: list[Break] = []
    purges = _purge_records(rows)
    expected, prev_hash, prev_ok, prev_id, hash_at_head = 1, GENESIS, True, None, None
    for row in rows:
        problems: list[tuple[str, str]] = []
        if row.seq > head_seq:
            problems.append(("inserted", f"event {row.seq} staat na de kop van de keten van het dossier "
                                         f"(kop: {head_seq}); het is later ingevoegd"))
        if row.seq > expected:
            if expected <= head_seq:
                breaks.extend(_missing(expected, min(row.seq - 1, head_seq), "verwijderd"))
            prev_ok = False  # the link of this row is then broken by the hole, not by the row itself
        if row.prev_hash != prev_hash and prev_ok:
            problems.append(("link", f"event {row.seq} verwijst niet naar het event ervoor (ingevoegd, "
                                      "verwijderd of verplaatst)"))
        if chain_hash(row.prev_hash, row) != row.hash:
            problems.append(("edited", f"event {row.seq} is gewijzigd: de hash klopt niet meer met de inhoud"))
        problems.extend(_payload_problems(row, purges))
        if prev_id is not None and row.id < prev_id:
            problems.append(("order", f"event {row.seq} staat niet in de volgorde waarin het is toegevoegd"))
        breaks.extend(Break(row.seq, kind, message) for kind, message in problems)
        if row.seq == head_seq:
            hash_at_head = row.hash
        prev_hash, prev_ok, prev_id = row.hash, not problems, row.id
        expected = max(expected, row.seq + 1)
    last = min(expected - 1, head_seq)
    if last < head_seq:
        breaks.extend(_missing(last + 1, head_seq, f"de keten stopt bij {last}, het dossier verwijst naar {head_seq}"))
    elif head_seq and hash_at_head is not None and hash_at_head != head_hash:
        breaks.append(Break(head_seq, "head", f"de kop van het dossier verwijst niet naar event {head_seq}"))
    breaks.sort(key=lambda b: (b.seq if b.seq is not None else 0))
    return ChainReport(case_id, len(rows), head_hash, breaks)


def _missing(first: int, last: int, why: str) -> list[Break]:
    if last - first + 1 > _LIST_MISSING:
        return [Break(first, "missing", f"events {first} t/m {last} ontbreken ({why})")]
    return [Break(seq, "missing", f"event {seq} ontbreekt ({why})") for seq in range(first, last + 1)]


def _purge_records(rows: list[Any]) -> dict[int, Any]:
    """seq -> the moment a retention run emptied it, from the data_purged events (whose own payloads are
    never purged, so the chain protects this list)."""
    out: dict[int, Any] = {}
    for row in rows:
        if row.type == "data_purged" and row.purged_at is None and isinstance(row.payload, dict):
            for seq in row.payload.get("purged_seqs") or []:
                out[seq] = row.at
    return out


def _payload_problems(row: Any, purges: dict[int, Any]) -> list[tuple[str, str]]:
    if row.purged_at is None:
        if sha256(canonical(row.payload)) != row.payload_hash:
            return [("payload", f"de gegevens van event {row.seq} zijn gewijzigd (payload-hash klopt niet)")]
        return []
    if row.payload is not None:
        return [("purge", f"event {row.seq} is als verwijderd gemarkeerd maar bevat nog gegevens")]
    if purges.get(row.seq) != row.purged_at:
        return [("purge", f"de gegevens van event {row.seq} zijn verwijderd zonder bewaartermijn-run die dat "
                          "vastlegt")]
    return []


@dataclass
class _PageRun(Run):
    """A replay for one page of the timeline. The case data after each event is what makes a long history
    big, and a page needs it only for its own events and the one before them: of the earlier events the
    replay keeps the seq and type (a divergence names its event from them), not the data."""

    keep_from: int = 0

    def feed(self, row: Event) -> bool:
        ok = super().feed(row)
        steps = self.steps
        if len(steps) >= 2 and steps[-1].seq < self.keep_from and steps[-2].data is not None:
            steps[-2].data = None  # a later event before the page took over as the one the page starts from
        return ok


class _PageReplayer(Replayer):
    def trace_page(self, case: Case, rows: list[Event], keep_from: int) -> tuple[list[Step], dict[str, Any] | None]:
        """As ``Replayer.trace``, keeping the case data only from the event before ``keep_from`` on."""
        start = self.specs.get(first_version(self.session, case, rows))
        run = _PageRun(self.runtime, self.session, case, start, trace=True, keep_from=keep_from, specs=self.specs)
        self._play(run, rows, complete=True)
        return run.steps, run.divergence


def timeline(runtime: Runtime, session: Session, case: Case, offset: int = 0,
             limit: int | None = None) -> dict[str, Any]:
    """Every event with actor, role, time, the data submitted and what changed in the case data; with
    ``offset``/``limit`` one page of them (oldest first), ``total`` the number of events. The chain and the
    replay still cover the whole history (``intact`` and ``divergence`` are about all events), but only the
    page's events are copied, titled and compared: a page of a long history costs a page."""
    replayer = _PageReplayer(runtime, session)
    rows = replayer.events(case)
    chain = check_chain(case.id, case.event_seq, case.last_hash, rows)
    broken = {b.seq for b in chain.breaks}
    purged = any(row.purged_at is not None for row in rows)
    page = rows[offset:] if limit is None else rows[offset:offset + limit]
    first = page[0].seq if page else None
    keep_from = first if first is not None else (rows[-1].seq + 1 if rows else 0)
    steps, divergence = ([], None) if purged else replayer.trace_page(case, rows, keep_from)
    # The case data after each replayed event; of the events before the page only the last one is needed, as
    # what the page's first input changed is measured against it.
    after: dict[int, Any] = {}
    before: dict[str, Any] = {}
    for step in steps:
        if first is not None and step.seq >= first:
            after[step.seq] = step.data
        elif step.data is not None:
            before = step.data
    del steps
    titles = replayer.specs.get(case.route_version).titles
    out: list[dict[str, Any]] = []
    for row in page:
        payload = copy.deepcopy(row.payload) if row.payload is not None else None
        changes = None
        if row.seq in after:
            current = after[row.seq] or {}
            changes = statediff.changes(before, current) if row.type in INPUT_EVENTS else []
            before = current
        out.append({
            "seq": row.seq, "type": row.type, "at": row.at.isoformat(), "actor": row.actor, "actor_id": row.actor_id,
            "role": row.role,
            "task": ({"id": row.task_id, "name": row.task_name, "index": row.task_index,
                      "title": titles.get(row.task_name, row.task_name)} if row.task_name else None),
            "submitted": (payload or {}).get("data") if payload is not None else None,
            "services": (payload or {}).get("services") if payload is not None else None,
            "details": ({k: v for k, v in payload.items() if k not in ("data", "services")}
                        if payload is not None else None),
            "changes": changes,
            "purged_at": row.purged_at.isoformat() if row.purged_at else None,
            "hash": row.hash,
            "intact": row.seq not in broken,
        })
    return {"case_id": case.id, "intact": chain.intact, "replayed": not purged, "divergence": divergence,
            "total": len(rows), "events": out}
