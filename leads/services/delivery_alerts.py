"""Telling a clinic's admins that a delivery failed: at most one email per
channel per DELIVERY_ALERT_INTERVAL_SECONDS (an hour), whatever the number of
failures. The message names ids, the channel and the reason; never the patient.
"""

from __future__ import annotations

import logging
from datetime import timedelta

import sqlalchemy as sa
from flask import current_app
from sqlalchemy.exc import IntegrityError

from leads.extensions import db
from leads.models import Delivery, DeliveryAlert, Lead, User, utcnow
from leads.models.user import user_clinics
from leads.services.staff_mail import send_staff_mail

log = logging.getLogger(__name__)


def channel_key(delivery: Delivery) -> str:
    if delivery.purpose == "inbox" and delivery.inbox_channel_id:
        return f"inbox:{delivery.inbox_channel_id}"
    return f"{delivery.purpose}:{delivery.channel}"[:40]


def clinic_admins(clinic_id: int) -> list[str]:
    return list(
        db.session.scalars(
            sa.select(User.email)
            .join(user_clinics, user_clinics.c.user_id == User.id)
            .where(
                user_clinics.c.clinic_id == clinic_id,
                User.role == "admin",
                User.active.is_(True),
            )
            .order_by(User.email)
        )
    )


def tell_admins(delivery_id: int) -> bool:
    """After a failure is committed: email the clinic's admins, unless this
    channel's admins were told within the interval. Returns whether it sent."""
    row = db.session.execute(
        sa.select(Delivery, Lead.clinic_id)
        .join(Lead, Lead.id == Delivery.lead_id)
        .where(Delivery.id == delivery_id)
    ).first()
    if row is None:
        return False
    delivery, clinic_id = row
    key = channel_key(delivery)
    if not _claim(clinic_id, key):
        log.info("delivery %s failed; admins were told about %s recently", delivery_id, key)
        return False
    recipients = clinic_admins(clinic_id)
    base = current_app.config["PUBLIC_BASE_URL"].rstrip("/")
    what = "clinic inbox" if delivery.purpose == "inbox" else "acknowledgement to the patient"
    reason = delivery.last_error.split(":", 1)[0][:120]
    body = (
        f"A delivery could not be made and has stopped trying.\n\n"
        f"Lead: {delivery.lead_id}\nDelivery: {delivery.id}\n"
        f"Channel: {delivery.channel} ({what})\nAttempts: {delivery.attempts}\n"
        f"Reason: {reason}\n\n"
        f"Open the lead to try again: {base}/inbox/leads/{delivery.lead_id}\n"
        f"Delivery health: {base}/admin/deliveries\n\n"
        f"Further failures on this channel within the hour are not emailed; "
        f"they all show in delivery health.\n"
    )
    subject = f"Delivery failed: lead {delivery.lead_id} by {delivery.channel}"
    for address in recipients:
        send_staff_mail(address, subject, body)
    db.session.commit()  # staff mail is queued once this commits
    log.info("delivery %s failed; told %s admins", delivery_id, len(recipients))
    return True


def _claim(clinic_id: int, key: str) -> bool:
    """Take this channel's alert slot, atomically across workers."""
    now = utcnow()
    since = now - timedelta(seconds=current_app.config["DELIVERY_ALERT_INTERVAL_SECONDS"])
    taken = db.session.execute(
        sa.update(DeliveryAlert)
        .where(
            DeliveryAlert.clinic_id == clinic_id,
            DeliveryAlert.channel == key,
            DeliveryAlert.alerted_at <= since,
        )
        .values(alerted_at=now)
    ).rowcount
    if taken:
        db.session.commit()
        return True
    exists = db.session.scalar(
        sa.select(sa.func.count())
        .select_from(DeliveryAlert)
        .where(DeliveryAlert.clinic_id == clinic_id, DeliveryAlert.channel == key)
    )
    if exists:
        db.session.rollback()
        return False
    try:
        db.session.add(DeliveryAlert(clinic_id=clinic_id, channel=key, alerted_at=now))
        db.session.commit()
    except IntegrityError:
        db.session.rollback()  # another worker took it at the same moment
        return False
    return True
