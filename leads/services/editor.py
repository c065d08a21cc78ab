"""Writing and publishing pages.

A page's columns are its working copy (the draft). Publishing snapshots the
working copy as the next immutable revision and points the page at it; only
that revision reaches patients. Restoring copies an old revision into the
working copy and publishes it as a new revision, so history only grows.

Each public function here that changes data owns its transaction and commits,
except ``publish``, the building block that the others and the demo loader
use inside their own transaction.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.orm import selectinload

from leads.claims import find_claims
from leads.extensions import db
from leads.models import (
    CONTENT_FIELDS,
    PICTURE_FIELDS,
    Clinic,
    Location,
    Page,
    PageRevision,
    SlugRedirect,
    Treatment,
    User,
)
from leads.services import media, scope
from leads.services.audit import record

FIELD_LABELS = {
    "title": "Title",
    "heading": "Heading",
    "intro": "Introduction",
    "body": "Body",
    "cta_text": "Call to action",
    "seo_title": "SEO title",
    "seo_description": "SEO description",
    "og_title": "Sharing title",
    "og_description": "Sharing description",
    "og_image": "Sharing image",
    "hero_image": "Hero image",
    "gallery": "Gallery",
}
SLUG_PATTERN = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")
# Treatment slugs that would shadow a public route of a location.
RESERVED_TREATMENT_SLUGS = frozenset({"thank-you"})
# Location slugs that would shadow a public route of a clinic.
RESERVED_LOCATION_SLUGS = frozenset({"privacy-notice"})


class EditorError(Exception):
    """Something the editor cannot do; the message is meant for staff."""


class SlugError(EditorError):
    pass


class PictureError(EditorError):
    """An image the page cannot show; ``field`` is the form field it concerns."""

    def __init__(self, message: str, field: str) -> None:
        super().__init__(message)
        self.field = field


class ClaimsNeedConfirmation(EditorError):
    """Publishing copy with restricted claims needs the publisher to confirm them."""

    def __init__(self, claims: list[str]) -> None:
        self.claims = claims
        super().__init__("This page makes claims that need confirming: " + ", ".join(claims))


@dataclass
class Saved:
    page: Page
    claims: list[str] = field(default_factory=list)
    slug_changed: bool = False
    # False when the save found nothing to change (and wrote nothing).
    changed: bool = True


# -- reading ----------------------------------------------------------------


def page_state(page: Page) -> str:
    """ "draft" (never or no longer published), "changed" or "published"."""
    if page.published_revision_id is None:
        return "draft"
    return "changed" if page.has_unpublished_changes else "published"


@dataclass(frozen=True)
class LocationPages:
    location: Location
    location_page: Page | None
    treatment_pages: list[tuple[Treatment, Page | None]]


def pages_overview(user: User | None) -> list[tuple[Clinic, list[LocationPages]]]:
    """The locations of each clinic ``user`` may edit, with their location page
    and one row per treatment offered."""
    clinics = db.session.scalars(
        db.select(Clinic)
        .where(scope.page_clinic_condition(user))
        .options(selectinload(Clinic.locations).selectinload(Location.treatments))
        .order_by(Clinic.name)
    ).all()
    pages = db.session.scalars(
        scope.visible_pages(user)
        .where(Page.kind == "landing")
        .options(selectinload(Page.published))
    ).all()
    by_key = {(p.location_id, p.treatment_id): p for p in pages}
    overview = []
    for clinic in clinics:
        rows = [
            LocationPages(
                location=location,
                location_page=by_key.get((location.id, None)),
                treatment_pages=[(t, by_key.get((location.id, t.id))) for t in location.treatments],
            )
            for location in clinic.locations
        ]
        overview.append((clinic, rows))
    return overview


def privacy_notices(user: User | None) -> dict[int, Page]:
    """The privacy notice of each clinic ``user`` may edit, by clinic id."""
    found = db.session.scalars(
        scope.visible_pages(user)
        .where(Page.kind == "privacy")
        .options(selectinload(Page.published))
    )
    return {page.clinic_id: page for page in found}


def copy_sources(user: User | None, treatment: Treatment | None) -> list[Page]:
    """The pages ``user`` may start a new page from: those of the same
    treatment (or location pages, for a location page) first, then the rest."""
    found = db.session.scalars(
        scope.visible_pages(user)
        .where(Page.kind == "landing")
        .options(
            selectinload(Page.clinic), selectinload(Page.location), selectinload(Page.treatment)
        )
        .order_by(Page.clinic_id, Page.location_id, Page.treatment_id.is_not(None), Page.id)
    ).all()
    wanted = treatment.id if treatment is not None else None
    return sorted(found, key=lambda p: p.treatment_id != wanted)


def copied_content(page: Page) -> dict[str, str]:
    """What a copy of ``page`` starts with: its published version if it has
    one (the copy that works), else its draft."""
    return (page.published or page).content()


def get_revision(page: Page, number: int) -> PageRevision | None:
    return db.session.scalar(
        db.select(PageRevision).where(
            PageRevision.page_id == page.id, PageRevision.number == number
        )
    )


def page_slug(page: Page) -> str:
    """The part of the page's address that the editor may change."""
    if page.treatment is not None:
        return page.treatment.slug
    assert page.location is not None, "a privacy notice has no slug of its own"
    return page.location.slug


