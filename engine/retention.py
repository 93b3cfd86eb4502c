"""Retention: remove the personal data of closed cases past their term, and keep the proof.

A route declares its term with process-level properties in its BPMN (``spiffworkflow:properties`` directly
under ``bpmn:process``):

- ``retentionPeriod``: an ISO 8601 period, e.g. ``P3Y`` (TLV data: at most three years after the decision);
- ``retentionFrom``: the user task whose last completion starts the term (``besluit``); without it, or when
  the case never reached that task, the term starts when the case closed;
- ``retentionKeep``: comma-separated data keys that are no personal data and stay for reporting.

An SWV may set its own period per route in its settings: ``{"retention": {"tlv-vso": "P2Y"}}``. It may shorten
the route's (statutory) term, but a longer one holds only with a reason on record (``{"retention_reasons":
{"tlv-vso": "..."}}``); without one the route's own term applies and the rule says so.

A case under a legal hold (engine.legal_hold: an objection or appeal runs) is skipped, whatever its term.

A purge empties every event payload (``purged_at`` set; the chain covers only the payload's hash, so it still
verifies), anonymises the case's data and engine state and the text of its sent messages, and appends a
``data_purged`` event that says what was purged, when and by which rule. Only closed cases are purged.

With the case go its documents (the ``documents`` rows, and each stored file that no remaining row of any case
references) and any concepts of its tasks. What stays is the minimal register: the case row with its kept keys,
the events without payloads, the tasks, the ``data_purged`` record and the access log.

Each run also removes what is not tied to one case's term: login attempts older than
``Settings.login_attempts_days`` (90 by default), concepts of tasks that are no longer open, and TLV register
entries past their einddatum plus margin (engine.tlv_register).
"""

from __future__ import annotations

import calendar
import json
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, cast

from sqlalchemy import CursorResult, Table, exists, func, null, select, update
from sqlalchemy.orm import Session
from sqlalchemy.orm.exc import StaleDataError

from . import bpmn, clock, documents, drafts, events, legal_hold, logins, tlv_register
from .auth import system_actor
from .config import Settings
from .db import Database
from .models import Case, Event, OutboxMessage, RouteVersion
from .vocabulary import CaseStatus, EventType, OutboxStatus

PURGED_TEXT = "[verwijderd na afloop van de bewaartermijn]"
# Engine bookkeeping in a task's internal data that holds no case data (timers, fired events).
_ENGINE_KEYS = {"event_fired", "event_value"}
_PERIOD = re.compile(r"^P(?:(\d+)Y)?(?:(\d+)M)?(?:(\d+)W)?(?:(\d+)D)?$")


@dataclass(frozen=True)
class Policy:
    route: str
    version: int
    period: str
    start: str | None  # the task that starts the term; None: the closing of the case
    keep: tuple[str, ...]
    note: str = ""  # why the SWV's own period does (or does not) hold

    @property
    def rule(self) -> str:
        start = f"de laatste afronding van taak '{self.start}'" if self.start else "het sluiten van het dossier"
        return f"route {self.route} v{self.version}: bewaartermijn {self.period} na {start}{self.note}"


def add_period(moment: datetime, period: str) -> datetime:
    """``moment`` plus an ISO 8601 period of years, months, weeks and days (31 Jan + P1M = 28/29 Feb)."""
    match = _PERIOD.match(period or "")
    if not match or period == "P":
        raise ValueError(f"'{period}' is geen bewaartermijn; gebruik een ISO 8601-periode zoals P3Y of P18M")
    years, months, weeks, days = (int(part or 0) for part in match.groups())
    month_index = moment.month - 1 + months + 12 * years
    year, month = moment.year + month_index // 12, month_index % 12 + 1
    day = min(moment.day, calendar.monthrange(year, month)[1])
    return moment.replace(year=year, month=month, day=day) + timedelta(weeks=weeks, days=days)


_policies: dict[tuple[int, str], dict[str, str]] = {}


def declared(version: RouteVersion) -> dict[str, str]:
    """The process-level properties of a stored version's BPMN (cached: a version does not change)."""
    key = (version.id, version.sha256)
    if key not in _policies:
        props: dict[str, str] = {}
        root = bpmn.parse_xml(version.bpmn.encode())
        process = root.find(f"bpmn:process[@id='{version.process_id}']", bpmn.NS)
        if process is not None:
            for prop in process.iterfind("bpmn:extensionElements/spiffworkflow:properties/spiffworkflow:property",
                                         bpmn.NS):
                if prop.get("name") and prop.get("value") is not None:
                    props[prop.get("name")] = prop.get("value")
        _policies[key] = props
    return _policies[key]


