"""Handing deliveries to the queue, after their rows are committed.

Redis only carries work: if it cannot be reached, the delivery stays in the
database as it was and the sweep enqueues it once Redis is back. The sweep
does not ask RQ what it holds: it enqueues every delivery that is due and has
not reached the queue since, and the job, which may run twice, makes an
attempt only when one is due.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta

import sqlalchemy as sa
from flask import current_app
from redis.exceptions import RedisError

from leads import lifecycle
from leads.extensions import db
from leads.models import Delivery, job_id, utcnow
from leads.queue import get_queue

log = logging.getLogger(__name__)

JOB = "leads.jobs.deliver"
# The first attempts of deliveries made together (a lead's) go in one job.
TOGETHER_JOB = "leads.jobs.deliver_together"
# At most this many deliveries in one job.
TOGETHER_MAX = 4


def job_options(delivery_id: int, attempts: int) -> dict:
    """How every delivery job is queued: its id per attempt, no result kept
    (the database records the outcome), failed jobs kept with ids only."""
    return {
        "args": (delivery_id,),
        "job_id": job_id(delivery_id, attempts),
        "description": f"deliver {delivery_id}",
        "result_ttl": current_app.config["JOB_RESULT_TTL"],
        "failure_ttl": current_app.config["JOB_FAILURE_TTL"],
    }


def enqueue(delivery_ids: Iterable[int], *, one_lead: bool = False) -> int:
    """Enqueue the first attempt of new deliveries (or of one retried by
    hand); returns how many were enqueued. Never raises for Redis trouble:
    what is not enqueued now is left to the sweep.

    All the jobs go in one Redis round trip (a pipeline), so a lead's
    deliveries cost the request one wait on Redis, not one per delivery.
    With ``one_lead`` (the deliveries of one new lead) they share a job (up
    to ``TOGETHER_MAX``), attempted in the order given: the clinic's
    inboxes, then the patient's acknowledgement. A worker pays RQ's own cost
    per job, which is about what a delivery's own work costs. Deliveries of
    several leads, retries and the sweep's jobs stay one job per delivery, so
    that erasing a lead, which deletes its deliveries' jobs by name, leaves
    no job that names its deliveries.
    """
    ids = list(delivery_ids)
    if not ids:
        return 0
    try:
        if one_lead:
            _push_together(ids)
        else:
            _push([(delivery_id, 0) for delivery_id in ids])
    except RedisError as exc:
        log.warning(
            "queue unavailable, %s deliveries left to the sweep: %s", len(ids), type(exc).__name__
        )
        return 0
    return len(ids)


def _push_together(ids: list[int]) -> None:
    queue = get_queue()
    jobs = []
    for start in range(0, len(ids), TOGETHER_MAX):
        group = ids[start : start + TOGETHER_MAX]
        if len(group) == 1:
            jobs.append(queue.prepare_data(JOB, **job_options(group[0], 0)))
            continue
        # Named after its first delivery's first attempt, so that erasing the
        # lead, which deletes its deliveries' jobs by name, deletes it too.
        options = job_options(group[0], 0)
        options.update(
            args=(group,),
            description=f"deliver {', '.join(map(str, group))}",
            # Each attempt may take the time one job may.
            timeout=current_app.config["DELIVERY_JOB_TIMEOUT"] * len(group),
        )
        jobs.append(queue.prepare_data(TOGETHER_JOB, **options))
    queue.enqueue_many(jobs)


def _push(jobs: list[tuple[int, int]]) -> None:
    queue = get_queue()
    queue.enqueue_many([queue.prepare_data(JOB, **job_options(i, n)) for i, n in jobs])


def schedule_retry(delivery_id: int, attempts: int, retry_at: datetime) -> None:
    """After a failed attempt (committed): queue the next for ``retry_at``,
    through RQ's scheduler, or at once when it is due already. If Redis
    fails here the sweep enqueues it once due."""
    try:
        now = utcnow()
        if retry_at <= now:
            _push([(delivery_id, attempts)])
            lifecycle.mark_enqueued([delivery_id], now)
            db.session.commit()
        else:
            queue = get_queue()
            options = job_options(delivery_id, attempts)
            args = options.pop("args")
            queue.enqueue_at(retry_at.replace(tzinfo=UTC), JOB, *args, **options)
    except RedisError as exc:
        log.warning("delivery %s: retry left to the sweep: %s", delivery_id, type(exc).__name__)


def sweep() -> int:
    """Enqueue every delivery whose attempt is due and has not reached the
    queue since it fell due; returns how many were enqueued.

    A first attempt counts as due once it has waited SWEEP_GRACE_SECONDS (its
    own job normally runs well before); a retry as soon as its time comes;
    an attempt still "sending" once its time-out and the grace have passed
    (its worker died). A job that sat in the queue for the grace without
    starting is enqueued again. The enqueue mark moves only after Redis took
    the jobs; a Redis error is logged and the next sweep tries again. Safe
    from several processes at once: a delivery is attempted only when due.
    """
    now = utcnow()
    grace = timedelta(seconds=current_app.config["SWEEP_GRACE_SECONDS"])
    stale = now - grace
    query = (
        sa.select(Delivery.id, Delivery.attempts)
        .where(
            Delivery.status.in_(list(lifecycle.UNFINISHED)),
            Delivery.due_at <= now,
            sa.or_(Delivery.attempts > 0, Delivery.due_at <= stale),
            sa.or_(
                Delivery.enqueued_at.is_(None),
                Delivery.enqueued_at < Delivery.due_at,
                Delivery.enqueued_at <= stale,
            ),
        )
        .order_by(Delivery.due_at, Delivery.id)
        .limit(1000)
    )
    due = [(row.id, row.attempts) for row in db.session.execute(query)]
    db.session.rollback()  # no transaction held open while Redis is asked
    if not due:
        return 0
    try:
        _push(due)
    except RedisError as exc:
        log.warning("sweep: queue unavailable (%s), will try again", type(exc).__name__)
        return 0
    lifecycle.mark_enqueued([delivery_id for delivery_id, _ in due], now)
    db.session.commit()
    log.info("sweep: enqueued %s due deliveries", len(due))
    return len(due)
