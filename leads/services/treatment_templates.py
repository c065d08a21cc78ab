"""A clinic's treatment page, written once and filled in for every location.

The template's text may carry ``{location}``, ``{city}``, ``{phone}`` and
``{address}``. Each location that offers the treatment gets a page whose
working copy is the template filled in with that location's facts. A page
follows the template while its working copy is exactly what the template last
wrote (``Page.template_digest``); once someone edits it in the page editor it
is that location's own version (an override), and template changes leave it
alone until staff choose "use the template again".

Filling in writes drafts only; publishing stays a deliberate step.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from leads.claims import find_claims
from leads.content import image_problem, markup_problem
from leads.extensions import db
from leads.models import CONTENT_FIELDS, Location, Page, Treatment, TreatmentTemplate, User
from leads.phones import display as national_phone
from leads.services.audit import record
from leads.services.clinics import SetupError

PLACEHOLDERS = ("location", "city", "phone", "address")
_PLACEHOLDER = re.compile(r"\{([^{}\s]{1,40})\}")
# Lengths of the page columns; a filled-in value is cut to fit.
MAX_LENGTHS = {
    "title": 160,
    "heading": 160,
    "cta_text": 80,
    "seo_title": 70,
    "seo_description": 200,
    "og_title": 160,
    "og_description": 300,
    "og_image": 500,
}


# -- filling in ------------------------------------------------------------------


def facts(location: Location) -> dict[str, str]:
    """What each placeholder stands for at ``location``."""
    return {
        "location": location.name,
        "city": location.city,
        "phone": national_phone(location.phone),
        "address": f"{location.street}, {location.city} {location.postcode}",
    }


def check_placeholders(fields: Mapping[str, str]) -> None:
    """:raise SetupError: a field uses a placeholder we do not know, or markup."""
    for name in CONTENT_FIELDS:
        text = fields.get(name) or ""
        for match in _PLACEHOLDER.finditer(text):
            if match[1] not in PLACEHOLDERS:
                known = ", ".join("{" + p + "}" for p in PLACEHOLDERS)
                raise SetupError(name, f"“{match[0]}” is not a placeholder; use {known}.")
        problem = markup_problem(text) or image_problem(text)
        if problem:
            raise SetupError(name, problem)


def fill(fields: Mapping[str, str], location: Location) -> dict[str, str]:
    values = facts(location)
    filled = {}
    for name in CONTENT_FIELDS:
        text = _PLACEHOLDER.sub(lambda m: values.get(m[1], m[0]), fields.get(name) or "")
        filled[name] = text[: MAX_LENGTHS[name]] if name in MAX_LENGTHS else text
    return filled


def digest(content: Mapping[str, str]) -> str:
    data = json.dumps({k: content.get(k) or "" for k in CONTENT_FIELDS}, sort_keys=True)
    return hashlib.sha256(data.encode()).hexdigest()


def follows(page: Page) -> bool:
    return page.template_digest is not None and page.template_digest == digest(page.content())


# -- reading -----------------------------------------------------------------------


def template_for(treatment: Treatment) -> TreatmentTemplate | None:
    return db.session.scalar(
        db.select(TreatmentTemplate).where(TreatmentTemplate.treatment_id == treatment.id)
    )


@dataclass(frozen=True)
class LocationUse:
    location: Location
    page: Page | None
    following: bool


def uses(treatment: Treatment) -> list[LocationUse]:
    """Each location offering the treatment, with its page and whether it follows."""
    rows = []
    for location in treatment.locations:
        if location.archived_at is not None:
            continue
        page = _page(location, treatment)
        rows.append(LocationUse(location, page, page is not None and follows(page)))
    return sorted(rows, key=lambda u: u.location.name)


def _page(location: Location, treatment: Treatment) -> Page | None:
    return db.session.scalar(
        db.select(Page).where(Page.location_id == location.id, Page.treatment_id == treatment.id)
    )


# -- writing -----------------------------------------------------------------------


@dataclass
class Applied:
    updated: list[Page] = field(default_factory=list)
    overridden: list[Page] = field(default_factory=list)
    claims: list[str] = field(default_factory=list)


def save_template(
    treatment: Treatment, fields: Mapping[str, str], user: User | None, commit: bool = True
) -> Applied:
    """Store the clinic's content for ``treatment`` and fill it in at every location that
    offers it, except where a location has its own version.

    :raise SetupError: an unknown placeholder or markup; nothing is stored.
    """
    check_placeholders(fields)
    template = template_for(treatment)
    if template is None:
        template = TreatmentTemplate(treatment_id=treatment.id)
        db.session.add(template)
    for name in CONTENT_FIELDS:
        setattr(template, name, fields.get(name) or "")
    if not template.cta_text:
        template.cta_text = "Book a consultation"
    db.session.flush()
    applied = _apply(treatment, template)
    applied.claims = find_claims(template.content())
    record("template.saved", user, "treatment", treatment.id, pages=[p.id for p in applied.updated])
    if commit:
        db.session.commit()
    else:
        db.session.flush()
    return applied


def sync_treatment(treatment: Treatment) -> None:
    """Fill in the template where the treatment is newly offered. The caller commits."""
    template = template_for(treatment)
    if template is not None:
        _apply(treatment, template)


def sync_location(location: Location) -> None:
    """After a location's facts or treatments change: fill in its following pages
    again, and create pages for newly offered treatments. The caller commits."""
    for treatment in location.treatments:
        template = template_for(treatment)
        if template is not None:
            _fill_page(location, treatment, template)


def _apply(treatment: Treatment, template: TreatmentTemplate) -> Applied:
    applied = Applied()
    for location in treatment.locations:
        if location.archived_at is not None:
            continue
        page, following = _fill_page(location, treatment, template)
        (applied.updated if following else applied.overridden).append(page)
    return applied


def _fill_page(
    location: Location, treatment: Treatment, template: TreatmentTemplate
) -> tuple[Page, bool]:
    page = _page(location, treatment)
    filled = fill(template.content(), location)
    if page is None:
        page = Page(clinic_id=location.clinic_id, location=location, treatment=treatment, **filled)
        db.session.add(page)
    elif not follows(page):
        return page, False
    else:
        for name, value in filled.items():
            setattr(page, name, value)
    page.template_digest = digest(filled)
    db.session.flush()
    return page, True


def follow_template(page: Page, user: User | None) -> None:
    """Replace a location's own version with the clinic's template, filled in (a draft).

    :raise SetupError: the treatment has no template.
    """
    template = template_for(page.treatment) if page.treatment else None
    if template is None:
        raise SetupError("template", "This treatment has no clinic template yet.")
    filled = fill(template.content(), page.location)
    for name, value in filled.items():
        setattr(page, name, value)
    page.template_digest = digest(filled)
    record("template.followed", user, "page", page.id)
    db.session.commit()


def publish_following(
    treatment: Treatment, user: User | None, confirmed: Iterable[str] = (), commit: bool = True
) -> int:
    """Publish every page that follows the template and has unpublished changes.

    :raise ClaimsNeedConfirmation: the filled-in copy makes restricted claims that
        are not all in ``confirmed``; nothing is published.
    :return: how many pages were published.
    """
    from leads.services.editor import ClaimsNeedConfirmation, publish

    due = [u.page for u in uses(treatment) if u.following and u.page.has_unpublished_changes]
    claims = sorted({c for page in due for c in find_claims(page.content())})
    if not set(claims) <= set(confirmed):
        raise ClaimsNeedConfirmation(claims)
    for page in due:
        page_claims = find_claims(page.content())
        revision = publish(
            page, user, note="Published from the clinic template", claims_confirmed=page_claims
        )
        record(
            "page.published", user, "page", page.id, revision=revision.number, claims=page_claims
        )
    if commit:
        db.session.commit()
    else:
        db.session.flush()
    return len(due)
