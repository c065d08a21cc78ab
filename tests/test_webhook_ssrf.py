"""Webhooks reach public addresses only: refused when saved, refused again when
sent, with no connection made; the request goes to the address that was checked."""

from __future__ import annotations

import pytest

from leads import create_app
from leads.delivery.base import PermanentError
from leads.extensions import db
from leads.models import Clinic, Delivery, InboxChannel
from leads.services.deliveries import DeliveryError, add_channel
from leads.services.webhooks import new_secret
from tests.support import ConnectionLog, WebhookReceiver
from tests.test_security import SAFE

URL = "/northfield/edinburgh/prp/"

INTERNAL = [
    "http://127.0.0.1:{port}/hooks/leads",
    "http://10.0.0.1/hooks",
    "http://169.254.169.254/latest/meta-data/",
    "http://[::1]:{port}/hooks/leads",
    "http://[::ffff:127.0.0.1]:{port}/hooks/leads",
    "https://[::ffff:a9fe:a9fe]/latest/meta-data/",
    "http://2130706433:{port}/",  # 127.0.0.1 as one number
    "http://0.0.0.0:{port}/",
    "http://[fd00::1]/",
    "http://224.0.0.1/",
    "http://100.64.0.1/",
]


@pytest.fixture
def receiver():
    server = WebhookReceiver().start()
    yield server
    server.stop()


def northfield(app) -> Clinic:
    return db.session.scalar(db.select(Clinic).where(Clinic.slug == "northfield"))


@pytest.mark.parametrize("template", INTERNAL)
def test_internal_addresses_are_refused_when_saved(app, demo, receiver, template):
    url = template.format(port=receiver.port)
    with app.app_context(), ConnectionLog() as seen:
        with pytest.raises(DeliveryError, match="public addresses only"):
            add_channel(northfield(app), "webhook", url, None)
        assert (
            db.session.scalar(db.select(db.func.count()).where(InboxChannel.kind == "webhook")) == 0
        )
    assert seen.connects == []
    assert receiver.attempts == []


def test_the_admin_form_refuses_an_internal_address(app, demo, make_user, login):
    from tests.conftest import _hidden

    admin = app.test_client()
    login(admin, make_user("admin", ()))
    with app.app_context():
        url = f"/admin/clinics/{northfield(app).id}/channels"
    csrf = _hidden(admin.get(url).get_data(as_text=True), "csrf_token")
    response = admin.post(
        url,
        data={
            "csrf_token": csrf,
            "kind": "webhook",
            "target": "http://169.254.169.254/latest/meta-data/",
            "location": "",
        },
    )
    assert response.status_code == 422
    assert "public addresses only" in response.get_data(as_text=True)


def stored_channel(app, url: str) -> None:
    """A channel saved while the rules allowed it (or before they existed)."""
    with app.app_context():
        clinic = northfield(app)
        clinic.channels.append(InboxChannel(kind="webhook", target=url, secret=new_secret()))
        db.session.commit()


@pytest.mark.parametrize("template", INTERNAL[:5])
def test_internal_addresses_are_refused_when_sent_with_no_connection_made(
    app, client, demo, receiver, form_page, run_worker, template, smtp_server, redis_url
):
    from urllib.parse import urlsplit

    stored_channel(app, template.format(port=receiver.port))
    assert client.post(URL, data=form_page(URL)).status_code == 303
    with ConnectionLog() as seen:
        run_worker()
    with app.app_context():
        delivery = db.session.scalars(
            db.select(Delivery).where(Delivery.channel == "webhook")
        ).one()
        assert (delivery.status, delivery.attempts) == ("failed", 1)
        assert "public addresses only" in delivery.last_error
    # The only connections made carried the email deliveries to the SMTP server
    # (and, where Redis is a server on TCP, the worker's own queue).
    queue_port = urlsplit(redis_url).port
    made = [port for _, port in seen.connects if port != queue_port]
    assert made and all(port == smtp_server.port for port in made)
    assert receiver.attempts == []


def test_a_host_name_that_resolves_to_a_private_address_is_refused_at_send_time(
    app, client, demo, receiver, form_page, run_worker
):
    # Saved while private targets were allowed; "localhost" resolves to loopback.
    app.config["WEBHOOK_ALLOW_PRIVATE"] = True
    with app.app_context():
        add_channel(
            northfield(app), "webhook", f"http://localhost:{receiver.port}/hooks/leads", None
        )
    app.config["WEBHOOK_ALLOW_PRIVATE"] = False
    assert client.post(URL, data=form_page(URL)).status_code == 303
    run_worker()
    with app.app_context():
        delivery = db.session.scalars(
            db.select(Delivery).where(Delivery.channel == "webhook")
        ).one()
        assert delivery.status == "failed"
        assert "localhost is a private, local or reserved address" in delivery.last_error
    assert receiver.attempts == []


