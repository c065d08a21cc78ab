"""Finding what the public pages show."""

from __future__ import annotations

from dataclasses import dataclass

from flask import abort
from sqlalchemy.orm import contains_eager, joinedload, selectinload

from leads.extensions import db
from leads.models import Clinic, Location, Page, Treatment


@dataclass(frozen=True)
class Landing:
    location: Location
    treatment: Treatment | None
    page: Page


def clinics_for_directory() -> list[Clinic]:
    """Every clinic with a published page, and their locations."""
    return list(
        db.session.scalars(
            db.select(Clinic)
            .where(Clinic.id.in_(_published_clinic_ids()))
            .options(selectinload(Clinic.locations).selectinload(Location.treatments))
            .order_by(Clinic.name)
        )
    )


def _published_clinic_ids():
    return db.select(Page.clinic_id).where(Page.published_revision_id.isnot(None))


def find_location(clinic_slug: str, location_slug: str) -> Location | None:
    """The location with its clinic and treatments, in one statement."""
    return (
        db.session.scalars(
            db.select(Location)
            .join(Location.clinic)
            .where(Clinic.slug == clinic_slug, Location.slug == location_slug)
            .options(contains_eager(Location.clinic), joinedload(Location.treatments))
        )
        .unique()
        .one_or_none()
    )


def landing_or_404(
    clinic_slug: str, location_slug: str, treatment_slug: str | None = None
) -> Landing:
    """The published page for a location (and treatment), or a 404."""
    location = find_location(clinic_slug, location_slug)
    if location is None:
        abort(404)
    treatment = None
    if treatment_slug is not None:
        treatment = next((t for t in location.treatments if t.slug == treatment_slug), None)
        if treatment is None:
            abort(404)
    same_treatment = (
        Page.treatment_id == treatment.id if treatment else Page.treatment_id.is_(None)
    )
    page = db.session.scalar(
        db.select(Page)
        .where(Page.location_id == location.id, same_treatment)
        .options(joinedload(Page.published))
    )
    if page is None or page.published is None:
        abort(404)
    return Landing(location=location, treatment=treatment, page=page)


def published_treatment_pages(location: Location) -> dict[int, bool]:
    """Which of the location's treatments have a published page, by treatment id."""
    rows = db.session.execute(
        db.select(Page.treatment_id).where(
            Page.location_id == location.id,
            Page.treatment_id.isnot(None),
            Page.published_revision_id.isnot(None),
        )
    )
    return {treatment_id: True for (treatment_id,) in rows}
