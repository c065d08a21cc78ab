"""The daily digest: once a day, at a local time each manager chooses, what
needs them: new leads of the last day, leads not yet contacted, overdue
leads, leads waiting in quarantine and failed deliveries, with links.

None is sent when all of these are zero. "Once a day" is decided by the
database: ``UPDATE users SET digest_sent_on = today WHERE id = ? AND
digest_sent_on IS DISTINCT FROM today`` (spelled portably), in the same
transaction as the message, so workers racing or restarting send one.
The manager's local time is the time zone of the first location of their
first clinic (Europe/London when they have none).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

import sqlalchemy as sa
from flask import current_app

from leads.extensions import db
from leads.lifecycle import IN_PIPELINE, Screening, Stage
from leads.models import DELIVERY_FAILED, Delivery, Lead, User, utcnow
from leads.services.escalation import overdue_condition
from leads.services.scope import visible_leads
from leads.services.staff_mail import send_staff_mail
from leads.working_time import zone_of

_TIME = re.compile(r"^([01]\d|2[0-3]):[0-5]\d$")


class DigestError(ValueError):
    """A digest setting that cannot be saved; the message is for the user."""


@dataclass
class Digest:
    new: int
    uncontacted: int
    overdue: int
    quarantined: int
    failed: int

    @property
    def empty(self) -> bool:
        return not any((self.new, self.uncontacted, self.overdue, self.quarantined, self.failed))


def check_digest_time(value: str) -> str:
    """ "07:30" or empty (no digest). :raise DigestError:"""
    value = (value or "").strip()
    if value and not _TIME.match(value):
        raise DigestError("Give a time such as 07:30, or leave it empty for no digest.")
    return value


def set_digest_time(user: User, value: str) -> None:
    """:raise DigestError: nothing is changed."""
    user.digest_time = check_digest_time(value)
    db.session.commit()


def time_zone_of(user: User) -> str:
    for clinic in user.clinics:
        for location in clinic.locations:
            return location.time_zone
    return "Europe/London"


def _count(query: sa.Select) -> int:
    return db.session.scalar(query.with_only_columns(sa.func.count()).order_by(None)) or 0


def digest_for(user: User, now: datetime) -> Digest:
    leads = visible_leads(user)
    in_pipeline = Lead.screening.in_([str(s) for s in IN_PIPELINE])
    failed = (
        sa.select(sa.func.count(Delivery.id))
        .where(
            Delivery.status == DELIVERY_FAILED,
            Delivery.purpose == "inbox",
            Delivery.lead_id.in_(leads.with_only_columns(Lead.id).order_by(None)),
        )
        .scalar_subquery()
    )
    return Digest(
        new=_count(leads.where(in_pipeline, Lead.created_at >= now - timedelta(days=1))),
        uncontacted=_count(
            leads.where(in_pipeline, Lead.status == Stage.NEW, Lead.first_contacted_at.is_(None))
        ),
        overdue=_count(leads.where(overdue_condition(now))),
        quarantined=_count(leads.where(Lead.screening == Screening.HELD)),
        failed=db.session.scalar(sa.select(failed)) or 0,
    )


def _due(user: User, now: datetime) -> date | None:
    """The local day whose digest is due for ``user`` now, or None."""
    if not user.digest_time:
        return None
    local = now.replace(tzinfo=UTC).astimezone(zone_of(time_zone_of(user)))
    if local.strftime("%H:%M") < user.digest_time:
        return None
    if user.digest_sent_on == local.date():
        return None
    return local.date()


def _claim(user_id: int, day: date) -> bool:
    result = db.session.execute(
        sa.update(User)
        .where(
            User.id == user_id,
            sa.or_(User.digest_sent_on.is_(None), User.digest_sent_on != day),
        )
        .values(digest_sent_on=day)
        .execution_options(synchronize_session=False)
    )
    return result.rowcount == 1


def send_digests(now: datetime | None = None) -> int:
    """Send each manager's digest that is due; returns how many were sent."""
    now = now or utcnow()
    users = list(
        db.session.scalars(
            sa.select(User)
            .where(
                User.active.is_(True),
                User.role.in_(("manager", "admin")),
                User.digest_time != "",
            )
            .order_by(User.id)
        )
    )
    sent = 0
    for user in users:
        day = _due(user, now)
        if day is None or not _claim(user.id, day):
            db.session.rollback()
            continue
        digest = digest_for(user, now)
        if not digest.empty:
            send_staff_mail(user.email, f"Your leads today, {day:%d %b}", digest_mail(digest))
            sent += 1
        db.session.commit()
    return sent


def digest_mail(digest: Digest) -> str:
    base = current_app.config["PUBLIC_BASE_URL"].rstrip("/")
    lines = ["What needs you today:", ""]
    for count, label, path in (
        (digest.new, "new leads in the last day", "/inbox/"),
        (digest.uncontacted, "leads not yet contacted", "/inbox/?status=new"),
        (digest.overdue, "leads past their response target", "/inbox/?view=overdue"),
        (digest.quarantined, "leads waiting in quarantine", "/privacy/quarantine/"),
        (digest.failed, "failed deliveries", "/inbox/"),
    ):
        if count:
            lines.append(f"- {count} {label}: {base}{path}")
    return "\n".join(lines) + "\n"
