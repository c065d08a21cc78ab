"""Marketing consent: the signed link in every email that withdraws it."""

from __future__ import annotations

import sqlalchemy as sa
from flask import current_app
from itsdangerous import BadSignature, URLSafeSerializer

from leads.extensions import db
from leads.models import Lead, LeadEvent, utcnow
from leads.services import audit

WITHDRAW_SALT = "marketing-withdrawal"


def _withdraw_serializer() -> URLSafeSerializer:
    return URLSafeSerializer(current_app.config["SECRET_KEY"], salt=WITHDRAW_SALT)


def withdrawal_token(lead: Lead) -> str:
    """An opaque, signed token naming the lead by its reference only."""
    return _withdraw_serializer().dumps(lead.reference)


def withdrawal_url(lead: Lead) -> str:
    base = current_app.config["PUBLIC_BASE_URL"].rstrip("/")
    return f"{base}/privacy/marketing/{withdrawal_token(lead)}/"


def lead_for_withdrawal(token: str) -> Lead | None:
    try:
        reference = _withdraw_serializer().loads(token)
    except BadSignature:
        return None
    return db.session.scalar(db.select(Lead).where(Lead.reference == str(reference)))


def withdraw_marketing(lead: Lead) -> int:
    """Withdraw marketing consent on this lead and every other lead with its email.

    Returns how many leads changed; withdrawing twice changes nothing more.
    """
    now = utcnow()
    leads = [lead]
    if lead.email:
        leads = list(
            db.session.scalars(
                db.select(Lead).where(sa.func.lower(Lead.email) == lead.email.lower())
            )
        )
    changed = 0
    for row in leads:
        if row.marketing_withdrawn_at is None or row.marketing_opt_in:
            row.marketing_opt_in = False
            row.marketing_withdrawn_at = now
            row.events.append(LeadEvent(kind="marketing_withdrawn", created_at=now))
            changed += 1
    if changed:
        audit.record("marketing_withdrawn", None, "lead", lead.id, leads=changed)
    db.session.commit()
    return changed
