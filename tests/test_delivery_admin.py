"""Failed deliveries retried by hand, delivery health, and the clinics' inbox channels."""

from __future__ import annotations

from leads.extensions import db
from leads.models import AuditEntry, Clinic, Delivery, InboxChannel, LeadEvent, Location
from tests.conftest import _hidden

URL = "/aurelia/harley-street/mesotherapy/"


def failed_inbox_delivery(app, client, form_page, run_worker, mail) -> tuple[int, int]:
    mail.replies.append("550 5.1.1 Mailbox unavailable")
    assert client.post(URL, data=form_page(URL)).status_code == 303
    run_worker()
    with app.app_context():
        delivery = db.session.scalars(db.select(Delivery).where(Delivery.status == "failed")).one()
        return delivery.lead_id, delivery.id


def token(client, path: str) -> str:
    return _hidden(client.get(path).get_data(as_text=True), "csrf_token")


def test_manager_of_another_clinic_cannot_retry(
    app, client, demo, form_page, run_worker, mail, make_user, login
):
    lead_id, delivery_id = failed_inbox_delivery(app, client, form_page, run_worker, mail)
    other = app.test_client()
    login(other, make_user("manager", ("northfield",)))
    url = f"/inbox/leads/{lead_id}/deliveries/{delivery_id}/retry"
    response = other.post(url, data={"csrf_token": token(other, "/staff/")})
    assert response.status_code == 404
    with app.app_context():
        assert db.session.get(Delivery, delivery_id).status == "failed"


def test_retry_without_csrf_is_refused(
    app, client, demo, form_page, run_worker, mail, make_user, login
):
    lead_id, delivery_id = failed_inbox_delivery(app, client, form_page, run_worker, mail)
    manager = app.test_client()
    login(manager, make_user("manager", ("aurelia",)))
    url = f"/inbox/leads/{lead_id}/deliveries/{delivery_id}/retry"
    assert manager.post(url).status_code == 400
    with app.app_context():
        assert db.session.get(Delivery, delivery_id).status == "failed"


def test_only_failed_deliveries_are_retried(
    app, client, demo, form_page, run_worker, mail, make_user, login
):
    assert client.post(URL, data=form_page(URL)).status_code == 303
    run_worker()
    with app.app_context():
        sent = db.session.scalars(db.select(Delivery)).first()
        lead_id, delivery_id = sent.lead_id, sent.id
    manager = app.test_client()
    login(manager, make_user("manager", ("aurelia",)))
    url = f"/inbox/leads/{lead_id}/deliveries/{delivery_id}/retry"
    response = manager.post(
        url, data={"csrf_token": token(manager, "/staff/")}, follow_redirects=True
    )
    assert "Only a failed delivery can be tried again." in response.get_data(as_text=True)
    with app.app_context():
        assert db.session.get(Delivery, delivery_id).attempts == 1


def test_manager_retries_a_failed_delivery_from_the_lead_page(
    app, client, demo, form_page, run_worker, mail, make_user, login
):
    lead_id, delivery_id = failed_inbox_delivery(app, client, form_page, run_worker, mail)
    manager = app.test_client()
    manager_id = make_user("manager", ("aurelia",))
    login(manager, manager_id)
    page = manager.get(f"/inbox/leads/{lead_id}").get_data(as_text=True)
    assert "Try again" in page and "550" in page
    url = f"/inbox/leads/{lead_id}/deliveries/{delivery_id}/retry"
    response = manager.post(url, data={"csrf_token": _hidden(page, "csrf_token")})
    assert response.status_code == 303
    run_worker()
    with app.app_context():
        delivery = db.session.get(Delivery, delivery_id)
        assert (delivery.status, delivery.attempts) == ("sent", 1)
        kinds = [
            e.kind
            for e in db.session.scalars(
                db.select(LeadEvent).where(LeadEvent.lead_id == lead_id).order_by(LeadEvent.id)
            )
        ]
        assert "delivery_failed" in kinds and kinds.index("delivery_retried") < len(kinds) - 1
        entry = db.session.scalars(
            db.select(AuditEntry).where(AuditEntry.action == "delivery_retried")
        ).one()
        assert (entry.user_id, entry.object_id) == (manager_id, delivery_id)
    assert len(mail.to("enquiries@aurelia-hair.example")) == 1


