"""Webhook channels: their secrets, their URLs' checks, and turning one off
when its receiver says it is gone (HTTP 410)."""

from __future__ import annotations

import base64
import logging
import secrets
from datetime import timedelta

import sqlalchemy as sa
from flask import current_app

from leads.delivery.webhook_targets import UnsafeTarget, check
from leads.extensions import db
from leads.models import InboxChannel, User, utcnow
from leads.models.user import user_clinics
from leads.services.audit import record
from leads.services.staff_mail import send_staff_mail

log = logging.getLogger(__name__)


class WebhookError(ValueError):
    """A webhook setting that cannot be accepted; the message is for staff."""


def new_secret() -> str:
    """A Standard Webhooks secret: ``whsec_`` and 32 random bytes in base64."""
    return "whsec_" + base64.b64encode(secrets.token_bytes(32)).decode()


def check_url(url: str) -> str:
    """``url`` if the service may send to it now; raises :class:`WebhookError`."""
    config = current_app.config
    try:
        check(
            url,
            https_only=bool(config.get("WEBHOOK_HTTPS_ONLY")),
            allow_private=bool(config.get("WEBHOOK_ALLOW_PRIVATE")),
        )
    except UnsafeTarget as exc:
        raise WebhookError(str(exc)) from None
    return url.strip()


def overlap() -> timedelta:
    return timedelta(seconds=int(current_app.config.get("WEBHOOK_SECRET_OVERLAP_SECONDS", 86400)))


def rotate_secret(channel: InboxChannel, user: User | None) -> str:
    """Give the channel a new secret and return it (shown once). The old one
    keeps signing beside it for ``WEBHOOK_SECRET_OVERLAP_SECONDS``, so the
    receiver can switch without losing an event."""
    if channel.kind != "webhook":
        raise WebhookError("Only a webhook has a signing secret.")
    secret = new_secret()
    if channel.secret:
        channel.previous_secret = channel.secret
        channel.previous_secret_until = utcnow() + overlap()
    channel.secret = secret
    record("channel_secret_rotated", user, "inbox_channel", channel.id, clinic_id=channel.clinic_id)
    db.session.commit()
    return secret


def clinic_admins(clinic_id: int) -> list[str]:
    """Addresses of the active admins who belong to the clinic; every active
    admin when none belongs to it."""
    admins = sa.select(User.email).where(User.active.is_(True), User.role == "admin")
    own = list(
        db.session.scalars(
            admins.join(user_clinics, user_clinics.c.user_id == User.id).where(
                user_clinics.c.clinic_id == clinic_id
            )
        )
    )
    return own or list(db.session.scalars(admins.order_by(User.email)))


def disable_gone(channel_id: int) -> None:
    """The receiver answered 410 Gone: turn the channel off until an admin
    turns it on again, and tell the clinic's admins (after the commit)."""
    channel = db.session.get(InboxChannel, channel_id)
    if channel is None or not channel.active:
        return
    channel.active = False
    channel.disabled_reason = "The receiver answered HTTP 410 (gone)."
    record("channel_disabled", None, "inbox_channel", channel.id, clinic_id=channel.clinic_id)
    clinic = channel.clinic
    base = current_app.config["PUBLIC_BASE_URL"].rstrip("/")
    body = (
        f"The webhook of {clinic.name} (channel {channel.id}) answered HTTP 410, which\n"
        "means its receiver is gone. The channel has been turned off: new leads no\n"
        "longer go to it.\n\n"
        "When the receiver is back, turn the channel on again here:\n"
        f"{base}/admin/clinics/{clinic.id}/channels\n"
    )
    # Staff mail joins this transaction and is sent once it commits.
    for address in clinic_admins(clinic.id):
        send_staff_mail(address, f"Webhook of {clinic.name} turned off", body)
    db.session.commit()