def policy_for(version: RouteVersion, tenant_settings: dict[str, Any] | None = None) -> Policy | None:
    """The retention rule of a route version for one SWV, or None when the route declares none.
    Raises ValueError for a period that is no ISO 8601 period."""
    props = declared(version)
    route = version.route.key
    own = ((tenant_settings or {}).get("retention") or {}).get(route)
    statutory = props.get("retentionPeriod")
    period, note = own or statutory, ""
    if not period:
        return None
    reference = datetime(2000, 1, 1)
    add_period(reference, period)  # refuse a malformed period before anything is purged
    if own and statutory and add_period(reference, own) > add_period(reference, statutory):
        reason = str(((tenant_settings or {}).get("retention_reasons") or {}).get(route) or "").strip()
        if reason:
            note = f" (langer dan de termijn van de route, {statutory}: {reason})"
        else:  # an SWV may shorten the term, never lengthen it without a reason on record
            period, note = statutory, f" (eigen termijn {own} van het SWV genegeerd: langer zonder vastgelegde reden)"
    keep = tuple(k.strip() for k in (props.get("retentionKeep") or "").split(",") if k.strip())
    return Policy(route, version.number, period, props.get("retentionFrom") or None, keep, note)


def term_start(session: Session, case: Case, policy: Policy) -> datetime | None:
    if case.status != CaseStatus.CLOSED or case.closed_at is None:
        return None
    if policy.start:
        decided = session.scalar(select(func.max(Event.at)).where(
            Event.case_id == case.id, Event.type == EventType.TASK_COMPLETED, Event.task_name == policy.start))
        if decided is not None:
            return decided
    return case.closed_at


# ---------------------------------------------------------------- the run


@dataclass(frozen=True)
class Purged:
    case_id: int
    rule: str
    term_start: datetime
    due_at: datetime
    events: int
    documents: int = 0  # document rows removed with the case


@dataclass
class RetentionReport:
    now: datetime
    dry_run: bool
    purged: list[Purged] = field(default_factory=list)
    waiting: int = 0  # closed cases whose term has not passed yet
    without_policy: set[str] = field(default_factory=set)  # routes that declare no term
    errors: list[tuple[int | None, str]] = field(default_factory=list)
    files: int = 0  # stored documents removed from disk (no case refers to their bytes any more)
    logins: int = 0  # login attempts past Settings.login_attempts_days
    drafts: int = 0  # concepts of tasks that are no longer open
    held: int = 0  # cases whose term has passed but that a legal hold keeps
    register: int = 0  # TLV register entries past their einddatum plus margin


def run_retention(db: Database, now: datetime | None = None, *, dry_run: bool = False,
                  settings: Settings | None = None) -> RetentionReport:
    """Purge every closed case whose term has passed; each case in its own transaction. Safe to run from
    several schedulers at once: a case purged by another run is skipped. Then remove old login attempts and the
    concepts of tasks that are no longer open. ``settings``: where documents are stored and how long login
    attempts are kept (default: from the environment)."""
    settings = settings or Settings()
    # UTC, as the database gives it back: the chain hashes the moment as text.
    now = (now or clock.now()).astimezone(UTC)
    report = RetentionReport(now, dry_run)
    due: list[tuple[int, Policy, datetime, datetime]] = []
    with db.read() as session:
        already = exists().where(Event.case_id == Case.id, Event.type == EventType.DATA_PURGED)
        closed = list(session.scalars(select(Case).where(Case.status == CaseStatus.CLOSED, ~already).order_by(Case.id)))
        holds = legal_hold.held(session, [case.id for case in closed])
        for case in closed:
            try:
                policy = policy_for(case.route_version, case.tenant.settings)
            except ValueError as exc:
                report.errors.append((case.id, str(exc)))
                continue
            if policy is None:
                report.without_policy.add(case.route_version.route.key)
                continue
            start = term_start(session, case, policy)
            if start is None:
                continue
            until = add_period(start, policy.period)
            if until <= now and case.id in holds:
                report.held += 1
            elif until <= now:
                due.append((case.id, policy, start, until))
            else:
                report.waiting += 1
    blobs = documents.BlobStore(settings.documents_dir)
    for case_id, policy, start, until in due:
        if dry_run:
            with db.read() as session:
                held = len(documents.of_case(session, case_id))
            report.purged.append(Purged(case_id, policy.rule, start, until, 0, held))
            continue
        shas: list[str] = []
        try:
            with db.transaction() as session:
                current = session.get(Case, case_id)  # None: deleted since it was found due
                count = purge_case(session, current, policy, start, until, now, shas) if current is not None else None
        except StaleDataError:
            continue  # another run purged (or touched) it at the same moment
        if count is not None:
            report.purged.append(Purged(case_id, policy.rule, start, until, count, len(shas)))
            report.files += _discard_blobs(db, blobs, shas, now)
    _sweep(db, settings, now, report)
    return report


# A stored file touched this recently is kept even when no row refers to it: an upload of the same bytes may be
# between writing them and committing its row (documents.add). A later purge of a case that holds them removes it.
BLOB_GRACE = timedelta(hours=1)


