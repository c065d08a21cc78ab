"""Background jobs. Each takes ids, never objects, and may run more than once."""

from __future__ import annotations

import logging
import random
from datetime import timedelta

import sqlalchemy as sa
from flask import current_app
from sqlalchemy import Select
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import joinedload

from leads import lifecycle
from leads.delivery import PermanentError, TransientError, channel_for
from leads.extensions import db
from leads.models import Delivery, Lead, utcnow
from leads.queue import max_attempts

log = logging.getLogger(__name__)

# A job that runs a little before its delivery's due time (clocks of two
# machines differ) still makes the attempt.
EARLY_SLACK = timedelta(seconds=5)


class JobFailed(Exception):
    """The job itself could not run (the database was unreachable, say). RQ
    keeps it with the failed jobs; the message carries ids only."""


def deliver(delivery_id: int) -> str:
    """Make one attempt at a delivery, if one is due. Returns what happened.

    The job may run more than once, and early or late: a delivery that is
    sent, failed, cancelled, busy with another attempt or not yet due is left
    alone. Every attempt is counted whatever goes wrong. A channel's
    transient error, or an exception no channel classified, schedules the
    next attempt until the limit; a permanent error or the last attempt fails
    the delivery and tells the clinic's admins. A delivery erased during its
    attempt (with its lead, by staff) is gone, as one erased before it.
    """
    try:
        return _deliver(delivery_id)
    except Exception as exc:
        db.session.rollback()
        if _erased(delivery_id):
            # Writing the outcome found no row (whichever write met it first).
            log.info(
                "delivery %s: gone (lead erased during its attempt), nothing to do", delivery_id
            )
            return "gone"
        # The type and place only: a database error's text can carry row values.
        log.error("delivery %s: job failed: %s at %s", delivery_id, type(exc).__name__, _where(exc))
        raise JobFailed(f"delivery {delivery_id}: {type(exc).__name__}") from None


def deliver_together(delivery_ids: list[int]) -> list[str]:
    """Make the first attempt at each of ``delivery_ids`` in turn, each as
    ``deliver`` makes it in a job of its own, with a session of its own.
    Returns what happened to each.

    One that fails as a job (``JobFailed``) does not stop the ones after it;
    the job then fails, naming the deliveries by id, and the sweep enqueues
    those again once their grace has passed, as for a job that was lost.
    """
    done, failed = [], []
    for delivery_id in delivery_ids:
        try:
            done.append(deliver(delivery_id))
        except JobFailed:
            failed.append(delivery_id)
        finally:
            db.session.remove()
    if failed:
        raise JobFailed(f"deliveries {', '.join(map(str, failed))}: the job failed")
    return done


def _deliver(delivery_id: int) -> str:
    now = utcnow()
    # Locked, and read with everything its message shows, in one statement.
    delivery = db.session.scalars(delivery_with_lead(delivery_id, lock=True)).one_or_none()
    if delivery is None:
        log.info("delivery %s: gone (lead erased), nothing to do", delivery_id)
        return "gone"
    if not lifecycle.may_attempt(delivery, now, EARLY_SLACK):
        status = delivery.status
        db.session.rollback()
        log.info("delivery %s: %s, no attempt now", delivery_id, status)
        return status
    if delivery.status == lifecycle.DeliveryState.SENDING and delivery.attempts >= max_attempts():
        # Its last attempt's worker died; whether that attempt arrived is unknown.
        return _fail(delivery, f"worker stopped during attempt {delivery.attempts}")

    # While this attempt runs, the sweep leaves the delivery to it.
    lease = timedelta(seconds=_grace() + current_app.config["DELIVERY_JOB_TIMEOUT"])
    lifecycle.start_attempt(delivery, now, lease)
    _commit_keeping_loaded()

    try:
        channel_for(delivery.channel).send(delivery)
    except PermanentError as exc:
        log.warning("delivery %s: failed for good: %s", delivery_id, _summary(exc))
        return _fail(delivery, str(exc))
    except TransientError as exc:
        return _retry_or_fail(delivery, str(exc), _summary(exc), getattr(exc, "retry_after", None))
    except Exception as exc:
        # Not a channel's own error: a bug, or a library's. Its text may quote
        # the lead, so the reason keeps only its type and where it happened.
        db.session.rollback()
        delivery = _with_lead(delivery_id)
        reason = f"unexpected {type(exc).__name__} at {_where(exc)}"
        log.error("delivery %s: %s", delivery_id, reason)
        return _retry_or_fail(delivery, reason, f"unexpected {type(exc).__name__}", None)

    lifecycle.record_sent(delivery, utcnow())
    attempt = delivery.attempts
    db.session.commit()
    log.info("delivery %s: sent on attempt %s", delivery_id, attempt)
    return lifecycle.DeliveryState.SENT


