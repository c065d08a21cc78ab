"""Privacy duties: retention purge, subject access and erasure, marketing withdrawal.

Every step here leaves an audit entry made of ids and counts, never of what a
patient wrote or how to reach them.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import phonenumbers
import sqlalchemy as sa
from flask import current_app
from itsdangerous import BadSignature, URLSafeSerializer
from redis.exceptions import RedisError
from rq.exceptions import NoSuchJobError
from rq.job import Job

from leads.extensions import db
from leads.models import Clinic, Delivery, Lead, LeadEvent, User, utcnow
from leads.queue import get_queue
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
    "fbclid": "",
    "landing_page": "",
    "marketing_opt_in": False,
}


# -- queued jobs ---------------------------------------------------------------


def discard_jobs(delivery_ids: Iterable[int]) -> int:
    """Delete the RQ jobs of these deliveries (queued, scheduled, failed, results).

    Returns how many were found. A Redis outage is logged, not raised: the
    job of a deleted delivery finds nothing and does nothing.
    """
    found = 0
    try:
        queue = get_queue()
        for delivery_id in delivery_ids:
            try:
                job = Job.fetch(
                    f"delivery-{delivery_id}",
                    connection=queue.connection,
                    serializer=queue.serializer,
                )
            except NoSuchJobError:
                continue
            job.delete()
            found += 1
    except RedisError as exc:
        log.warning("could not remove queued jobs: %s", type(exc).__name__)
    return found


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


# -- subject access and erasure ------------------------------------------------


def normalise_phone(raw: str) -> str | None:
    try:
        number = phonenumbers.parse(raw.replace("(0)", ""), "GB")
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_possible_number(number):
        return None
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def subject_leads(email: str = "", phone: str = "") -> list[Lead]:
    """Every lead that holds this email address or this phone number."""
    conditions = []
    email = email.strip().lower()
    if email:
        conditions.append(sa.func.lower(Lead.email) == email)
    e164 = normalise_phone(phone) if phone.strip() else None
    if e164:
        conditions.append(Lead.phone == e164)
    if not conditions:
        return []
    return list(
        db.session.scalars(
            db.select(Lead).where(sa.or_(*conditions)).order_by(Lead.created_at, Lead.id)
        )
    )


def record_search(leads: list[Lead], user: User | None) -> None:
    """Audit a subject-access search by what it found, not by what was asked."""
    audit.record("subject_searched", user, "lead", None, found=len(leads))
    db.session.commit()


def _when(value: datetime | None) -> str | None:
    return value.isoformat() + "Z" if value else None


def export_lead(lead: Lead) -> dict[str, Any]:
    wording = lead.consent_wording
    return {
        "reference": lead.reference,
        "received_at": _when(lead.created_at),
        "clinic": lead.clinic.name,
        "location": lead.location.name,
        "treatment": lead.treatment.name if lead.treatment else None,
        "full_name": lead.full_name,
        "email": lead.email,
        "phone": lead.phone,
        "contact_method": lead.contact_method,
        "contact_time": lead.contact_time,
        "message": lead.message,
        "status": lead.status,
        "consent": {
            "enquiry": lead.consent_enquiry,
            "version": lead.consent_version,
            "wording": wording.text if wording else None,
            "given_at": _when(lead.consent_at),
            "page_revision_id": lead.page_revision_id,
            "marketing_opt_in": lead.marketing_opt_in,
            "marketing_withdrawn_at": _when(lead.marketing_withdrawn_at),
        },
        "source": lead.attribution,
        "events": [
            {"kind": e.kind, "at": _when(e.created_at), "details": e.data} for e in lead.events
        ],
        "deliveries": [
            {
                "purpose": d.purpose,
                "channel": d.channel,
                "to": d.target,
                "status": d.status,
                "attempts": d.attempts,
                "sent_at": _when(d.sent_at),
            }
            for d in lead.deliveries
        ],
    }


def export_subject(leads: list[Lead], user: User | None) -> dict[str, Any]:
    """Everything held about the person, as a JSON-ready mapping; audited."""
    audit.record("subject_exported", user, "lead", None, leads=[lead.id for lead in leads])
    db.session.commit()
    return {
        "generated_at": _when(utcnow()),
        "controller": "the clinics named in each record",
        "records": [export_lead(lead) for lead in leads],
    }


def erase_subject(leads: list[Lead], user: User | None) -> dict[str, int]:
    """Delete these leads with their timelines, deliveries and queued jobs; audited."""
    lead_ids = [lead.id for lead in leads]
    if not lead_ids:
        return {"leads": 0, "deliveries": 0, "jobs": 0}
    delivery_ids = list(
        db.session.scalars(db.select(Delivery.id).where(Delivery.lead_id.in_(lead_ids)))
    )
    db.session.execute(db.delete(LeadEvent).where(LeadEvent.lead_id.in_(lead_ids)))
    db.session.execute(db.delete(Delivery).where(Delivery.lead_id.in_(lead_ids)))
    db.session.execute(db.delete(Lead).where(Lead.id.in_(lead_ids)))
    entry = audit.record(
        "subject_erased", user, "lead", None, leads=lead_ids, deliveries=len(delivery_ids)
    )
    db.session.commit()
    entry_id = entry.id
    db.session.expunge_all()  # the erased rows' objects must not linger in the session
    jobs = discard_jobs(delivery_ids)
    log.info(
        "erased %s leads, %s deliveries, %s queued jobs (audit %s)",
        len(lead_ids),
        len(delivery_ids),
        jobs,
        entry_id,
    )
    return {"leads": len(lead_ids), "deliveries": len(delivery_ids), "jobs": jobs}


# -- marketing consent -----------------------------------------------------------


def _withdraw_serializer() -> URLSafeSerializer:
    return URLSafeSerializer(current_app.config["SECRET_KEY"], salt=WITHDRAW_SALT)


def withdrawal_token(lead: Lead) -> str:
    """An opaque, signed token naming the lead by its reference only."""
    return _withdraw_serializer().dumps(lead.reference)


def withdrawal_url(lead: Lead) -> str:
    base = current_app.config["PUBLIC_BASE_URL"].rstrip("/")
    return f"{base}/privacy/marketing/{withdrawal_token(lead)}/"


def lead_for_withdrawal(token: str) -> Lead | None:
    try:
        reference = _withdraw_serializer().loads(token)
    except BadSignature:
        return None
    return db.session.scalar(db.select(Lead).where(Lead.reference == str(reference)))


def withdraw_marketing(lead: Lead) -> int:
    """Withdraw marketing consent on this lead and every other lead with its email.

    Returns how many leads changed; withdrawing twice changes nothing more.
    """
    now = utcnow()
    leads = [lead]
    if lead.email:
        leads = list(
            db.session.scalars(
                db.select(Lead).where(sa.func.lower(Lead.email) == lead.email.lower())
            )
        )
    changed = 0
    for row in leads:
        if row.marketing_withdrawn_at is None or row.marketing_opt_in:
            row.marketing_opt_in = False
            row.marketing_withdrawn_at = now
            row.events.append(LeadEvent(kind="marketing_withdrawn", created_at=now))
            changed += 1
    if changed:
        audit.record("marketing_withdrawn", None, "lead", lead.id, leads=changed)
    db.session.commit()
    return changed