# -- writing ----------------------------------------------------------------


def create_page(
    location: Location,
    treatment: Treatment | None,
    fields: Mapping[str, Any],
    user: User | None,
    slug: str | None = None,
) -> Saved:
    """A new, unpublished page for a location or a treatment it offers.

    A ``slug`` other than the current one renames the location or treatment,
    as in ``save_draft``.
    """
    if treatment is not None and not location.offers(treatment):
        raise EditorError(f"{location.name} does not offer {treatment.name}.")
    exists = db.session.scalar(
        db.select(Page.id).where(
            Page.location_id == location.id,
            Page.treatment_id == treatment.id if treatment else Page.treatment_id.is_(None),
        )
    )
    if exists is not None:
        raise EditorError("This page exists already.")
    _check_pictures(location.clinic_id, fields)
    current = treatment.slug if treatment is not None else location.slug
    if slug is not None and slug != current:
        try:
            if treatment is not None:
                _rename_treatment(treatment, slug)
            else:
                _rename_location(location, slug)
        except SlugError:
            db.session.rollback()
            raise
    page = Page(
        clinic_id=location.clinic_id,
        location=location,
        treatment=treatment,
        **_content(fields),
    )
    db.session.add(page)
    db.session.flush()
    record("page.created", user, "page", page.id)
    db.session.commit()
    return Saved(page=page, claims=find_claims(page.content()))


PRIVACY_NOTICE_START = """## Who we are

{clinic} is responsible for the details you give us through this website.

## What we collect and why

When you ask for a consultation we collect your name, email address, phone
number, the treatment you are interested in, when to call you and anything
you choose to tell us in your message. That message may include details
about your health. We use these details only to answer your request and
arrange your consultation, with your consent, which you give by ticking the
box on the form.

## How long we keep them

We keep your request for as long as we need it to arrange your care, and then
delete it.

## Your rights

You may ask to see the details we hold about you, to correct them or to have
them deleted, and you may withdraw your consent at any time. Write to us to
do so. If you are unhappy with how we handle your details, you can complain
to the Information Commissioner's Office (ico.org.uk).
"""


def create_privacy_notice(clinic: Clinic, user: User | None) -> Page:
    """The clinic's privacy notice as an unpublished draft, started from a
    plain outline for the clinic to complete; the existing one if it has one."""
    existing = db.session.scalar(
        db.select(Page).where(Page.clinic_id == clinic.id, Page.kind == "privacy")
    )
    if existing is not None:
        return existing
    page = Page(
        kind="privacy",
        clinic_id=clinic.id,
        title=f"Privacy notice: {clinic.name}"[:160],
        heading=f"How {clinic.name} uses your details"[:160],
        intro="",
        body=PRIVACY_NOTICE_START.replace("{clinic}", clinic.name),
        cta_text="",
    )
    db.session.add(page)
    db.session.flush()
    record("page.created", user, "page", page.id, kind="privacy")
    db.session.commit()
    return page


