"""The database schema: SQLAlchemy 2 typed declarative mappings.

Every row that holds case data carries a ``tenant_id``; queries always filter on it.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    Date,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

# The column types and the declarative Base live in engine.orm, the web app's tables in engine.models_web (this
# module is at its size limit); re-exported here, so the schema is whole wherever callers import it from.
from .models_links import CaseLink  # noqa: F401  (linked cases, engine.links)
from .models_routes import RouteDraft  # noqa: F401
from .models_swv import TenantEvent  # noqa: F401  (the SWV configuration history, engine.tenant_events)
from .models_tlv import TlvRegister  # noqa: F401  (the TLV register, engine.tlv_register)
from .models_web import LoginAttempt, TaskDraft  # noqa: F401
from .orm import Base, JSONType, UTCDateTime  # noqa: F401
from .vocabulary import ROLES  # noqa: F401  (re-exported: the CLI offers them as choices)

REGIONS = ("noord", "midden", "zuid")


class Tenant(Base):
    """A samenwerkingsverband."""

    __tablename__ = "tenants"
    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    region: Mapped[str] = mapped_column(String(10))
    # Per-SWV policy: case terms per route, how often a case may be extended, ...
    settings: Mapped[dict[str, Any]] = mapped_column(default=dict)
    created_at: Mapped[datetime]


class School(Base):
    __tablename__ = "schools"
    __table_args__ = (UniqueConstraint("tenant_id", "code"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id"))
    code: Mapped[str] = mapped_column(String(32))
    name: Mapped[str] = mapped_column(String(200))


class User(Base):
    __tablename__ = "users"
    id: Mapped[int] = mapped_column(primary_key=True)
    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id"))
    email: Mapped[str] = mapped_column(String(254), unique=True)
    # The primary role (the first given); every role the user holds, this one included, is in user_roles.
    role: Mapped[str] = mapped_column(String(20))
    school_id: Mapped[int | None] = mapped_column(ForeignKey("schools.id"))
    password_hash: Mapped[str] = mapped_column(String(200))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime]

    tenant: Mapped[Tenant] = relationship(lazy="joined")
    school: Mapped[School | None] = relationship(lazy="joined")
    role_rows: Mapped[list[UserRole]] = relationship(lazy="selectin", cascade="all, delete-orphan")

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        # The primary role is always one of the user's roles, also for code that only names ``role``.
        if self.role and self.role not in {r.role for r in self.role_rows}:
            self.role_rows.insert(0, UserRole(role=self.role))

    @property
    def roles(self) -> frozenset[str]:
        """Every role the user holds; the primary role always among them."""
        return frozenset(r.role for r in self.role_rows) | {self.role}


class UserRole(Base):
    """One role a user holds (migration 0005). A task's lane picks which of them acts."""

    __tablename__ = "user_roles"
    __table_args__ = (Index("ix_user_roles_role", "role", "user_id"),)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)
    role: Mapped[str] = mapped_column(String(20), primary_key=True)