def _retry_or_fail(delivery: Delivery, error: str, summary: str, retry_after: float | None) -> str:
    if delivery.attempts >= max_attempts():
        log.warning("delivery %s: gave up after %s attempts", delivery.id, delivery.attempts)
        return _fail(delivery, f"{error} (gave up after {delivery.attempts} attempts)")
    delay = retry_delay(delivery.attempts, retry_after)
    retry_at = utcnow() + timedelta(seconds=delay)
    lifecycle.record_retry(delivery, error, retry_at)
    delivery_id, attempts = delivery.id, delivery.attempts
    db.session.commit()
    log.info("delivery %s: attempt %s failed (%s), will retry", delivery_id, attempts, summary)
    from leads.services.outbox import schedule_retry

    schedule_retry(delivery_id, attempts, retry_at)
    return lifecycle.DeliveryState.PENDING


def _fail(delivery: Delivery, reason: str) -> str:
    lifecycle.record_failure(delivery, reason)
    delivery_id = delivery.id
    db.session.commit()
    from leads.services.delivery_alerts import tell_admins

    tell_admins(delivery_id)
    return lifecycle.DeliveryState.FAILED


def retry_delay(attempts: int, retry_after: float | None = None) -> float:
    """Seconds until the next attempt after ``attempts`` attempts: the
    configured interval, or the receiver's Retry-After (capped), each with
    up to a fifth added at random, so many retries do not fire at once."""
    intervals = current_app.config["DELIVERY_RETRY_INTERVALS"]
    base = float(intervals[min(attempts - 1, len(intervals) - 1)])
    if retry_after is not None:
        base = min(max(float(retry_after), base), float(current_app.config["RETRY_AFTER_MAX"]))
    return base + random.uniform(0, base * current_app.config["RETRY_JITTER"])


def _summary(exc: BaseException) -> str:
    """The kind of failure without the far side's words ("SMTP 550", "webhook
    unreachable"): a mail server may quote the patient's name back. The full
    text stays on the delivery row, for staff."""
    return str(exc).split(":", 1)[0][:80]


def _where(exc: BaseException) -> str:
    frames = []
    tb = exc.__traceback__
    while tb is not None:
        frames.append(f"{tb.tb_frame.f_code.co_filename.rsplit('/', 2)[-1]}:{tb.tb_lineno}")
        tb = tb.tb_next
    return " > ".join(frames[-4:])


def _commit_keeping_loaded() -> None:
    """Commit the attempt's start without expiring what the session holds.

    The delivery and its lead were read under the row's lock in the
    transaction this commits; reading them again only to send would cost a
    statement per attempt. Later commits expire as usual.
    """
    session = db.session()
    session.expire_on_commit = False
    try:
        session.commit()
    finally:
        session.expire_on_commit = True


def _erased(delivery_id: int) -> bool:
    """Whether the delivery is no longer there. False when the database
    cannot tell (it is unreachable, say): the job has failed then."""
    try:
        return db.session.scalar(db.select(Delivery.id).where(Delivery.id == delivery_id)) is None
    except SQLAlchemyError:
        db.session.rollback()
        return False


def _with_lead(delivery_id: int) -> Delivery:
    return db.session.scalars(delivery_with_lead(delivery_id)).one()


def _delivery_with_lead_query() -> Select:
    lead = joinedload(Delivery.lead)
    return (
        db.select(Delivery)
        .where(Delivery.id == sa.bindparam("delivery_id"))
        .options(
            lead.joinedload(Lead.clinic),
            lead.joinedload(Lead.location),
            lead.joinedload(Lead.treatment),
        )
    )


# Built once, locked and not: every attempt asks one of them.
_DELIVERY_WITH_LEAD = _delivery_with_lead_query()
_DELIVERY_WITH_LEAD_LOCKED = _DELIVERY_WITH_LEAD.with_for_update(of=Delivery)


def delivery_with_lead(delivery_id: int, *, lock: bool = False) -> Select:
    """A delivery with its lead and everything its messages show; ``lock``
    locks the delivery's row (only that row: its lead may be outer-joined)."""
    query = _DELIVERY_WITH_LEAD_LOCKED if lock else _DELIVERY_WITH_LEAD
    return query.params(delivery_id=delivery_id)


def _grace() -> int:
    return int(current_app.config["SWEEP_GRACE_SECONDS"])