def test_admin_sees_health_and_retries_from_it(
    app, client, demo, form_page, run_worker, mail, make_user, login
):
    lead_id, delivery_id = failed_inbox_delivery(app, client, form_page, run_worker, mail)
    admin = app.test_client()
    login(admin, make_user("admin", ()))
    page = admin.get("/admin/deliveries").get_data(as_text=True)
    assert "Mailbox unavailable" in page and f"Lead {lead_id}" in page
    response = admin.post(
        f"/admin/deliveries/{delivery_id}/retry", data={"csrf_token": _hidden(page, "csrf_token")}
    )
    assert response.status_code == 303
    run_worker()
    assert "No failed deliveries." in admin.get("/admin/deliveries").get_data(as_text=True)


def test_admin_channel_form_refuses_bad_addresses(app, demo, make_user, login):
    admin = app.test_client()
    login(admin, make_user("admin", ()))
    with app.app_context():
        clinic_id = db.session.scalar(db.select(Clinic.id).where(Clinic.slug == "northfield"))
    url = f"/admin/clinics/{clinic_id}/channels"
    csrf = token(admin, url)
    for kind, target, message in [
        ("email", "not an address", "Enter an email address like"),
        ("webhook", "ftp://example.org/hook", "must start with https://"),
        ("webhook", "", "Enter where the leads should go."),
        ("pigeon", "x@example.org", "Not a valid choice"),
    ]:
        response = admin.post(
            url, data={"csrf_token": csrf, "kind": kind, "target": target, "location": ""}
        )
        assert response.status_code == 422, kind
        assert message in response.get_data(as_text=True), kind
    with app.app_context():
        assert (
            db.session.scalar(
                db.select(db.func.count(InboxChannel.id)).where(InboxChannel.clinic_id == clinic_id)
            )
            == 1
        )


def test_admin_adds_a_location_webhook_and_turns_the_email_off(
    app, demo, form_page_for, run_worker, mail, make_user, login
):
    from tests.support import WebhookReceiver

    receiver = WebhookReceiver().start()
    try:
        admin = app.test_client()
        login(admin, make_user("admin", ()))
        with app.app_context():
            clinic_id = db.session.scalar(db.select(Clinic.id).where(Clinic.slug == "northfield"))
            location_id = db.session.scalar(
                db.select(Location.id).where(Location.slug == "edinburgh")
            )
            email_channel = db.session.scalar(
                db.select(InboxChannel.id).where(InboxChannel.clinic_id == clinic_id)
            )
        url = f"/admin/clinics/{clinic_id}/channels"
        csrf = token(admin, url)
        app.config["WEBHOOK_ALLOW_PRIVATE"] = True  # the receiver listens on loopback
        added = admin.post(
            url,
            data={
                "csrf_token": csrf,
                "kind": "webhook",
                "target": receiver.url,
                "location": str(location_id),
            },
        )
        # The new signing secret is shown on this answer, once.
        assert added.status_code == 201
        with app.app_context():
            secret = db.session.scalar(
                db.select(InboxChannel.secret).where(InboxChannel.kind == "webhook")
            )
        assert secret.startswith("whsec_") and secret in added.get_data(as_text=True)
        assert secret not in admin.get(url).get_data(as_text=True)
        patient = app.test_client()
        page = "/northfield/edinburgh/"
        assert patient.post(page, data=form_page_for(patient)(page)).status_code == 303
        run_worker()
        # The location's own channel replaces the clinic's email for that location.
        assert len(receiver.requests) == 1
        assert mail.to("clinic@northfield-trichology.example") == []

        off = admin.post(
            f"/admin/channels/{email_channel}/active", data={"csrf_token": csrf, "active": "0"}
        )
        assert off.status_code == 303
        with app.app_context():
            assert db.session.get(InboxChannel, email_channel).active is False
        assert "Turn on" in admin.get(url).get_data(as_text=True)
    finally:
        receiver.stop()
