"""Staff mail: durable, sent after the commit by the worker, to SMTP or the staff Maildir."""

from __future__ import annotations

import json
import os

from redis import Redis
from rq.job import Job
from rq.serializers import JSONSerializer

from leads.extensions import db
from leads.models import StaffMessage
from tests.support import parse

LINK = "http://leads.test/login/reset/SECRET-TOKEN-VALUE"


def rows(app) -> list[StaffMessage]:
    with app.app_context():
        return list(db.session.scalars(db.select(StaffMessage).order_by(StaffMessage.id)))


def queued_jobs_text(redis_url: str) -> str:
    """Everything Redis holds, as text: keys and the values of hashes and lists."""
    redis = Redis.from_url(redis_url)
    parts = []
    for key in redis.scan_iter():
        kind = redis.type(key)
        parts.append(key.decode())
        if kind == b"hash":
            parts.extend(str(v) for v in redis.hgetall(key).values())
        elif kind == b"list":
            parts.extend(str(v) for v in redis.lrange(key, 0, -1))
    return "\n".join(parts)


def test_a_rolled_back_transaction_sends_nothing(app, run_worker, mail):
    from leads.services.staff_mail import send_staff_mail

    with app.app_context():
        send_staff_mail("ops@staff.example.org", "Never sent", "body")
        db.session.rollback()
    run_worker()
    assert rows(app) == []
    assert mail.messages == []


def test_nothing_is_queued_before_the_commit_and_redis_never_holds_the_body(
    app, run_worker, mail, redis_url
):
    from leads.services.staff_mail import send_staff_mail

    with app.app_context():
        send_staff_mail("ops@staff.example.org", "Your link", f"Use {LINK} once.")
        assert "staff-mail" not in queued_jobs_text(redis_url)  # not before the commit
        db.session.commit()
    [row] = rows(app)
    job = Job.fetch(
        f"staff-mail-{row.id}",
        connection=Redis.from_url(redis_url),
        serializer=JSONSerializer,
    )
    assert job.args == [row.id]  # the id only
    held = queued_jobs_text(redis_url)
    assert "SECRET-TOKEN-VALUE" not in held and "ops@staff.example.org" not in held
    run_worker()
    [message] = mail.to("ops@staff.example.org")
    assert message["Subject"] == "Your link"
    assert LINK in message.get_content()
    assert message["Message-ID"].startswith("<staff-")
    [row] = rows(app)
    assert row.status == "sent" and row.sent_at is not None
    assert row.body == ""  # the link does not stay in the database once sent


def test_header_injection_in_subject_and_address_is_flattened(app, run_worker, mail):
    from leads.services.staff_mail import send_staff_mail

    with app.app_context():
        send_staff_mail(
            "ops@staff.example.org\r\nBcc: victim@example.org",
            "Alert\r\nBcc: victim@example.org",
            "body",
        )
        db.session.commit()
    run_worker()
    for _, recipients in mail.envelopes:
        assert "victim@example.org" not in recipients
    for message in mail.messages:
        assert message["Bcc"] is None


def _sent_to_the_staff_maildir(request, settings, address):
    """Staff mail to ``address`` with no SMTP server set, through the worker:
    the app, the Maildir folder, and the one file it holds, with its bytes."""
    from leads.services.staff_mail import send_staff_mail

    settings["SMTP_URL"] = None  # before the app is built
    app = request.getfixturevalue("app")
    with app.app_context():
        send_staff_mail(address, "Hello", "Welcome aboard.")
        db.session.commit()
    request.getfixturevalue("run_worker")()
    box = os.path.join(app.instance_path, "mail", "staff", "new")
    [name] = os.listdir(box)
    with open(os.path.join(box, name), "rb") as fh:
        return app, box, name, fh.read()


