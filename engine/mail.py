"""Outbox delivery by SMTP, with retries.

Notifications are written to the ``outbox`` table in the transaction of the action that caused them
(``engine.notifications.enqueue``). ``deliver_due`` sends what is due; the scheduler calls it every few
seconds. A mail server that is down loses no message: temporary failures are retried with a growing
interval and never given up; only a permanent refusal (5xx) marks a message ``failed``. Without
``LOKET_SMTP_URL`` nothing is sent and the messages stay visible in the outbox as ``pending``.

Delivery guarantee, honestly: SMTP has no two-phase commit, so "exactly once" cannot be promised, only
"at least once, and at most one message twice per crash". Every message is claimed, sent and marked
``sent`` in one short database transaction of its own, committed as soon as the server has accepted it
(250 after DATA). Two deliverers never hold the same message: on PostgreSQL the claim is a row lock taken
with ``FOR UPDATE SKIP LOCKED`` (another process skips the row, and sees it ``sent`` once it is free); on
SQLite the write transaction (``BEGIN IMMEDIATE``) serialises deliverers. What remains:

- a crash, or a failed commit, between the server's 250 and our commit leaves that one message
  ``pending``: it is sent again later;
- a timeout or dropped connection while waiting for the server's reply to the final "." (RFC 1047) is
  recorded as a temporary failure although the server may have accepted the message: it is sent again.

A resend carries the same ``Message-ID`` (derived from the outbox row, its tenant and creation time), so
a receiving system or person can recognise it as the same message.

Talking SMTP (the URL, connecting, what a refusal means) is ``engine.smtp``; listing and requeueing the
outbox is ``engine.outbox``. Both stay importable from here.
"""

from __future__ import annotations

import logging
import smtplib
from dataclasses import dataclass
from datetime import datetime, timedelta
from email.message import EmailMessage
from email.utils import format_datetime

from sqlalchemy import ColumnElement, func, or_, select
from sqlalchemy.orm import Session

from . import clock
from .db import Database
from .models import OutboxMessage
from .outbox import STATUSES, requeue
from .outbox import messages as outbox
from .smtp import (
    REFUSALS,
    ConnectFailed,
    SmtpConfig,
    classify_failure,
    close,
    connect,
    parse_smtp_url,
)
from .vocabulary import OutboxStatus

__all__ = ["STATUSES", "DeliveryReport", "SmtpConfig", "backoff", "build_message", "deliver_due", "message_id",
           "outbox", "parse_smtp_url", "requeue"]

log = logging.getLogger("loket.mail")

# Waiting time after the n-th failed attempt: 1, 2, 5, 10, 30 minutes, then every hour, forever.
BACKOFF = (timedelta(minutes=1), timedelta(minutes=2), timedelta(minutes=5), timedelta(minutes=10),
           timedelta(minutes=30))
BACKOFF_MAX = timedelta(hours=1)


# --- the message ---------------------------------------------------------------------------------------


def backoff(attempts: int) -> timedelta:
    """How long to wait after the ``attempts``-th failed attempt (1-based)."""
    if attempts < 1:
        return timedelta(0)
    return BACKOFF[attempts - 1] if attempts <= len(BACKOFF) else BACKOFF_MAX


def message_id(message: OutboxMessage, config: SmtpConfig) -> str:
    """Stable across retries: the outbox row, its tenant and its creation time (so ids that restart in a
    fresh database do not collide with messages sent earlier), at the sender's domain."""
    domain = config.envelope_sender.rpartition("@")[2] or "localhost"
    created = message.created_at.strftime("%Y%m%d%H%M%S%f")
    return f"<loket.t{message.tenant_id}.m{message.id}.{created}@{domain}>"


def build_message(message: OutboxMessage, config: SmtpConfig) -> EmailMessage:
    """The e-mail for an outbox row: UTF-8 text, quoted-printable so any server accepts it."""
    email = EmailMessage()
    email["Subject"] = message.subject
    email["From"] = config.sender
    email["To"] = message.to_address
    email["Date"] = format_datetime(message.created_at)  # when Loket wrote it, the same on every attempt
    email["Message-ID"] = message_id(message, config)
    email["Auto-Submitted"] = "auto-generated"  # RFC 3834: no out-of-office replies, please
    email.set_content(message.body, charset="utf-8", cte="quoted-printable")
    if message.attachment is not None:  # a decision letter (engine.letters)
        email.add_attachment(message.attachment, maintype="application", subtype="pdf",
                             filename=message.attachment_name or "brief.pdf")
    return email


# --- delivery ------------------------------------------------------------------------------------------


@dataclass
class DeliveryReport:
    sent: int = 0
    retried: int = 0  # temporary failures, tried again later
    failed: int = 0  # permanently refused, given up
    pending_left: int = 0  # pending messages after this run (due or not), all tenants
    configured: bool = True  # False: no SMTP URL, nothing was attempted
    next_attempt_at: datetime | None = None  # the earliest moment a pending message is due
    last_error: str | None = None

    def __str__(self) -> str:
        if not self.configured:
            return (f"geen SMTP ingesteld (LOKET_SMTP_URL): niets verstuurd, {self.pending_left} bericht(en) "
                    "wachten in de outbox")
        text = (f"{self.sent} verstuurd, {self.retried} later opnieuw, {self.failed} mislukt, "
                f"{self.pending_left} wachtend")
        return f"{text} (laatste fout: {self.last_error})" if self.last_error else text


