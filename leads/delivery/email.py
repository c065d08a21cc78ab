"""The email channel: a clinic inbox address, reached by SMTP or, embedded, a Maildir."""

from __future__ import annotations

import logging

from flask import current_app

from leads.delivery.base import PermanentError
from leads.delivery.maildir import MaildirMailer
from leads.delivery.messages import BUILDERS, Email
from leads.delivery.smtp import NoSmtpUtf8, SmtpMailer
from leads.models import Delivery

log = logging.getLogger(__name__)

# Maildir folder for mail to patients when no SMTP server is set.
PATIENT_MAILBOX = "to-patients"


def mailer() -> MaildirMailer | SmtpMailer:
    url = current_app.config.get("SMTP_URL")
    if url:
        return SmtpMailer(url, timeout=current_app.config["SMTP_TIMEOUT"])
    return MaildirMailer(current_app.config.get("MAILDIR_ROOT") or maildir_root())


def maildir_root() -> str:
    import os

    return os.path.join(current_app.instance_path, "mail")


class EmailChannel:
    def send(self, delivery: Delivery) -> None:
        try:
            build = BUILDERS[delivery.purpose]
        except KeyError:
            raise PermanentError(f"no email for purpose {delivery.purpose!r}") from None
        email: Email = build(delivery)
        mailbox = delivery.lead.clinic.slug if delivery.purpose == "inbox" else PATIENT_MAILBOX
        send = mailer().send
        try:
            send(email.message, mailbox=mailbox, wire=email.wire, smtputf8=email.smtputf8)
        except NoSmtpUtf8:
            if email.downgraded is None:
                raise
            log.info("delivery %s: no SMTPUTF8, sent in its ASCII form", delivery.id)
            plain = email.downgraded
            send(plain.message, mailbox=mailbox, wire=plain.wire, smtputf8=plain.smtputf8)
