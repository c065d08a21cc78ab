"""Which leads, and which clinics' pages, a staff member may see: the one
place that decides it.

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

Pages (the editor) follow the same shape, from :func:`page_clinic_condition`:

- admin: every clinic's pages and details;
- marketing: the pages of the clinics they belong to (none listed: none);
- manager, anonymous, deactivated: none.

A page or location of another clinic is answered like one that does not exist.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.sql import Select

from leads.errors import NotFound
from leads.extensions import db
from leads.models import Clinic, Lead, Location, Media, Page, Treatment, User

# The roles that work leads at all; others get 403 on the inbox.
LEAD_ROLES = ("admin", "manager")
# The roles that write pages; others get 403 on the editor.
PAGE_ROLES = ("admin", "marketing")


def _usable(user: Any, roles: tuple[str, ...] = LEAD_ROLES) -> bool:
    return (
        user is not None
        and getattr(user, "is_authenticated", False)
        and getattr(user, "active", False)
        and getattr(user, "role", None) in roles
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


# -- pages: the editor ---------------------------------------------------------


def page_clinic_condition(user: User | None, column: Any = Clinic.id) -> sa.ColumnElement[bool]:
    """The WHERE clause on a clinic id ``column`` for the clinics whose pages
    ``user`` may edit (``Clinic.id`` unless told, ``Page.clinic_id`` and so on)."""
    if not _usable(user, PAGE_ROLES):
        return sa.false()
    assert user is not None
    if user.role == "admin":
        return sa.true()
    clinic_ids = sorted(c.id for c in user.clinics)
    return column.in_(clinic_ids) if clinic_ids else sa.false()


def page_clinics(user: User | None) -> list[Clinic]:
    """The clinics whose pages ``user`` may edit, by name."""
    return list(
        db.session.scalars(
            sa.select(Clinic).where(page_clinic_condition(user)).order_by(Clinic.name)
        )
    )


def visible_pages(user: User | None) -> Select[tuple[Page]]:
    """``SELECT Page`` limited to the pages ``user`` may edit."""
    return sa.select(Page).where(page_clinic_condition(user, Page.clinic_id))


def page_for_editing(user: User | None, page_id: int) -> Page | None:
    """The page if ``user`` may edit it; None for another clinic's page or no page."""
    return db.session.scalar(visible_pages(user).where(Page.id == page_id))


def visible_media(user: User | None) -> Select[tuple[Media]]:
    """The media libraries of the clinics whose pages ``user`` may edit."""
    return sa.select(Media).where(page_clinic_condition(user, Media.clinic_id))


def media_for_editing(user: User | None, media_id: int) -> Media | None:
    return db.session.scalar(visible_media(user).where(Media.id == media_id))


def clinic_for_editing(user: User | None, clinic_id: int) -> Clinic | None:
    """The clinic if ``user`` may edit its pages and details, else None."""
    return db.session.scalar(
        sa.select(Clinic).where(page_clinic_condition(user), Clinic.id == clinic_id)
    )


def location_for_editing(user: User | None, location_id: int) -> Location | None:
    """The location if ``user`` may edit its clinic's pages and details, else None."""
    return db.session.scalar(
        sa.select(Location).where(
            page_clinic_condition(user, Location.clinic_id), Location.id == location_id
        )
    )


# Reports count leads and never show a patient, so marketing reads them too.
REPORT_ROLES = ("admin", "manager", "marketing")


def _reads_reports(user: Any) -> bool:
    return (
        user is not None
        and getattr(user, "is_authenticated", False)
        and getattr(user, "active", False)
        and getattr(user, "role", None) in REPORT_ROLES
    )


def report_condition(user: User | None) -> sa.ColumnElement[bool]:
    """The WHERE clause on ``Lead`` for the leads counted in ``user``'s reports:
    a manager's and an admin's are the leads they may see; marketing's are
    those of the clinics whose pages they edit."""
    if not _reads_reports(user):
        return sa.false()
    assert user is not None
    if user.role == "marketing":
        return page_clinic_condition(user, Lead.clinic_id)
    return lead_condition(user)


def report_clinics(user: User | None) -> list[Clinic]:
    """The clinics whose numbers ``user``'s reports show: the clinic filter's choices."""
    if not _reads_reports(user):
        return []
    assert user is not None
    if user.role == "marketing":
        return page_clinics(user)
    return visible_clinics(user)


def report_locations(user: User | None) -> list[Location]:
    """The locations whose numbers ``user``'s reports show (page views are
    scoped by these): the location filter's choices."""
    if not _reads_reports(user):
        return []
    assert user is not None
    if user.role == "marketing":
        return [loc for clinic in report_clinics(user) for loc in clinic.locations]
    return visible_locations(user)
