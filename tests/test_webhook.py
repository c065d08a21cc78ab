"""The webhook channel against a real HTTP server: Standard Webhooks signatures,
event types, thin payloads, secret rotation, and how each answer is taken."""

from __future__ import annotations

import itertools
import json
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import pytest
from standardwebhooks import Webhook, WebhookVerificationError

from leads.delivery.base import PermanentError, TransientError
from leads.extensions import db
from leads.models import (
    AuditEntry,
    Clinic,
    Delivery,
    InboxChannel,
    Lead,
    User,
    utcnow,
)
from leads.services.webhooks import new_secret
from tests.support import WebhookReceiver, free_port

URL = "/northfield/edinburgh/prp/"


@pytest.fixture
def settings(settings):
    # The receiver listens on loopback: allowed here, as in development.
    return {**settings, "WEBHOOK_ALLOW_PRIVATE": True}


@pytest.fixture
def receiver():
    server = WebhookReceiver().start()
    yield server
    server.stop()


def add_webhook(app, target: str, **options) -> tuple[int, str]:
    """Northfield's leads also go to a webhook; returns (channel id, its secret)."""
    secret = options.pop("secret", None) or new_secret()
    with app.app_context():
        clinic = db.session.scalar(db.select(Clinic).where(Clinic.slug == "northfield"))
        channel = InboxChannel(kind="webhook", target=target, secret=secret, **options)
        clinic.channels.append(channel)
        db.session.commit()
        return channel.id, secret


@pytest.fixture
def hooked(app, demo, receiver):
    channel_id, secret = add_webhook(app, receiver.url)
    receiver.secret = secret
    receiver.channel_id = channel_id
    return receiver


def webhook_deliveries(app) -> list[Delivery]:
    with app.app_context():
        rows = list(
            db.session.scalars(
                db.select(Delivery).where(Delivery.channel == "webhook").order_by(Delivery.id)
            )
        )
        db.session.expunge_all()
        return rows


def verify(secret: str, headers: dict[str, str], body: bytes) -> dict:
    """What a receiver does: the standardwebhooks library checks the call."""
    return Webhook(secret).verify(body, headers)


_patients = itertools.count(1)


def submit(client, form_page) -> dict[str, str]:
    """One request from a new patient each time (the same patient again within
    30 minutes would be the same lead, sent again)."""
    n = next(_patients)
    data = form_page(
        URL, treatment="prp", email=f"patient{n}@example.org", phone=f"07911 12{n:04d}"
    )
    assert client.post(URL, data=data).status_code == 303
    return data


def test_a_delivery_is_signed_by_standard_webhooks_and_verifies(
    app, client, hooked, form_page, run_worker, mail
):
    client.get(URL + "?utm_campaign=scalp")
    sent = submit(client, form_page)
    run_worker()
    [(headers, body)] = hooked.requests
    event = verify(hooked.secret, headers, body)
    assert event["type"] == "lead.created"
    lead = event["data"]
    assert (lead["full_name"], lead["phone"], lead["treatment"]["slug"]) == (
        "Alex Morgan",
        "+44" + sent["phone"].replace(" ", "")[1:],
        "prp",
    )
    assert lead["attribution"]["utm_campaign"] == "scalp"
    assert lead["api_url"] == f"http://leads.test/api/v1/leads/{lead['reference']}"
    assert headers["webhook-signature"].startswith("v1,")
    [delivery] = webhook_deliveries(app)
    assert headers["webhook-id"] == f"msg_{delivery.id}_{lead['reference']}"
    assert delivery.status == "sent"
    assert len(mail.messages) == 2  # the email inbox and the acknowledgement as well
    # A receiver with another secret, or a body changed on the way, is refused.
    with pytest.raises(WebhookVerificationError):
        verify(new_secret(), headers, body)
    with pytest.raises(WebhookVerificationError):
        verify(hooked.secret, headers, body.replace(b"Alex", b"Alec"))


def test_every_attempt_of_one_delivery_carries_the_same_webhook_id(
    app, client, hooked, form_page, run_worker
):
    hooked.statuses.extend([500, 502])
    submit(client, form_page)
    run_worker()
    [delivery] = webhook_deliveries(app)
    assert (delivery.status, delivery.attempts) == ("sent", 3)
    ids = {headers["webhook-id"] for _, headers, _ in hooked.attempts}
    assert len(hooked.attempts) == 3 and len(ids) == 1
    for _, headers, body in hooked.attempts:
        verify(hooked.secret, headers, body)


