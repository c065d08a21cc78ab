"""A patient's address need not be ASCII: the form accepts "josé@example.com"
(RFC 6531 and 6532). The lead is kept and the clinic told whatever the mail
server offers; the patient is acknowledged over SMTPUTF8 where the server
offers it, and otherwise the acknowledgement fails for good on its first
attempt, with a reason that names no address."""

from __future__ import annotations

import logging
import os
from email.message import EmailMessage

from leads.extensions import db
from leads.models import Delivery, Lead, LeadEvent
from tests.support import parse

URL = "/aurelia/harley-street/mesotherapy/"
CLINIC_INBOX = "enquiries@aurelia-hair.example"
PATIENT = "josé@example.com"


def submit(client, form_page, address: str = PATIENT) -> None:
    assert client.post(URL, data=form_page(URL, email=address)).status_code == 303


def deliveries(app) -> dict[str, Delivery]:
    with app.app_context():
        rows = db.session.scalars(db.select(Delivery)).all()
        db.session.expunge_all()
    return {d.purpose: d for d in rows}


def event_kinds(app) -> list[str]:
    with app.app_context():
        return list(db.session.scalars(db.select(LeadEvent.kind).order_by(LeadEvent.id)))


def our_logs(caplog) -> str:
    """What this process logged, but for the test SMTP server's own log."""
    return "\n".join(r.getMessage() for r in caplog.records if not r.name.startswith("mail."))


def head(raw: bytes) -> bytes:
    return raw.split(b"\r\n\r\n", 1)[0]


def test_the_patient_is_acknowledged_over_smtputf8_and_the_clinic_can_reply(
    app, client, demo, form_page, run_worker, mail, caplog
):
    from leads.delivery.messages import BUILDERS
    from leads.jobs import delivery_with_lead

    caplog.set_level(logging.INFO)
    submit(client, form_page)
    with app.app_context():
        assert db.session.scalars(db.select(Lead.email)).one() == PATIENT
    run_worker()
    rows = deliveries(app)
    assert {p: (d.status, d.attempts) for p, d in rows.items()} == {
        "inbox": ("sent", 1),
        "acknowledgement": ("sent", 1),
    }

    [ack] = mail.to(PATIENT)
    at = mail.messages.index(ack)
    assert mail.envelopes[at][1] == [PATIENT] and mail.smtputf8[at]
    assert [a.addr_spec for a in ack["To"].addresses] == [PATIENT]
    assert f"To: {PATIENT}\r\n".encode() in head(mail.raw[at])  # as written, no encoded word

    [notice] = mail.to(CLINIC_INBOX)
    at = mail.messages.index(notice)
    assert mail.envelopes[at][1] == [CLINIC_INBOX]
    [reply_to] = notice["Reply-To"].addresses
    assert (reply_to.display_name, reply_to.addr_spec) == ("Alex Morgan", PATIENT)
    assert PATIENT in notice.get_content()

    # The bytes checked are the bytes sent.
    with app.app_context():
        for delivery in rows.values():
            built = BUILDERS[delivery.purpose](
                db.session.scalars(delivery_with_lead(delivery.id)).one()
            )
            assert built.wire in mail.raw
    assert "jos" not in our_logs(caplog)


def test_without_smtputf8_the_acknowledgement_fails_for_good_and_the_clinic_is_told(
    app, client, demo, form_page, run_worker, ascii_only, caplog
):
    caplog.set_level(logging.INFO)
    submit(client, form_page)
    run_worker()
    rows = deliveries(app)
    assert (rows["inbox"].status, rows["inbox"].attempts) == ("sent", 1)
    ack = rows["acknowledgement"]
    assert (ack.status, ack.attempts) == ("failed", 1)
    assert ack.last_error.startswith("SMTP server lacks SMTPUTF8: ")
    assert "jos" not in ack.last_error
    assert "delivery_retry" not in event_kinds(app)

    # The clinic's notice travels without the address it cannot write in a
    # header; the address is in its text.
    [notice] = ascii_only.inbox.to(CLINIC_INBOX)
    assert notice["Reply-To"] is None
    assert PATIENT in notice.get_content()
    at = ascii_only.inbox.messages.index(notice)
    assert head(ascii_only.inbox.raw[at]).isascii() and not ascii_only.inbox.smtputf8[at]
    assert ascii_only.inbox.to(PATIENT) == []
    assert "jos" not in our_logs(caplog)


def test_the_embedded_maildir_keeps_the_address_as_written(request, settings, form_page_for):
    settings["SMTP_URL"] = None  # before the app is built
    app = request.getfixturevalue("app")
    request.getfixturevalue("demo")
    client = app.test_client()
    submit(client, form_page_for(client))
    request.getfixturevalue("run_worker")()
    assert {d.status for d in deliveries(app).values()} == {"sent"}

    def stored(folder: str) -> EmailMessage:
        box = os.path.join(app.instance_path, "mail", folder, "new")
        [name] = os.listdir(box)
        with open(os.path.join(box, name), "rb") as fh:
            return parse(fh.read(), utf8=True)

    assert [a.addr_spec for a in stored("to-patients")["To"].addresses] == [PATIENT]
    assert [a.addr_spec for a in stored("aurelia")["Reply-To"].addresses] == [PATIENT]


def test_a_domain_not_in_ascii_is_written_in_its_ascii_form_for_any_server(
    app, client, demo, form_page, run_worker, ascii_only
):
    """A domain like "exämple.com" has an ASCII form, "xn--exmple-cua.com"
    (IDNA): the address needs no SMTPUTF8, and the clinic's Reply-To is an
    address, not one with an encoded word in its middle."""
    submit(client, form_page, "jose@exämple.com")
    run_worker()
    assert {(d.status, d.attempts) for d in deliveries(app).values()} == {("sent", 1)}
    inbox = ascii_only.inbox
    [ack] = inbox.to("jose@xn--exmple-cua.com")
    assert inbox.envelopes[inbox.messages.index(ack)][1] == ["jose@xn--exmple-cua.com"]
    [notice] = inbox.to(CLINIC_INBOX)
    assert [a.addr_spec for a in notice["Reply-To"].addresses] == ["jose@xn--exmple-cua.com"]
    assert all(head(raw).isascii() for raw in inbox.raw) and not any(inbox.smtputf8)


def test_with_a_local_part_not_in_ascii_the_domain_is_still_written_in_ascii(
    app, client, demo, form_page, run_worker, mail
):
    submit(client, form_page, "josé@exämple.com")
    run_worker()
    assert {(d.status, d.attempts) for d in deliveries(app).values()} == {("sent", 1)}
    assert mail.envelopes[mail.messages.index(mail.to(CLINIC_INBOX)[0])][1] == [CLINIC_INBOX]
    [ack] = mail.to("josé@xn--exmple-cua.com")
    assert mail.envelopes[mail.messages.index(ack)][1] == ["josé@xn--exmple-cua.com"]
