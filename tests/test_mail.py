"""Outbox delivery against a real SMTP server on loopback (aiosmtpd), on SQLite and PostgreSQL."""

from __future__ import annotations

import shutil
import socket
import subprocess
import threading
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from datetime import timedelta
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from urllib.parse import quote

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

from engine import clock, mail, notifications
from engine.db import Database
from engine.mail import SmtpConfig, backoff, deliver_due, outbox, parse_smtp_url

SENDER = "loket@swv.example"


# --- an SMTP server that records what it receives -------------------------------------------------------


class Recorder:
    """aiosmtpd handler. ``refuse``: addresses refused at RCPT with 550. ``data_once``: address -> reply
    given once at DATA (e.g. "451 ..."), after the message has been seen."""

    def __init__(self, refuse: tuple[str, ...] = (), data_once: dict[str, str] | None = None) -> None:
        self.refuse = set(refuse)
        self.data_once = dict(data_once or {})
        self.received: list[tuple[str, list[str], EmailMessage, tuple]] = []  # accepted messages
        self.seen: list[str] = []  # Message-IDs of every DATA, accepted or not
        self.lock = threading.Lock()

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if address in self.refuse:
            return "550 5.1.1 Onbekende ontvanger"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        message = BytesParser(policy=policy.default).parsebytes(envelope.content)
        with self.lock:
            self.seen.append(message["Message-ID"])
            for address in envelope.rcpt_tos:
                if address in self.data_once:
                    return self.data_once.pop(address)
            self.received.append((envelope.mail_from, list(envelope.rcpt_tos), message, session.peer))
        return "250 OK"

    def per_message_id(self) -> Counter:
        return Counter(message["Message-ID"] for _, _, message, _ in self.received)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Server:
    def __init__(self, handler: Recorder, port: int | None = None, scheme: str = "smtp", **smtp_options) -> None:
        self.handler = handler
        self.port = port or free_port()
        self.scheme = scheme
        self.smtp_options = smtp_options
        self.controller: Controller | None = None

    @property
    def url(self) -> str:
        return f"{self.scheme}://127.0.0.1:{self.port}?from={SENDER}&timeout=5"

    def start(self) -> Server:
        self.controller = Controller(self.handler, hostname="127.0.0.1", port=self.port, **self.smtp_options)
        self.controller.start()
        return self

    def stop(self) -> None:
        if self.controller is not None:
            self.controller.stop()
            self.controller = None


@pytest.fixture
def smtp():
    servers: list[Server] = []

    def start(handler: Recorder | None = None, **options) -> Server:
        server = Server(handler or Recorder(), **options).start()
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.stop()


def enqueue(db: Database, tenant_id: int, to: list[str], subject: str = "Bericht over dossier 7",
            body: str = "Er is een nieuwe stap gezet.") -> None:
    with db.transaction() as session:
        notifications.enqueue(session, tenant_id, None, to, subject, body)


# --- the URL ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("url, expected", [
    ("smtp://mail.example.nl", SmtpConfig("mail.example.nl", 25, "none")),
    ("smtp://127.0.0.1:2525?from=loket@swv.nl",
     SmtpConfig("127.0.0.1", 2525, "none", sender="loket@swv.nl")),
    ("smtps://u%40swv.nl:g%3Ah%2Fm%40@mail.example.nl",
     SmtpConfig("mail.example.nl", 465, "tls", username="u@swv.nl", password="g:h/m@")),
    ("smtp+starttls://user:pw@Mail.Example.NL?from=Loket%20SWV%20%3Cloket%40swv.nl%3E&timeout=2.5",
     SmtpConfig("mail.example.nl", 587, "starttls", username="user", password="pw",
                sender="Loket SWV <loket@swv.nl>", timeout=2.5)),
    ("SMTP://[::1]:26/", SmtpConfig("::1", 26, "none")),
])
def test_parse_smtp_url(url, expected):
    assert parse_smtp_url(url) == expected


@pytest.mark.parametrize("url, fragment", [
    ("", "leeg"),
    ("http://mail.example.nl", "schema 'http'"),
    ("mail.example.nl:25", "schema"),
    ("smtp://", "servernaam ontbreekt"),
    ("smtp://mail.example.nl:abc", "poortnummer"),
    ("smtp://mail.example.nl:70000", "poortnummer"),
    ("smtp://mail.example.nl:0", "poortnummer"),
    ("smtp://user@mail.example.nl", "geen wachtwoord"),
    ("smtp://mail.example.nl/inbox", "pad"),
    ("smtp://mail.example.nl?form=loket@x.nl", "onbekende optie(s) form"),
    ("smtp://mail.example.nl?from=loket", "geen e-mailadres"),
    ("smtp://mail.example.nl?timeout=nul", "timeout"),
    ("smtp://mail.example.nl?from=a@x.nl&from=b@x.nl", "meer dan eens"),
])
def test_parse_smtp_url_rejects_malformed(url, fragment):
    with pytest.raises(ValueError, match="Ongeldige LOKET_SMTP_URL") as info:
        parse_smtp_url(url)
    assert fragment in str(info.value)


