"""Loket's words, in one place: the statuses of cases, tasks and deadlines, the roles and the event types.

They are ``StrEnum``s, so they are stored and compared as the plain strings the database, the JSON API and
the event log have always held (``CaseStatus.OPEN == "open"``).
"""

from __future__ import annotations

from enum import StrEnum


class CaseStatus(StrEnum):
    OPEN = "open"
    SUSPENDED = "suspended"  # opgeschort: the case's clock stands still
    INCIDENT = "incident"  # a route, handler or term failed; a beheerder retries it
    CLOSED = "closed"


class TaskStatus(StrEnum):
    READY = "ready"
    CLAIMED = "claimed"
    COMPLETED = "completed"
    CANCELLED = "cancelled"  # the route moved on without it (a boundary event, the case ended)


# A task in someone's inbox.
OPEN_TASK = (TaskStatus.READY, TaskStatus.CLAIMED)


class DeadlineKind(StrEnum):
    WARNING = "warning"  # a task's term is nearly over
    ESCALATION = "escalation"  # a task's term is over
    CASE = "case"  # the SWV's doorlooptijd of the whole case is over
    TIMER = "timer"  # a BPMN timer of the route
    DECISION_WARNING = "decision_warning"  # the legal decision term (Awb 4:13) is nearly over (engine.decision)
    DECISION = "decision"  # the legal decision term is over


class DeadlineStatus(StrEnum):
    PENDING = "pending"
    FIRED = "fired"
    CANCELLED = "cancelled"


class Role(StrEnum):
    SCHOOL = "school"
    CONSULENT = "consulent"
    COMMISSIE = "commissie"
    BESTUURDER = "bestuurder"
    LEERPLICHT = "leerplicht"
    PROCESBEHEERDER = "procesbeheerder"
    AUDITOR = "auditor"
    BEHEERDER = "beheerder"


# The role the scheduler and other automatic work act in (never a user's role).
SYSTEM_ROLE = "systeem"

ROLES = tuple(role.value for role in Role)


class EventType(StrEnum):
    CASE_STARTED = "case_started"
    TASK_CLAIMED = "task_claimed"
    TASK_UNCLAIMED = "task_unclaimed"
    TASK_DELEGATED = "task_delegated"  # a claimed task handed to a named colleague (payload: to, to_email)
    TASK_COMPLETED = "task_completed"
    TIMER_FIRED = "timer_fired"
    DEADLINE_WARNED = "deadline_warned"
    DEADLINE_ESCALATED = "deadline_escalated"
    CASE_SUSPENDED = "case_suspended"
    CASE_RESUMED = "case_resumed"
    CASE_EXTENDED = "case_extended"
    CASE_RETRIED = "case_retried"
    INCIDENT = "incident"
    CASE_COMPLETED = "case_completed"
    DATA_PURGED = "data_purged"
    DOCUMENT_ADDED = "document_added"
    DECISION_TERM_EXTENDED = "decision_term_extended"  # Awb 4:14 notice: the decision term moved (engine.decision)
    DECISION_LETTER_MADE = "decision_letter_made"  # the beschikking PDF made after the decision: its sha256
    LEGAL_HOLD_SET = "legal_hold_set"  # an objection or appeal runs: retention keeps the case (engine.legal_hold)
    LEGAL_HOLD_LIFTED = "legal_hold_lifted"  # it is over: the case's own retention term applies again
    CASE_MIGRATED = "case_migrated"  # the case moved to another version of its route (engine.migration)
    CASE_LINKED = "case_linked"  # a case was started from this one (engine.links): {case_id, route, relation}
    LINKED_CASE_CLOSED = "linked_case_closed"  # that case closed: {case_id, route, relation, outcome}


class OutboxStatus(StrEnum):
    PENDING = "pending"  # waits for (another) delivery attempt
    SENT = "sent"  # the mail server accepted it
    FAILED = "failed"  # permanently refused; ``loket outbox retry`` puts it back


# Inputs run the engine; derived events are what an input made happen, logged right after it.
INPUT_EVENTS = frozenset({EventType.CASE_STARTED, EventType.TASK_COMPLETED, EventType.CASE_RETRIED,
                          EventType.TIMER_FIRED, EventType.CASE_RESUMED})
DERIVED_EVENTS = frozenset({EventType.INCIDENT, EventType.CASE_COMPLETED})