def test_a_thin_channel_gets_the_reference_and_api_url_only(
    app, client, demo, receiver, form_page, run_worker
):
    _, secret = add_webhook(app, receiver.url, thin=True)
    submit(client, form_page)
    run_worker()
    [(headers, body)] = receiver.requests
    event = verify(secret, headers, body)
    reference = event["data"]["reference"]
    assert event["data"] == {
        "reference": reference,
        "api_url": f"http://leads.test/api/v1/leads/{reference}",
    }
    for personal in (b"Alex", b"Morgan", b"example.org", b"7911", b"Thinning"):
        assert personal not in body


def test_a_rotated_secret_signs_beside_the_old_one_until_the_overlap_ends(
    app, client, hooked, form_page, run_worker
):
    from leads.services.webhooks import rotate_secret

    old = hooked.secret
    with app.app_context():
        channel = db.session.get(InboxChannel, hooked.channel_id)
        new = rotate_secret(channel, None)
    assert new.startswith("whsec_") and new != old
    submit(client, form_page)
    run_worker()
    [(headers, body)] = hooked.requests
    assert len(headers["webhook-signature"].split(" ")) == 2
    verify(old, headers, body)  # a receiver not yet switched
    verify(new, headers, body)  # and one already switched

    with app.app_context():
        channel = db.session.get(InboxChannel, hooked.channel_id)
        channel.previous_secret_until = utcnow() - timedelta(seconds=1)
        db.session.commit()
    submit(client, form_page)
    run_worker()
    headers, body = hooked.requests[-1]
    assert len(headers["webhook-signature"].split(" ")) == 1
    verify(new, headers, body)
    with pytest.raises(WebhookVerificationError):
        verify(old, headers, body)


def test_status_and_assignment_changes_send_lead_updated(
    app, client, hooked, form_page, run_worker, make_user
):
    from leads.services.pipeline import assign, change_status

    manager_id = make_user("manager", ("northfield",))
    submit(client, form_page)
    run_worker()
    with app.app_context():
        manager = db.session.get(User, manager_id)
        lead = db.session.scalar(db.select(Lead))
        change_status(lead, "contacted", manager)
        assign(db.session.get(Lead, lead.id), manager_id, manager)
    run_worker()
    events = [verify(hooked.secret, h, b) for h, b in hooked.requests]
    assert [e["type"] for e in events] == ["lead.created", "lead.updated", "lead.updated"]
    assert events[1]["data"]["status"] == "contacted"
    assert events[2]["data"]["assigned_to"] == manager_id
    assert len({h["webhook-id"] for h, _ in hooked.requests}) == 3


def test_a_held_lead_is_never_announced_by_its_changes(
    app, demo, receiver, make_lead, make_user, run_worker
):
    from leads.services.pipeline import assign

    add_webhook(app, receiver.url)
    manager_id = make_user("manager", ("northfield",))
    lead_id = make_lead("northfield", "edinburgh", screening="held")
    with app.app_context():
        # Assigning leaves it held (moving its stage would release it, and
        # deliver it, lead.created first).
        manager = db.session.get(User, manager_id)
        assert assign(db.session.get(Lead, lead_id), manager_id, manager)
    run_worker()
    assert receiver.attempts == []


def test_erasure_sends_lead_erased_with_the_reference_only(
    app, client, hooked, form_page, run_worker
):
    from leads.services.subject_access import erase_subject

    submit(client, form_page)
    run_worker()
    with app.app_context():
        lead = db.session.scalar(db.select(Lead))
        reference = lead.reference
        erase_subject([lead], None)
    run_worker()
    headers, body = hooked.requests[-1]
    event = verify(hooked.secret, headers, body)
    assert event["type"] == "lead.erased"
    assert event["data"] == {"reference": reference}
    assert b"Alex" not in body


# -- how each answer is taken (issue 17, item 5) -------------------------------


def test_a_redirect_is_not_followed_and_fails_the_delivery(
    app, client, hooked, form_page, run_worker
):
    hooked.statuses.append((301, {"Location": f"http://127.0.0.1:{hooked.port}/elsewhere"}))
    submit(client, form_page)
    run_worker()
    [delivery] = webhook_deliveries(app)
    assert (delivery.status, delivery.attempts) == ("failed", 1)
    assert "HTTP 301" in delivery.last_error and "not followed" in delivery.last_error
    assert [path for path, _, _ in hooked.attempts] == ["/hooks/leads"]


def test_410_fails_the_delivery_turns_the_channel_off_and_tells_the_admins(
    app, client, hooked, form_page, run_worker, make_user, mail
):
    make_user("admin", ("northfield",), email="boss@northfield.example")
    make_user("admin", ("aurelia",), email="other@aurelia.example")
    hooked.statuses.append(410)
    submit(client, form_page)
    run_worker()
    [delivery] = webhook_deliveries(app)
    assert (delivery.status, delivery.attempts) == ("failed", 1)
    assert "HTTP 410" in delivery.last_error
    with app.app_context():
        channel = db.session.get(InboxChannel, hooked.channel_id)
        assert channel.active is False and "410" in channel.disabled_reason
        assert db.session.scalar(
            db.select(AuditEntry).where(
                AuditEntry.action == "channel_disabled", AuditEntry.object_id == channel.id
            )
        )
    # Two emails: the channel turned off, and (as for any delivery) the failure.
    [told] = [m for m in mail.to("boss@northfield.example") if "turned off" in m["Subject"]]
    assert "410" in told.get_content()
    assert mail.to("other@aurelia.example") == []
    # Later leads no longer go there, until an admin turns it on again.
    submit(client, form_page)
    run_worker()
    assert len(hooked.attempts) == 1


