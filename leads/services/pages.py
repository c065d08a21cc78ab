"""Finding what the public pages show."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa
from flask import current_app, url_for
from sqlalchemy import Select
from sqlalchemy.orm import contains_eager, joinedload, selectinload

from leads.errors import Moved, NotFound
from leads.extensions import db
from leads.models import Clinic, Location, Page, PageRevision, SlugRedirect, Treatment


@dataclass(frozen=True)
class Landing:
    location: Location
    treatment: Treatment | None
    page: Page


class PageNotPublished(LookupError):
    """The location exists but this page of it is not published.

    ``fallback`` is the address to send patients to instead (a treatment
    page's published location page), or None: the clinic's not-found page.
    """

    def __init__(self, location: Location, fallback: str | None) -> None:
        super().__init__("page not published")
        self.location = location
        self.fallback = fallback


@dataclass(frozen=True)
class ClinicPlaces:
    """A clinic and its locations whose location page is published."""

    clinic: Clinic
    locations: list[Location]


def clinics_for_directory() -> list[Clinic]:
    """Every clinic with a published page, and their locations."""
    return list(
        db.session.scalars(
            db.select(Clinic)
            .where(Clinic.id.in_(_published_clinic_ids()), Clinic.archived_at.is_(None))
            .options(selectinload(Clinic.locations).selectinload(Location.treatments))
            .order_by(Clinic.name)
        )
    )


def _published_clinic_ids():
    return db.select(Page.clinic_id).where(
        Page.published_revision_id.isnot(None), Page.kind == "landing"
    )


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
    clinic_slug: str,
    location_slug: str,
    treatment_slug: str | None = None,
    *,
    revision: bool = True,
) -> Landing:
    """The published page for a location (and treatment). ``revision``: its
    published revision is loaded with it (False: on first use; a form post
    that is stored needs only its id).

    :raise NotFound: no such published page.
    :raise PageNotPublished: the location exists but the page is not published.
    :raise Moved: the address used an earlier slug of the location or
        treatment; the blueprint answers with a 301 to the current one,
        keeping the query string (campaign tags).
    An archived location's or treatment's page raises ``Moved`` (a 302) to
    where its patients go instead.
    """
    location, page = _location_and_page(clinic_slug, location_slug, treatment_slug, revision)
    treatment = None
    if location is not None and treatment_slug is not None:
        treatment = next((t for t in location.treatments if t.slug == treatment_slug), None)
    if location is None or (treatment_slug is not None and treatment is None):
        moved = moved_to(clinic_slug, location_slug, treatment_slug)
        if moved is None:
            raise NotFound
        raise Moved(moved)
    instead = archived_redirect(location, treatment)
    if instead is not None:
        raise Moved(instead, permanent=False)
    if page is None or page.published_revision_id is None:
        raise PageNotPublished(location, fallback_address(location, treatment))
    return Landing(location=location, treatment=treatment, page=page)


def _location_and_page_query(treatment: bool, revision: bool) -> Select:
    """The statement of ``_location_and_page``, built once for each kind of
    page (location or treatment), with and without the published revision:
    only its values change."""
    if treatment:
        same_treatment = Page.treatment_id.in_(
            db.select(Treatment.id).where(
                Treatment.clinic_id == Location.clinic_id,
                Treatment.slug == sa.bindparam("treatment_slug"),
            )
        )
    else:
        same_treatment = Page.treatment_id.is_(None)
    statement = (
        db.select(Location, Page)
        .join(Location.clinic)
        .outerjoin(Page, db.and_(Page.location_id == Location.id, same_treatment))
        .where(
            Clinic.slug == sa.bindparam("clinic_slug"),
            Location.slug == sa.bindparam("location_slug"),
        )
        .options(
            # The clinic's inbox channels too: a form post's lead is routed to them.
            contains_eager(Location.clinic).joinedload(Clinic.channels),
            joinedload(Location.treatments),
        )
        .order_by(Page.id)
    )
    # The revision's text would come once per treatment and inbox channel (the
    # joined rows): read only when the page is shown.
    return statement.options(joinedload(Page.published)) if revision else statement


_STATEMENTS = {
    (treatment, revision): _location_and_page_query(treatment, revision)
    for treatment in (False, True)
    for revision in (False, True)
}


def _location_and_page(
    clinic_slug: str, location_slug: str, treatment_slug: str | None, revision: bool
) -> tuple[Location | None, Page | None]:
    """The location with its clinic (and the clinic's inbox channels) and
    treatments, and its page for the treatment with ``treatment_slug`` (its
    location page for None), with the published revision when ``revision``,
    in one statement: every form post asks for them."""
    values = {"clinic_slug": clinic_slug, "location_slug": location_slug}
    statement = _STATEMENTS[treatment_slug is not None, revision]
    if treatment_slug is not None:
        values["treatment_slug"] = treatment_slug
    rows = db.session.execute(statement, values).unique().all()
    if not rows:
        return None, None
    location, page = rows[0]
    return location, page


def fallback_address(location: Location, treatment: Treatment | None) -> str | None:
    """Where patients go when this page is not published: a treatment page's
    location page, when that one is published. None for a location page, or
    when its location page is not published either."""
    if treatment is None:
        return None
    published = db.session.scalar(
        db.select(Page.id).where(
            Page.location_id == location.id,
            Page.treatment_id.is_(None),
            Page.published_revision_id.isnot(None),
        )
    )
    if published is None:
        return None
    return url_for(
        "public.location_page", clinic_slug=location.clinic.slug, location_slug=location.slug
    )


def clinic_places(clinic_slug: str) -> ClinicPlaces | None:
    """The clinic with this slug and its locations that patients can open, for
    a not-found page under the clinic's address; None when no such clinic."""
    clinic = db.session.scalar(db.select(Clinic).where(Clinic.slug == clinic_slug))
    if clinic is None:
        return None
    locations = db.session.scalars(
        db.select(Location)
        .join(Page, Page.location_id == Location.id)
        .where(
            Location.clinic_id == clinic.id,
            Page.treatment_id.is_(None),
            Page.published_revision_id.isnot(None),
        )
        .order_by(Location.name)
    ).all()
    return ClinicPlaces(clinic=clinic, locations=list(locations))


def archived_redirect(location: Location, treatment: Treatment | None) -> str | None:
    """Where patients go instead of an archived location's or treatment's page (302).

    An archived treatment: the location's page. An archived location: the same
    treatment at another location of the clinic, else another location's page,
    else the clinic's page. None when nothing is archived.
    """
    clinic = location.clinic
    if clinic.archived_at is not None:
        return url_for("public.clinic_page", clinic_slug=clinic.slug)
    if location.archived_at is None:
        if treatment is not None and treatment.archived_at is not None:
            return url_for(
                "public.location_page", clinic_slug=clinic.slug, location_slug=location.slug
            )
        return None
    live = {
        p.location_id: p
        for p in db.session.scalars(
            db.select(Page)
            .join(Location, Page.location_id == Location.id)
            .where(
                Page.clinic_id == clinic.id,
                Page.treatment_id.is_(None),
                Page.published_revision_id.isnot(None),
                Location.archived_at.is_(None),
            )
        )
    }
    others = sorted((loc for loc in clinic.locations if loc.id in live), key=lambda loc: loc.name)
    if treatment is not None and treatment.archived_at is None:
        for other in others:
            if other.offers(treatment) and published_treatment_pages(other).get(treatment.id):
                return url_for(
                    "public.treatment_page",
                    clinic_slug=clinic.slug,
                    location_slug=other.slug,
                    treatment_slug=treatment.slug,
                )
    if others:
        return url_for(
            "public.location_page", clinic_slug=clinic.slug, location_slug=others[0].slug
        )
    return url_for("public.clinic_page", clinic_slug=clinic.slug)


@dataclass(frozen=True)
class ClinicLocations:
    clinic: Clinic
    locations: list[Location]


def clinic_or_404(clinic_slug: str) -> ClinicLocations:
    """A clinic and its open locations that have a published page."""
    clinic = db.session.scalar(db.select(Clinic).where(Clinic.slug == clinic_slug))
    if clinic is None:
        raise NotFound
    if clinic.archived_at is not None:
        return ClinicLocations(clinic=clinic, locations=[])
    published = set(
        db.session.scalars(
            db.select(Page.location_id).where(
                Page.clinic_id == clinic.id,
                Page.treatment_id.is_(None),
                Page.published_revision_id.isnot(None),
            )
        )
    )
    locations = [loc for loc in clinic.locations if loc.archived_at is None and loc.id in published]
    return ClinicLocations(clinic=clinic, locations=locations)


def published_treatment_pages(location: Location) -> dict[int, bool]:
    """Which of the location's treatments have a published page, by treatment id."""
    rows = db.session.execute(
        db.select(Page.treatment_id)
        .join(Treatment, Page.treatment_id == Treatment.id)
        .where(
            Page.location_id == location.id,
            Page.published_revision_id.isnot(None),
            Treatment.archived_at.is_(None),
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
class PrivacyNotice:
    clinic: Clinic
    page: Page


def privacy_notice(clinic_slug: str) -> PrivacyNotice | None:
    """The clinic's published privacy notice; None when there is none to show."""
    row = db.session.execute(
        db.select(Clinic, Page)
        .join(Page, Page.clinic_id == Clinic.id)
        .where(
            Clinic.slug == clinic_slug,
            Page.kind == "privacy",
            Page.published_revision_id.isnot(None),
        )
        .options(joinedload(Page.published))
    ).first()
    return PrivacyNotice(clinic=row[0], page=row[1]) if row else None


# Built once: every acknowledgement email asks it.
_PUBLISHED_PRIVACY_NOTICE = db.select(Page.id).where(
    Page.clinic_id == sa.bindparam("clinic_id"),
    Page.kind == "privacy",
    Page.published_revision_id.isnot(None),
)


def privacy_notice_path(clinic: Clinic) -> str | None:
    """The address of the clinic's privacy notice when it is published, else None
    (a form then shows no link rather than one to a missing page)."""
    published = db.session.scalar(_PUBLISHED_PRIVACY_NOTICE, {"clinic_id": clinic.id})
    if published is None:
        return None
    # Built from the URL map, not url_for: the worker's emails have no request.
    adapter = current_app.url_map.bind("localhost")
    return adapter.build("public.privacy_notice", {"clinic_slug": clinic.slug})


def privacy_notice_url(clinic: Clinic) -> str | None:
    """The full address of the clinic's published privacy notice, for emails; or None."""
    path = privacy_notice_path(clinic)
    if path is None:
        return None
    return current_app.config["PUBLIC_BASE_URL"].rstrip("/") + path


@dataclass(frozen=True)
class SitemapEntry:
    path: str
    last_modified: datetime


def sitemap_entries() -> list[SitemapEntry]:
    """Every published page with the time of its published revision."""
    rows = db.session.execute(
        db.select(Page, PageRevision.created_at)
        .join(PageRevision, Page.published_revision_id == PageRevision.id)
        .where(Page.kind == "landing")
        .options(
            selectinload(Page.clinic), selectinload(Page.location), selectinload(Page.treatment)
        )
        .order_by(Page.clinic_id, Page.location_id, Page.treatment_id.is_not(None), Page.id)
    )
    entries = []
    for page, published_at in rows:
        values = {"clinic_slug": page.clinic.slug, "location_slug": page.location.slug}
        if page.clinic.archived_at or page.location.archived_at:
            continue  # archived: the address redirects elsewhere
        if page.treatment is None:
            path = url_for("public.location_page", **values)
        elif page.location.offers(page.treatment) and page.treatment.archived_at is None:
            path = url_for("public.treatment_page", treatment_slug=page.treatment.slug, **values)
        else:
            continue  # no longer offered there: the page answers 404
        entries.append(SitemapEntry(path=path, last_modified=published_at))
    return entries
