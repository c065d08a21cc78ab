"""Possible duplicates: the same email (any case) or phone at one clinic within
90 days. Computed when read, never stored, never merged."""

from __future__ import annotations

from datetime import datetime, timedelta

import sqlalchemy as sa

from leads.extensions import db
from leads.models import Lead, User
from leads.services.scope import visible_leads

DUPLICATE_WINDOW = timedelta(days=90)
Candidate = tuple[int, int, str, str, datetime]


def _duplicate_candidates(user: User, leads: list[Lead]) -> list[Candidate]:
    if not leads:
        return []
    emails = sorted({lead.email.lower() for lead in leads})
    phones = sorted({lead.phone for lead in leads})
    clinics = sorted({lead.clinic_id for lead in leads})
    earliest = min(lead.created_at for lead in leads) - DUPLICATE_WINDOW
    latest = max(lead.created_at for lead in leads) + DUPLICATE_WINDOW
    stmt = (
        visible_leads(user)
        .with_only_columns(Lead.id, Lead.clinic_id, Lead.email, Lead.phone, Lead.created_at)
        .where(
            Lead.clinic_id.in_(clinics),
            sa.or_(sa.func.lower(Lead.email).in_(emails), Lead.phone.in_(phones)),
            Lead.created_at >= earliest,
            Lead.created_at <= latest,
        )
    )
    return [tuple(row) for row in db.session.execute(stmt)]  # type: ignore[misc]


def _is_duplicate(lead: Lead, other: Candidate) -> bool:
    ident, clinic_id, email, phone, created_at = other
    return (
        ident != lead.id
        and clinic_id == lead.clinic_id
        and (email.lower() == lead.email.lower() or phone == lead.phone)
        and abs(created_at - lead.created_at) <= DUPLICATE_WINDOW
    )


def duplicate_flags(user: User, leads: list[Lead]) -> set[int]:
    """The ids among ``leads`` that have a possible duplicate the user can see."""
    candidates = _duplicate_candidates(user, leads)
    return {lead.id for lead in leads if any(_is_duplicate(lead, c) for c in candidates)}


def duplicates_of(user: User, lead: Lead) -> list[Lead]:
    """The possible duplicates of ``lead`` that the user can see, newest first."""
    ids = [c[0] for c in _duplicate_candidates(user, [lead]) if _is_duplicate(lead, c)]
    if not ids:
        return []
    stmt = visible_leads(user).where(Lead.id.in_(ids))
    return list(db.session.scalars(stmt.order_by(Lead.created_at.desc(), Lead.id.desc())))
