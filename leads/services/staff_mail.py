"""Email to staff (a clinic's admins): through the inbox's own transport,
SMTP when ``SMTP_URL`` is set, else the Maildir ``instance/mail/staff/``."""

from __future__ import annotations

import uuid
from email.message import EmailMessage
from email.utils import formatdate, parseaddr

from flask import current_app

from leads.delivery.email import mailer

STAFF_MAILBOX = "staff"


def send_staff_mail(to: str, subject: str, body: str) -> None:
    """Send one plain-text message to a staff member. Raises the channel's
    ``TransientError`` or ``PermanentError`` when it cannot be sent."""
    domain = parseaddr(current_app.config["MAIL_FROM"])[1].rpartition("@")[2] or "localhost"
    message = EmailMessage()
    message["Message-ID"] = f"<staff-{uuid.uuid4().hex}@{domain}>"
    message["Date"] = formatdate(usegmt=True)
    message["From"] = current_app.config["MAIL_FROM"]
    message["To"] = to
    message["Subject"] = subject
    message.set_content(body)
    mailer().send(message, mailbox=STAFF_MAILBOX)
