"""Periodic work (the outbox sweep, the retention purge) as RQ jobs on RQ's
own scheduler, so that it runs once per interval however many workers run.

Each run has the id ``periodic-<name>-<slot>``, its slot being the number of
whole intervals since the epoch at which it is due. Any worker may ask for
the next run at any time: the same slot is the same job (RQ's scheduled
registry holds it once), and only the worker holding RQ's scheduler lock
enqueues it. Each run first schedules the next slot, so the chain goes on;
a worker also asks for the next slots when it starts and at its maintenance.
"""

from __future__ import annotations

import logging
import time
from datetime import UTC, datetime
from typing import Any

from flask import current_app
from redis.exceptions import RedisError
from rq import Queue

from leads.extensions import db

log = logging.getLogger(__name__)

# name -> (the job, the setting with its interval in seconds)
PERIODIC: dict[str, tuple[str, str]] = {
    "outbox-sweep": ("leads.periodic.run_sweep", "SWEEP_INTERVAL_SECONDS"),
    "retention-purge": ("leads.periodic.run_purge", "PURGE_INTERVAL_SECONDS"),
}


def next_slot(name: str, now: float | None = None) -> tuple[str, datetime]:
    """The id and time of ``name``'s next run after ``now``."""
    interval = int(current_app.config[PERIODIC[name][1]])
    slot = int((now if now is not None else time.time()) // interval) + 1
    return f"periodic-{name}-{slot}", datetime.fromtimestamp(slot * interval, tz=UTC)


def schedule_next(queue: Queue, name: str) -> str:
    """Put ``name``'s next run on RQ's scheduler (once, whoever asks)."""
    job_id, when = next_slot(name)
    queue.enqueue_at(
        when,
        PERIODIC[name][0],
        job_id=job_id,
        description=f"periodic {name}",
        result_ttl=0,
        failure_ttl=current_app.config["JOB_FAILURE_TTL"],
        job_timeout=max(60, int(current_app.config[PERIODIC[name][1]])),
    )
    return job_id


def ensure_scheduled(queue: Queue) -> bool:
    """Ask for the next run of every periodic job; False if Redis failed."""
    try:
        for name in PERIODIC:
            schedule_next(queue, name)
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