class ApiToken(Base):
    """Only the sha256 of a token is kept; the token itself is shown once. A token is live until it expires or
    is revoked; ``last_used_at`` is noted at most once a minute (see ``engine.auth``)."""

    __tablename__ = "api_tokens"
    __table_args__ = (Index("ix_api_tokens_user", "user_id"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[datetime]
    expires_at: Mapped[datetime]
    last_used_at: Mapped[datetime | None]
    revoked_at: Mapped[datetime | None]


class Route(Base):
    __tablename__ = "routes"
    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(String(64), unique=True)
    title: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime]


class RouteVersion(Base):
    """An immutable deployed definition, identified by the sha256 of its BPMN and forms."""

    __tablename__ = "route_versions"
    __table_args__ = (UniqueConstraint("route_id", "number"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    route_id: Mapped[int] = mapped_column(ForeignKey("routes.id"))
    number: Mapped[int]
    sha256: Mapped[str] = mapped_column(String(64), unique=True)
    process_id: Mapped[str] = mapped_column(String(200))
    title: Mapped[str] = mapped_column(String(200))
    # The large columns are deferred: the engine reads them once per process (engine.bpmn.loaded).
    bpmn: Mapped[str] = mapped_column(Text, deferred=True)
    forms: Mapped[dict[str, Any]] = mapped_column(deferred=True)
    # SpiffWorkflow's serialized spec (and subprocess specs), stored once per version.
    spec: Mapped[str] = mapped_column(Text, deferred=True)
    deployed_at: Mapped[datetime]
    # Who published it (from a draft, engine.publish) and why; none for a deploy from the command line.
    published_by_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", name="fk_route_versions_published_by_id_users"))
    note: Mapped[str | None] = mapped_column(Text)

    route: Mapped[Route] = relationship(lazy="joined")


# engine.name_search's expression for PostgreSQL as PostgreSQL writes it back (so the schema comparison agrees).
_PUPIL_NAME = ("lower((((COALESCE(data #>> '{leerling,voornaam}'::text[], ''::text) || ' '::text) || "
               "COALESCE(data #>> '{leerling,tussenvoegsel}'::text[], ''::text)) || ' '::text) || "
               "COALESCE(data #>> '{leerling,achternaam}'::text[], ''::text))")


class Case(Base):
    __tablename__ = "cases"
    __table_args__ = (Index("ix_cases_tenant_status", "tenant_id", "status"),
                      # The case list, newest first (engine.case_list; migration 0005).
                      Index("ix_cases_tenant_opened", "tenant_id", "opened_at", "id"),
                      Index("ix_cases_tenant_school_opened", "tenant_id", "school_id", "opened_at", "id"),
                      # The pupil's name search on PostgreSQL (engine.name_search; migration 0009, which makes
                      # SQLite's own version of it, an expression index its schema comparison leaves aside).
                      Index("ix_cases_pupil_name", text(_PUPIL_NAME), postgresql_using="gin",
                            postgresql_ops={"": "gin_trgm_ops"}).ddl_if(dialect="postgresql"))
    id: Mapped[int] = mapped_column(primary_key=True)
    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id"))
    school_id: Mapped[int | None] = mapped_column(ForeignKey("schools.id"))
    route_version_id: Mapped[int] = mapped_column(ForeignKey("route_versions.id"), index=True)
    # open | incident | suspended | closed
    status: Mapped[str] = mapped_column(String(20))
    outcome: Mapped[str | None] = mapped_column(String(40))
    # What a reader sees: the case's current process data (the engine state holds the truth).
    data: Mapped[dict[str, Any]]
    # SpiffWorkflow's serialized workflow without its spec.
    state: Mapped[str] = mapped_column(Text)
    incident: Mapped[dict[str, Any] | None]
    version: Mapped[int] = mapped_column(Integer, nullable=False)
    event_seq: Mapped[int] = mapped_column(Integer, default=0)
    last_hash: Mapped[str] = mapped_column(String(64))
    opened_at: Mapped[datetime]
    closed_at: Mapped[datetime | None]
    # The case clock: opschorting and verlenging.
    suspended_at: Mapped[datetime | None]
    suspended_seconds: Mapped[int] = mapped_column(Integer, default=0)
    extensions_used: Mapped[int] = mapped_column(Integer, default=0)
    due_at: Mapped[datetime | None]
    # The legal decision clock and the decision record (engine.decision; migration 0011).
    decision: Mapped[dict[str, Any] | None]

    route_version: Mapped[RouteVersion] = relationship(lazy="joined")
    school: Mapped[School | None] = relationship(lazy="joined")
    tenant: Mapped[Tenant] = relationship(lazy="joined")

    # Optimistic locking: a second writer with a stale version gets StaleDataError (-> 409).
    __mapper_args__ = {"version_id_col": version}


class Task(Base):
    """Projection of the user tasks of a case, rewritten by every action on the case."""

    __tablename__ = "tasks"
    __table_args__ = (
        Index("ix_tasks_inbox", "tenant_id", "status", "lane", "due_at"),
        Index("ix_tasks_assignee", "assignee_id", "status"),
        # Need to know (engine.visibility; migration 0005): cases a lane is party to, cases with an escalation.
        Index("ix_tasks_lane_case", "tenant_id", "lane", "case_id"),
        Index("ix_tasks_escalated_case", "tenant_id", "escalated", "case_id"),
        # The inbox's counts and page ids from the index alone; separated duties (migration 0009). The pupil's
        # name index (ix_cases_pupil_name, engine.name_search) differs per database and lives in 0009 only.
        Index("ix_tasks_open_inbox", "tenant_id", "status", "lane", "assignee_id", "school_id", "route_key", "name",
              "case_id", "escalated", "due_at", "created_at", "id"),
        Index("ix_tasks_done_case", "completed_by", "name", "case_id"),
    )
    id: Mapped[str] = mapped_column(String(36), primary_key=True)  # SpiffWorkflow's task uuid
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), index=True)
    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id"))
    school_id: Mapped[int | None] = mapped_column(ForeignKey("schools.id"))
    route_key: Mapped[str] = mapped_column(String(64))
    name: Mapped[str] = mapped_column(String(200))  # the BPMN task id, e.g. "dossiercheck"
    title: Mapped[str] = mapped_column(String(200))
    lane: Mapped[str | None] = mapped_column(String(20))
    # ready | claimed | completed | cancelled
    status: Mapped[str] = mapped_column(String(20))
    assignee_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    due_at: Mapped[datetime | None]
    warn_at: Mapped[datetime | None]
    escalate_to: Mapped[str | None] = mapped_column(String(20))
    escalated: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime]
    completed_at: Mapped[datetime | None]
    completed_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))

    assignee: Mapped[User | None] = relationship(foreign_keys=[assignee_id], lazy="joined")


