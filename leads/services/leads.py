"""Turning a consultation request into a stored lead and its outbox rows."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from sqlalchemy.exc import IntegrityError

from leads.extensions import db
from leads.models import (
    ATTRIBUTION_FIELDS,
    Delivery,
    Lead,
    LeadEvent,
    Location,
    Page,
    Treatment,
    channels_for,
    utcnow,
)
from leads.services import outbox

log = logging.getLogger(__name__)

# The version of the enquiry-consent wording shown beside the form.
CONSENT_VERSION = "2026-11-v1"


@dataclass(frozen=True)
class Enquiry:
    """What the patient typed, validated and normalised by the form."""

    full_name: str
    email: str
    phone: str  # E.164
    treatment: Treatment | None
    contact_method: str
    contact_time: str
    message: str
    consent_enquiry: bool
    marketing_opt_in: bool
    submission_token: str


def submit_lead(
    enquiry: Enquiry,
    location: Location,
    page: Page | None,
    attribution: dict[str, Any],
) -> tuple[Lead, bool]:
    """Store the lead, one delivery per inbox channel and an acknowledgement,
    and its first event, in one transaction; then enqueue the deliveries.

    Returns ``(lead, created)``. A second submit with the same form token
    returns the first lead and creates nothing.
    """
    existing = _by_token(enquiry.submission_token)
    if existing is not None:
        return existing, False

    now = utcnow()
    lead = Lead(
        submission_token=enquiry.submission_token,
        clinic_id=location.clinic_id,
        location=location,
        treatment=enquiry.treatment,
        page_id=page.id if page else None,
        page_revision_id=page.published_revision_id if page else None,
        full_name=enquiry.full_name,
        email=enquiry.email,
        phone=enquiry.phone,
        contact_method=enquiry.contact_method,
        contact_time=enquiry.contact_time,
        message=enquiry.message,
        consent_enquiry=enquiry.consent_enquiry,
        consent_version=CONSENT_VERSION,
        consent_at=now,
        marketing_opt_in=enquiry.marketing_opt_in,
        status="new",
        created_at=now,
        **{name: str(attribution.get(name) or "")[:_limit(name)] for name in ATTRIBUTION_FIELDS},
    )
    db.session.add(lead)
    for channel in channels_for(location):
        lead.deliveries.append(
            Delivery(
                purpose="inbox",
                channel=channel.kind,
                target=channel.target,
                inbox_channel_id=channel.id,
                due_at=now,
                created_at=now,
            )
        )
    lead.deliveries.append(
        Delivery(purpose="acknowledgement", channel="email", target=enquiry.email,
                 due_at=now, created_at=now)
    )
    lead.events.append(LeadEvent(kind="received", data={"page_id": lead.page_id}, created_at=now))
    try:
        # The ids are known once flushed; read them now, as the commit expires them.
        db.session.flush()
        delivery_ids = [d.id for d in lead.deliveries]
        lead_id = lead.id
        db.session.commit()
    except IntegrityError:
        # The same form posted twice at once: the other request stored it.
        db.session.rollback()
        existing = _by_token(enquiry.submission_token)
        if existing is None:
            raise
        return existing, False

    log.info("lead %s stored with %s deliveries", lead_id, len(delivery_ids))
    outbox.enqueue(delivery_ids)
    return lead, True


def _by_token(token: str) -> Lead | None:
    return db.session.scalar(db.select(Lead).where(Lead.submission_token == token))


def _limit(name: str) -> int:
    return Lead.__table__.c[name].type.length or 200