@pytest.mark.parametrize("code", [400, 401, 403, 404, 408, 422])
def test_other_4xx_answers_fail_for_good(app, client, hooked, form_page, run_worker, code):
    hooked.statuses.append(code)
    submit(client, form_page)
    run_worker()
    [delivery] = webhook_deliveries(app)
    assert (delivery.status, delivery.attempts) == ("failed", 1)
    assert f"HTTP {code}" in delivery.last_error
    with app.app_context():
        assert db.session.get(InboxChannel, hooked.channel_id).active is True


def send_now(app, delivery_id: int) -> None:
    """One attempt through the channel itself, as the job makes it."""
    from leads.delivery.webhook import WebhookChannel
    from leads.jobs import delivery_with_lead

    with app.app_context():
        delivery = db.session.scalars(delivery_with_lead(delivery_id)).one()
        WebhookChannel().send(delivery)


def stored_delivery(app, client, form_page) -> int:
    from leads.services.outbox import enqueue

    submit(client, form_page)
    [delivery] = webhook_deliveries(app)
    with app.app_context():
        assert enqueue([]) == 0  # nothing else queued; the test sends by hand
    return delivery.id


@pytest.mark.parametrize(
    ("code", "header", "expected"),
    [
        (429, "120", 120.0),
        (503, "7", 7.0),
        (429, "999999", 3600.0),  # capped at WEBHOOK_RETRY_AFTER_MAX
        (503, None, None),
        (429, "soon", None),
    ],
)
def test_429_and_503_are_retried_no_sooner_than_retry_after(
    app, client, hooked, form_page, code, header, expected
):
    delivery_id = stored_delivery(app, client, form_page)
    hooked.statuses.append((code, {"Retry-After": header} if header else {}))
    with pytest.raises(TransientError) as raised:
        send_now(app, delivery_id)
    assert raised.value.retry_after == expected
    assert f"HTTP {code}" in str(raised.value)


def test_retry_after_as_an_http_date(app, client, hooked, form_page):
    delivery_id = stored_delivery(app, client, form_page)
    when = format_datetime(datetime.now(UTC) + timedelta(seconds=90), usegmt=True)
    hooked.statuses.append((503, {"Retry-After": when}))
    with pytest.raises(TransientError) as raised:
        send_now(app, delivery_id)
    assert 60 <= raised.value.retry_after <= 90


def test_5xx_answers_and_timeouts_are_retried(app, client, hooked, form_page, settings):
    delivery_id = stored_delivery(app, client, form_page)
    for code in (500, 502, 504):
        hooked.statuses.append(code)
        with pytest.raises(TransientError):
            send_now(app, delivery_id)
    app.config["WEBHOOK_TIMEOUT"] = 0.3
    hooked.delay = 1.0
    with pytest.raises(TransientError) as raised:
        send_now(app, delivery_id)
    assert "timed out" in str(raised.value)


def test_an_unreachable_webhook_gives_up_after_retries(app, client, demo, form_page, run_worker):
    add_webhook(app, f"http://127.0.0.1:{free_port()}/x")
    submit(client, form_page)
    run_worker()
    [delivery] = webhook_deliveries(app)
    assert delivery.status == "failed" and "unreachable" in delivery.last_error
    assert delivery.attempts == len(app.config["DELIVERY_RETRY_INTERVALS"]) + 1


def test_a_channel_without_a_secret_is_not_sent_unsigned(app, client, hooked, form_page):
    delivery_id = stored_delivery(app, client, form_page)
    with app.app_context():
        db.session.get(InboxChannel, hooked.channel_id).secret = None
        db.session.commit()
    with pytest.raises(PermanentError):
        send_now(app, delivery_id)
    assert hooked.attempts == []


def test_the_receiver_sees_its_own_host_name(app, client, demo, receiver, form_page, run_worker):
    _, secret = add_webhook(app, f"http://localhost:{receiver.port}/hooks/leads")
    submit(client, form_page)
    run_worker()
    [(headers, body)] = receiver.requests
    assert headers["Host"] == f"localhost:{receiver.port}"
    verify(secret, headers, body)
    assert json.loads(body)["type"] == "lead.created"