def save_draft(
    page: Page, fields: Mapping[str, Any], user: User | None, slug: str | None = None
) -> Saved:
    """Store the working copy; patients keep seeing the published revision.

    A new ``slug`` takes effect at once (it belongs to the location or the
    treatment, not to the draft); the old address then answers with a 301.
    """
    _check_pictures(page.clinic_id, fields)
    slug_changed = False
    if slug is not None and slug != page_slug(page):
        try:
            if page.treatment is not None:
                _rename_treatment(page.treatment, slug)
            else:
                _rename_location(page.location, slug)
        except SlugError:
            db.session.rollback()
            raise
        slug_changed = True
    content = _content(fields)
    if not slug_changed and all(getattr(page, name) == value for name, value in content.items()):
        return Saved(page=page, claims=find_claims(page.content()), changed=False)
    for name, value in content.items():
        setattr(page, name, value)
    record("page.saved", user, "page", page.id, slug_changed=slug_changed)
    db.session.commit()
    return Saved(page=page, claims=find_claims(page.content()), slug_changed=slug_changed)


def publish(
    page: Page, user: User | None, note: str = "", claims_confirmed: Iterable[str] = ()
) -> PageRevision:
    """Snapshot the working copy as the next revision and make it live.

    The caller checks claims and commits.
    """
    number = (
        db.session.scalar(
            db.select(db.func.max(PageRevision.number)).where(PageRevision.page_id == page.id)
        )
        or 0
    ) + 1
    revision = PageRevision(
        page_id=page.id,
        number=number,
        created_by_id=user.id if user else None,
        note=note,
        claims_confirmed=list(claims_confirmed),
        **page.snapshot(),
    )
    db.session.add(revision)
    db.session.flush()
    page.published = revision
    return revision


def publish_page(
    page: Page, user: User | None, note: str = "", confirmed: Iterable[str] = ()
) -> PageRevision:
    """Publish the working copy.

    :raise ClaimsNeedConfirmation: the copy has restricted claims that are not
        all in ``confirmed``; nothing is published.
    """
    claims = _check_claims(page, confirmed)
    revision = publish(page, user, note=note, claims_confirmed=claims)
    record("page.published", user, "page", page.id, revision=revision.number, claims=claims)
    db.session.commit()
    return revision


def unpublish_page(page: Page, user: User | None) -> None:
    """Take the page away from patients; its working copy and history stay."""
    page.published = None
    record("page.unpublished", user, "page", page.id)
    db.session.commit()


def restore_revision(
    page: Page, revision: PageRevision, user: User | None, confirmed: Iterable[str] = ()
) -> PageRevision:
    """Make an earlier revision live again, as a new revision; the draft is replaced.

    :raise ClaimsNeedConfirmation: as for ``publish_page``; nothing changes.
    """
    if revision.page_id != page.id:
        raise EditorError("That revision belongs to another page.")
    restored = revision.snapshot()
    claims = find_claims(revision.content())
    _require_confirmed(claims, confirmed)
    for name, value in restored.items():
        setattr(page, name, value)
    new = publish(page, user, note=f"Restored revision {revision.number}", claims_confirmed=claims)
    record("page.restored", user, "page", page.id, revision=new.number, source=revision.number)
    db.session.commit()
    return new


def _check_claims(page: Page, confirmed: Iterable[str]) -> list[str]:
    claims = find_claims(page.content())
    _require_confirmed(claims, confirmed)
    return claims


def _require_confirmed(claims: list[str], confirmed: Iterable[str]) -> None:
    if not set(claims) <= set(confirmed):
        raise ClaimsNeedConfirmation(claims)


def _content(fields: Mapping[str, Any]) -> dict[str, str]:
    names = CONTENT_FIELDS + PICTURE_FIELDS
    return {
        name: " ".join((fields[name] or "").split())
        if name in PICTURE_FIELDS
        else _newlines(fields[name] or "")
        for name in names
        if name in fields
    }


def _check_pictures(clinic_id: int, fields: Mapping[str, Any]) -> None:
    """:raise PictureError: an image from outside the clinic's library."""
    try:
        media.check_page_pictures(clinic_id, {k: v or "" for k, v in fields.items()})
    except media.MediaError as exc:
        raise PictureError(str(exc), exc.field) from None


def _newlines(text: str) -> str:
    """Browsers send line breaks as CR LF; stored text uses LF only, so a page
    saved unchanged compares equal to what was published."""
    return text.replace("\r\n", "\n").replace("\r", "\n")


# -- comparing ---------------------------------------------------------------


# Unchanged lines shown around each change; the rest are counted, not shown.
CONTEXT_LINES = 2


