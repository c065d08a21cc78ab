"""SMTP: ``smtp://user:pass@host:587`` (STARTTLS when offered, or forced with
``?starttls=require``), ``smtps://`` for TLS from the first byte.

A connection is kept open between messages, one per process and thread:
connecting, EHLO, STARTTLS and login cost round trips and CPU on every
message otherwise. A kept connection is used again only when it was used
recently. The next message's own MAIL FROM tells whether the server still
holds it: a connection found closed there (dropped, or a 421 answer, the
server closing) has carried nothing of the message, which then goes on a
fresh connection. Once the server has accepted MAIL FROM, an error closes
the connection and is raised: the message is never sent a second time
within one attempt.
"""

from __future__ import annotations

import contextlib
import functools
import os
import re
import smtplib
import ssl
import threading
import time
from email.message import EmailMessage
from email.utils import getaddresses
from urllib.parse import parse_qs, unquote, urlsplit

from leads.delivery.base import PermanentError, TransientError

_ADDRESS = re.compile(r"<?[^\s<>@]+@[^\s<>]+>?")

# MAIL FROM's parameters for a message whose headers are in UTF-8, as
# ``send_message`` gives them (a server offering SMTPUTF8 takes 8-bit data).
_SMTPUTF8 = ("SMTPUTF8", "BODY=8BITMIME")


class NoSmtpUtf8(PermanentError):
    """The server does not offer SMTPUTF8, which the message needs: one of its
    addresses is not ASCII and has no ASCII form."""

    def __init__(self) -> None:
        super().__init__("SMTP server lacks SMTPUTF8: an address in the message is not ASCII")


class SmtpMailer:
    # A kept connection idle for longer is closed rather than used again
    # (servers drop idle clients after a while; MAIL FROM notices those that did).
    keep_seconds = 30.0

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
            return _ClientTls(self.host, self.port, timeout=self.timeout, context=_tls_context())
        client = _Client(self.host, self.port, timeout=self.timeout)
        try:
            client.ehlo()
            if self.starttls == "require" and not client.has_extn("starttls"):
                # Our settings, not the network: worth retrying once they are fixed.
                raise TransientError(
                    "SMTP server does not offer STARTTLS, which the settings require"
                )
            if self.starttls == "require" or (
                self.starttls == "auto" and client.has_extn("starttls")
            ):
                client.starttls(context=_tls_context())
                client.ehlo()
        except BaseException:
            _close(client)
            raise
        return client

    def _key(self) -> tuple:
        return (self.ssl, self.host, self.port, self.username, self.password, self.starttls)

    def _new_client(self) -> smtplib.SMTP:
        """A new connection, logged in."""
        client = self._connect()
        try:
            if self.username:
                client.ehlo_or_helo_if_needed()  # as login does; smtps:// has not yet
                if not client.has_extn("auth"):
                    raise TransientError(_no_auth(client))
                offered = client.esmtp_features["auth"].upper().split()
                if not _PASSWORD_LOGINS.intersection(offered):
                    raise TransientError(
                        "SMTP server offers no login by user name and password"
                        f" (it offers {_mechanisms(offered)})"
                    )
                client.login(self.username, self.password or "")
        except BaseException:
            _close(client)
            raise
        return client

    def send(
        self,
        message: EmailMessage,
        *,
        mailbox: str,
        wire: bytes | None = None,
        smtputf8: bool = False,
    ) -> None:
        """Send ``message``. ``wire``, when given, is its encoding with CR LF
        line ends, sent as it is rather than encoded a second time;
        ``smtputf8``: its headers are in UTF-8, and a server that does not
        offer SMTPUTF8 is not sent it (``NoSmtpUtf8``)."""
        try:
            kept = _take(self._key(), self.keep_seconds)
            client = kept or self._new_client()
            while True:  # twice at most: a kept connection, then a new one
                if smtputf8 and not client.has_extn("smtputf8"):
                    _keep(self._key(), client)  # nothing was started on it
                    raise NoSmtpUtf8()
                try:
                    refused = _transmit(client, message, wire, smtputf8)
                    break
                except BaseException as exc:
                    _close(client)
                    if client is not kept or not _closed_before_mail(client, exc):
                        raise
                # The kept connection had gone: nothing of the message was sent.
                client = self._new_client()
            _keep(self._key(), client)
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


