"""What a staff member may see: the one place leads are scoped by person."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.sql import Select

from leads.extensions import db
from leads.models import Lead, User


def visible_leads(user: User) -> Select[tuple[Lead]]:
    """A query of the leads ``user`` may see; add filters and ordering to it.

    Admins see every lead. Managers see the leads of their clinics, and only of
    their locations when some are listed. Anyone else sees none.
    """
    query = db.select(Lead)
    if user.role == "admin":
        return query
    if user.role != "manager":
        return query.where(sa.false())
    clinic_ids = [clinic.id for clinic in user.clinics]
    query = query.where(Lead.clinic_id.in_(clinic_ids))
    location_ids = [location.id for location in user.locations]
    if location_ids:
        query = query.where(Lead.location_id.in_(location_ids))
    return query


def visible_lead(user: User, lead_id: int) -> Lead | None:
    """The lead with ``lead_id`` if ``user`` may see it, else None."""
    return db.session.scalar(visible_leads(user).where(Lead.id == lead_id))
