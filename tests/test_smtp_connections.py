"""One SMTP connection kept between messages, against real servers that stop,
start again, drop idle clients and refuse: every message arrives once."""

from __future__ import annotations

import select
import socket
import time
from collections.abc import Iterator
from email.message import EmailMessage

import pytest

from leads.delivery import smtp
from leads.delivery.base import PermanentError, TransientError
from leads.delivery.smtp import NoSmtpUtf8, SmtpMailer, close_kept
from tests.support import SmtpServer


def message(n: int) -> EmailMessage:
    msg = EmailMessage()
    msg["Message-ID"] = f"<kept-{n}@clinic-leads.test>"
    msg["From"] = "Clinic Leads <leads@clinic-leads.test>"
    msg["To"] = "enquiries@aurelia-hair.example"
    msg["Subject"] = f"Message {n}"
    msg.set_content("Hello")
    return msg


def ids(server: SmtpServer) -> list[str]:
    return [m["Message-ID"] for m in server.inbox.messages]


def wait_for_the_server_to_drop_the_kept_connection() -> None:
    """Wait until the server's idle time-out has closed this thread's kept
    connection: its socket reads end-of-file. A fixed sleep was not enough: on
    a busy machine the server's thread may close it late, and the next message
    then goes on the old connection, which is not what the test is about."""
    held = smtp._kept.held  # (process id, settings, client, last used)
    assert held is not None, "no connection was kept"
    sock = held[2].sock
    readable, _, _ = select.select([sock], [], [], 15)
    assert readable, "the server left the idle connection open"
    # Peeked, not read: the mailer finds the end-of-file itself at its next MAIL.
    assert sock.recv(1, socket.MSG_PEEK) == b"", "the server sent something instead"


@pytest.fixture
def server() -> Iterator[SmtpServer]:
    close_kept()
    started = SmtpServer().start()
    yield started
    close_kept()
    started.stop()


def test_messages_share_one_connection(server):
    mailer = SmtpMailer(server.url)
    for n in range(3):
        mailer.send(message(n), mailbox="x")
    assert ids(server) == [f"<kept-{n}@clinic-leads.test>" for n in range(3)]
    assert server.inbox.greetings == 1
    # The next message's own MAIL command finds whether a kept connection
    # still works: no round trip of its own before each message.
    assert server.inbox.resets == 0


def test_a_kept_connection_the_server_closes_at_mail_is_replaced(server):
    """A server that is closing (421 to MAIL FROM) has received nothing of the
    message yet: it goes, once, on a new connection."""
    mailer = SmtpMailer(server.url)
    mailer.send(message(1), mailbox="x")
    server.inbox.mail_replies.append("421 4.3.2 Service shutting down")
    mailer.send(message(2), mailbox="x")
    assert ids(server) == ["<kept-1@clinic-leads.test>", "<kept-2@clinic-leads.test>"]
    assert server.inbox.data_received == 2
    assert server.inbox.greetings == 2


def test_a_new_connection_closed_at_mail_is_a_transient_error(server):
    """On a connection just opened, a 421 is the server's answer: retried later."""
    server.inbox.mail_replies.append("421 4.3.2 Service shutting down")
    with pytest.raises(TransientError, match="SMTP 421"):
        SmtpMailer(server.url).send(message(1), mailbox="x")
    assert server.inbox.data_received == 0
    assert server.inbox.greetings == 1


def test_a_server_started_again_gets_the_next_message_on_a_new_connection():
    close_kept()
    # A server going down closes its clients' connections; this one's idle
    # time-out does it (aiosmtpd's stop leaves them open on this Python).
    first = SmtpServer(timeout=0.3).start()
    again = SmtpServer(port=first.port)
    try:
        SmtpMailer(first.url).send(message(1), mailbox="x")
        wait_for_the_server_to_drop_the_kept_connection()
        first.controller.stop()  # not first.stop(): that closes the kept connection
        again.start()
        SmtpMailer(first.url).send(message(2), mailbox="x")
        assert ids(first) == ["<kept-1@clinic-leads.test>"]
        assert ids(again) == ["<kept-2@clinic-leads.test>"]
        assert again.inbox.data_received == 1
    finally:
        close_kept()
        again.stop()


def test_a_connection_the_server_dropped_while_idle_is_replaced():
    close_kept()
    server = SmtpServer(timeout=0.3).start()
    try:
        mailer = SmtpMailer(server.url)
        mailer.send(message(1), mailbox="x")
        wait_for_the_server_to_drop_the_kept_connection()
        mailer.send(message(2), mailbox="x")
        assert ids(server) == ["<kept-1@clinic-leads.test>", "<kept-2@clinic-leads.test>"]
        assert server.inbox.data_received == 2
        assert server.inbox.greetings == 2
    finally:
        close_kept()
        server.stop()


def test_a_connection_kept_too_long_is_not_used_again(server):
    mailer = SmtpMailer(server.url)
    mailer.keep_seconds = 0
    mailer.send(message(1), mailbox="x")
    time.sleep(0.01)
    mailer.send(message(2), mailbox="x")
    assert len(ids(server)) == 2
    assert server.inbox.greetings == 2


@pytest.mark.parametrize(
    ("reply", "error"),
    [("451 4.3.0 try again later", TransientError), ("554 5.7.1 refused", PermanentError)],
)
def test_a_refusal_on_a_kept_connection_is_raised_and_the_message_not_sent_again(
    server, reply, error
):
    mailer = SmtpMailer(server.url)
    mailer.send(message(1), mailbox="x")
    server.inbox.replies.append(reply)
    with pytest.raises(error):
        mailer.send(message(2), mailbox="x")
    # The refused message reached the server once and was not sent again.
    assert server.inbox.data_received == 2
    assert ids(server) == ["<kept-1@clinic-leads.test>"]
    mailer.send(message(3), mailbox="x")
    assert ids(server) == ["<kept-1@clinic-leads.test>", "<kept-3@clinic-leads.test>"]
    assert server.inbox.data_received == 3
    # The connection that carried the refusal was closed; the next message opened one.
    assert server.inbox.greetings == 2


def test_a_replacement_connection_without_smtputf8_is_not_sent_a_utf8_message():
    """The kept connection's server offered SMTPUTF8; the one that answers
    after it went away does not. The message written in UTF-8 is not sent to
    it at all (NoSmtpUtf8, so it goes again as ASCII where it can)."""
    close_kept()
    first = SmtpServer(timeout=0.3).start()
    again = SmtpServer(port=first.port, enable_SMTPUTF8=False)
    try:
        SmtpMailer(first.url).send(message(1), mailbox="x")
        wait_for_the_server_to_drop_the_kept_connection()  # then the server is replaced
        first.controller.stop()
        again.start()
        utf8 = message(2)
        utf8.replace_header("To", "zoë@aurelia-hair.example")
        wire = utf8.as_bytes(policy=utf8.policy.clone(utf8=True, linesep="\r\n"))
        with pytest.raises(NoSmtpUtf8):
            SmtpMailer(first.url).send(utf8, mailbox="x", wire=wire, smtputf8=True)
        assert again.inbox.data_received == 0
        # Nothing was started on the new connection: the next message uses it.
        SmtpMailer(first.url).send(message(3), mailbox="x")
        assert ids(again) == ["<kept-3@clinic-leads.test>"]
        assert again.inbox.greetings == 1
    finally:
        close_kept()
        again.stop()
