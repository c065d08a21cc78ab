"""Mail to staff: invitations, password and sign-in links, alerts, digests.

``send_staff_mail`` adds a row to the staff outbox (``StaffMessage``) as part
of the caller's transaction. Once that transaction commits, a job taking the
row's id is enqueued; the worker sends it by SMTP when ``SMTP_URL`` is set,
or else to the Maildir ``instance/mail/staff/``. Redis never holds the
address, the subject or the body, and the body (which may carry a sign-in
link) is emptied once the message is sent. If Redis is down the row waits
and the worker's sweep enqueues it later, as for lead deliveries.
"""

from __future__ import annotations

import logging
from datetime import UTC, timedelta
from email.utils import format_datetime, parseaddr
from typing import Any

from flask import current_app
from redis.exceptions import RedisError
from rq.job import Job, JobStatus
from sqlalchemy import event
from sqlalchemy.orm import Session

from leads.delivery.base import PermanentError, TransientError
from leads.delivery.email import mailer
from leads.delivery.messages import Email, checked_email, header_address, new_message
from leads.extensions import db
from leads.models import StaffMessage, utcnow
from leads.models.staff_message import STAFF_MAIL_FAILED, STAFF_MAIL_PENDING, STAFF_MAIL_SENT
from leads.queue import get_queue, max_attempts, retry_policy

log = logging.getLogger(__name__)

# The Maildir folder (under the instance's mail folder) when no SMTP server is set.
STAFF_MAILBOX = "staff"
_PENDING = "leads.staff_mail.pending"
_LIVE = {JobStatus.QUEUED, JobStatus.SCHEDULED, JobStatus.DEFERRED}


class RetryLater(Exception):
    """Raised so RQ records the failure and schedules the next attempt."""


def send_staff_mail(to: str, subject: str, body: str) -> None:
    """Send ``body`` to the member of staff at ``to``, once the caller commits.

    The message is part of the caller's transaction: it is sent after
    ``db.session.commit()`` and never if the caller rolls back. Plain text;
    never put a patient's details in it (staff mail has no patient in it).
    """
    message = StaffMessage(
        to_address=_one_line(to)[:254],
        subject=_one_line(subject)[:200],
        body=body,
    )
    db.session.add(message)
    db.session.flush()
    db.session().info.setdefault(_PENDING, []).append(message.id)


@event.listens_for(Session, "after_commit")
def _enqueue_after_commit(session: Session) -> None:
    ids = session.info.pop(_PENDING, None)
    if ids:
        enqueue(ids)


@event.listens_for(Session, "after_rollback")
def _forget_after_rollback(session: Session) -> None:
    session.info.pop(_PENDING, None)


def enqueue(message_ids: list[int]) -> int:
    """A job per message, in one Redis round trip. Never raises for Redis
    trouble: what is not enqueued now is left to the sweep."""
    if not message_ids:
        return 0
    try:
        queue = get_queue()
        jobs = [
            queue.prepare_data(
                "leads.services.staff_mail.send_staff_message",
                args=(message_id,),
                job_id=f"staff-mail-{message_id}",
                retry=retry_policy(),
                description=f"staff mail {message_id}",
                result_ttl=3600,
                failure_ttl=current_app.config["JOB_FAILURE_TTL"],
            )
            for message_id in message_ids
        ]
        queue.enqueue_many(jobs)
    except RedisError as exc:
        log.warning(
            "queue unavailable, %s staff messages left to the sweep: %s",
            len(message_ids),
            type(exc).__name__,
        )
        return 0
    return len(message_ids)


