"""The retention purge: leads older than their clinic's period are anonymised,
their timelines, deliveries and queued jobs removed.


Every step leaves an audit entry made of ids and counts, never of what a
patient wrote or how to reach them.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime

from flask import current_app
from redis.exceptions import RedisError, WatchError
from rq.exceptions import InvalidJobOperation, NoSuchJobError
from rq.job import Job, JobStatus

from leads import lifecycle
from leads.extensions import db
from leads.models import Clinic, Delivery, Lead, LeadEvent, job_id, utcnow
from leads.queue import get_queue, max_attempts
from leads.services import audit

log = logging.getLogger(__name__)

WITHDRAW_SALT = "marketing-withdrawal"
# Columns the purge blanks: the patient's details and anything typed about them.
ANONYMISED = {
    "full_name": "",
    "email": "",
    "phone": "",
    "message": "",
    "lost_reason": "",
    "referrer": "",
    "gclid": "",
    "gbraid": "",
    "wbraid": "",
    "msclkid": "",
    "fbclid": "",
    "landing_page": "",
    "marketing_opt_in": False,
}


def discard_jobs(delivery_ids: Iterable[int]) -> int:
    """Delete the RQ jobs of these deliveries (queued, scheduled, failed, results).

    Returns how many were found. A job running now is left to end: it finds
    its deliveries gone and keeps nothing (deleted under its worker, RQ would
    fail it and keep it with the failed jobs). A Redis outage is logged, not
    raised: the job of a deleted delivery finds nothing and does nothing.
    """
    found = 0
    try:
        queue = get_queue()
        for delivery_id in delivery_ids:
            for attempts in range(max_attempts()):
                try:
                    job = Job.fetch(
                        job_id(delivery_id, attempts),
                        connection=queue.connection,
                        serializer=queue.serializer,
                    )
                except NoSuchJobError:
                    continue
                found += _discard(job)
    except RedisError as exc:
        log.warning("could not remove queued jobs: %s", type(exc).__name__)
    return found


def _discard(job: Job) -> bool:
    """Delete ``job`` unless a worker has started it. Its status is read and
    the job deleted in one Redis transaction that watches the job: a worker
    that takes it in between changes it, and the status is read again. A job
    that ended and went in the meantime has nothing left to delete."""
    with job.connection.pipeline() as pipe:
        while True:
            try:
                pipe.watch(job.key)
                if job.get_status(refresh=True) == JobStatus.STARTED:
                    return False
                pipe.multi()
                job.delete(pipeline=pipe)
                pipe.execute()
                return True
            except WatchError:
                continue
            except InvalidJobOperation:  # its status is gone: so is the job
                return False


# -- retention -----------------------------------------------------------------


@dataclass
class PurgeReport:
    leads: int = 0
    events: int = 0
    deliveries: int = 0
    jobs: int = 0
    clinics: dict[int, int] = field(default_factory=dict)


def months_before(moment: datetime, months: int) -> datetime:
    """The same day and time ``months`` calendar months earlier (clamped to month end)."""
    import calendar

    total = moment.year * 12 + (moment.month - 1) - months
    year, month = divmod(total, 12)
    month += 1
    day = min(moment.day, calendar.monthrange(year, month)[1])
    return moment.replace(year=year, month=month, day=day)


def retention_cutoff(clinic: Clinic, now: datetime) -> datetime:
    months = clinic.retention_months or int(current_app.config["RETENTION_MONTHS_DEFAULT"])
    return months_before(now, months)


def purge(now: datetime | None = None) -> PurgeReport:
    """Anonymise every lead older than its clinic's retention period.

    The lead keeps what the statistics need (clinic, location, treatment,
    campaign, status, dates); its patient details are blanked, and its
    timeline, deliveries and queued jobs are removed. Running it again finds
    nothing more to do.
    """
    now = now or utcnow()
    report = PurgeReport()
    delivery_ids: list[int] = []
    for clinic in db.session.scalars(db.select(Clinic).order_by(Clinic.id)):
        cutoff = retention_cutoff(clinic, now)
        lead_ids = list(
            db.session.scalars(
                db.select(Lead.id).where(
                    Lead.clinic_id == clinic.id,
                    Lead.created_at < cutoff,
                    Lead.anonymised_at.is_(None),
                )
            )
        )
        if not lead_ids:
            continue
        ids = list(db.session.scalars(db.select(Delivery.id).where(Delivery.lead_id.in_(lead_ids))))
        events = db.session.execute(
            db.delete(LeadEvent).where(LeadEvent.lead_id.in_(lead_ids))
        ).rowcount
        lifecycle.cancel_unfinished(lead_ids)
        db.session.execute(db.delete(Delivery).where(Delivery.id.in_(ids)))
        db.session.execute(
            db.update(Lead).where(Lead.id.in_(lead_ids)).values(anonymised_at=now, **ANONYMISED)
        )
        audit.record(
            "retention_purge",
            None,
            "clinic",
            clinic.id,
            leads=len(lead_ids),
            events=events,
            deliveries=len(ids),
            cutoff=cutoff.isoformat(),
        )
        report.leads += len(lead_ids)
        report.events += events
        report.deliveries += len(ids)
        report.clinics[clinic.id] = len(lead_ids)
        delivery_ids.extend(ids)
    db.session.commit()
    report.jobs = discard_jobs(delivery_ids)
    if report.leads:
        log.info(
            "purge: anonymised %s leads, removed %s deliveries and %s jobs",
            report.leads,
            report.deliveries,
            report.jobs,
        )
    return report