def test_error_never_shows_the_password():
    with pytest.raises(ValueError) as info:
        parse_smtp_url("smtp://user:supergeheim@mail.example.nl/pad")
    assert "supergeheim" not in str(info.value)
    assert "supergeheim" not in repr(parse_smtp_url("smtp://user:supergeheim@mail.example.nl"))


def test_backoff_schedule():
    assert [backoff(n) for n in range(1, 9)] == [timedelta(minutes=m) for m in (1, 2, 5, 10, 30, 60, 60, 60)]


# --- delivery ---------------------------------------------------------------------------------------------


def test_delivers_each_message_once_intact(db, world, smtp):
    server = smtp()
    subject = "Besluit TLV: toegekend voor Zoë (dossier 7) — een lange onderwerpregel die gevouwen moet worden"
    body = "Beste ouder,\n\nDe commissie heeft besloten: toekennen. Groetjes, Noël\n"
    to = ["ouder@voorbeeld.nl", "consulent@sterk-vo.test", "school@sterk-vo.test"]
    enqueue(db, world.tenant_id, to, subject, body)

    report = deliver_due(db, server.url)
    assert (report.sent, report.retried, report.failed, report.pending_left) == (3, 0, 0, 0)

    rows = outbox(db, world.tenant_id)
    assert [row.status for row in rows] == ["sent"] * 3
    assert all(row.sent_at is not None and row.attempts == 1 and row.last_error is None for row in rows)
    assert len(server.handler.received) == 3
    config = parse_smtp_url(server.url)
    by_recipient = {rcpt[0]: (mail_from, message) for mail_from, rcpt, message, _ in server.handler.received}
    assert sorted(by_recipient) == sorted(to)
    for row in rows:
        mail_from, message = by_recipient[row.to_address]
        assert mail_from == SENDER
        assert message["Subject"] == subject
        assert message["To"] == row.to_address
        assert message["From"] == SENDER
        assert message["Message-ID"] == mail.message_id(row, config)
        assert message["Date"].datetime == row.created_at.replace(microsecond=0)
        assert message.get_content_charset() == "utf-8"
        assert message.get_content().replace("\r\n", "\n") == body  # lines travel as CRLF
    assert set(server.handler.per_message_id().values()) == {1}
    assert len({message["Message-ID"] for _, _, message, _ in server.handler.received}) == 3
    # All three went over one connection.
    assert len({peer for *_, peer in server.handler.received}) == 1

    again = deliver_due(db, server.url)
    assert again.sent == 0 and len(server.handler.received) == 3
    assert outbox(db, world.tenant_id + 1) == []  # another tenant sees none of them
    assert len(outbox(db, world.tenant_id, "sent")) == 3 and outbox(db, world.tenant_id, "pending") == []


def test_smtp_down_then_up_delivers_every_message_once(db, world):
    server = Server(Recorder())  # a free port with nothing listening yet
    to = [f"ouder{i}@voorbeeld.nl" for i in range(5)]
    enqueue(db, world.tenant_id, to)
    t0 = clock.now()

    down = deliver_due(db, server.url, now=t0)
    assert (down.sent, down.retried, down.failed, down.pending_left) == (0, 5, 0, 5)
    assert "verbinding" in down.last_error
    assert down.next_attempt_at == t0 + timedelta(minutes=1)
    for row in outbox(db, world.tenant_id):
        assert row.status == "pending" and row.attempts == 1
        assert row.next_attempt_at == t0 + timedelta(minutes=1)
        assert row.last_error and "127.0.0.1" in row.last_error

    # Within the backoff nothing is tried again.
    early = deliver_due(db, server.url, now=t0 + timedelta(seconds=30))
    assert (early.sent, early.retried) == (0, 0)
    assert {row.attempts for row in outbox(db, world.tenant_id)} == {1}

    server.start()
    try:
        up = deliver_due(db, server.url, now=t0 + timedelta(minutes=2))
        assert (up.sent, up.retried, up.failed, up.pending_left) == (5, 0, 0, 0)
        assert len(server.handler.received) == 5
        assert set(server.handler.per_message_id().values()) == {1}
        rows = outbox(db, world.tenant_id)
        assert all(row.status == "sent" and row.attempts == 2 for row in rows)
        assert all(row.sent_at == t0 + timedelta(minutes=2) for row in rows)

        third = deliver_due(db, server.url, now=t0 + timedelta(hours=3))
        assert third.sent == 0 and len(server.handler.received) == 5
    finally:
        server.stop()