def test_embedded_default_is_the_staff_maildir(request, settings):
    from leads.services.staff_mail import send_staff_message

    app, box, name, data = _sent_to_the_staff_maildir(request, settings, "ops@staff.example.org")
    assert b"Welcome aboard." in data
    with app.app_context():  # a job that runs twice sends once
        assert send_staff_message(rows(app)[0].id) == "sent"
    assert os.listdir(box) == [name]


def test_smtp_refusing_then_accepting_sends_once_after_retries(app, run_worker, mail):
    from leads.services.staff_mail import send_staff_mail

    mail.replies.extend(["451 4.3.0 Try again later"])
    with app.app_context():
        send_staff_mail("ops@staff.example.org", "Retry me", "body")
        db.session.commit()
    run_worker()
    [row] = rows(app)
    assert row.status == "sent" and row.attempts == 2
    assert len(mail.to("ops@staff.example.org")) == 1


def test_smtp_rejecting_marks_failed_without_retrying(app, run_worker, mail):
    from leads.services.staff_mail import send_staff_mail

    mail.replies.append("550 5.1.1 Mailbox unavailable")
    with app.app_context():
        send_staff_mail("gone@staff.example.org", "Bounce", f"Link {LINK}")
        db.session.commit()
    run_worker()
    [row] = rows(app)
    assert row.status == "failed" and row.attempts == 1 and "550" in row.last_error
    assert row.body == ""


def test_redis_down_at_commit_then_the_sweep_sends_it(app, run_worker, mail, redis_url):
    from leads import queue
    from leads.services.staff_mail import send_staff_mail, sweep

    app.config["REDIS_URL"] = "redis://127.0.0.1:1/0"  # nothing listens on port 1
    queue.state(app).reset()
    with app.app_context():
        send_staff_mail("ops@staff.example.org", "Later", "body")
        db.session.commit()  # does not raise
        assert sweep() == 0
    assert rows(app)[0].status == "pending"
    app.config["REDIS_URL"] = redis_url
    queue.state(app).reset()
    with app.app_context():
        assert sweep() == 1
        assert sweep() == 0  # waiting in the queue already
    run_worker()
    assert len(mail.to("ops@staff.example.org")) == 1
    assert json.dumps([r.status for r in rows(app)]) == '["sent"]'


def test_a_local_part_not_in_ascii_fails_for_good_on_a_server_without_smtputf8(
    app, run_worker, ascii_only
):
    """A local part like "zoë" has no ASCII form: without SMTPUTF8 the message
    cannot travel, and every retry would fail alike. The reason names no address."""
    from leads.services.staff_mail import send_staff_mail

    with app.app_context():
        send_staff_mail("zoë@clinic.example", "Your link", f"Use {LINK} once.")
        db.session.commit()
    run_worker()
    [row] = rows(app)
    assert (row.status, row.attempts) == ("failed", 1)
    assert row.last_error == "SMTP server lacks SMTPUTF8: an address in the message is not ASCII"
    assert row.body == ""
    assert ascii_only.inbox.data_received == 0


def test_a_domain_not_in_ascii_is_written_in_its_ascii_form_for_any_server(
    app, run_worker, ascii_only
):
    from leads.services.staff_mail import send_staff_mail

    with app.app_context():
        send_staff_mail("ops@clinïc.example", "Hello", "body")
        db.session.commit()
    run_worker()
    [row] = rows(app)
    assert (row.status, row.attempts) == ("sent", 1)
    inbox = ascii_only.inbox
    [message] = inbox.messages
    assert inbox.envelopes[0][1] == ["ops@xn--clinc-fta.example"] and not inbox.smtputf8[0]
    assert str(message["To"]) == "ops@xn--clinc-fta.example"
    assert inbox.raw[0].split(b"\r\n\r\n", 1)[0].isascii()


def test_the_staff_maildir_keeps_an_address_not_in_ascii_as_written(request, settings):
    *_, data = _sent_to_the_staff_maildir(request, settings, "zoë@clinïc.example")
    stored = parse(data, utf8=True)
    assert [a.addr_spec for a in stored["To"].addresses] == ["zoë@xn--clinc-fta.example"]
