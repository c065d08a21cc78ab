"""Handing deliveries to the queue, after their rows are committed.

Redis only carries work: if it cannot be reached, the delivery stays pending
in the database and the sweep enqueues it once Redis is back.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from datetime import timedelta

from flask import current_app
from redis.exceptions import RedisError
from rq.job import Job, JobStatus

from leads.extensions import db
from leads.models import DELIVERY_PENDING, Delivery, utcnow
from leads.queue import get_queue, retry_policy

log = logging.getLogger(__name__)

# A job in one of these states will run on its own. A started job is not here:
# its attempt pushed due_at past its time-out, so if it is still "started" once
# due, its worker died and the delivery needs a new job.
_LIVE = {JobStatus.QUEUED, JobStatus.SCHEDULED, JobStatus.DEFERRED}


def enqueue(delivery_ids: Iterable[int]) -> int:
    """Enqueue a job per delivery; returns how many were enqueued. Never raises
    for Redis trouble: what is not enqueued now is left to the sweep.

    All the jobs go in one Redis round trip (a pipeline), so a lead's
    deliveries cost the request one wait on Redis, not one per delivery.
    """
    ids = list(delivery_ids)
    if not ids:
        return 0
    try:
        queue = get_queue()
        jobs = [
            queue.prepare_data(
                "leads.jobs.deliver",
                args=(delivery_id,),
                job_id=f"delivery-{delivery_id}",
                retry=retry_policy(),
                description=f"deliver {delivery_id}",
                result_ttl=3600,
                failure_ttl=current_app.config["JOB_FAILURE_TTL"],
            )
            for delivery_id in ids
        ]
        queue.enqueue_many(jobs)  # one pipeline
    except RedisError as exc:
        log.warning(
            "queue unavailable, %s deliveries left to the sweep: %s", len(ids), type(exc).__name__
        )
        return 0
    return len(ids)


def sweep(now_due_only: bool = True) -> int:
    """Enqueue every pending delivery whose planned attempt is overdue.

    Returns how many were enqueued. Safe to run at any time and from several
    processes: a job already waiting in Redis is not enqueued twice, and a
    delivery is sent at most once whatever runs.
    """
    now = utcnow()
    query = db.select(Delivery.id).where(Delivery.status == DELIVERY_PENDING)
    if now_due_only:
        query = query.where(Delivery.due_at <= now)
    due = list(db.session.scalars(query.order_by(Delivery.id).limit(1000)))
    if not due:
        return 0
    try:
        connection = get_queue().connection
        waiting = {
            delivery_id
            for delivery_id in due
            if _status(connection, f"delivery-{delivery_id}") in _LIVE
        }
    except RedisError as exc:
        log.warning("sweep: queue unavailable (%s), will try again", type(exc).__name__)
        return 0
    todo = [delivery_id for delivery_id in due if delivery_id not in waiting]
    if todo:
        # Push the due time on, so the next sweep leaves them to these jobs.
        grace = timedelta(seconds=current_app.config["SWEEP_GRACE_SECONDS"])
        db.session.execute(
            db.update(Delivery)
            .where(Delivery.id.in_(todo), Delivery.status == DELIVERY_PENDING)
            .values(due_at=now + grace)
        )
        db.session.commit()
    enqueued = enqueue(todo)
    if enqueued:
        log.info("sweep: enqueued %s pending deliveries", enqueued)
    return enqueued


def _status(connection, job_id: str) -> JobStatus | None:
    try:
        return Job.fetch(job_id, connection=connection).get_status()
    except Exception:
        return None