def test_server_that_never_answers_times_out_and_is_retried(db, world):
    with socket.socket() as silent:  # accepts connections (kernel backlog) but never greets
        silent.bind(("127.0.0.1", 0))
        silent.listen()
        enqueue(db, world.tenant_id, ["a@voorbeeld.nl", "b@voorbeeld.nl"])
        url = f"smtp://127.0.0.1:{silent.getsockname()[1]}?timeout=0.2"
        report = deliver_due(db, url)
    assert (report.sent, report.retried, report.failed) == (0, 2, 0)
    assert "timed out" in report.last_error
    assert {(row.status, row.attempts) for row in outbox(db, world.tenant_id)} == {("pending", 1)}


def test_recipient_refused_with_550_fails_only_that_message(db, world, smtp):
    server = smtp(Recorder(refuse=("bestaatniet@voorbeeld.nl",)))
    enqueue(db, world.tenant_id, ["a@voorbeeld.nl", "bestaatniet@voorbeeld.nl", "b@voorbeeld.nl"])

    report = deliver_due(db, server.url)
    assert (report.sent, report.retried, report.failed, report.pending_left) == (2, 0, 1, 0)
    status = {row.to_address: row for row in outbox(db, world.tenant_id)}
    assert status["bestaatniet@voorbeeld.nl"].status == "failed"
    assert "550" in status["bestaatniet@voorbeeld.nl"].last_error
    assert status["a@voorbeeld.nl"].status == status["b@voorbeeld.nl"].status == "sent"
    assert sorted(rcpt[0] for _, rcpt, _, _ in server.handler.received) == ["a@voorbeeld.nl", "b@voorbeeld.nl"]
    # The refused message stays given up; the connection survived the refusal.
    assert len({peer for *_, peer in server.handler.received}) == 1
    later = deliver_due(db, server.url, now=clock.now() + timedelta(days=1))
    assert later.sent == later.failed == 0 and len(server.handler.received) == 2


@pytest.mark.parametrize("reply, reconnects", [("451 4.3.0 Even niet", False), ("421 4.3.2 Ik stop", True)])
def test_temporary_refusal_retries_the_same_message(db, world, smtp, reply, reconnects):
    server = smtp(Recorder(data_once={"b@voorbeeld.nl": reply}))
    enqueue(db, world.tenant_id, ["a@voorbeeld.nl", "b@voorbeeld.nl", "c@voorbeeld.nl"])
    t0 = clock.now()

    first = deliver_due(db, server.url, now=t0)
    assert (first.sent, first.retried, first.failed) == (2, 1, 0)
    row_b = next(row for row in outbox(db, world.tenant_id) if row.to_address == "b@voorbeeld.nl")
    assert row_b.status == "pending" and row_b.attempts == 1 and reply[:3] in row_b.last_error
    peers = [peer for *_, peer in server.handler.received]
    assert (peers[0] != peers[1]) is reconnects  # after 421 smtplib hangs up, and the deliverer reconnects

    second = deliver_due(db, server.url, now=t0 + backoff(1))
    assert (second.sent, second.retried, second.failed, second.pending_left) == (1, 0, 0, 0)
    # The server saw b's message twice (refused once, accepted once) with the same Message-ID.
    seen_b = [mid for mid in server.handler.seen if mid == mail.message_id(row_b, parse_smtp_url(server.url))]
    assert len(seen_b) == 2
    assert set(server.handler.per_message_id().values()) == {1} and len(server.handler.received) == 3


def test_two_concurrent_deliverers_send_each_message_once(db, db_url, world, smtp):
    server = smtp()
    enqueue(db, world.tenant_id, [f"leerling{i:03d}@voorbeeld.nl" for i in range(200)])
    other = Database(db_url)  # a second "process": its own engine and connections
    barrier = threading.Barrier(2)

    def run(database: Database) -> mail.DeliveryReport:
        barrier.wait()
        return deliver_due(database, server.url, batch=200)

    try:
        with ThreadPoolExecutor(2) as pool:
            reports = [future.result() for future in [pool.submit(run, db), pool.submit(run, other)]]
    finally:
        other.dispose()
    assert sum(report.sent for report in reports) == 200
    assert sum(report.retried + report.failed for report in reports) == 0
    counts = server.handler.per_message_id()
    assert len(counts) == 200 and set(counts.values()) == {1}
    assert len(server.handler.received) == 200
    assert {row.status for row in outbox(db, world.tenant_id)} == {"sent"}


