"""Escalation: a lead still without first contact at its due time is told,
once, to the clinic's escalation contacts (and announced to its webhooks as
``lead.overdue``).

Exactly once, however many workers run the periodic job and however often
they restart: the database decides. Each candidate is claimed by
``UPDATE leads SET escalated_at = now WHERE id = ? AND escalated_at IS NULL``;
only the transaction whose update changed the row (rowcount 1) writes the
emails and the webhook deliveries, in that same transaction, so a crash
before the commit leaves the lead unclaimed for the next run and a crash
after it leaves the mail in the staff outbox, sent by its own sweep.
"""

from __future__ import annotations

import logging
from datetime import datetime

import sqlalchemy as sa

from leads.extensions import db
from leads.lifecycle import IN_PIPELINE, Stage
from leads.models import Clinic, Lead, LeadEvent, User, utcnow
from leads.models.user import user_clinics
from leads.services import routing, webhook_events
from leads.services.staff_mail import send_staff_mail

log = logging.getLogger(__name__)

BATCH = 200


def overdue_condition(now: datetime) -> sa.ColumnElement[bool]:
    """The WHERE clause of a lead past its due time without first contact."""
    return sa.and_(
        Lead.due_at.is_not(None),
        Lead.due_at <= now,
        Lead.first_contacted_at.is_(None),
        Lead.status == Stage.NEW,
        Lead.screening.in_([str(s) for s in IN_PIPELINE]),
        Lead.anonymised_at.is_(None),
    )


def escalation_contacts(clinic: Clinic) -> list[str]:
    """The clinic's escalation addresses, or else its active managers'."""
    listed = [a.strip() for a in (clinic.escalate_to or "").split(",") if a.strip()]
    if listed:
        return listed
    return list(
        db.session.scalars(
            sa.select(User.email)
            .join(user_clinics, user_clinics.c.user_id == User.id)
            .where(
                user_clinics.c.clinic_id == clinic.id,
                User.active.is_(True),
                User.role == "manager",
            )
            .order_by(User.id)
        )
    )


def claim(lead_id: int, now: datetime) -> bool:
    """Mark the lead escalated; True only for the one caller that did."""
    result = db.session.execute(
        sa.update(Lead)
        .where(Lead.id == lead_id, Lead.escalated_at.is_(None), overdue_condition(now))
        .values(escalated_at=now)
        .execution_options(synchronize_session=False)
    )
    return result.rowcount == 1


def escalate_overdue(now: datetime | None = None) -> int:
    """Escalate every overdue lead not yet escalated; returns how many this call did."""
    now = now or utcnow()
    ids = list(
        db.session.scalars(
            sa.select(Lead.id)
            .where(Lead.escalated_at.is_(None), overdue_condition(now))
            .order_by(Lead.due_at, Lead.id)
            .limit(BATCH)
        )
    )
    db.session.rollback()
    done = 0
    for lead_id in ids:
        if escalate_one(lead_id, now):
            done += 1
    return done


def escalate_one(lead_id: int, now: datetime) -> bool:
    """Claim and escalate one lead in one transaction; False if another did."""
    if not claim(lead_id, now):
        db.session.rollback()
        return False
    lead = db.session.get(Lead, lead_id)
    assert lead is not None
    subject, body = escalation_mail(lead, now)
    recipients = escalation_contacts(lead.clinic)
    for address in recipients:
        send_staff_mail(address, subject, body)
    lead.events.append(
        LeadEvent(kind="escalated", data={"recipients": len(recipients)}, created_at=now)
    )
    announced = webhook_events.announce([lead], "lead.overdue")
    db.session.commit()
    webhook_events.send(announced)
    log.info("lead %s escalated to %s contacts", lead_id, len(recipients))
    return True


def escalation_mail(lead: Lead, now: datetime) -> tuple[str, str]:
    what = lead.treatment.name if lead.treatment else "a consultation"
    where = lead.location.name
    assignee = lead.assigned_to
    who = (assignee.name or assignee.email) if assignee else "nobody"
    lines = [
        f"An enquiry about {what} at {where} has not been answered in time.",
        "",
        f"It was due by {routing.local_time(lead.due_at, lead.location)}.",
        f"Assigned to: {who}.",
        "",
        "Open the lead:",
        routing.lead_link(lead.id),
        "",
    ]
    return f"Overdue enquiry: {what}, {where}", "\n".join(lines)
