"""Setting up clinics, their locations and treatments: create, edit, archive.

Slugs are fixed when a clinic, location or treatment is created (the page
editor renames locations and treatments, keeping their old addresses as
redirects). Archiving never deletes: every lead, page and revision stays, and
an archived row can be restored. Patients are sent elsewhere (see
``archived_redirect``) instead of meeting a 404.

The public functions own their transaction and commit, unless called with
``commit=False`` by a caller that owns a larger one (the setup file import).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

from email_validator import EmailNotValidError, validate_email

from leads import phones
from leads.content import markup_problem
from leads.extensions import db
from leads.models import Clinic, InboxChannel, Location, Page, Treatment, User, utcnow
from leads.services import look, media
from leads.services.audit import record
from leads.services.editor import RESERVED_TREATMENT_SLUGS, SlugError, check_slug

# First path segments the site itself uses: no clinic may take them.
RESERVED_CLINIC_SLUGS = frozenset(
    {"admin", "editor", "inbox", "staff", "login", "logout", "privacy", "static", "api"}
)
RETENTION_RANGE = (1, 120)


class SetupError(Exception):
    """A value that cannot be stored; ``field`` names it, the message is for staff."""

    def __init__(self, field: str, message: str) -> None:
        self.field = field
        self.message = message
        super().__init__(f"{field}: {message}")


# -- checks shared by the admin forms and the setup file -----------------------


def check_clinic_slug(slug: str) -> str:
    return _slug(slug, RESERVED_CLINIC_SLUGS)


def check_location_slug(slug: str) -> str:
    return _slug(slug, frozenset())


def check_treatment_slug(slug: str) -> str:
    return _slug(slug, RESERVED_TREATMENT_SLUGS)


def _slug(slug: str, reserved: frozenset[str]) -> str:
    try:
        return check_slug(slug, reserved)
    except SlugError as exc:
        raise SetupError("slug", str(exc)) from None


def check_text(field: str, value: str, max_length: int, required: bool = True) -> str:
    """One line of plain text: no markup, no control characters."""
    value = (value or "").strip()
    if required and not value:
        raise SetupError(field, "Please fill this in.")
    if len(value) > max_length:
        raise SetupError(field, f"Please keep this to {max_length} characters.")
    if any(not ch.isprintable() for ch in value):
        raise SetupError(field, "Please keep this to one line of text.")
    problem = markup_problem(value)
    if problem:
        raise SetupError(field, problem)
    return value


def check_phone(text: str) -> str:
    """A clinic's own number in any common form, as E.164 (only numbers in a
    listed range: it is printed on every page)."""
    e164 = phones.valid_e164(str(text or ""))
    if e164 is None:
        raise SetupError("phone", "Please enter a phone number such as 020 7946 0112.")
    return e164


def check_time_zone(name: str) -> str:
    name = (name or "").strip()
    if name not in available_timezones():
        raise SetupError("timezone", "Please use a time zone name such as Europe/London.")
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise SetupError("timezone", "Please use a time zone name such as Europe/London.") from None
    return name


def check_hours(lines: Iterable[str]) -> list[dict[str, str]]:
    """ "Mo-Fr 09:00-19:00" lines into opening-hours rows."""
    from leads.forms.editor import parse_hours

    try:
        return parse_hours("\n".join(str(line) for line in lines))
    except ValueError as exc:
        raise SetupError(
            "hours", f"“{exc}” is not like “Mo-Fr 09:00-19:00”, closing after opening."
        ) from None


def check_retention(value: object) -> int | None:
    if value is None or value == "":
        return None
    low, high = RETENTION_RANGE
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise SetupError("retention_months", f"Please give a whole number of months, {low}-{high}.")
    return value


SLA_RANGE = (1, 7 * 24 * 60)


def check_sla(value: object) -> int | None:
    if value is None or value == "":
        return None
    low, high = SLA_RANGE
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise SetupError("sla_minutes", f"Please give a whole number of minutes, {low}-{high}.")
    return value


def check_escalate_to(addresses: Iterable[str]) -> str:
    """Addresses into the stored form ("a@x, b@y"); each checked."""
    checked = []
    for address in addresses:
        if not str(address or "").strip():
            continue
        try:
            checked.append(
                validate_email(str(address).strip(), check_deliverability=False).normalized
            )
        except EmailNotValidError:
            raise SetupError(
                "escalate_to", f"“{address}” is not an email address like duty@clinic.example."
            ) from None
    joined = ", ".join(dict.fromkeys(checked))
    if len(joined) > 500:
        raise SetupError("escalate_to", "Please list fewer addresses (500 characters at most).")
    return joined


def check_nation(value: object) -> str:
    from leads.working_time import NATIONS

    text = str(value or "").strip().lower().replace(" ", "_")
    if text not in NATIONS:
        raise SetupError("nation", f"Choose one of: {', '.join(NATIONS)}.")
    return text


def check_email(address: str) -> str:
    try:
        return validate_email(str(address or "").strip(), check_deliverability=False).normalized
    except EmailNotValidError:
        raise SetupError("inbox", "Enter an email address like enquiries@clinic.example.") from None


# -- values ----------------------------------------------------------------------


@dataclass
class ClinicDetails:
    name: str
    tagline: str = ""
    retention_months: int | None = None
    # Speed to lead: the response target in working minutes, and who hears
    # of a lead not contacted by then (comma-separated; empty: the managers).
    sla_minutes: int | None = None
    escalate_to: str = ""
    # The clinic's look (leads.services.look); "" is the site's own.
    brand_colour: str = ""
    accent_colour: str = ""
    logo: str = ""  # "media:ID" of the clinic's library


@dataclass
class LocationDetails:
    name: str
    street: str
    city: str
    postcode: str
    phone: str  # E.164, checked
    opening_hours: list[dict[str, str]]
    time_zone: str = "Europe/London"
    nation: str = "england"

    def as_dict(self) -> dict[str, object]:
        return dict(self.__dict__)


# -- reading -----------------------------------------------------------------------


def all_clinics() -> list[Clinic]:
    return list(db.session.scalars(db.select(Clinic).order_by(Clinic.name)))


def get_clinic(clinic_id: int) -> Clinic | None:
    return db.session.get(Clinic, clinic_id)


def get_treatment(treatment_id: int) -> Treatment | None:
    return db.session.get(Treatment, treatment_id)


def get_location(location_id: int) -> Location | None:
    return db.session.get(Location, location_id)


def clinic_by_slug(slug: str) -> Clinic | None:
    return db.session.scalar(db.select(Clinic).where(Clinic.slug == slug))


def live_locations(clinic: Clinic) -> list[Location]:
    return [loc for loc in clinic.locations if loc.archived_at is None]


def live_treatments(clinic: Clinic) -> list[Treatment]:
    return [t for t in clinic.treatments if t.archived_at is None]


# -- clinics -------------------------------------------------------------------------


def create_clinic(
    slug: str,
    details: ClinicDetails,
    user: User | None,
    inbox: str | None = None,
    commit: bool = True,
) -> Clinic:
    """A new clinic, with an email inbox channel when ``inbox`` is given."""
    slug = check_clinic_slug(slug)
    if clinic_by_slug(slug) is not None:
        raise SetupError("slug", "Another clinic has that address.")
    inbox = check_email(inbox) if inbox else None
    _check_look(details, None)
    clinic = Clinic(slug=slug, **details.__dict__)
    db.session.add(clinic)
    db.session.flush()
    record("clinic.created", user, "clinic", clinic.id)
    if inbox:
        set_inbox(clinic, [("email", inbox)], user, None)
    _finish(commit)
    return clinic


def update_clinic(
    clinic: Clinic, details: ClinicDetails, user: User | None, commit: bool = True
) -> None:
    """:raise SetupError: a colour too faint to read, or a logo from outside
    the clinic's library; nothing changes."""
    _check_look(details, clinic.id)
    for name, value in details.__dict__.items():
        setattr(clinic, name, value)
    record("clinic.updated", user, "clinic", clinic.id)
    _finish(commit)


