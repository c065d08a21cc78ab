"""SMTP with STARTTLS, implicit TLS and authentication, against real servers."""

from __future__ import annotations

import contextlib
import ssl
import subprocess

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

from leads.delivery.base import TransientError
from leads.delivery.smtp import SmtpMailer, _tls_context, close_kept
from leads.extensions import db
from leads.models import Delivery, utcnow
from tests.support import MailInbox, free_port

USER, SECRET = "clinic-mailer", "app password 42"
URL = "/aurelia/harley-street/mesotherapy/"


@pytest.fixture(scope="module")
def certificate(tmp_path_factory):
    """A self-signed certificate for 127.0.0.1, trusted through SSL_CERT_FILE."""
    folder = tmp_path_factory.mktemp("tls")
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(
        [
            "openssl",
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "2",
            "-subj",
            "/CN=127.0.0.1",
            "-addext",
            "subjectAltName=IP:127.0.0.1",
            "-keyout",
            str(key),
            "-out",
            str(cert),
        ],
        check=True,
        capture_output=True,
    )
    return cert, key


def _authenticator(server, session, envelope, mechanism, data):
    ok = isinstance(data, LoginPassword) and (data.login, data.password) == (
        USER.encode(),
        SECRET.encode(),
    )
    return AuthResult(success=ok, handled=False)


def _server_context(certificate, monkeypatch) -> ssl.SSLContext:
    """The server's TLS context; the client is made to trust the test certificate."""
    cert, key = certificate
    monkeypatch.setenv("SSL_CERT_FILE", str(cert))
    _tls_context.cache_clear()  # built once per process; these tests change what it trusts
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(str(cert), str(key))
    return context


@pytest.fixture
def tls_server(certificate, monkeypatch):
    context = _server_context(certificate, monkeypatch)
    inbox = MailInbox()
    port = free_port()
    controller = Controller(
        inbox,
        hostname="127.0.0.1",
        port=port,
        tls_context=context,
        require_starttls=True,
        authenticator=_authenticator,
        auth_required=True,
    )
    controller.start()
    yield inbox, port
    close_kept()  # before the server stops, as it would leave its side open
    controller.stop()


def message():
    from email.message import EmailMessage

    msg = EmailMessage()
    msg["From"], msg["To"], msg["Subject"] = "a@example.org", "b@example.org", "hello"
    msg["Message-ID"] = "<delivery-1.x@example.org>"
    msg.set_content("body")
    return msg


def test_starttls_and_login(tls_server):
    inbox, port = tls_server
    SmtpMailer(f"smtp://{USER}:{SECRET.replace(' ', '%20')}@127.0.0.1:{port}").send(
        message(), mailbox="x"
    )
    assert [m["Subject"] for m in inbox.messages] == ["hello"]


def test_wrong_password_is_transient_and_sends_nothing(tls_server):
    inbox, port = tls_server
    with pytest.raises(TransientError, match="login refused"):
        SmtpMailer(f"smtp://{USER}:wrong@127.0.0.1:{port}").send(message(), mailbox="x")
    assert inbox.messages == []


def test_server_requiring_tls_refuses_plain_text_login(tls_server):
    inbox, port = tls_server
    with pytest.raises(TransientError, match="does not offer AUTH"):
        SmtpMailer(f"smtp://{USER}:x@127.0.0.1:{port}?starttls=never").send(message(), mailbox="x")
    assert inbox.messages == []


def test_untrusted_certificate_is_refused(tls_server, monkeypatch, tmp_path):
    inbox, port = tls_server
    monkeypatch.setenv("SSL_CERT_FILE", str(tmp_path / "none.pem"))
    _tls_context.cache_clear()
    with pytest.raises(TransientError, match="unreachable"):
        SmtpMailer(f"smtp://{USER}:{SECRET}@127.0.0.1:{port}").send(message(), mailbox="x")
    assert inbox.messages == []


@contextlib.contextmanager
def _implicit_tls_server(certificate, monkeypatch, inbox: MailInbox, **options):
    """An SMTP server speaking TLS from the first byte; yields its port."""
    port = free_port()
    controller = Controller(
        inbox,
        hostname="127.0.0.1",
        port=port,
        ssl_context=_server_context(certificate, monkeypatch),
        authenticator=_authenticator,
        auth_require_tls=False,
        **options,
    )
    controller.start()
    try:
        yield port
    finally:
        close_kept()
        controller.stop()


def test_implicit_tls(certificate, monkeypatch):
    inbox = MailInbox()
    with _implicit_tls_server(certificate, monkeypatch, inbox) as port:
        SmtpMailer(f"smtps://{USER}:{SECRET.replace(' ', '%20')}@127.0.0.1:{port}").send(
            message(), mailbox="x"
        )
    assert len(inbox.messages) == 1


def _inbox_delivery(app) -> Delivery:
    with app.app_context():
        row = db.session.scalar(db.select(Delivery).where(Delivery.purpose == "inbox"))
        db.session.expunge_all()
        return row


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        (
            "smtp://127.0.0.1:{port}?starttls=require",
            "SMTP server does not offer STARTTLS, which the settings require",
        ),
        (
            f"smtp://{USER}:secret@127.0.0.1:{{port}}",
            "SMTP server does not offer AUTH, which the settings' user name needs"
            " (servers often offer it only after STARTTLS)",
        ),
    ],
)
def test_a_server_without_what_the_settings_require_is_named_and_retried(
    app, client, demo, form_page, smtp_server, mail, url, reason
):
    """The settings ask for STARTTLS, or a login, and the server does not offer
    it: staff read what the settings ask and the server lacks, not a network
    failure. The attempt is retried, and goes through once the settings are
    fixed."""
    from leads.jobs import deliver

    app.config["SMTP_URL"] = url.format(port=smtp_server.port)
    assert client.post(URL, data=form_page(URL)).status_code == 303
    inbox = _inbox_delivery(app)
    with app.app_context():
        assert deliver(inbox.id) == "pending"
    inbox = _inbox_delivery(app)
    assert (inbox.status, inbox.attempts) == ("pending", 1)
    assert inbox.last_error == reason
    assert mail.messages == []

    app.config["SMTP_URL"] = smtp_server.url  # the settings fixed
    with app.app_context():
        db.session.execute(db.update(Delivery).values(due_at=utcnow()))
        db.session.commit()
        assert deliver(inbox.id) == "sent"
    assert len(mail.to(inbox.target)) == 1


class _TokenOnlyInbox(MailInbox):
    """A server whose only login takes a token (as some hosted services offer)."""

    async def auth_XOAUTH2(self, server, args):  # aiosmtpd finds a method by its name
        return AuthResult(success=False, handled=False)


def test_a_server_offering_no_login_we_can_use_is_named(certificate, monkeypatch):
    """AUTH is offered, but only by a method that takes a token rather than a
    password: staff read that, and which methods it offers, not "unreachable"."""
    inbox = _TokenOnlyInbox()
    with (
        _implicit_tls_server(
            certificate, monkeypatch, inbox, auth_exclude_mechanism=["LOGIN", "PLAIN"]
        ) as port,
        pytest.raises(TransientError) as caught,
    ):
        SmtpMailer(f"smtps://{USER}:{SECRET}@127.0.0.1:{port}").send(message(), mailbox="x")
    assert str(caught.value) == (
        "SMTP server offers no login by user name and password (it offers XOAUTH2)"
    )
    assert inbox.messages == []