class CrashingDatabase(Database):
    """Dies after the ``crash_at``-th transaction has done its work, before it commits."""

    def __init__(self, url: str, crash_at: int) -> None:
        super().__init__(url)
        self.crash_at, self.count = crash_at, 0

    @contextmanager
    def transaction(self):
        with super().transaction() as session:
            yield session
            self.count += 1
            if self.count == self.crash_at:
                raise RuntimeError("stroomstoring")


def test_crash_between_send_and_commit_resends_only_that_message(db, db_url, world, smtp):
    server = smtp()
    enqueue(db, world.tenant_id, [f"ouder{i}@voorbeeld.nl" for i in range(5)])
    crashing = CrashingDatabase(db_url, crash_at=2)
    try:
        with pytest.raises(RuntimeError, match="stroomstoring"):
            deliver_due(crashing, server.url)
    finally:
        crashing.dispose()
    assert len(server.handler.received) == 2  # the second was accepted by the server, its commit never happened
    assert [row.status for row in outbox(db, world.tenant_id)] == ["sent"] + ["pending"] * 4

    report = deliver_due(db, server.url)
    assert report.sent == 4
    counts = server.handler.per_message_id()
    assert len(counts) == 5 and sorted(counts.values()) == [1, 1, 1, 1, 2]  # at most that one message twice


def test_without_smtp_nothing_is_sent(db, world, smtp):
    server = smtp()
    enqueue(db, world.tenant_id, ["a@voorbeeld.nl", "b@voorbeeld.nl"])
    for url in (None, ""):
        report = deliver_due(db, url)
        assert not report.configured
        assert (report.sent, report.retried, report.failed, report.pending_left) == (0, 0, 0, 2)
        assert "geen SMTP ingesteld" in str(report)
    rows = outbox(db, world.tenant_id, "pending")
    assert len(rows) == 2 and all(row.attempts == 0 and row.last_error is None for row in rows)
    assert server.handler.received == []


def test_message_that_cannot_be_built_fails_without_blocking_others(db, world, smtp):
    server = smtp()
    enqueue(db, world.tenant_id, ["a@voorbeeld.nl"], subject="kapot\r\nBcc: iedereen@voorbeeld.nl")
    enqueue(db, world.tenant_id, ["b@voorbeeld.nl"])
    report = deliver_due(db, server.url)
    assert (report.sent, report.failed) == (1, 1)
    assert [rcpt for _, rcpt, _, _ in server.handler.received] == [["b@voorbeeld.nl"]]


# --- TLS and login ------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def certificate(tmp_path_factory):
    if shutil.which("openssl") is None:
        pytest.skip("openssl is niet beschikbaar")
    folder = tmp_path_factory.mktemp("tls")
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
                    "-nodes", "-days", "1", "-subj", "/CN=localhost", "-keyout", str(key), "-out", str(cert),
                    "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost"], check=True, capture_output=True)
    return cert, key


@pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS")
@pytest.mark.parametrize("scheme, password", [("smtps", "geheim:/@!"), ("smtp+starttls", "g3h€im:/@!")])
def test_tls_and_login(db, world, smtp, certificate, scheme, password):
    import ssl

    cert, key = certificate
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    logins: list[tuple[bytes, bytes]] = []

    def authenticator(server, session, envelope, mechanism, auth_data):
        assert isinstance(auth_data, LoginPassword)
        logins.append((auth_data.login, auth_data.password))
        return AuthResult(success=auth_data.password == password.encode())

    # aiosmtpd only counts STARTTLS as TLS for AUTH; with implicit TLS the whole session is encrypted anyway.
    tls = ({"ssl_context": context, "auth_require_tls": False} if scheme == "smtps"
           else {"tls_context": context, "require_starttls": True})
    server = smtp(scheme=scheme, authenticator=authenticator, auth_required=True, **tls)
    enqueue(db, world.tenant_id, ["a@voorbeeld.nl"])
    url = f"{scheme}://loket:{quote(password, safe='')}@127.0.0.1:{server.port}?from={SENDER}&cafile={cert}"

    # Without trusting the certificate the handshake fails: a temporary failure, the message waits.
    untrusted = deliver_due(db, url.split("&cafile=")[0])
    assert (untrusted.sent, untrusted.retried) == (0, 1)
    assert "CERTIFICATE_VERIFY_FAILED" in untrusted.last_error or "certificate" in untrusted.last_error.lower()

    report = deliver_due(db, url, now=clock.now() + timedelta(minutes=1))
    assert (report.sent, report.retried, report.failed) == (1, 0, 0)
    assert logins == [(b"loket", password.encode())]
    assert len(server.handler.received) == 1