class Deadline(Base):
    """A moment the scheduler must act on. The table is the truth; APScheduler only wakes up for it."""

    __tablename__ = "deadlines"
    __table_args__ = (
        # The scheduler: the earliest pending deadline, and the due ones in order.
        Index("ix_deadlines_due", "status", "due_at"),
        # A case read: its pending deadlines by due date (also serves every lookup by case alone).
        Index("ix_deadlines_case", "case_id", "status", "due_at"),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"))
    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id"))
    task_id: Mapped[str | None] = mapped_column(String(36))
    # warning | escalation | case | timer
    kind: Mapped[str] = mapped_column(String(20))
    due_at: Mapped[datetime]
    # pending | fired | cancelled
    status: Mapped[str] = mapped_column(String(20), default="pending")
    fired_at: Mapped[datetime | None]
    fired_by: Mapped[str | None] = mapped_column(String(100))


class Event(Base):
    """The append-only, hash-chained history of a case: the audit truth.

    The chain covers ``payload_hash``, not the payload itself, so personal data can be purged
    after its retention period while the chain still verifies.
    """

    __tablename__ = "events"
    __table_args__ = (UniqueConstraint("case_id", "seq"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"))
    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id"), index=True)
    seq: Mapped[int]
    type: Mapped[str] = mapped_column(String(40))
    at: Mapped[datetime]
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    actor: Mapped[str] = mapped_column(String(254))
    role: Mapped[str] = mapped_column(String(20))
    task_id: Mapped[str | None] = mapped_column(String(36))
    task_name: Mapped[str | None] = mapped_column(String(200))
    task_index: Mapped[int | None]
    payload: Mapped[dict[str, Any] | None]
    payload_hash: Mapped[str] = mapped_column(String(64))
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64))
    purged_at: Mapped[datetime | None]


class AccessLog(Base):
    """Who read what, when, through which channel; hash-chained per chain (a case, or a reader)."""

    __tablename__ = "access_log"
    __table_args__ = (Index("ix_access_case", "tenant_id", "case_id"), Index("ix_access_user", "tenant_id", "user_id"),
                      Index("ix_access_chain", "tenant_id", "chain", "id"))
    id: Mapped[int] = mapped_column(primary_key=True)
    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id"))
    # Which chain the entry belongs to (engine.access.chain_key): "case:12", "user:7", "actor:cli:x", or
    # "swv" for the one chain per SWV of before migration 0003.
    chain: Mapped[str] = mapped_column(String(300))
    case_id: Mapped[int | None] = mapped_column(ForeignKey("cases.id"))
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    actor: Mapped[str] = mapped_column(String(254))
    role: Mapped[str] = mapped_column(String(20))
    at: Mapped[datetime]
    what: Mapped[str] = mapped_column(String(200))
    channel: Mapped[str] = mapped_column(String(20))
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64))


