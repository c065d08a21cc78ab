"""Subject access and erasure: find, export and erase everything held about a person."""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from leads import lifecycle, phones
from leads.extensions import db
from leads.models import Delivery, Lead, LeadEvent, User, utcnow
from leads.services import audit, webhook_events
from leads.services.retention import discard_jobs

log = logging.getLogger(__name__)


def subject_leads(email: str = "", phone: str = "") -> list[Lead]:
    """Every lead that holds this email address or this phone number."""
    conditions = []
    email = email.strip().lower()
    if email:
        conditions.append(sa.func.lower(Lead.email) == email)
    e164 = phones.to_e164(phone) if phone.strip() else None
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
        "screening": lead.screening,
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
    notices = webhook_events.erasure_notices(lead_ids)
    # Cancelled first, so a job that holds one now finds nothing to send.
    lifecycle.cancel_unfinished(lead_ids)
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
    webhook_events.send_erased(notices)
    log.info(
        "erased %s leads, %s deliveries, %s queued jobs (audit %s)",
        len(lead_ids),
        len(delivery_ids),
        jobs,
        entry_id,
    )
    return {"leads": len(lead_ids), "deliveries": len(delivery_ids), "jobs": jobs}
