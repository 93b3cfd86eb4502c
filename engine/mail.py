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
"""

from __future__ import annotations

import base64
import logging
import smtplib
import ssl
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from email.message import EmailMessage
from email.utils import format_datetime, parseaddr
from urllib.parse import parse_qs, unquote, urlsplit

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from . import clock
from .db import Database
from .models import OutboxMessage

log = logging.getLogger("loket.mail")

DEFAULT_SENDER = "loket@localhost"
DEFAULT_TIMEOUT = 10.0
STATUSES = ("pending", "sent", "failed")

# Waiting time after the n-th failed attempt: 1, 2, 5, 10, 30 minutes, then every hour, forever.
BACKOFF = (timedelta(minutes=1), timedelta(minutes=2), timedelta(minutes=5), timedelta(minutes=10),
           timedelta(minutes=30))
BACKOFF_MAX = timedelta(hours=1)

_SCHEMES = {"smtp": ("none", 25), "smtps": ("tls", 465), "smtp+starttls": ("starttls", 587)}
_OPTIONS = ("from", "timeout", "helo", "cafile")
_EXAMPLE = "bijvoorbeeld smtp+starttls://gebruiker:wachtwoord@mail.example.nl:587?from=loket@example.nl"


# --- configuration -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class SmtpConfig:
    host: str
    port: int
    security: str  # none | tls (implicit, smtps) | starttls
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    sender: str = DEFAULT_SENDER  # the From header, possibly with a display name
    timeout: float = DEFAULT_TIMEOUT  # seconds, per socket operation
    helo: str | None = None  # name for EHLO; default the host's FQDN
    cafile: str | None = None  # trust this CA bundle instead of the system's

    @property
    def envelope_sender(self) -> str:
        return parseaddr(self.sender)[1]

    def describe(self) -> str:
        """The URL without the password, for logs and messages."""
        scheme = {"none": "smtp", "tls": "smtps", "starttls": "smtp+starttls"}[self.security]
        user = f"{self.username}:***@" if self.username is not None else ""
        return f"{scheme}://{user}{self.host}:{self.port}"


def _invalid(reason: str) -> ValueError:
    return ValueError(f"Ongeldige LOKET_SMTP_URL: {reason}")


def parse_smtp_url(url: str) -> SmtpConfig:
    """``smtp://[user:pass@]host[:port][?from=loket@example.nl]``, ``smtps://`` (implicit TLS, port 465)
    or ``smtp+starttls://`` (port 587); plain ``smtp://`` defaults to port 25. User and password are
    percent-decoded. Further options: ``timeout`` (seconds), ``helo`` and ``cafile``.
    Raises ValueError with a Dutch explanation (never containing the password) when the URL is malformed."""
    if not isinstance(url, str) or not url.strip():
        raise _invalid(f"de URL is leeg; {_EXAMPLE}")
    try:
        parts = urlsplit(url.strip())
    except ValueError as exc:
        raise _invalid(f"de URL is niet te lezen ({exc}); {_EXAMPLE}") from None
    scheme = parts.scheme.lower()
    if scheme not in _SCHEMES:
        shown = f"'{parts.scheme}'" if parts.scheme else "geen"
        raise _invalid(f"schema {shown} wordt niet ondersteund; gebruik smtp://, smtps:// of smtp+starttls://, "
                       f"{_EXAMPLE}")
    security, default_port = _SCHEMES[scheme]
    if not parts.hostname:
        raise _invalid(f"de servernaam ontbreekt; {_EXAMPLE}")
    try:
        port = parts.port
    except ValueError:
        raise _invalid("het poortnummer moet een getal van 1 tot en met 65535 zijn") from None
    if port is None:
        port = default_port
    elif port == 0:
        raise _invalid("het poortnummer moet een getal van 1 tot en met 65535 zijn")
    if parts.path not in ("", "/"):
        raise _invalid(f"een pad ('{parts.path}') hoort niet in een SMTP-URL; opties gaan achter '?'")
    if parts.fragment:
        raise _invalid("een '#'-deel hoort niet in een SMTP-URL")
    username = unquote(parts.username) if parts.username is not None else None
    password = unquote(parts.password) if parts.password is not None else None
    if username is not None and password is None:
        raise _invalid("er is een gebruikersnaam maar geen wachtwoord (gebruiker:wachtwoord@server)")
    if username == "":
        raise _invalid("de gebruikersnaam is leeg")

    try:
        query = parse_qs(parts.query, keep_blank_values=True, strict_parsing=bool(parts.query))
    except ValueError:
        raise _invalid("de opties na '?' zijn niet te lezen (verwacht naam=waarde&naam=waarde)") from None
    unknown = sorted(set(query) - set(_OPTIONS))
    if unknown:
        raise _invalid(f"onbekende optie(s) {', '.join(unknown)}; bekend zijn: {', '.join(_OPTIONS)}")
    doubled = sorted(name for name, values in query.items() if len(values) > 1)
    if doubled:
        raise _invalid(f"optie(s) {', '.join(doubled)} meer dan eens opgegeven")
    options = {name: values[0] for name, values in query.items()}

    sender = options.get("from", DEFAULT_SENDER).strip()
    address = parseaddr(sender)[1]
    if not address or address.count("@") != 1 or address.startswith("@") or address.endswith("@") \
            or any(ch.isspace() for ch in address):
        raise _invalid(f"afzender (from) '{sender}' is geen e-mailadres, bijvoorbeeld from=loket@example.nl")
    timeout = DEFAULT_TIMEOUT
    if "timeout" in options:
        try:
            timeout = float(options["timeout"])
        except ValueError:
            timeout = -1.0
        if not 0 < timeout <= 600:
            raise _invalid("timeout moet een aantal seconden groter dan 0 (en hoogstens 600) zijn")
    helo = options.get("helo") or None
    cafile = options.get("cafile") or None
    if cafile and security == "none":
        raise _invalid("cafile heeft alleen zin met smtps:// of smtp+starttls://")
    return SmtpConfig(host=parts.hostname, port=port, security=security, username=username, password=password,
                      sender=sender, timeout=timeout, helo=helo, cafile=cafile)


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


class _Temporary(Exception):
    """Connecting to the server failed in a way worth retrying later."""


def _tls_context(config: SmtpConfig) -> ssl.SSLContext:
    return ssl.create_default_context(cafile=config.cafile)


def _connect(config: SmtpConfig) -> smtplib.SMTP:
    try:
        if config.security == "tls":
            conn: smtplib.SMTP = smtplib.SMTP_SSL(config.host, config.port, local_hostname=config.helo,
                                                  timeout=config.timeout, context=_tls_context(config))
        else:
            conn = smtplib.SMTP(config.host, config.port, local_hostname=config.helo, timeout=config.timeout)
    except (OSError, smtplib.SMTPException) as exc:  # refused, timeout, DNS, TLS handshake, 421 greeting
        raise _Temporary(f"verbinding met {config.describe()} mislukt: {_describe(exc)}") from exc
    try:
        conn.ehlo_or_helo_if_needed()
        if config.security == "starttls":
            conn.starttls(context=_tls_context(config))
            conn.ehlo()
        if config.username is not None:
            _login(conn, config.username, config.password or "")
    except (OSError, smtplib.SMTPException, ValueError) as exc:
        _close(conn)
        # Also a rejected login or a server without STARTTLS: the configuration (or the server) must be
        # fixed, and until then the messages wait rather than being given up.
        raise _Temporary(f"aanmelden bij {config.describe()} mislukt: {_describe(exc)}") from exc
    return conn


def _login(conn: smtplib.SMTP, username: str, password: str) -> None:
    if (username + password).isascii():
        conn.login(username, password)
        return
    # smtplib encodes credentials as ASCII; AUTH PLAIN (RFC 4616) carries UTF-8, so send that ourselves.
    if "PLAIN" not in conn.esmtp_features.get("auth", "").upper().split():
        raise smtplib.SMTPException("de server biedt geen AUTH PLAIN, nodig voor een gebruikersnaam of wachtwoord "
                                    "met niet-ASCII-tekens")
    token = base64.b64encode(f"\0{username}\0{password}".encode()).decode("ascii")
    code, reply = conn.docmd("AUTH", f"PLAIN {token}")
    if code not in (235, 503):  # 503: already authenticated
        raise smtplib.SMTPAuthenticationError(code, reply)


def _close(conn: smtplib.SMTP | None) -> None:
    if conn is None:
        return
    try:
        conn.quit()
    except (OSError, smtplib.SMTPException):
        conn.close()


def _describe(exc: BaseException) -> str:
    if isinstance(exc, smtplib.SMTPRecipientsRefused) and exc.recipients:
        code, reply = next(iter(exc.recipients.values()))
        return f"{code} {_text(reply)}"
    if isinstance(exc, smtplib.SMTPResponseException):
        return f"{exc.smtp_code} {_text(exc.smtp_error)}"
    return str(exc) or type(exc).__name__


def _text(reply: bytes | str) -> str:
    return reply.decode("utf-8", "replace") if isinstance(reply, bytes) else str(reply)


def _classify(exc: BaseException) -> tuple[bool, str]:
    """(permanent?, error text) for a failed send of one message."""
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        code = next(iter(exc.recipients.values()))[0] if exc.recipients else 0
        return 500 <= code < 600, f"ontvanger geweigerd: {_describe(exc)}"
    if isinstance(exc, smtplib.SMTPSenderRefused):
        # The sender is the same for every message: a configuration matter, not this message's fault.
        return False, f"afzender geweigerd: {_describe(exc)}"
    if isinstance(exc, smtplib.SMTPDataError):
        return 500 <= exc.smtp_code < 600, f"bericht geweigerd: {_describe(exc)}"
    if isinstance(exc, smtplib.SMTPNotSupportedError):
        return True, f"server ondersteunt dit bericht niet: {_describe(exc)}"  # e.g. an address needing SMTPUTF8
    if isinstance(exc, smtplib.SMTPResponseException):  # any other reply: when in doubt, try again later
        return False, f"server antwoordde: {_describe(exc)}"
    if isinstance(exc, OSError):  # includes SMTPServerDisconnected and timeouts
        return False, f"verbinding verbroken: {_describe(exc)}"
    if isinstance(exc, UnicodeError):  # e.g. a non-ASCII address for a server without SMTPUTF8
        return True, f"bericht niet te versturen: {_describe(exc)}"
    return False, f"onverwachte fout: {type(exc).__name__}: {_describe(exc)}"


# Replies after which smtplib has reset the SMTP transaction (RSET) and the connection is still usable;
# after anything else (timeout, dropped connection, 421) the connection is closed and opened again.
_REFUSALS = (smtplib.SMTPResponseException, smtplib.SMTPRecipientsRefused, smtplib.SMTPNotSupportedError)


def _due(now: datetime):
    return (OutboxMessage.status == "pending", OutboxMessage.next_attempt_at <= now)


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
            select(func.count(), func.min(OutboxMessage.next_attempt_at)).where(OutboxMessage.status == "pending")
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
                    conn = _connect(config)
                except _Temporary as exc:
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
                    message.status = "failed"
                    message.attempts += 1
                    message.last_error = f"bericht niet op te bouwen: {exc}"[:2000]
                    report.failed += 1
                    report.last_error = message.last_error
                    log.warning("outbox %s (tenant %s): %s", message.id, message.tenant_id, message.last_error)
                    continue
                try:
                    conn.send_message(email, from_addr=config.envelope_sender, to_addrs=[message.to_address])
                except Exception as exc:  # every failure is recorded on the message
                    permanent, error = _classify(exc)
                    report.last_error = error
                    if permanent:
                        message.status = "failed"
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
                    if not isinstance(exc, _REFUSALS) or getattr(conn, "sock", None) is None:
                        conn.close()  # no QUIT: the connection may hang, and SQLite's write lock is held
                        conn = None
                else:
                    # The server has taken the message: mark it in this transaction, committed right now.
                    message.status = "sent"
                    message.attempts += 1
                    message.sent_at = moment()
                    message.last_error = None
                    report.sent += 1
    finally:
        _close(conn)
    return _summary(db, report)


def outbox(db: Database, tenant_id: int, status: str | None = None) -> list[OutboxMessage]:
    """The outbox of one tenant, oldest first; optionally only ``pending``, ``sent`` or ``failed``."""
    if status is not None and status not in STATUSES:
        raise ValueError(f"onbekende status '{status}'; kies uit {', '.join(STATUSES)}")
    query = select(OutboxMessage).where(OutboxMessage.tenant_id == tenant_id)
    if status is not None:
        query = query.where(OutboxMessage.status == status)
    with db.read() as session:
        return list(session.scalars(query.order_by(OutboxMessage.id)))


def requeue(db: Database, tenant_id: int, message_ids: list[int] | None = None) -> int:
    """Put failed messages of a tenant back in the queue (after the address or the server was fixed)."""
    query = update(OutboxMessage).where(OutboxMessage.tenant_id == tenant_id, OutboxMessage.status == "failed")
    if message_ids:
        query = query.where(OutboxMessage.id.in_(message_ids))
    with db.transaction() as session:
        result = session.execute(query.values(status="pending", next_attempt_at=clock.now())
                                 .execution_options(synchronize_session=False))
        return result.rowcount or 0