def _discard_blobs(db: Database, blobs: documents.BlobStore, shas: list[str], now: datetime) -> int:
    """Remove the files of a purged case's documents that no remaining row references (after its commit)."""
    with db.read() as session:
        orphans = documents.unreferenced(session, shas)
    younger_than = (now - BLOB_GRACE).timestamp()  # the run's moment: the clock itself, unless simulated (--now)
    return sum(blobs.discard(sha, younger_than) for sha in sorted(orphans))


def _sweep(db: Database, settings: Settings, now: datetime, report: RetentionReport) -> None:
    """What is not tied to one case's term: login attempts past their period, concepts of closed tasks."""
    cutoff = now - timedelta(days=settings.login_attempts_days)
    if report.dry_run:
        with db.read() as session:
            report.logins = logins.forget_before(session, cutoff, dry_run=True)
            report.drafts = drafts.forget_closed(session, dry_run=True)
            report.register = tlv_register.forget_expired(session, clock.local_date(now), dry_run=True)
        return
    with db.transaction() as session:
        report.logins = logins.forget_before(session, cutoff)
        report.drafts = drafts.forget_closed(session)
        report.register = tlv_register.forget_expired(session, clock.local_date(now))


def purge_case(session: Session, case: Case, policy: Policy, start: datetime, until: datetime,
               now: datetime, shas: list[str] | None = None) -> int | None:
    """Purge one case inside the caller's transaction; None if it was purged already. The sha256 of the removed
    documents are added to ``shas`` (one per row): their files go once this commits, if no other case holds the
    same bytes."""
    if case.status != CaseStatus.CLOSED or session.scalar(
            select(Event.id).where(Event.case_id == case.id, Event.type == EventType.DATA_PURGED).limit(1)):
        return None
    if legal_hold.current(session, case.id) is not None:  # held since the run looked
        return None
    seqs = list(session.scalars(select(Event.seq).where(
        Event.case_id == case.id, Event.purged_at.is_(None), Event.payload.is_not(None)).order_by(Event.seq)))
    # SQL NULL, not JSON null: the payload is gone, not an empty value.
    session.execute(update(cast(Table, Event.__table__)).where(Event.case_id == case.id, Event.seq.in_(seqs))
                    .values(payload=null(), purged_at=now))
    keep = set(policy.keep)
    kept = {key: value for key, value in (case.data or {}).items() if key in keep}
    case.data = kept
    case.state = anonymise_state(case.state, keep)
    case.incident = None
    result = session.execute(update(OutboxMessage).where(OutboxMessage.case_id == case.id,
                                                         OutboxMessage.status != OutboxStatus.PENDING)
                             .values(subject=PURGED_TEXT, body=PURGED_TEXT))
    messages = result.rowcount if isinstance(result, CursorResult) else 0
    removed = documents.forget_case(session, case.id)
    if shas is not None:
        shas.extend(removed)
    concepts = drafts.forget_case(session, case.id)
    events.append(session, case, EventType.DATA_PURGED, system_actor(case.tenant_id), now, payload={
        "rule": policy.rule, "route": policy.route, "version": policy.version, "period": policy.period,
        "from": policy.start or "sluiting", "term_start": start.isoformat(), "due_at": until.isoformat(),
        "purged_seqs": seqs, "anonymised": ["gegevens", "engine-toestand", f"berichten ({messages})"],
        "removed": [f"documenten ({len(removed)})", f"concepten ({concepts})"],
        "kept": sorted(kept),
    })
    session.flush()
    return len(seqs)


def anonymise_state(state: str, keep: set[str]) -> str:
    """The engine state with every task's data reduced to the kept keys; the task tree (which steps ran)
    stays, so the case can still be drawn."""
    if not state:
        return state
    workflow = json.loads(state)
    _anonymise_workflow(workflow, keep)
    return json.dumps(workflow, separators=(",", ":"))


def _anonymise_workflow(workflow: dict[str, Any], keep: set[str]) -> None:
    workflow["data"] = _kept(workflow.get("data"), keep)
    workflow["bpmn_events"] = []
    workflow["correlations"] = {}
    for task in (workflow.get("tasks") or {}).values():
        task["data"] = _kept(task.get("data"), keep)
        delta = task.get("delta")
        if isinstance(delta, dict):
            delta["updates"] = _kept(delta.get("updates"), keep)
            delta["deletions"] = [key for key in delta.get("deletions") or [] if key in keep]
        task["internal_data"] = {k: v for k, v in (task.get("internal_data") or {}).items() if k in _ENGINE_KEYS}
    for sub in (workflow.get("subprocesses") or {}).values():
        _anonymise_workflow(sub, keep)


def _kept(data: Any, keep: set[str]) -> dict[str, Any]:
    return {key: value for key, value in data.items() if key in keep} if isinstance(data, dict) else {}
