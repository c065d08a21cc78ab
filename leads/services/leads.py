"""Turning a consultation request into a stored lead and its outbox rows."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
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
    User,
    channels_for,
    utcnow,
)
from leads.services import audit, consent, outbox
from leads.sources import classify
from leads.spam import Verdict

log = logging.getLogger(__name__)


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
    # SHA-256 of the consent wording the form showed (from its signed stamp).
    consent_digest: str | None = None


def submit_lead(
    enquiry: Enquiry,
    location: Location,
    page: Page | None,
    attribution: dict[str, Any],
    verdict: Verdict | None = None,
) -> tuple[Lead, bool]:
    """Store the lead, one delivery per inbox channel and an acknowledgement,
    and its first event, in one transaction; then enqueue the deliveries.

    A submission the spam traps caught (``verdict``) is stored with status
    "spam", its score and reasons, and no deliveries: it waits in quarantine.

    Returns ``(lead, created)``. A second submit with the same form token
    returns the first lead and creates nothing.
    """
    existing = _by_token(enquiry.submission_token)
    if existing is not None:
        return existing, False

    wording = consent.by_digest(enquiry.consent_digest) or consent.current()
    suspect = verdict is not None and verdict.suspect
    source, medium = classify(attribution)
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
        consent_version=wording.label,
        consent_wording_id=wording.id,
        consent_at=now,
        marketing_opt_in=enquiry.marketing_opt_in,
        status="spam" if suspect else "new",
        spam_score=verdict.score if verdict else 0,
        spam_reasons=list(verdict.reasons) if verdict else [],
        created_at=now,
        source=source,
        medium=medium,
        **{name: str(attribution.get(name) or "")[: _limit(name)] for name in ATTRIBUTION_FIELDS},
    )
    db.session.add(lead)
    lead.events.append(LeadEvent(kind="received", data={"page_id": lead.page_id}, created_at=now))
    if suspect:
        lead.events.append(
            LeadEvent(
                kind="quarantined",
                data={"score": lead.spam_score, "reasons": lead.spam_reasons},
                created_at=now,
            )
        )
    else:
        _add_deliveries(lead, location, now)
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

    if suspect:
        log.info(
            "lead %s quarantined as suspected spam (score %s: %s)",
            lead_id,
            lead.spam_score,
            ",".join(lead.spam_reasons),
        )
    else:
        log.info("lead %s stored with %s deliveries", lead_id, len(delivery_ids))
    outbox.enqueue(delivery_ids)
    return lead, True


def quarantined(user: User, limit: int = 200) -> list[Lead]:
    """The suspected spam ``user`` may see, newest first."""
    from leads.services.scope import visible_leads

    query = visible_leads(user).where(Lead.status == "spam")
    return list(
        db.session.scalars(query.order_by(Lead.created_at.desc(), Lead.id.desc()).limit(limit))
    )


def release_lead(lead: Lead, user: User | None) -> list[int]:
    """Take a lead out of quarantine: it becomes new and is delivered like any other.

    Returns the ids of the deliveries enqueued (none if it was not quarantined).
    """
    if lead.status != "spam":
        return []
    now = utcnow()
    lead.status = "new"
    created = _add_deliveries(lead, lead.location, now)
    lead.events.append(
        LeadEvent(
            kind="released",
            user_id=user.id if user else None,
            data={"score": lead.spam_score, "reasons": lead.spam_reasons},
            created_at=now,
        )
    )
    audit.record("lead_released", user, "lead", lead.id, score=lead.spam_score)
    db.session.commit()
    ids = [d.id for d in created]
    log.info("lead %s released from quarantine", lead.id)
    outbox.enqueue(ids)
    return ids


def _add_deliveries(lead: Lead, location: Location, now: datetime) -> list[Delivery]:
    """One delivery per inbox channel of ``location`` and the patient's acknowledgement."""
    rows = [
        Delivery(
            purpose="inbox",
            channel=channel.kind,
            target=channel.target,
            inbox_channel_id=channel.id,
            due_at=now,
            created_at=now,
        )
        for channel in channels_for(location)
    ]
    rows.append(
        Delivery(
            purpose="acknowledgement",
            channel="email",
            target=lead.email,
            due_at=now,
            created_at=now,
        )
    )
    lead.deliveries.extend(rows)
    return rows


def _by_token(token: str) -> Lead | None:
    return db.session.scalar(db.select(Lead).where(Lead.submission_token == token))


def _limit(name: str) -> int:
    return Lead.__table__.c[name].type.length or 200