def _check_look(details: ClinicDetails, clinic_id: int | None) -> None:
    """Normalise and check the colours (contrast) and the logo in ``details``.

    :raise SetupError: naming the field.
    """
    try:
        details.brand_colour, details.accent_colour = look.check_colours(
            details.brand_colour, details.accent_colour
        )
    except look.LookError as exc:
        raise SetupError(exc.field, exc.message) from None
    details.logo = (details.logo or "").strip()
    if details.logo:
        logo_id = media.reference_id(details.logo)
        if logo_id is None or clinic_id is None or not media.clinic_media(clinic_id, [logo_id]):
            raise SetupError("logo", "Choose the logo from this clinic's media library.")


def set_clinic_archived(clinic: Clinic, archived: bool, user: User | None) -> None:
    """Archive (patients get a "no longer taking requests" page) or restore a clinic."""
    clinic.archived_at = utcnow() if archived else None
    record("clinic.archived" if archived else "clinic.restored", user, "clinic", clinic.id)
    db.session.commit()


def set_inbox(
    clinic: Clinic, addresses: list[tuple[str, str]], user: User | None, location_id: int | None
) -> None:
    """Make ``addresses`` ((kind, target) pairs) the active channels of the clinic or a
    location: missing ones are added, others turned off (kept, for the deliveries that
    name them). The caller commits."""
    wanted = set(addresses)
    for channel in clinic.channels:
        if channel.location_id != location_id:
            continue
        key = (channel.kind, channel.target)
        if key in wanted:
            wanted.discard(key)
            channel.active = True
        elif channel.active:
            channel.active = False
            record("channel_disabled", user, "inbox_channel", channel.id, clinic_id=clinic.id)
    for kind, target in addresses:
        if (kind, target) in wanted:
            wanted.discard((kind, target))
            channel = InboxChannel(kind=kind, target=target, location_id=location_id)
            clinic.channels.append(channel)
            db.session.flush()
            record("channel_added", user, "inbox_channel", channel.id, clinic_id=clinic.id)


# -- locations -----------------------------------------------------------------------


