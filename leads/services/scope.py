"""Which leads a staff member may see: the one place that decides it.

Every staff view, export, bulk action and JSON endpoint that reads leads
starts from :func:`visible_leads` (a query) or :func:`lead_or_404` (one lead).
No view filters leads by clinic itself, so a rule changed here is changed
everywhere.

The rules:

- admin: every lead;
- manager: the leads of the clinics they belong to; where the manager is
  limited to some locations of a clinic, only the leads of those locations
  of that clinic (a clinic with none of its locations listed is seen whole);
- marketing, anonymous, deactivated: none.

A lead outside the scope is answered exactly like a lead that does not exist
(404), so its id teaches nothing.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.sql import Select

from leads.errors import NotFound
from leads.extensions import db
from leads.models import Clinic, Lead, Location, Treatment, User

# The roles that work leads at all; others get 403 on the inbox.
LEAD_ROLES = ("admin", "manager")


def _usable(user: Any) -> bool:
    return (
        user is not None
        and getattr(user, "is_authenticated", False)
        and getattr(user, "active", False)
        and getattr(user, "role", None) in LEAD_ROLES
    )


def lead_condition(user: User | None) -> sa.ColumnElement[bool]:
    """The WHERE clause on ``Lead`` for what ``user`` may see."""
    if not _usable(user):
        return sa.false()
    assert user is not None
    if user.role == "admin":
        return sa.true()
    clinic_ids = {c.id for c in user.clinics}
    if not clinic_ids:
        return sa.false()
    limited: dict[int, set[int]] = {}
    for location in user.locations:
        if location.clinic_id in clinic_ids:
            limited.setdefault(location.clinic_id, set()).add(location.id)
    whole = sorted(clinic_ids - limited.keys())
    parts: list[sa.ColumnElement[bool]] = []
    if whole:
        parts.append(Lead.clinic_id.in_(whole))
    for clinic_id, location_ids in sorted(limited.items()):
        parts.append(
            sa.and_(Lead.clinic_id == clinic_id, Lead.location_id.in_(sorted(location_ids)))
        )
    # The clinic list up front keeps the (clinic_id, created_at, id) index usable.
    return sa.and_(Lead.clinic_id.in_(sorted(clinic_ids)), sa.or_(*parts))


def visible_leads(user: User | None) -> Select[tuple[Lead]]:
    """``SELECT Lead`` limited to the leads ``user`` may see.

    Callers add their own filters, ordering and limits; they never widen it.
    """
    return sa.select(Lead).where(lead_condition(user))


def lead_or_404(user: User | None, lead_id: int) -> Lead:
    """The lead with ``lead_id`` if ``user`` may see it.

    :raise NotFound: no such lead, or not one ``user`` may see (the same
        answer, 404, for both).
    """
    lead = db.session.scalar(visible_leads(user).where(Lead.id == lead_id))
    if lead is None:
        raise NotFound
    return lead


def can_see(user: User | None, lead: Lead) -> bool:
    """Whether ``user`` (not necessarily the one signed in) may see ``lead``."""
    found = db.session.scalar(sa.select(Lead.id).where(lead_condition(user), Lead.id == lead.id))
    return found is not None


def visible_clinics(user: User | None) -> list[Clinic]:
    """The clinics whose leads ``user`` may see (some or all of them)."""
    if not _usable(user):
        return []
    assert user is not None
    if user.role == "admin":
        return list(db.session.scalars(sa.select(Clinic).order_by(Clinic.name)))
    return sorted(user.clinics, key=lambda c: c.name)


def visible_locations(user: User | None) -> list[Location]:
    """The locations whose leads ``user`` may see: the choices of a location filter."""
    clinics = visible_clinics(user)
    if not clinics:
        return []
    assert user is not None
    limits = {loc.id for loc in user.locations} if user.role == "manager" else set()
    result = []
    for clinic in clinics:
        own = [loc for loc in clinic.locations if loc.id in limits]
        result.extend(own or clinic.locations)
    return result


def visible_treatments(user: User | None) -> list[Treatment]:
    """The treatments of the clinics ``user`` may see: the choices of a treatment filter."""
    return [t for clinic in visible_clinics(user) for t in clinic.treatments]
