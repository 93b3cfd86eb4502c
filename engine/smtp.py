"""Talking to an SMTP server: ``LOKET_SMTP_URL`` read into an ``SmtpConfig``, connecting and logging in,
and what a server's refusal means for the message (give up, or try again later).

``engine.mail`` decides what to send and when; this module only knows SMTP.
"""

from __future__ import annotations

import base64
import smtplib
import ssl
from dataclasses import dataclass, field
from email.utils import parseaddr
from urllib.parse import parse_qs, unquote, urlsplit

DEFAULT_SENDER = "loket@localhost"
DEFAULT_TIMEOUT = 10.0

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


# --- connecting and the server's answers ---------------------------------------------------------------


class ConnectFailed(Exception):
    """Connecting to the server failed in a way worth retrying later."""


def _tls_context(config: SmtpConfig) -> ssl.SSLContext:
    return ssl.create_default_context(cafile=config.cafile)


def connect(config: SmtpConfig) -> smtplib.SMTP:
    """An open, greeted (and if configured, encrypted and logged-in) connection; raises ConnectFailed."""
    try:
        if config.security == "tls":
            conn: smtplib.SMTP = smtplib.SMTP_SSL(config.host, config.port, local_hostname=config.helo,
                                                  timeout=config.timeout, context=_tls_context(config))
        else:
            conn = smtplib.SMTP(config.host, config.port, local_hostname=config.helo, timeout=config.timeout)
    except (OSError, smtplib.SMTPException) as exc:  # refused, timeout, DNS, TLS handshake, 421 greeting
        raise ConnectFailed(f"verbinding met {config.describe()} mislukt: {describe_error(exc)}") from exc
    try:
        conn.ehlo_or_helo_if_needed()
        if config.security == "starttls":
            conn.starttls(context=_tls_context(config))
            conn.ehlo()
        if config.username is not None:
            _login(conn, config.username, config.password or "")
    except (OSError, smtplib.SMTPException, ValueError) as exc:
        close(conn)
        # Also a rejected login or a server without STARTTLS: the configuration (or the server) must be
        # fixed, and until then the messages wait rather than being given up.
        raise ConnectFailed(f"aanmelden bij {config.describe()} mislukt: {describe_error(exc)}") from exc
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


def close(conn: smtplib.SMTP | None) -> None:
    """QUIT politely; a server that no longer answers is simply hung up on."""
    if conn is None:
        return
    try:
        conn.quit()
    except (OSError, smtplib.SMTPException):
        conn.close()


def describe_error(exc: BaseException) -> str:
    if isinstance(exc, smtplib.SMTPRecipientsRefused) and exc.recipients:
        code, reply = next(iter(exc.recipients.values()))
        return f"{code} {_text(reply)}"
    if isinstance(exc, smtplib.SMTPResponseException):
        return f"{exc.smtp_code} {_text(exc.smtp_error)}"
    return str(exc) or type(exc).__name__


def _text(reply: bytes | str) -> str:
    return reply.decode("utf-8", "replace") if isinstance(reply, bytes) else str(reply)


def classify_failure(exc: BaseException) -> tuple[bool, str]:
    """(permanent?, error text) for a failed send of one message."""
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        code = next(iter(exc.recipients.values()))[0] if exc.recipients else 0
        return 500 <= code < 600, f"ontvanger geweigerd: {describe_error(exc)}"
    if isinstance(exc, smtplib.SMTPSenderRefused):
        # The sender is the same for every message: a configuration matter, not this message's fault.
        return False, f"afzender geweigerd: {describe_error(exc)}"
    if isinstance(exc, smtplib.SMTPDataError):
        return 500 <= exc.smtp_code < 600, f"bericht geweigerd: {describe_error(exc)}"
    if isinstance(exc, smtplib.SMTPNotSupportedError):
        # e.g. an address that needs SMTPUTF8
        return True, f"server ondersteunt dit bericht niet: {describe_error(exc)}"
    if isinstance(exc, smtplib.SMTPResponseException):  # any other reply: when in doubt, try again later
        return False, f"server antwoordde: {describe_error(exc)}"
    if isinstance(exc, OSError):  # includes SMTPServerDisconnected and timeouts
        return False, f"verbinding verbroken: {describe_error(exc)}"
    if isinstance(exc, UnicodeError):  # e.g. a non-ASCII address for a server without SMTPUTF8
        return True, f"bericht niet te versturen: {describe_error(exc)}"
    return False, f"onverwachte fout: {type(exc).__name__}: {describe_error(exc)}"


# Replies after which smtplib has reset the SMTP transaction (RSET) and the connection is still usable;
# after anything else (timeout, dropped connection, 421) the connection is closed and opened again.
REFUSALS = (smtplib.SMTPResponseException, smtplib.SMTPRecipientsRefused, smtplib.SMTPNotSupportedError)