def create_location(
    clinic: Clinic,
    slug: str,
    details: LocationDetails,
    treatment_ids: Iterable[int],
    user: User | None,
    commit: bool = True,
) -> Location:
    """A new location with a draft location page; treatments with a clinic template get
    their pages filled in too (drafts: nothing is published here)."""
    from leads.services import treatment_templates

    slug = check_location_slug(slug)
    taken = db.session.scalar(
        db.select(Location.id).where(Location.clinic_id == clinic.id, Location.slug == slug)
    )
    if taken is not None:
        raise SetupError("slug", "Another location of this clinic has that address.")
    location = Location(clinic=clinic, slug=slug, **details.as_dict())
    wanted = set(treatment_ids)
    location.treatments = [t for t in live_treatments(clinic) if t.id in wanted]
    db.session.add(location)
    db.session.flush()
    db.session.add(
        Page(
            clinic_id=clinic.id,
            location=location,
            title=f"{clinic.name}, {location.name}"[:160],
            heading=location.name,
            intro=clinic.tagline,
        )
    )
    treatment_templates.sync_location(location)
    record("location.created", user, "location", location.id)
    _finish(commit)
    return location


def update_location(
    location: Location,
    details: LocationDetails,
    treatment_ids: Iterable[int],
    user: User | None,
    commit: bool = True,
) -> None:
    """New details and treatments; pages that follow a template are filled in again."""
    from leads.services import treatment_templates

    for name, value in details.as_dict().items():
        setattr(location, name, value)
    wanted = set(treatment_ids)
    location.treatments = [t for t in location.clinic.treatments if t.id in wanted]
    db.session.flush()
    treatment_templates.sync_location(location)
    record("location.updated", user, "location", location.id)
    _finish(commit)


def set_location_archived(location: Location, archived: bool, user: User | None) -> None:
    """Archive (its pages redirect within the clinic) or restore a location."""
    location.archived_at = utcnow() if archived else None
    record("location.archived" if archived else "location.restored", user, "location", location.id)
    db.session.commit()


# -- treatments ----------------------------------------------------------------------


def create_treatment(
    clinic: Clinic,
    slug: str,
    name: str,
    summary: str,
    location_ids: Iterable[int],
    user: User | None,
    commit: bool = True,
) -> Treatment:
    slug = check_treatment_slug(slug)
    taken = db.session.scalar(
        db.select(Treatment.id).where(Treatment.clinic_id == clinic.id, Treatment.slug == slug)
    )
    if taken is not None:
        raise SetupError("slug", "Another treatment of this clinic has that address.")
    treatment = Treatment(clinic=clinic, slug=slug, name=name, summary=summary)
    db.session.add(treatment)
    db.session.flush()
    _offer_at(treatment, location_ids)
    record("treatment.created", user, "treatment", treatment.id)
    _finish(commit)
    return treatment


def update_treatment(
    treatment: Treatment,
    name: str,
    summary: str,
    location_ids: Iterable[int],
    user: User | None,
    commit: bool = True,
) -> None:
    treatment.name = name
    treatment.summary = summary
    _offer_at(treatment, location_ids)
    record("treatment.updated", user, "treatment", treatment.id)
    _finish(commit)


def _offer_at(treatment: Treatment, location_ids: Iterable[int]) -> None:
    from leads.services import treatment_templates

    wanted = set(location_ids)
    treatment.locations = [loc for loc in treatment.clinic.locations if loc.id in wanted]
    db.session.flush()
    treatment_templates.sync_treatment(treatment)


def set_treatment_archived(treatment: Treatment, archived: bool, user: User | None) -> None:
    """Archive (its pages redirect to each location's page) or restore a treatment."""
    treatment.archived_at = utcnow() if archived else None
    action = "treatment.archived" if archived else "treatment.restored"
    record(action, user, "treatment", treatment.id)
    db.session.commit()


# -- publishing a location -------------------------------------------------------------


def publish_location(location: Location, user: User | None, commit: bool = True) -> int:
    """Publish the location page and its treatment pages that have unpublished changes.

    :raise SetupError: a page makes advertising claims, which its writer must
        confirm in the page editor; nothing is published.
    :return: how many pages were published.
    """
    from leads.claims import find_claims
    from leads.services.editor import publish

    pages = db.session.scalars(db.select(Page).where(Page.location_id == location.id)).all()
    offered = {t.id for t in location.treatments if t.archived_at is None}
    due = [
        p
        for p in pages
        if (p.treatment_id is None or p.treatment_id in offered) and p.has_unpublished_changes
    ]
    for page in due:
        claims = find_claims(page.content())
        if claims:
            raise SetupError(
                "publish",
                f"The page “{page.title}” says {', '.join(claims)}: "
                "confirm these claims by publishing it in the page editor.",
            )
    for page in due:
        revision = publish(page, user, note="Published with the location")
        record("page.published", user, "page", page.id, revision=revision.number, claims=[])
    _finish(commit)
    return len(due)


def _finish(commit: bool) -> None:
    if commit:
        db.session.commit()
    else:
        db.session.flush()