def test_the_request_goes_to_the_address_that_was_checked(app, client, demo, receiver, form_page):
    """One name lookup per send (the check), then a connection to that very
    address: a second DNS answer (rebinding) is never asked for."""
    from leads.delivery.webhook import WebhookChannel
    from leads.jobs import delivery_with_lead

    app.config["WEBHOOK_ALLOW_PRIVATE"] = True
    stored_channel(app, f"http://localhost:{receiver.port}/hooks/leads")
    assert client.post(URL, data=form_page(URL)).status_code == 303
    with app.app_context():
        delivery_id = db.session.scalar(db.select(Delivery.id).where(Delivery.channel == "webhook"))
        delivery = db.session.scalars(delivery_with_lead(delivery_id)).one()
        with ConnectionLog() as seen:
            WebhookChannel().send(delivery)
    assert seen.lookups.count("localhost") == 1
    assert seen.connects == [("127.0.0.1", receiver.port)]
    [(_, headers, _)] = receiver.attempts
    assert headers["Host"] == f"localhost:{receiver.port}"


def test_production_takes_https_only(app, demo):
    app.config["WEBHOOK_HTTPS_ONLY"] = True
    with app.app_context(), pytest.raises(DeliveryError, match="must start with https://"):
        add_channel(northfield(app), "webhook", "http://hooks.example.org/leads", None)


def test_production_settings_take_https_only_and_allow_no_private_targets(tmp_path):
    app = create_app({**SAFE, "INSTANCE_PATH": str(tmp_path)})
    assert app.config["WEBHOOK_HTTPS_ONLY"] is True
    assert app.config["WEBHOOK_ALLOW_PRIVATE"] is False


def test_check_deploy_flags_private_webhook_targets(tmp_path):
    app = create_app({**SAFE, "INSTANCE_PATH": str(tmp_path), "WEBHOOK_ALLOW_PRIVATE": True})
    result = app.test_cli_runner().invoke(args=["check-deploy"])
    assert result.exit_code == 1
    assert "UNSAFE WEBHOOK_ALLOW_PRIVATE:" in result.output


def test_a_url_with_credentials_or_no_host_is_refused(app, demo):
    with app.app_context():
        for url in ("https://user:pw@hooks.example.org/", "https:///path", "https://[::1"):
            with pytest.raises(DeliveryError):
                add_channel(northfield(app), "webhook", url, None)


def test_send_refuses_a_target_that_is_no_longer_allowed(app, demo):
    from leads.delivery.webhook import checked_target

    with app.app_context(), pytest.raises(PermanentError, match="webhook URL refused"):
        checked_target("http://169.254.169.254/")


@pytest.fixture(scope="module")
def localhost_certificate(tmp_path_factory):
    """A self-signed certificate for the name "localhost" only (not its address)."""
    import subprocess

    folder = tmp_path_factory.mktemp("webhook-tls")
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
            "/CN=localhost",
            "-addext",
            "subjectAltName=DNS:localhost",
            "-keyout",
            str(key),
            "-out",
            str(cert),
        ],
        check=True,
        capture_output=True,
    )
    return cert, key


def test_https_to_the_checked_address_still_checks_the_certificate_for_the_host_name(
    app, client, demo, form_page, localhost_certificate
):
    """The connection goes to 127.0.0.1, yet TLS is checked for "localhost":
    the certificate for that name is accepted; the same server under its bare
    address (a name the certificate does not carry) is refused."""
    import ssl

    from leads.delivery.base import TransientError
    from leads.delivery.webhook import WebhookChannel
    from leads.jobs import delivery_with_lead

    cert, key = localhost_certificate
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    server = WebhookReceiver(tls=context).start()
    try:
        app.config.update(WEBHOOK_ALLOW_PRIVATE=True, WEBHOOK_CA_FILE=str(cert))
        stored_channel(app, f"https://localhost:{server.port}/hooks/leads")
        stored_channel(app, f"https://127.0.0.1:{server.port}/hooks/leads")
        assert client.post(URL, data=form_page(URL)).status_code == 303
        with app.app_context():
            ids = list(
                db.session.scalars(
                    db.select(Delivery.id)
                    .where(Delivery.channel == "webhook")
                    .order_by(Delivery.id)
                )
            )
            by_name, by_address = (db.session.scalars(delivery_with_lead(i)).one() for i in ids)
            with ConnectionLog() as seen:
                WebhookChannel().send(by_name)
            assert seen.connects == [("127.0.0.1", server.port)]
            with pytest.raises(TransientError, match="unreachable"):
                WebhookChannel().send(by_address)
        [(_, headers, _)] = server.attempts
        assert headers["Host"] == f"localhost:{server.port}"
    finally:
        server.stop()
