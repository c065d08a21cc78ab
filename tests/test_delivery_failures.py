"""Every delivery ends: each attempt counts whatever went wrong, and a failed
delivery is shown to staff and told to the clinic's admins, at most once per
channel per hour."""

from __future__ import annotations

from datetime import timedelta

import pytest

from leads.delivery import CHANNELS
from leads.extensions import db
from leads.models import Delivery, DeliveryAlert, LeadEvent, utcnow

URL = "/aurelia/harley-street/mesotherapy/"
ADMIN = "owner@aurelia-hair.example"
PATIENT = {"full_name": "Morgan Quillfeather", "email": "morgan.q@example.org"}


class RaisingChannel:
    """A channel whose library fails in a way no channel classifies (its
    message quotes the lead, as a library's can)."""

    def send(self, delivery: Delivery) -> None:
        raise ValueError(f"cannot handle {delivery.lead.full_name} <{delivery.lead.email}>")


@pytest.fixture
def admin(app, demo, make_user):
    return make_user("admin", clinics=("aurelia",), email=ADMIN)


def _submit(client, form_page, **changes):
    assert client.post(URL, data=form_page(URL, **{**PATIENT, **changes})).status_code == 303


def test_an_unclassified_exception_is_retried_to_the_limit_then_fails_with_its_type(
    app, client, form_page, run_worker, mail, admin, monkeypatch
):
    monkeypatch.setitem(CHANNELS, "raising", RaisingChannel)
    _submit(client, form_page)
    with app.app_context():  # the clinic's inbox goes through the raising channel
        db.session.execute(
            db.update(Delivery).where(Delivery.purpose == "inbox").values(channel="raising")
        )
        db.session.commit()
    run_worker()
    with app.app_context():
        inbox = db.session.scalars(db.select(Delivery).where(Delivery.purpose == "inbox")).one()
        kinds = list(db.session.scalars(db.select(LeadEvent.kind).order_by(LeadEvent.id)))
        assert inbox.status == "failed"
        assert inbox.attempts == len(app.config["DELIVERY_RETRY_INTERVALS"]) + 1
        assert inbox.last_error.startswith("unexpected ValueError at ")
        assert "test_delivery_failures.py" in inbox.last_error
        assert "Quillfeather" not in inbox.last_error and "morgan.q" not in inbox.last_error
        assert kinds.count("delivery_retry") == inbox.attempts - 1
        assert kinds.count("delivery_failed") == 1
    [alert] = mail.to(ADMIN)
    body = alert.get_content()
    assert f"Delivery: {inbox.id}" in body and "unexpected ValueError" in body
    for secret in ("Quillfeather", "morgan.q", "7911"):
        assert secret not in body and secret not in str(alert["Subject"])


def test_admins_get_one_email_per_channel_per_hour(
    app, client, form_page, run_worker, mail, admin, login
):
    for n in range(3):  # three leads whose clinic inbox refuses them for good
        mail.replies.append("550 5.1.1 Mailbox unavailable")
        _submit(client, form_page, email=f"patient{n}@example.org", phone=f"07911 65{n:04d}")
        run_worker()
    assert len(mail.to(ADMIN)) == 1
    with app.app_context():
        assert (
            db.session.scalar(
                db.select(db.func.count(Delivery.id)).where(Delivery.status == "failed")
            )
            == 3
        )
        # An hour on, the next failure is told again.
        db.session.execute(
            db.update(DeliveryAlert).values(alerted_at=utcnow() - timedelta(minutes=61))
        )
        db.session.commit()
    mail.replies.append("550 5.1.1 Mailbox unavailable")
    _submit(client, form_page, email="patient9@example.org", phone="07911 659999")
    run_worker()
    assert len(mail.to(ADMIN)) == 2

    # Staff see them: on the delivery health page, and on the lead.
    staff = app.test_client()
    login(staff, admin)
    health = staff.get("/admin/deliveries").get_data(as_text=True)
    assert "Mailbox unavailable" in health
    with app.app_context():
        lead_id = db.session.scalar(
            db.select(Delivery.lead_id).where(Delivery.status == "failed").limit(1)
        )
    page = staff.get(f"/inbox/leads/{lead_id}").get_data(as_text=True)
    assert "failed: SMTP 550" in page and "Try again" in page


def test_a_worker_that_dies_in_every_attempt_still_ends_the_delivery(
    app, client, form_page, run_worker, mail, admin
):
    """An attempt whose worker died counts; once the last one died too, the
    delivery fails instead of being tried for ever."""
    from leads.jobs import deliver
    from leads.services.outbox import sweep

    _submit(client, form_page)
    limit = len(app.config["DELIVERY_RETRY_INTERVALS"]) + 1
    with app.app_context():
        inbox_id = db.session.scalar(db.select(Delivery.id).where(Delivery.purpose == "inbox"))
        # Each attempt "dies": it was started, then its lease ran out unfinished.
        db.session.execute(
            db.update(Delivery)
            .where(Delivery.id == inbox_id)
            .values(status="sending", attempts=limit, due_at=utcnow() - timedelta(seconds=1))
        )
        db.session.commit()
        assert sweep() >= 1
        assert deliver(inbox_id) == "failed"
        inbox = db.session.get(Delivery, inbox_id)
        assert inbox.attempts == limit
        assert inbox.last_error == f"worker stopped during attempt {limit}"
    run_worker()  # staff mail is sent by the worker
    assert len(mail.to(ADMIN)) == 1


def test_every_retry_interval_has_jitter_and_retry_after_is_capped(app):
    from leads.jobs import retry_delay

    app.config.update(DELIVERY_RETRY_INTERVALS=[30, 120], RETRY_JITTER=0.2, RETRY_AFTER_MAX=600)
    with app.app_context():
        first = {retry_delay(1) for _ in range(200)}
        assert all(30 <= d <= 36 for d in first) and len(first) > 100  # spread, not one instant
        assert all(120 <= retry_delay(5) <= 144 for _ in range(50))  # the last interval repeats
        asked = [retry_delay(1, retry_after=300) for _ in range(50)]
        assert all(300 <= d <= 360 for d in asked)  # Retry-After honoured
        capped = [retry_delay(1, retry_after=86_400) for _ in range(50)]
        assert all(600 <= d <= 720 for d in capped)  # but never beyond the cap