def send_staff_message(message_id: int) -> str:
    """The job: send one staff message once (it may run twice)."""
    message = db.session.get(StaffMessage, message_id, with_for_update=True)
    if message is None:
        return "gone"
    if message.status != STAFF_MAIL_PENDING:
        db.session.rollback()
        return message.status
    message.attempts += 1
    message.due_at = utcnow() + timedelta(
        seconds=_grace() + current_app.config["DELIVERY_JOB_TIMEOUT"]
    )
    db.session.commit()
    try:
        email = build_message(message)
        mailer().send(
            email.message, mailbox=STAFF_MAILBOX, wire=email.wire, smtputf8=email.smtputf8
        )
    except PermanentError as exc:
        _fail(message, str(exc))
        log.warning("staff mail %s: failed for good: %s", message_id, _summary(exc))
        return STAFF_MAIL_FAILED
    except TransientError as exc:
        if message.attempts >= max_attempts():
            _fail(message, f"{exc} (gave up after {message.attempts} attempts)")
            log.warning("staff mail %s: gave up after %s attempts", message_id, message.attempts)
            return STAFF_MAIL_FAILED
        intervals = current_app.config["DELIVERY_RETRY_INTERVALS"]
        wait = int(intervals[min(message.attempts - 1, len(intervals) - 1)])
        message.last_error = str(exc)[:500]
        message.due_at = utcnow() + timedelta(seconds=wait + _grace())
        db.session.commit()
        raise RetryLater(f"staff mail {message_id}: {_summary(exc)}") from None
    message.status = STAFF_MAIL_SENT
    message.sent_at = utcnow()
    message.last_error = ""
    message.body = ""  # a link in it must not outlive its sending
    db.session.commit()
    log.info("staff mail %s: sent on attempt %s", message_id, message.attempts)
    return STAFF_MAIL_SENT


def build_message(message: StaffMessage) -> Email:
    """The message and its bytes, as a delivery's: the address's domain in its
    ASCII form, and written in UTF-8 (needing a server that offers SMTPUTF8)
    when its local part is not ASCII."""
    email = new_message()
    domain = parseaddr(current_app.config["MAIL_FROM"])[1].rpartition("@")[2] or "localhost"
    email["Message-ID"] = f"<staff-{message.id}@{domain}>"
    email["Date"] = format_datetime(message.created_at.replace(tzinfo=UTC), usegmt=True)
    email["From"] = current_app.config["MAIL_FROM"]
    email["To"] = header_address("To", message.to_address)
    email["Subject"] = message.subject
    email["Auto-Submitted"] = "auto-generated"
    email.set_content(message.body)
    return checked_email(email)


def sweep() -> int:
    """Enqueue every pending staff message whose attempt is overdue and has no
    live job; returns how many. Safe to run from several workers."""
    now = utcnow()
    due = list(
        db.session.scalars(
            db.select(StaffMessage.id)
            .where(StaffMessage.status == STAFF_MAIL_PENDING, StaffMessage.due_at <= now)
            .order_by(StaffMessage.id)
            .limit(1000)
        )
    )
    if not due:
        return 0
    try:
        connection = get_queue().connection
        todo = [i for i in due if _status(connection, f"staff-mail-{i}") not in _LIVE]
    except RedisError as exc:
        log.warning("staff mail sweep: queue unavailable (%s)", type(exc).__name__)
        return 0
    if todo:
        db.session.execute(
            db.update(StaffMessage)
            .where(StaffMessage.id.in_(todo), StaffMessage.status == STAFF_MAIL_PENDING)
            .values(due_at=now + timedelta(seconds=_grace()))
        )
        db.session.commit()
    return enqueue(todo)


def _fail(message: StaffMessage, reason: str) -> None:
    message.status = STAFF_MAIL_FAILED
    message.last_error = reason[:500]
    message.body = ""
    db.session.commit()


def _status(connection: Any, job_id: str) -> JobStatus | None:
    try:
        return Job.fetch(job_id, connection=connection).get_status()
    except Exception:
        return None


def _summary(exc: BaseException) -> str:
    return str(exc).split(":", 1)[0][:80]


def _grace() -> int:
    return int(current_app.config["SWEEP_GRACE_SECONDS"])


def _one_line(text: str) -> str:
    return " ".join("".join(ch if ch.isprintable() else " " for ch in text).split())