class OutboxMessage(Base):
    """A notification waiting to be sent. Kept until delivered, so a mail server that is down loses nothing."""

    __tablename__ = "outbox"
    __table_args__ = (Index("ix_outbox_pending", "status", "next_attempt_at"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id"))
    case_id: Mapped[int | None] = mapped_column(ForeignKey("cases.id"))
    to_address: Mapped[str] = mapped_column(String(254))
    subject: Mapped[str] = mapped_column(String(300))
    body: Mapped[str] = mapped_column(Text)
    # pending | sent | failed
    status: Mapped[str] = mapped_column(String(20), default="pending")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime]
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime]
    sent_at: Mapped[datetime | None]
    # A decision letter (engine.letters) sent with the mail; migration 0011.
    attachment_name: Mapped[str | None] = mapped_column(String(200))
    attachment: Mapped[bytes | None] = mapped_column(LargeBinary)


class DayOff(Base):
    """A per-SWV extra day off (studiedag, regional deviation) on top of the shipped calendar."""

    __tablename__ = "days_off"
    __table_args__ = (UniqueConstraint("tenant_id", "date"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id"))
    date: Mapped[date] = mapped_column(Date)
    name: Mapped[str] = mapped_column(String(200))


class CalendarSetting(Base):
    """An SWV's own calendar rules (``school_id`` empty) or one school's (engine.calendar_settings): its
    municipalities, 5 May and Goede Vrijdag as werkdag or day off, advisory holidays switched on or off; for a
    school also its own region and days off. Empty means: as the SWV (for a school) or Loket's default."""

    __tablename__ = "calendar_settings"
    __table_args__ = (UniqueConstraint("tenant_id", "school_id"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id"))
    school_id: Mapped[int | None] = mapped_column(ForeignKey("schools.id"))
    gemeenten: Mapped[list[Any]] = mapped_column(default=list)
    region: Mapped[str | None] = mapped_column(String(10))
    may5_off: Mapped[bool | None] = mapped_column(Boolean)
    good_friday_off: Mapped[bool | None] = mapped_column(Boolean)
    advisory: Mapped[dict[str, Any]] = mapped_column(default=dict)  # "meivakantie-week2[:2026-2027]" -> on
    days_off: Mapped[dict[str, Any]] = mapped_column(default=dict)  # a school's own: "2027-02-08" -> name
    updated_at: Mapped[datetime]


class Counter(Base):
    """Numbering that must be gap-free and unique per SWV, e.g. TLV numbers per year."""

    __tablename__ = "counters"
    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id"), primary_key=True)
    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[int] = mapped_column(Integer, default=0)


class AccessHead(Base):
    """The head of one access-log chain. Recording a read locks this row, so concurrent readers of the
    same case append one after the other (the chain never forks) while readers of other cases do not wait,
    and a deleted last entry shows against it."""

    __tablename__ = "access_heads"
    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id"), primary_key=True)
    chain: Mapped[str] = mapped_column(String(300), primary_key=True)
    entries: Mapped[int] = mapped_column(Integer, default=0)
    last_hash: Mapped[str] = mapped_column(String(64))


class Document(Base):
    """A document on a case (engine.documents): bytes stored by sha256 on disk; ``event_seq`` its document_added."""

    __tablename__ = "documents"
    __table_args__ = (UniqueConstraint("case_id", "event_seq"), Index("ix_documents_tenant_sha", "tenant_id", "sha256"))
    id: Mapped[int] = mapped_column(primary_key=True)
    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id"))
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"))
    event_seq: Mapped[int] = mapped_column(Integer)
    sha256: Mapped[str] = mapped_column(String(64))
    name: Mapped[str] = mapped_column(String(200))
    media_type: Mapped[str] = mapped_column(String(100))
    size: Mapped[int] = mapped_column(BigInteger)
    kind: Mapped[str | None] = mapped_column(String(40))
    added_at: Mapped[datetime]
    added_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    actor: Mapped[str] = mapped_column(String(254))
