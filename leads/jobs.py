"""Background jobs. Each takes ids, never objects, and may run more than once."""

from __future__ import annotations

import logging
from datetime import timedelta

from flask import current_app
from sqlalchemy import Select
from sqlalchemy.orm import joinedload

from leads.delivery import PermanentError, TransientError, channel_for
from leads.extensions import db
from leads.models import (
    DELIVERY_FAILED,
    DELIVERY_PENDING,
    DELIVERY_SENT,
    Delivery,
    Lead,
    LeadEvent,
    utcnow,
)
from leads.queue import max_attempts

log = logging.getLogger(__name__)


class RetryLater(Exception):
    """Raised so RQ records the failure and schedules the next attempt."""


def deliver(delivery_id: int) -> str:
    """Send one delivery once. Returns what happened, for RQ's result.

    A delivery already sent or failed is left alone (the job may run twice).
    A transient failure is recorded and raised so RQ retries with backoff;
    a permanent one, or the last attempt, marks the delivery failed.
    """
    delivery = db.session.get(Delivery, delivery_id, with_for_update=True)
    if delivery is None:
        log.info("delivery %s: gone (lead erased), nothing to do", delivery_id)
        return "gone"
    if delivery.status != DELIVERY_PENDING:
        db.session.rollback()
        log.info("delivery %s: already %s", delivery_id, delivery.status)
        return delivery.status

    delivery.attempts += 1
    # While this attempt runs, the sweep must leave the delivery to it.
    delivery.due_at = utcnow() + timedelta(
        seconds=_grace() + current_app.config["DELIVERY_JOB_TIMEOUT"]
    )
    db.session.commit()
    # The commit expired it: load it again with everything the message shows,
    # in one statement rather than one lazy load per relationship.
    delivery = _with_lead(delivery_id)

    try:
        channel_for(delivery.channel).send(delivery)
    except PermanentError as exc:
        _fail(delivery, str(exc))
        log.warning("delivery %s: failed for good: %s", delivery_id, _summary(exc))
        return DELIVERY_FAILED
    except TransientError as exc:
        if delivery.attempts >= max_attempts():
            _fail(delivery, f"{exc} (gave up after {delivery.attempts} attempts)")
            log.warning("delivery %s: gave up after %s attempts", delivery_id, delivery.attempts)
            return DELIVERY_FAILED
        delivery.last_error = str(exc)[:500]
        delivery.due_at = utcnow() + timedelta(seconds=_next_interval(delivery) + _grace())
        _event(delivery, "delivery_retry", error=delivery.last_error)
        db.session.commit()
        log.info("delivery %s: attempt %s failed, will retry", delivery_id, delivery.attempts)
        # "from None": RQ stores the formatted traceback with the failed job, and
        # the chained library exception can quote the server, an address included.
        raise RetryLater(f"delivery {delivery_id}: {_summary(exc)}") from None
    except Exception as exc:
        # Not a channel's own error: a bug, or a library's. Its text may quote the
        # lead, so RQ (which stores the traceback) sees only its type; the log
        # gets where it happened. The attempt is retried like a transient one.
        db.session.rollback()
        log.error("delivery %s: unexpected %s at %s", delivery_id, type(exc).__name__, _where(exc))
        raise RetryLater(f"delivery {delivery_id}: unexpected {type(exc).__name__}") from None

    delivery.status = DELIVERY_SENT
    delivery.sent_at = utcnow()
    delivery.last_error = ""
    attempt = delivery.attempts
    _event(delivery, "delivered")
    db.session.commit()
    log.info("delivery %s: sent on attempt %s", delivery_id, attempt)
    return DELIVERY_SENT


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


def _with_lead(delivery_id: int) -> Delivery:
    return db.session.scalars(delivery_with_lead(delivery_id)).one()


def delivery_with_lead(delivery_id: int) -> Select:
    """A delivery with its lead and everything its messages show."""
    lead = joinedload(Delivery.lead)
    return (
        db.select(Delivery)
        .where(Delivery.id == delivery_id)
        .options(
            lead.joinedload(Lead.clinic),
            lead.joinedload(Lead.location),
            lead.joinedload(Lead.treatment),
        )
    )


def _fail(delivery: Delivery, reason: str) -> None:
    delivery.status = DELIVERY_FAILED
    delivery.last_error = reason[:500]
    _event(delivery, "delivery_failed", error=delivery.last_error)
    db.session.commit()


def _event(delivery: Delivery, kind: str, **data: str) -> None:
    db.session.add(
        LeadEvent(
            lead_id=delivery.lead_id,
            kind=kind,
            data={
                "delivery_id": delivery.id,
                "purpose": delivery.purpose,
                "channel": delivery.channel,
                "attempt": delivery.attempts,
                **data,
            },
        )
    )


def _grace() -> int:
    return int(current_app.config["SWEEP_GRACE_SECONDS"])


def _next_interval(delivery: Delivery) -> int:
    intervals = current_app.config["DELIVERY_RETRY_INTERVALS"]
    return int(intervals[min(delivery.attempts - 1, len(intervals) - 1)])