def _due(now: datetime) -> tuple[ColumnElement[bool], ...]:
    # A decision letter not made yet (engine.decision_letters) holds its mail back until it is attached.
    letter_ready = or_(OutboxMessage.attachment_name.is_(None), OutboxMessage.attachment.is_not(None))
    return (OutboxMessage.status == OutboxStatus.PENDING, OutboxMessage.next_attempt_at <= now, letter_ready)


def _claim(session: Session, db: Database, now: datetime, limit: int) -> list[OutboxMessage]:
    """Lock up to ``limit`` due messages, earliest due first (the order of ix_outbox_pending; a new message is
    due when it is created, so this is oldest first). PostgreSQL skips rows another deliverer holds;
    SQLite's BEGIN IMMEDIATE already made this transaction the only writer."""
    query = select(OutboxMessage).where(*_due(now)).order_by(OutboxMessage.next_attempt_at, OutboxMessage.id)
    query = query.limit(limit)
    if not db.is_sqlite:
        query = query.with_for_update(skip_locked=True)
    return list(session.scalars(query))


def _retry_later(message: OutboxMessage, error: str, now: datetime) -> None:
    message.attempts += 1
    message.last_error = error[:2000]
    message.next_attempt_at = now + backoff(message.attempts)


def _has_due(db: Database, now: datetime) -> bool:
    with db.read() as session:
        return session.scalar(select(OutboxMessage.id).where(*_due(now)).limit(1)) is not None


def _summary(db: Database, report: DeliveryReport) -> DeliveryReport:
    with db.read() as session:
        count, earliest = session.execute(
            select(func.count(), func.min(OutboxMessage.next_attempt_at))
            .where(OutboxMessage.status == OutboxStatus.PENDING)
        ).one()
    report.pending_left = count
    report.next_attempt_at = earliest
    return report


def deliver_due(db: Database, smtp_url: str | None, now: datetime | None = None, batch: int = 100) -> DeliveryReport:
    """Send the outbox messages that are due (all tenants), at most ``batch`` of them, over one SMTP
    connection (re-opened if the server drops it). ``now`` pretends it is that moment (default the clock).

    Each message gets a transaction of its own: claim, send, mark ``sent``, commit (see the module
    docstring for what that guarantees). Connecting happens outside any transaction, so a slow or
    unreachable server never holds SQLite's write lock; the send itself does hold it, for at most
    the configured timeout per socket operation. A malformed ``smtp_url`` raises ValueError.
    """
    if smtp_url is None or not smtp_url.strip():
        return _summary(db, DeliveryReport(configured=False))
    config = parse_smtp_url(smtp_url)
    if now is not None and now.tzinfo is None:
        raise ValueError("deliver_due() heeft een tijdstip met tijdzone nodig")
    start = now or clock.now()

    def moment() -> datetime:
        return now or clock.now()

    report = DeliveryReport()
    conn: smtplib.SMTP | None = None
    done = 0
    try:
        while done < batch:
            if conn is None:
                if not _has_due(db, start):
                    break
                try:
                    conn = connect(config)
                except ConnectFailed as exc:
                    error = str(exc)
                    log.warning("%s", error)
                    report.last_error = error
                    # Every due message of this batch counts an attempt and waits its backoff, so the
                    # scheduler does not knock on a dead server every few seconds.
                    with db.transaction() as session:
                        at = moment()
                        for message in _claim(session, db, start, batch - done):
                            _retry_later(message, error, at)
                            report.retried += 1
                    break
            with db.transaction() as session:
                claimed = _claim(session, db, start, 1)
                if not claimed:
                    break
                message = claimed[0]
                done += 1
                try:
                    email = build_message(message, config)
                except ValueError as exc:  # e.g. a line break in the subject: no retry will help
                    message.status = OutboxStatus.FAILED
                    message.attempts += 1
                    message.last_error = f"bericht niet op te bouwen: {exc}"[:2000]
                    report.failed += 1
                    report.last_error = message.last_error
                    log.warning("outbox %s (tenant %s): %s", message.id, message.tenant_id, message.last_error)
                    continue
                try:
                    conn.send_message(email, from_addr=config.envelope_sender, to_addrs=[message.to_address])
                except Exception as exc:  # every failure is recorded on the message
                    permanent, error = classify_failure(exc)
                    report.last_error = error
                    if permanent:
                        message.status = OutboxStatus.FAILED
                        message.attempts += 1
                        message.last_error = error[:2000]
                        report.failed += 1
                        log.warning("outbox %s (tenant %s) mislukt: %s", message.id, message.tenant_id, error)
                    else:
                        _retry_later(message, error, moment())
                        report.retried += 1
                        log.info("outbox %s (tenant %s) later opnieuw: %s", message.id, message.tenant_id, error)
                    # smtplib closes the socket itself on 421 and on a dropped connection; after other
                    # refusals it has sent RSET and the connection can carry the next message.
                    if not isinstance(exc, REFUSALS) or getattr(conn, "sock", None) is None:
                        conn.close()  # no QUIT: the connection may hang, and SQLite's write lock is held
                        conn = None
                else:
                    # The server has taken the message: mark it in this transaction, committed right now.
                    message.status = OutboxStatus.SENT
                    message.attempts += 1
                    message.sent_at = moment()
                    message.last_error = None
                    report.sent += 1
    finally:
        close(conn)
    return _summary(db, report)

