"""Working a lead: status, assignment, notes, and recording who looked at it.

Each function is one transaction: it changes the lead, adds a timeline event
(``LeadEvent``) and an audit entry, and commits. The caller has already
found the lead through :mod:`leads.services.scope`.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

import sqlalchemy as sa

from leads import lifecycle
from leads.extensions import db
from leads.models import LEAD_STATUSES, Lead, LeadEvent, User, utcnow
from leads.models.user import user_clinics
from leads.services import outbox, webhook_events
from leads.services.audit import record
from leads.services.scope import can_see, visible_clinics, visible_leads
from leads.working_time import zone_of

STATUS_LABELS = {
    "new": "New",
    "contacted": "Contacted",
    "booked": "Consultation booked",
    "treated": "Treated",
    "lost": "Lost",
}
assert tuple(STATUS_LABELS) == LEAD_STATUSES
SCREENING_LABELS = {
    "clear": "",
    "held": "Held as suspected spam",
    "released": "Released from quarantine",
    "spam": "Confirmed as spam",
    "marked_spam": "Marked as spam",
}

# Moving a lead to one of these means somebody reached the patient.
CONTACT_STATUSES = tuple(str(stage) for stage in lifecycle.CONTACT_STAGES)
NOTE_MAX = 2000
REASON_MAX = 200


class PipelineError(ValueError):
    """A change that cannot be made; the message is for the user."""


def _check_status(status: str, reason: str) -> str:
    if status not in LEAD_STATUSES:
        raise PipelineError("Choose one of the statuses in the list.")
    reason = " ".join(reason.split())
    if status == "lost" and not reason:
        raise PipelineError("Say why the lead was lost.")
    if len(reason) > REASON_MAX:
        raise PipelineError(f"Keep the reason under {REASON_MAX} characters.")
    return reason if status == "lost" else ""


def _apply_status(
    lead: Lead, status: str, reason: str, user: User, now, appointment_at=None
) -> list[int] | None:
    """The move, through the lifecycle; None when nothing changed, else the
    ids of deliveries a release created (flushed, to enqueue after commit)."""
    if not lifecycle.stage_would_change(lead, status, reason, appointment_at):
        return None
    try:
        created = lifecycle.move_stage(lead, status, reason, user, now, appointment_at)
    except lifecycle.TransitionError as error:
        raise PipelineError(str(error)) from None
    db.session.flush()
    return [d.id for d in created]


def change_status(
    lead: Lead,
    status: str,
    user: User,
    reason: str = "",
    appointment: datetime | None = None,
) -> bool:
    """Move ``lead`` to ``status`` (``lost`` needs a reason; ``booked`` may
    carry the consultation's ``appointment``, local to the lead's location,
    stored in UTC). The first move to
    contacted, booked or treated records the time of first contact. A lead
    held as spam is released by the move (and delivered, once); a lead marked
    as spam is un-marked (and not delivered again).
    Returns whether anything changed."""
    reason = _check_status(status, reason)
    appointment_at = None
    if appointment is not None:
        if status != "booked":
            raise PipelineError("A consultation time goes with “Consultation booked”.")
        zone = zone_of(lead.location.time_zone)
        appointment_at = appointment.replace(tzinfo=zone).astimezone(UTC).replace(tzinfo=None)
    created = _apply_status(lead, status, reason, user, utcnow(), appointment_at)
    if created is None:
        return False
    record("lead_status_changed", user, "lead", lead.id, status=status)
    announced = webhook_events.announce([lead], "lead.updated")
    db.session.commit()
    outbox.enqueue(created)
    webhook_events.send(announced)
    return True


def bulk_change_status(
    user: User, lead_ids: Sequence[int], status: str, reason: str = ""
) -> int | None:
    """Change the status of every lead in ``lead_ids``, all or none.

    Returns the number changed, or None when any id is not a lead ``user`` may
    see (nothing is changed then, and the caller answers 404).
    """
    reason = _check_status(status, reason)
    leads = _ticked(user, lead_ids, "Change")
    if leads is None:
        return None
    now = utcnow()
    changed: list[int] = []
    created: list[int] = []
    for lead in leads:
        ids = _apply_status(lead, status, reason, user, now)
        if ids is not None:
            changed.append(lead.id)
            created.extend(ids)
    if changed:
        record("leads_bulk_status_changed", user, "lead", None, status=status, lead_ids=changed)
        announced = webhook_events.announce([x for x in leads if x.id in changed], "lead.updated")
        db.session.commit()
        outbox.enqueue(created)
        webhook_events.send(announced)
    return len(changed)


def _ticked(user: User, lead_ids: Sequence[int], verb: str) -> list[Lead] | None:
    """The ticked leads of a bulk action, or None when any is not one ``user`` may see.

    :raise PipelineError: none ticked, or more than 500.
    """
    wanted = sorted(set(lead_ids))
    if not wanted:
        raise PipelineError("Tick at least one lead.")
    if len(wanted) > 500:
        raise PipelineError(f"{verb} at most 500 leads at once.")
    leads = list(db.session.scalars(visible_leads(user).where(Lead.id.in_(wanted))))
    return leads if len(leads) == len(wanted) else None


def bulk_assign(user: User, lead_ids: Sequence[int], assignee_id: int | None) -> int | None:
    """Assign every lead in ``lead_ids`` to one colleague (None: to nobody), all
    or none. Returns how many changed hands, or None when any id is not a lead
    ``user`` may see (nothing changes; the caller answers 404).

    :raise PipelineError: no lead ticked, too many, or the colleague may not
        work one of them (not of its clinic, not active).
    """
    leads = _ticked(user, lead_ids, "Assign")
    if leads is None:
        return None
    if assignee_id is not None:
        for lead in leads:
            if assignee_id not in {u.id for u in colleagues(lead)}:
                raise PipelineError(
                    f"That colleague cannot take leads of {lead.clinic.name}: "
                    "untick those, or choose someone of that clinic."
                )
    now = utcnow()
    changed = [lead for lead in leads if lifecycle.assign(lead, assignee_id, user, now)]
    if changed:
        record(
            "leads_bulk_assigned",
            user,
            "lead",
            None,
            assignee_id=assignee_id,
            lead_ids=[lead.id for lead in changed],
        )
        announced = webhook_events.announce(changed, "lead.updated")
        db.session.commit()
        webhook_events.send(announced)
    return len(changed)


def assignable(user: User) -> list[User]:
    """Everyone ``user`` may hand leads to in bulk: active managers and admins of
    the clinics ``user`` sees (each lead is checked against its own clinic)."""
    clinic_ids = [clinic.id for clinic in visible_clinics(user)]
    # A member of several of those clinics once: IN, not a join with DISTINCT
    # (PostgreSQL cannot compare the JSON column that DISTINCT would).
    members = sa.select(user_clinics.c.user_id).where(user_clinics.c.clinic_id.in_(clinic_ids))
    return list(
        db.session.scalars(
            sa.select(User)
            .where(
                User.id.in_(members),
                User.active.is_(True),
                User.role.in_(("manager", "admin")),
            )
            .order_by(User.name, User.email)
        )
    )


def colleagues(lead: Lead) -> list[User]:
    """Who ``lead`` may be assigned to: active managers and admins who belong
    to the lead's clinic and may see the lead."""
    members = db.session.scalars(
        sa.select(User)
        .join(user_clinics, user_clinics.c.user_id == User.id)
        .where(
            user_clinics.c.clinic_id == lead.clinic_id,
            User.active.is_(True),
            User.role.in_(("manager", "admin")),
        )
        .order_by(User.name, User.email)
    )
    return [user for user in members if can_see(user, lead)]


