"""Finding what the public pages show."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from flask import url_for
from sqlalchemy.orm import contains_eager, joinedload, selectinload

from leads.errors import Moved, NotFound
from leads.extensions import db
from leads.models import Clinic, Location, Page, PageRevision, SlugRedirect, Treatment


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
    """The published page for a location (and treatment).

    :raise NotFound: no such published page.
    :raise Moved: the address used an earlier slug of the location or
        treatment; the blueprint answers with a 301 to the current one,
        keeping the query string (campaign tags).
    """
    location = find_location(clinic_slug, location_slug)
    treatment = None
    if location is not None and treatment_slug is not None:
        treatment = next((t for t in location.treatments if t.slug == treatment_slug), None)
    if location is None or (treatment_slug is not None and treatment is None):
        moved = moved_to(clinic_slug, location_slug, treatment_slug)
        if moved is None:
            raise NotFound
        raise Moved(moved)
    same_treatment = Page.treatment_id == treatment.id if treatment else Page.treatment_id.is_(None)
    page = db.session.scalar(
        db.select(Page)
        .where(Page.location_id == location.id, same_treatment)
        .options(joinedload(Page.published))
    )
    if page is None or page.published is None:
        raise NotFound
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


def moved_to(clinic_slug: str, location_slug: str, treatment_slug: str | None) -> str | None:
    """The current address of a page that was reached by an old slug, if it exists."""
    clinic = db.session.scalar(db.select(Clinic).where(Clinic.slug == clinic_slug))
    if clinic is None:
        return None
    location = _current_or_renamed(clinic, Location, SlugRedirect.location_id, location_slug)
    if location is None:
        return None
    if treatment_slug is None:
        return url_for("public.location_page", clinic_slug=clinic.slug, location_slug=location.slug)
    treatment = _current_or_renamed(clinic, Treatment, SlugRedirect.treatment_id, treatment_slug)
    if treatment is None or not location.offers(treatment):
        return None
    return url_for(
        "public.treatment_page",
        clinic_slug=clinic.slug,
        location_slug=location.slug,
        treatment_slug=treatment.slug,
    )


def _current_or_renamed(clinic: Clinic, model, redirect_column, slug: str):
    current = db.session.scalar(
        db.select(model).where(model.clinic_id == clinic.id, model.slug == slug)
    )
    if current is not None:
        return current
    return db.session.scalar(
        db.select(model)
        .join(SlugRedirect, redirect_column == model.id)
        .where(SlugRedirect.clinic_id == clinic.id, SlugRedirect.old_slug == slug)
        .order_by(SlugRedirect.id.desc())
        .limit(1)
    )


@dataclass(frozen=True)
class SitemapEntry:
    path: str
    last_modified: datetime


def sitemap_entries() -> list[SitemapEntry]:
    """Every published page with the time of its published revision."""
    rows = db.session.execute(
        db.select(Page, PageRevision.created_at)
        .join(PageRevision, Page.published_revision_id == PageRevision.id)
        .options(
            selectinload(Page.clinic), selectinload(Page.location), selectinload(Page.treatment)
        )
        .order_by(Page.clinic_id, Page.location_id, Page.treatment_id.is_not(None), Page.id)
    )
    entries = []
    for page, published_at in rows:
        values = {"clinic_slug": page.clinic.slug, "location_slug": page.location.slug}
        if page.treatment is None:
            path = url_for("public.location_page", **values)
        elif page.location.offers(page.treatment):
            path = url_for("public.treatment_page", treatment_slug=page.treatment.slug, **values)
        else:
            continue  # no longer offered there: the page answers 404
        entries.append(SitemapEntry(path=path, last_modified=published_at))
    return entries
