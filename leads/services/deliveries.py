"""Staff's hands on the outbox: retrying a failed delivery, delivery health,
and the inbox channels each clinic's leads go to."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa
from email_validator import EmailNotValidError, validate_email

from leads import lifecycle
from leads.delivery import CHANNELS
from leads.extensions import db
from leads.models import (
    DELIVERY_FAILED,
    Clinic,
    Delivery,
    InboxChannel,
    Lead,
    Location,
    User,
    utcnow,
)
from leads.services import outbox, webhooks
from leads.services.audit import record
from leads.services.scope import lead_condition


class DeliveryError(ValueError):
    """A request about deliveries or channels that cannot be met; the message is for staff."""


def visible_delivery(user: User, delivery_id: int) -> Delivery | None:
    """The delivery, if its lead is one ``user`` may see."""
    return db.session.scalar(
        sa.select(Delivery).join(Lead).where(Delivery.id == delivery_id, lead_condition(user))
    )


def retry_by_hand(delivery: Delivery, user: User) -> None:
    """Give a failed delivery a fresh round of attempts, now."""
    try:
        lifecycle.retry_by_hand(delivery, user, utcnow())
    except lifecycle.TransitionError as error:
        raise DeliveryError(str(error)) from None
    record("delivery_retried", user, "delivery", delivery.id, lead_id=delivery.lead_id)
    delivery_id = delivery.id
    db.session.commit()
    outbox.enqueue([delivery_id])


@dataclass(frozen=True)
class ClinicHealth:
    clinic: Clinic
    pending: int
    failed: int
    sent: int
    oldest_pending: datetime | None


def health() -> list[ClinicHealth]:
    """Per clinic: deliveries by status and the oldest still pending."""
    rows = db.session.execute(
        sa.select(
            Lead.clinic_id,
            Delivery.status,
            sa.func.count(Delivery.id),
            sa.func.min(Delivery.created_at),
        )
        .join(Lead, Lead.id == Delivery.lead_id)
        .group_by(Lead.clinic_id, Delivery.status)
    ).all()
    counts: dict[int, dict[str, tuple[int, datetime | None]]] = {}
    for clinic_id, status, count, oldest in rows:
        counts.setdefault(clinic_id, {})[status] = (count, oldest)
    result = []
    for clinic in db.session.scalars(sa.select(Clinic).order_by(Clinic.name)):
        mine = counts.get(clinic.id, {})
        # Waiting counts those in an attempt too (sending).
        waiting = [mine[s] for s in lifecycle.UNFINISHED if s in mine]
        result.append(
            ClinicHealth(
                clinic=clinic,
                pending=sum(count for count, _ in waiting),
                failed=mine.get("failed", (0, None))[0],
                sent=mine.get("sent", (0, None))[0],
                oldest_pending=min((oldest for _, oldest in waiting if oldest), default=None),
            )
        )
    return result


def failed_deliveries(limit: int = 200) -> list[Delivery]:
    return list(
        db.session.scalars(
            sa.select(Delivery)
            .where(Delivery.status == DELIVERY_FAILED)
            .order_by(Delivery.created_at.desc(), Delivery.id.desc())
            .limit(limit)
        )
    )


def add_channel(
    clinic: Clinic,
    kind: str,
    target: str,
    user: User,
    location: Location | None = None,
    thin: bool = False,
) -> InboxChannel:
    """A new inbox channel for a clinic, or for one location (which then uses its own).
    A webhook gets a new signing secret, in ``channel.secret``: show it once."""
    if kind not in CHANNELS:
        raise DeliveryError(f"The kind must be one of: {', '.join(CHANNELS)}.")
    target = target.strip()
    if kind == "email":
        try:
            target = validate_email(target, check_deliverability=False).normalized
        except EmailNotValidError:
            raise DeliveryError("Enter an email address like enquiries@clinic.example.") from None
    else:
        try:
            target = webhooks.check_url(target)
        except webhooks.WebhookError as error:
            raise DeliveryError(str(error)) from None
    if location is not None and location.clinic_id != clinic.id:
        raise DeliveryError("That location belongs to another clinic.")
    channel = InboxChannel(
        clinic_id=clinic.id,
        location_id=location.id if location else None,
        kind=kind,
        target=target[:500],
        secret=webhooks.new_secret() if kind == "webhook" else None,
        thin=thin and kind == "webhook",
    )
    db.session.add(channel)
    db.session.flush()
    record("channel_added", user, "inbox_channel", channel.id, clinic_id=clinic.id, kind=kind)
    db.session.commit()
    return channel


def set_channel_active(channel: InboxChannel, active: bool, user: User) -> None:
    channel.active = active
    channel.disabled_reason = ""
    record(
        "channel_enabled" if active else "channel_disabled",
        user,
        "inbox_channel",
        channel.id,
        clinic_id=channel.clinic_id,
    )
    db.session.commit()