@dataclass(frozen=True)
class FieldChange:
    name: str
    label: str
    # ("-", text) removed, ("+", text) added, (" ", text) unchanged context,
    # ("…", "12 lines unchanged") unchanged lines left out.
    lines: list[tuple[str, str]]


def compare(revision: PageRevision, page: Page | PageRevision) -> list[FieldChange]:
    """What differs between a revision and the working copy (or another revision), by field.

    Only fields that differ are listed, and of those only the changed lines
    with a little context. Lines are plain text; templates escape them.
    """
    changes = []
    before, after = revision.snapshot(), page.snapshot()
    for name in CONTENT_FIELDS + PICTURE_FIELDS:
        if before[name] == after[name]:
            continue
        lines = changed_lines(before[name], after[name])
        changes.append(FieldChange(name=name, label=FIELD_LABELS[name], lines=lines))
    return changes


def changed_lines(before: str, after: str) -> list[tuple[str, str]]:
    """The lines that differ, each change with ``CONTEXT_LINES`` around it."""
    old, new = before.splitlines(), after.splitlines()
    if old == new:
        return [("…", "Only blank lines or spaces at the end differ.")]
    matcher = difflib.SequenceMatcher(None, old, new, autojunk=False)
    lines: list[tuple[str, str]] = []
    shown_up_to = 0  # in ``old``
    for group in matcher.get_grouped_opcodes(CONTEXT_LINES):
        _skipped(lines, group[0][1] - shown_up_to)
        for tag, i1, i2, j1, j2 in group:
            if tag == "equal":
                lines.extend((" ", text) for text in old[i1:i2])
                continue
            lines.extend(("-", text) for text in old[i1:i2])
            lines.extend(("+", text) for text in new[j1:j2])
        shown_up_to = group[-1][2]
    _skipped(lines, len(old) - shown_up_to)
    return lines


def _skipped(lines: list[tuple[str, str]], count: int) -> None:
    if count > 0:
        lines.append(("…", f"{count} line{'s' if count != 1 else ''} unchanged"))


# -- addresses ---------------------------------------------------------------


def check_slug(slug: str, reserved: frozenset[str] = frozenset()) -> str:
    slug = (slug or "").strip()
    if not SLUG_PATTERN.match(slug) or len(slug) > 64:
        raise SlugError("Use lowercase letters, numbers and single hyphens, such as harley-street.")
    if slug in reserved:
        raise SlugError(f"“{slug}” is used by the site itself; please choose another.")
    return slug


def _rename_location(location: Location, new_slug: str) -> None:
    new_slug = check_slug(new_slug, RESERVED_LOCATION_SLUGS)
    taken = db.session.scalar(
        db.select(Location.id).where(
            Location.clinic_id == location.clinic_id,
            Location.slug == new_slug,
            Location.id != location.id,
        )
    )
    if taken is not None:
        raise SlugError("Another location of this clinic has that address.")
    _remember_old_slug(location.clinic_id, new_slug, location.slug, location_id=location.id)
    location.slug = new_slug


def _rename_treatment(treatment: Treatment, new_slug: str) -> None:
    new_slug = check_slug(new_slug, RESERVED_TREATMENT_SLUGS)
    taken = db.session.scalar(
        db.select(Treatment.id).where(
            Treatment.clinic_id == treatment.clinic_id,
            Treatment.slug == new_slug,
            Treatment.id != treatment.id,
        )
    )
    if taken is not None:
        raise SlugError("Another treatment of this clinic has that address.")
    _remember_old_slug(treatment.clinic_id, new_slug, treatment.slug, treatment_id=treatment.id)
    treatment.slug = new_slug


def _remember_old_slug(
    clinic_id: int,
    new_slug: str,
    old_slug: str,
    location_id: int | None = None,
    treatment_id: int | None = None,
) -> None:
    kind = SlugRedirect.location_id if location_id else SlugRedirect.treatment_id
    # The new slug is live now: an older redirect from it would compete.
    db.session.execute(
        db.delete(SlugRedirect).where(
            SlugRedirect.clinic_id == clinic_id,
            SlugRedirect.old_slug == new_slug,
            kind.isnot(None),
        )
    )
    db.session.add(
        SlugRedirect(
            clinic_id=clinic_id,
            location_id=location_id,
            treatment_id=treatment_id,
            old_slug=old_slug,
        )
    )
