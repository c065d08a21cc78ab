"""Turning a consultation request into a stored lead and its outbox rows."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from sqlalchemy.exc import IntegrityError

from leads import lifecycle
from leads.extensions import db
from leads.models import (
    ATTRIBUTION_FIELDS,
    Lead,
    Location,
    Page,
    Treatment,
    User,
    utcnow,
)
from leads.services import audit, consent, outbox
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

    A submission the spam traps caught (``verdict``) is stored held, with its
    score and reasons, and no deliveries: it waits in quarantine.

    Returns ``(lead, created)``. A second submit with the same form token
    returns the first lead and creates nothing.
    """
    existing = _by_token(enquiry.submission_token)
    if existing is not None:
        return existing, False

    wording = consent.by_digest(enquiry.consent_digest) or consent.current()
    suspect = verdict is not None and verdict.suspect
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
        spam_score=verdict.score if verdict else 0,
        spam_reasons=list(verdict.reasons) if verdict else [],
        created_at=now,
        **{name: str(attribution.get(name) or "")[: _limit(name)] for name in ATTRIBUTION_FIELDS},
    )
    db.session.add(lead)
    lifecycle.receive(lead, held=suspect, now=now)
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
    """The held leads ``user`` may see, newest first."""
    from leads.services.scope import visible_leads

    query = visible_leads(user).where(Lead.screening == lifecycle.Screening.HELD)
    return list(
        db.session.scalars(query.order_by(Lead.created_at.desc(), Lead.id.desc()).limit(limit))
    )


def screened_out(user: User, limit: int = 200) -> list[Lead]:
    """Leads a person screened out (confirmed or marked as spam), newest first."""
    from leads.services.scope import visible_leads

    query = visible_leads(user).where(
        Lead.screening.in_([lifecycle.Screening.SPAM, lifecycle.Screening.MARKED_SPAM])
    )
    return list(
        db.session.scalars(query.order_by(Lead.created_at.desc(), Lead.id.desc()).limit(limit))
    )


AUDIT_ACTIONS = {
    lifecycle.ScreenAction.RELEASE: "lead_released",
    lifecycle.ScreenAction.CONFIRM_SPAM: "lead_confirmed_spam",
    lifecycle.ScreenAction.MARK_SPAM: "lead_marked_spam",
    lifecycle.ScreenAction.UNMARK_SPAM: "lead_unmarked_spam",
}


def screen_lead(lead: Lead, action: str, user: User | None) -> list[int]:
    """A person's screen action on a lead, in one transaction, then the
    deliveries a release created are enqueued. Returns their ids.

    :raise lifecycle.TransitionError: the action does not apply to the lead.
    """
    created = lifecycle.screen(lead, lifecycle.ScreenAction(action), user)
    audit.record(AUDIT_ACTIONS[action], user, "lead", lead.id, score=lead.spam_score)
    db.session.flush()
    ids = [d.id for d in created]
    lead_id = lead.id
    db.session.commit()
    log.info("lead %s screened: %s", lead_id, action)
    outbox.enqueue(ids)
    return ids


def release_lead(lead: Lead, user: User | None) -> list[int]:
    """Take a held lead out of quarantine: it is delivered, once.

    :raise lifecycle.TransitionError: the lead is not held.
    """
    return screen_lead(lead, lifecycle.ScreenAction.RELEASE, user)


def _by_token(token: str) -> Lead | None:
    return db.session.scalar(db.select(Lead).where(Lead.submission_token == token))


def _limit(name: str) -> int:
    return Lead.__table__.c[name].type.length or 200
