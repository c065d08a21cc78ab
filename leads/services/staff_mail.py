"""Email to staff (alerts): plain text, through the same transport as the
clinic inboxes (SMTP, or a Maildir at ``instance/mail/staff/``).

Callers send after their commit. No patient data goes into these messages.
"""

from __future__ import annotations

import logging
from email.message import EmailMessage
from email.utils import make_msgid

from flask import current_app

from leads.delivery.base import DeliveryError
from leads.delivery.email import mailer

log = logging.getLogger(__name__)

STAFF_MAILBOX = "staff"


def send_staff_mail(to: str, subject: str, body: str) -> None:
    """Send one message to a member of staff. A transport failure is logged,
    not raised: what the message reports is already on record."""
    msg = EmailMessage()
    msg["Message-ID"] = make_msgid(domain="clinic-leads")
    msg["From"] = current_app.config["MAIL_FROM"]
    msg["To"] = to
    msg["Subject"] = " ".join(subject.split())
    msg["Auto-Submitted"] = "auto-generated"
    msg.set_content(body)
    try:
        mailer().send(msg, mailbox=STAFF_MAILBOX)
    except DeliveryError as exc:
        log.warning("staff mail not sent: %s", str(exc).split(":", 1)[0][:80])
