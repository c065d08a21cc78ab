"""SMTP: ``smtp://user:pass@host:587`` (STARTTLS when offered, or forced with
``?starttls=require``), ``smtps://`` for TLS from the first byte."""

from __future__ import annotations

import functools
import re
import smtplib
import ssl
from email.message import EmailMessage
from email.utils import getaddresses
from urllib.parse import parse_qs, unquote, urlsplit

from leads.delivery.base import PermanentError, TransientError

_ADDRESS = re.compile(r"<?[^\s<>@]+@[^\s<>]+>?")


class SmtpMailer:
    def __init__(self, url: str, timeout: float = 20) -> None:
        parts = urlsplit(url)
        if parts.scheme not in ("smtp", "smtps"):
            raise PermanentError("SMTP_URL must start with smtp:// or smtps://")
        self.ssl = parts.scheme == "smtps"
        self.host = parts.hostname or "localhost"
        self.port = parts.port or (465 if self.ssl else 25)
        self.username = unquote(parts.username) if parts.username else None
        self.password = unquote(parts.password) if parts.password else None
        options = parse_qs(parts.query)
        self.starttls = options.get("starttls", ["auto"])[0]
        self.timeout = timeout

    def _connect(self) -> smtplib.SMTP:
        if self.ssl:
            return smtplib.SMTP_SSL(
                self.host, self.port, timeout=self.timeout, context=_tls_context()
            )
        client = smtplib.SMTP(self.host, self.port, timeout=self.timeout)
        client.ehlo()
        if self.starttls == "require" or (self.starttls == "auto" and client.has_extn("starttls")):
            client.starttls(context=_tls_context())
            client.ehlo()
        return client

    def send(self, message: EmailMessage, *, mailbox: str, wire: bytes | None = None) -> None:
        """Send ``message``. ``wire``, when given, is its encoding with CR LF
        line ends, sent as it is rather than encoded a second time."""
        try:
            with self._connect() as client:
                if self.username:
                    client.login(self.username, self.password or "")
                refused = _transmit(client, message, wire)
        except smtplib.SMTPAuthenticationError as exc:
            # Our settings, not the message: worth retrying once they are fixed.
            raise TransientError(f"SMTP login refused ({exc.smtp_code})") from exc
        except smtplib.SMTPRecipientsRefused as exc:
            codes = [code for code, _ in exc.recipients.values()]
            raise _by_code(min(codes), "recipient refused") from exc
        except smtplib.SMTPResponseException as exc:
            raise _by_code(exc.smtp_code, _reply(exc.smtp_error)) from exc
        except (smtplib.SMTPException, OSError) as exc:
            raise TransientError(f"SMTP server unreachable: {type(exc).__name__}") from exc
        if refused:
            codes = [code for code, _ in refused.values()]
            raise _by_code(min(codes), "recipient refused")


def _transmit(client: smtplib.SMTP, message: EmailMessage, wire: bytes | None) -> dict:
    """``send_message``'s envelope (From, and To, Cc and Bcc), with ``wire`` as
    the data. The library encodes the message itself when no bytes are given,
    when a header must be dropped on the way (Bcc), or when an address is not
    plain ASCII (that needs SMTPUTF8 and its own UTF-8 encoding)."""
    if wire is None or any(name in message for name in ("Bcc", "Resent-Bcc", "Resent-Date")):
        return client.send_message(message)
    sender = getaddresses([message["Sender"] or message["From"]])[0][1]
    fields = [str(message[name]) for name in ("To", "Bcc", "Cc") if message[name] is not None]
    recipients = [address for _, address in getaddresses(fields)]
    if not "".join([sender, *recipients]).isascii():
        return client.send_message(message)
    return client.sendmail(sender, recipients, wire)


@functools.cache
def _tls_context() -> ssl.SSLContext:
    """One TLS context per process: loading the system's certificates takes tens
    of milliseconds, more than the rest of a delivery."""
    return ssl.create_default_context()


def _reply(raw: bytes | str) -> str:
    """The server's words, without any address it may echo back."""
    text = raw.decode("utf-8", "replace") if isinstance(raw, bytes) else str(raw)
    return _ADDRESS.sub("<address>", " ".join(text.split()))[:200]


def _by_code(code: int, reason: str) -> TransientError | PermanentError:
    text = f"SMTP {code}: {reason}"
    return PermanentError(text) if 500 <= code < 600 else TransientError(text)
