"""Periodic work (the outbox and staff-mail sweeps, the retention purge, adding
the page views counted in Redis to the database) as RQ jobs on RQ's
own scheduler, so that it runs once per interval however many workers run.

Each run has the id ``periodic-<name>-<slot>``, its slot being the number of
whole intervals since the epoch at which it is due. Any worker may ask for
the next run at any time: the same slot is the same job (RQ's scheduled
registry holds it once), and only the worker holding RQ's scheduler lock
enqueues it. Each run first schedules the next slot, so the chain goes on;
a worker asks for the next slots when it starts, and the scheduler holding
the lock checks them at every tick (a Redis that lost its data loses them).
"""

from __future__ import annotations

import logging
import time
from datetime import UTC, datetime
from typing import Any

from flask import current_app
from redis.exceptions import RedisError
from rq import Queue
from rq.job import Job

from leads.extensions import db

log = logging.getLogger(__name__)

# name -> (the job, the setting with its interval in seconds)
PERIODIC: dict[str, tuple[str, str]] = {
    "outbox-sweep": ("leads.periodic.run_sweep", "SWEEP_INTERVAL_SECONDS"),
    "retention-purge": ("leads.periodic.run_purge", "PURGE_INTERVAL_SECONDS"),
    "staff-mail-sweep": ("leads.periodic.run_staff_mail_sweep", "SWEEP_INTERVAL_SECONDS"),
    "page-views": ("leads.periodic.run_page_views_flush", "PAGE_VIEWS_FLUSH_SECONDS"),
    "escalation": ("leads.periodic.run_escalation", "ESCALATION_INTERVAL_SECONDS"),
    "digest": ("leads.periodic.run_digests", "DIGEST_INTERVAL_SECONDS"),
}


def plan(config: Any) -> dict[str, tuple[str, int, int]]:
    """name -> (job, interval, failure TTL), read from the settings once, so a
    scheduler process can keep the chain going without the app."""
    return {
        name: (func, int(config[setting]), int(config["JOB_FAILURE_TTL"]))
        for name, (func, setting) in PERIODIC.items()
    }


def next_slot(name: str, now: float | None = None) -> tuple[str, datetime]:
    """The id and time of ``name``'s next run after ``now``."""
    interval = int(current_app.config[PERIODIC[name][1]])
    return _slot(name, interval, now)


def _slot(name: str, interval: int, now: float | None = None) -> tuple[str, datetime]:
    slot = int((now if now is not None else time.time()) // interval) + 1
    return f"periodic-{name}-{slot}", datetime.fromtimestamp(slot * interval, tz=UTC)


def schedule_missing(queue: Queue, jobs: dict[str, tuple[str, int, int]]) -> int:
    """Put each periodic job's next run on RQ's scheduler unless it is there
    already (whoever asks, it is one job per slot). Returns how many it added."""
    added = 0
    for name, (func, interval, failure_ttl) in jobs.items():
        job_id, when = _slot(name, interval)
        if Job.exists(job_id, connection=queue.connection):
            continue
        queue.enqueue_at(
            when,
            func,
            job_id=job_id,
            description=f"periodic {name}",
            result_ttl=0,
            failure_ttl=failure_ttl,
            job_timeout=max(60, interval),
        )
        added += 1
    return added


def ensure_scheduled(queue: Queue) -> bool:
    """Ask for the next run of every periodic job; False if Redis failed."""
    try:
        schedule_missing(queue, plan(current_app.config))
    except RedisError as exc:
        log.warning("periodic jobs not scheduled now: %s", type(exc).__name__)
        return False
    return True


def _run(name: str, task: Any) -> Any:
    from leads.queue import get_queue

    ensure_scheduled(get_queue())
    try:
        return task()
    finally:
        db.session.remove()


def run_sweep() -> int:
    from leads.services.outbox import sweep

    return _run("outbox-sweep", sweep)


def run_purge() -> int:
    from leads.services.retention import purge

    return _run("retention-purge", lambda: purge().leads)


def run_staff_mail_sweep() -> int:
    from leads.services.staff_mail import sweep

    return _run("staff-mail-sweep", sweep)


def run_page_views_flush() -> int:
    from leads.queue import state
    from leads.services.page_views import flush

    return _run("page-views", lambda: flush(state().redis))


def run_escalation() -> int:
    from leads.services.escalation import escalate_overdue

    return _run("escalation", escalate_overdue)


def run_digests() -> int:
    from leads.services.digest import send_digests

    return _run("digest", send_digests)