def assign(lead: Lead, assignee_id: int | None, user: User) -> bool:
    """Assign ``lead`` to a colleague of its clinic, or to nobody (None)."""
    if assignee_id is not None and assignee_id not in {u.id for u in colleagues(lead)}:
        raise PipelineError("Choose a colleague of this clinic.")
    if not lifecycle.assign(lead, assignee_id, user, utcnow()):
        return False
    record("lead_assigned", user, "lead", lead.id, assignee_id=assignee_id)
    announced = webhook_events.announce([lead], "lead.updated")
    db.session.commit()
    webhook_events.send(announced)
    return True


def add_note(lead: Lead, text: str, user: User) -> LeadEvent:
    """A note on the lead's timeline. The text stays with the lead; the audit
    log only learns that a note was added."""
    text = text.strip()
    if not text:
        raise PipelineError("Write the note first.")
    if len(text) > NOTE_MAX:
        raise PipelineError(f"Keep a note under {NOTE_MAX} characters.")
    event = LeadEvent(
        lead_id=lead.id, kind="note", user_id=user.id, data={"text": text}, created_at=utcnow()
    )
    db.session.add(event)
    record("lead_note_added", user, "lead", lead.id)
    db.session.commit()
    return event


def record_view(lead: Lead, user: User) -> None:
    """A staff member opened the lead: on its timeline and in the audit log."""
    now = utcnow()
    db.session.add(LeadEvent(lead_id=lead.id, kind="viewed", user_id=user.id, created_at=now))
    record("lead_viewed", user, "lead", lead.id)
    db.session.commit()


def time_to_first_contact(lead: Lead) -> timedelta | None:
    if lead.first_contacted_at is None:
        return None
    return lead.first_contacted_at - lead.created_at


def humanise(delta: timedelta | None) -> str:
    if delta is None:
        return ""
    minutes = max(0, int(delta.total_seconds() // 60))
    days, rest = divmod(minutes, 24 * 60)
    hours, minutes = divmod(rest, 60)
    parts = []
    if days:
        parts.append(f"{days} d")
    if hours:
        parts.append(f"{hours} h")
    if minutes or not parts:
        parts.append(f"{minutes} min")
    return " ".join(parts)
