"""From the stored lead to the clinic's inbox and the patient's acknowledgement."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from datetime import timedelta

import pytest

from leads.extensions import db
from leads.models import Delivery, Lead, LeadEvent, utcnow

URL = "/aurelia/harley-street/mesotherapy/"
CLINIC_INBOX = "enquiries@aurelia-hair.example"


def deliveries(app) -> dict[str, Delivery]:
    with app.app_context():
        rows = db.session.scalars(db.select(Delivery).order_by(Delivery.id)).all()
        db.session.expunge_all()
        return {d.purpose: d for d in rows}


def events(app) -> list[str]:
    with app.app_context():
        return list(db.session.scalars(db.select(LeadEvent.kind).order_by(LeadEvent.id)))


def submit(client, form_page, url=URL, **changes):
    response = client.post(url, data=form_page(url, **changes))
    assert response.status_code == 303
    return response


def test_clinic_inbox_gets_one_email_with_every_field_and_patient_an_acknowledgement(
    app, client, demo, form_page, run_worker, mail
):
    client.get(
        URL + "?utm_source=newsletter&utm_medium=email&utm_campaign=autumn&utm_term=thinning"
        "&utm_content=hero&fbclid=fb42"
    )
    submit(
        client,
        form_page,
        message="Thinning at the crown.\nSince last spring.",
        contact_method="sms",
        contact_time="afternoon",
        marketing_opt_in="y",
    )
    run_worker()

    [notice] = mail.to(CLINIC_INBOX)
    body = notice.get_content().replace("\r\n", "\n")
    for expected in [
        "Alex Morgan",
        "alex.morgan@example.org",
        "+447911123456",
        "Mesotherapy for hair loss",
        "Text message",
        "Afternoon (12pm to 5pm)",
        "Thinning at the crown.\nSince last spring.",
        "Marketing emails: yes",
        "utm_source:",
        "newsletter",
        "email",
        "autumn",
        "thinning",
        "hero",
        "fb42",
        URL,
        "Harley Street, London",
        "http://leads.test/inbox/leads/",
    ]:
        assert expected in body, expected
    assert notice["Reply-To"] == "Alex Morgan <alex.morgan@example.org>"
    assert "Harley Street" in notice["Subject"]
    assert notice["Message-ID"].startswith("<delivery-")

    [ack] = mail.to("alex.morgan@example.org")
    assert "Aurelia Hair Clinic" in ack["Subject"]
    assert "020 7946 0112" in ack.get_content() or "+442079460112" in ack.get_content()
    assert "Thinning" not in ack.get_content()  # the enquiry itself is not repeated

    rows = deliveries(app)
    assert {d.status for d in rows.values()} == {"sent"}
    assert all(d.attempts == 1 and d.sent_at for d in rows.values())
    assert events(app) == ["received", "delivered", "delivered"]


@pytest.mark.parametrize("field", ["full_name", "message"])
def test_cr_lf_in_a_field_injects_no_header(app, client, demo, form_page, run_worker, mail, field):
    if field == "full_name":
        # Refused by the form, so it can never reach a header.
        data = form_page(URL, full_name="Alex\r\nBcc: victim@example.org")
        assert client.post(URL, data=data).status_code == 422
        return
    submit(client, form_page, message="Hello\r\nBcc: victim@example.org\r\nSubject: hacked")
    run_worker()
    for message in mail.messages:
        assert message["Bcc"] is None
        assert "hacked" not in message["Subject"]
    assert all(
        "victim@example.org" not in rcpts for _, rcpts in mail.envelopes for rcpts in [rcpts]
    )
    assert len(mail.messages) == 2


def test_maildir_inbox_is_the_embedded_default(request, settings, form_page_for):
    from leads.delivery.email import EmailChannel

    settings["SMTP_URL"] = None  # before the app is built
    app = request.getfixturevalue("app")
    request.getfixturevalue("demo")
    client = app.test_client()
    data = form_page_for(client)(
        URL, full_name="Jo Maildir", email="jo@example.org", treatment="prp"
    )
    assert client.post(URL, data=data).status_code == 303
    request.getfixturevalue("run_worker")()

    box = os.path.join(app.instance_path, "mail", "aurelia", "new")
    [name] = os.listdir(box)
    with open(os.path.join(box, name), "rb") as fh:
        assert b"Jo Maildir" in fh.read()
    assert len(os.listdir(os.path.join(app.instance_path, "mail", "to-patients", "new"))) == 1

    # Sending the same delivery again stores nothing new: one message per Message-ID.
    with app.app_context():
        delivery = db.session.scalars(db.select(Delivery).where(Delivery.purpose == "inbox")).one()
        EmailChannel().send(delivery)
    assert os.listdir(box) == [name]


def test_smtp_refusing_then_accepting_delivers_once_after_retries(
    app, client, demo, form_page, run_worker, mail
):
    mail.replies.extend(["451 4.3.0 Try again later", "421 4.7.0 Too busy"])
    submit(client, form_page)
    run_worker()  # retries fire at once in tests (intervals of 0 seconds)
    rows = deliveries(app)
    assert {d.status for d in rows.values()} == {"sent"}
    assert sum(d.attempts for d in rows.values()) == 4  # two refusals, then both sent
    assert len(mail.messages) == 2
    assert len(mail.to(CLINIC_INBOX)) == 1
    assert events(app).count("delivery_retry") == 2
    assert events(app).count("delivered") == 2


def test_smtp_rejecting_marks_failed_with_reason_and_does_not_retry(
    app, client, demo, form_page, run_worker, mail
):
    mail.replies.append("550 5.1.1 Mailbox unavailable")
    submit(client, form_page)
    run_worker()
    rows = deliveries(app)
    failed = [d for d in rows.values() if d.status == "failed"]
    assert len(failed) == 1
    assert failed[0].attempts == 1
    assert "550" in failed[0].last_error and "Mailbox unavailable" in failed[0].last_error
    assert len(mail.messages) == 1  # the other delivery went through
    assert "delivery_failed" in events(app)


def test_smtp_down_exhausts_retries_and_marks_failed(app, client, demo, form_page, run_worker):
    from tests.support import free_port

    app.config["SMTP_URL"] = f"smtp://127.0.0.1:{free_port()}"  # nothing listens there
    submit(client, form_page)
    run_worker()
    rows = deliveries(app)
    attempts = len(app.config["DELIVERY_RETRY_INTERVALS"]) + 1
    for d in rows.values():
        assert d.status == "failed"
        assert d.attempts == attempts
        assert "unreachable" in d.last_error and "gave up" in d.last_error
    with app.app_context():
        assert db.session.scalar(db.select(db.func.count(Lead.id))) == 1


def test_redis_down_at_submit_keeps_the_lead_and_the_sweep_delivers_it(
    app, client, demo, form_page, run_worker, mail, redis_url
):
    from leads import queue

    app.config["REDIS_URL"] = "redis://127.0.0.1:1/0"  # nothing listens on port 1
    queue.state(app).reset()
    response = submit(client, form_page)
    assert "thank-you" in response.headers["Location"]
    rows = deliveries(app)
    assert {d.status for d in rows.values()} == {"pending"}

    with app.app_context():  # the sweep too survives Redis being down
        from leads.services.outbox import sweep

        assert sweep() == 0

    app.config["REDIS_URL"] = redis_url  # Redis is back
    queue.state(app).reset()
    with app.app_context():
        assert sweep() == 2
        # The tests' grace is 0 s, so a job not started yet counts as lost and
        # the next sweep enqueues it again: harmless, each is sent once.
        assert sweep() == 2
    run_worker()
    assert {d.status for d in deliveries(app).values()} == {"sent"}
    assert len(mail.messages) == 2


def test_sweep_command_enqueues_pending(app, client, demo, form_page, run_worker, mail, redis_url):
    from leads import queue

    app.config["REDIS_URL"] = "redis://127.0.0.1:1/0"
    queue.state(app).reset()
    submit(client, form_page)
    app.config["REDIS_URL"] = redis_url
    queue.state(app).reset()
    result = app.test_cli_runner().invoke(args=["sweep"])
    assert result.exit_code == 0, result.output
    assert "Enqueued 2 pending deliveries." in result.output
    run_worker()
    assert len(mail.messages) == 2


def test_job_that_runs_twice_sends_once(app, client, demo, form_page, run_worker, mail):
    from leads.jobs import deliver

    submit(client, form_page)
    run_worker()
    ids = [d.id for d in deliveries(app).values()]
    with app.app_context():
        assert [deliver(i) for i in ids] == ["sent", "sent"]
    assert len(mail.messages) == 2


def test_worker_killed_after_sending_before_recording_resends_same_message_id(
    app, settings, client, demo, form_page, run_worker, mail
):
    """The worker dies once the SMTP server has the message, before it records it.
    The sweep finds the delivery still pending and a new worker sends it again:
    the clinic's inbox can tell the repeat by its Message-ID."""
    env = dict(os.environ)
    env.update(
        CLINIC_LEADS_ENV="testing",
        TEST_DATABASE_URL=settings["DATABASE_URL"],
        REDIS_URL=settings["REDIS_URL"],
        SMTP_URL=settings["SMTP_URL"],
        INSTANCE_PATH=settings["INSTANCE_PATH"],
        PUBLIC_BASE_URL=settings["PUBLIC_BASE_URL"],
        MAIL_FROM=settings["MAIL_FROM"],
    )
    submit(client, form_page)
    worker = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "from leads import create_app; from leads.worker import build_worker; "
            "app = create_app(); build_worker(app, fork=False).work(burst=True)",
        ],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )

    def kill_worker(message):
        if message["To"] == CLINIC_INBOX:
            os.kill(worker.pid, signal.SIGKILL)

    mail.on_data = kill_worker
    worker.wait(timeout=60)
    assert worker.returncode == -signal.SIGKILL
    mail.on_data = None

    inbox = [d for d in deliveries(app).values() if d.purpose == "inbox"][0]
    assert inbox.status == "sending" and inbox.attempts == 1  # its worker died mid-attempt
    assert len(mail.to(CLINIC_INBOX)) == 1

    with app.app_context():  # later: the attempt's time-out has passed
        db.session.execute(db.update(Delivery).values(due_at=utcnow() - timedelta(seconds=1)))
        db.session.commit()
        from leads.services.outbox import sweep

        assert sweep() >= 1
    run_worker()

    inbox = deliveries(app)["inbox"]
    assert inbox.status == "sent" and inbox.attempts == 2
    copies = mail.to(CLINIC_INBOX)
    assert len(copies) == 2
    assert copies[0]["Message-ID"] == copies[1]["Message-ID"]
    assert events(app).count("delivered") == 2  # the inbox once, the acknowledgement once


def test_an_attempt_reads_the_delivery_and_its_lead_in_one_statement(
    app, client, demo, form_page, mail
):
    """The row is locked and read with everything the message shows at once;
    what the attempt holds after its first commit is not read again."""
    from sqlalchemy import event

    from leads.jobs import deliver

    submit(client, form_page)
    inbox = deliveries(app)["inbox"]
    statements: list[str] = []

    def seen(conn, cursor, statement, parameters, context, executemany):
        statements.append(" ".join(statement.split()).upper())

    with app.app_context():
        event.listen(db.engine, "before_cursor_execute", seen)
        try:
            assert deliver(inbox.id) == "sent"
        finally:
            event.remove(db.engine, "before_cursor_execute", seen)
    selects = [s for s in statements if s.startswith("SELECT")]
    assert len(selects) == 1, selects
    assert "FROM DELIVERIES" in selects[0] and "JOIN LEADS" in selects[0]
    assert [s.split()[0] for s in statements].count("UPDATE") == 2
    assert len(mail.to(CLINIC_INBOX)) == 1
    assert deliveries(app)["inbox"].status == "sent"