class _MailAnswer:
    """Notes the server's answer to each message's MAIL FROM (None: no answer)."""

    mail_answer: int | None = None

    def mail(self, sender: str, options: tuple | list = ()) -> tuple[int, bytes]:
        self.mail_answer = None
        answer = super().mail(sender, options)  # type: ignore[misc]
        self.mail_answer = answer[0]
        return answer


class _Client(_MailAnswer, smtplib.SMTP):
    pass


class _ClientTls(_MailAnswer, smtplib.SMTP_SSL):
    pass


def _closed_before_mail(client: smtplib.SMTP, exc: BaseException) -> bool:
    """Whether ``exc`` says the server had closed the connection before it
    accepted the message's MAIL FROM: dropped unanswered, or answered 421
    (closing). Nothing of the message has reached it then. A time-out is not
    that: the server may be slow, and is left for the next attempt."""
    answer = getattr(client, "mail_answer", None)
    if answer == 421:
        return True
    dropped = isinstance(exc, smtplib.SMTPServerDisconnected | ConnectionError)
    return answer is None and dropped


# The kept connection of this thread: (process id, settings, client, last used).
_kept = threading.local()


def _take(key: tuple, keep_seconds: float) -> smtplib.SMTP | None:
    """Take this thread's kept connection for ``key``, if there is one and it
    is fresh; any other kept connection is closed. None: open a new one."""
    held = getattr(_kept, "held", None)
    _kept.held = None
    if held is None:
        return None
    pid, held_key, client, used = held
    if pid != os.getpid():
        return None  # inherited through a fork: the parent's to use or close
    if held_key != key or time.monotonic() - used > keep_seconds:
        _close(client)
        return None
    return client


def _keep(key: tuple, client: smtplib.SMTP) -> None:
    _kept.held = (os.getpid(), key, client, time.monotonic())


def close_kept() -> None:
    """Close this thread's kept connection, if any (for the tests' servers)."""
    held = getattr(_kept, "held", None)
    _kept.held = None
    if held is not None and held[0] == os.getpid():
        _close(held[2])


def _close(client: smtplib.SMTP) -> None:
    """QUIT if the server still listens; the socket is closed either way."""
    with contextlib.suppress(smtplib.SMTPException, OSError):
        client.quit()
    with contextlib.suppress(OSError):
        client.close()


def _transmit(
    client: smtplib.SMTP, message: EmailMessage, wire: bytes | None, smtputf8: bool
) -> dict:
    """``send_message``'s envelope (From, and To, Cc and Bcc), with ``wire`` as
    the data, and SMTPUTF8 asked for when ``wire`` was written in UTF-8. The
    library encodes the message itself when no bytes are given, when a header
    must be dropped on the way (Bcc), or when an address is not plain ASCII
    in bytes that were not written in UTF-8 (that needs its own encoding)."""
    if wire is None or any(name in message for name in ("Bcc", "Resent-Bcc", "Resent-Date")):
        return client.send_message(message)
    sender = _addresses(message["Sender"] or message["From"])[0]
    recipients = [
        address
        for name in ("To", "Bcc", "Cc")
        if message[name] is not None
        for address in _addresses(message[name])
    ]
    if smtputf8:
        return client.sendmail(sender, recipients, wire, mail_options=_SMTPUTF8)
    if not "".join([sender, *recipients]).isascii():
        return client.send_message(message)
    return client.sendmail(sender, recipients, wire)


# The logins ``smtplib`` makes with a user name and password.
_PASSWORD_LOGINS = frozenset({"CRAM-MD5", "PLAIN", "LOGIN"})


def _mechanisms(offered: list[str]) -> str:
    """The server's login methods, as names only (at most five, each short)."""
    names = [name[:20] for name in offered if name.replace("-", "").replace("_", "").isalnum()]
    return ", ".join(names[:5]) or "none by name"


def _addresses(header: object) -> list[str]:
    """A header's addresses as ``getaddresses`` reads them; from the header
    object's own parse where it has one (that reading costs as much again)."""
    parsed = getattr(header, "addresses", None)
    if parsed is not None:
        return [address.addr_spec for address in parsed]
    return [address for _, address in getaddresses([str(header)])]


def _no_auth(client: smtplib.SMTP) -> str:
    """Why a login cannot be made: the server does not offer AUTH, as many do
    only once the connection is encrypted."""
    reason = "SMTP server does not offer AUTH, which the settings' user name needs"
    if isinstance(client.sock, ssl.SSLSocket):
        return reason
    return f"{reason} (servers often offer it only after STARTTLS)"


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
