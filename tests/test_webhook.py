"""The webhook inbox channel, against a real HTTP server."""

from __future__ import annotations

import hashlib
import hmac
import json

import pytest

from leads.extensions import db
from leads.models import Clinic, Delivery, InboxChannel
from tests.support import WebhookReceiver, free_port

URL = "/northfield/edinburgh/prp/"
SECRET = "s3cret-for-signing"


@pytest.fixture
def receiver():
    server = WebhookReceiver().start()
    yield server
    server.stop()


@pytest.fixture
def hooked(app, demo, receiver):
    """Northfield's leads also go to a webhook."""
    with app.app_context():
        clinic = db.session.scalar(db.select(Clinic).where(Clinic.slug == "northfield"))
        clinic.channels.append(InboxChannel(kind="webhook", target=receiver.url, secret=SECRET))
        db.session.commit()
    return receiver


def webhook_delivery(app) -> Delivery:
    with app.app_context():
        row = db.session.scalars(db.select(Delivery).where(Delivery.channel == "webhook")).one()
        db.session.expunge(row)
        return row


def test_webhook_gets_the_lead_signed_with_an_idempotency_key(
    app, client, hooked, form_page, run_worker, mail
):
    client.get(URL + "?utm_campaign=scalp")
    assert client.post(URL, data=form_page(URL, treatment="prp")).status_code == 303
    run_worker()
    [(headers, body)] = hooked.requests
    data = json.loads(body)
    lead = data["lead"]
    assert data["event"] == "lead.created"
    assert (lead["full_name"], lead["phone"], lead["treatment"]["slug"]) == (
        "Alex Morgan",
        "+447911123456",
        "prp",
    )
    assert (
        lead["location"]["slug"] == "edinburgh" and lead["attribution"]["utm_campaign"] == "scalp"
    )
    assert lead["url"].startswith("http://leads.test/inbox/leads/")
    delivery = webhook_delivery(app)
    assert headers["Idempotency-Key"].startswith(f"delivery-{delivery.id}-")
    stamp, mac = headers["X-Leads-Signature"].split(",")
    expected = hmac.new(SECRET.encode(), stamp[2:].encode() + b"." + body, hashlib.sha256)
    assert mac == "v1=" + expected.hexdigest()
    assert delivery.status == "sent"
    assert len(mail.messages) == 2  # the email inbox and the acknowledgement as well


def test_webhook_server_error_is_retried_then_delivered(app, client, hooked, form_page, run_worker):
    hooked.statuses.extend([503, 500])
    assert client.post(URL, data=form_page(URL)).status_code == 303
    run_worker()
    delivery = webhook_delivery(app)
    assert (delivery.status, delivery.attempts) == ("sent", 3)
    assert len(hooked.requests) == 1


def test_webhook_refusal_is_permanent(app, client, hooked, form_page, run_worker):
    hooked.statuses.append(410)
    assert client.post(URL, data=form_page(URL)).status_code == 303
    run_worker()
    delivery = webhook_delivery(app)
    assert (delivery.status, delivery.attempts) == ("failed", 1)
    assert "HTTP 410" in delivery.last_error


def test_webhook_unreachable_gives_up_after_retries(app, client, demo, form_page, run_worker):
    with app.app_context():
        clinic = db.session.scalar(db.select(Clinic).where(Clinic.slug == "northfield"))
        clinic.channels.append(
            InboxChannel(kind="webhook", target=f"http://127.0.0.1:{free_port()}/x")
        )
        db.session.commit()
    assert client.post(URL, data=form_page(URL)).status_code == 303
    run_worker()
    delivery = webhook_delivery(app)
    assert delivery.status == "failed" and "unreachable" in delivery.last_error
    assert delivery.attempts == len(app.config["DELIVERY_RETRY_INTERVALS"]) + 1
