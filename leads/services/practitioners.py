"""A clinic's practitioners: who treats patients, where, and on which register.

Patients look for who will treat them before they ask for a consultation;
a landing page lists the practitioners who work at its location.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from leads.content import markup_problem
from leads.extensions import db
from leads.models import REGISTRATION_BODIES, Clinic, Location, Practitioner, User
from leads.services import media
from leads.services.audit import record
from leads.services.clinics import SetupError

_NUMBER = re.compile(r"^[A-Za-z0-9][A-Za-z0-9 -]{0,31}$")


@dataclass
class PractitionerDetails:
    name: str
    role: str = ""
    registration_body: str = ""
    registration_number: str = ""
    photo: str = ""  # "media:ID" of the clinic's library, or ""
    bio: str = ""
    location_ids: tuple[int, ...] = ()


def get(practitioner_id: int) -> Practitioner | None:
    return db.session.get(Practitioner, practitioner_id)


def for_clinic(clinic: Clinic) -> list[Practitioner]:
    return list(
        db.session.scalars(
            db.select(Practitioner)
            .where(Practitioner.clinic_id == clinic.id)
            .order_by(Practitioner.name)
        )
    )


def at_location(location: Location) -> list[Practitioner]:
    """The practitioners who work at ``location``, by name."""
    return list(
        db.session.scalars(
            db.select(Practitioner)
            .where(Practitioner.locations.any(Location.id == location.id))
            .order_by(Practitioner.name)
        )
    )


def photos(practitioners: Iterable[Practitioner]) -> dict[int, object]:
    """Each practitioner's photo from their clinic's library, by practitioner id."""
    found = {}
    for person in practitioners:
        photo_id = media.reference_id(person.photo)
        if photo_id:
            image = media.clinic_media(person.clinic_id, [photo_id]).get(photo_id)
            if image is not None:
                found[person.id] = image
    return found


def save(
    clinic: Clinic, details: PractitionerDetails, user: User | None, person: Practitioner | None
) -> Practitioner:
    """Add a practitioner to ``clinic`` (``person`` None) or change one.

    :raise SetupError: naming the field; nothing changes.
    """
    _check(clinic, details)
    if person is None:
        person = Practitioner(clinic_id=clinic.id)
        db.session.add(person)
    person.name = details.name
    person.role = details.role
    person.registration_body = details.registration_body
    person.registration_number = details.registration_number if details.registration_body else ""
    person.photo = details.photo
    person.bio = details.bio
    wanted = set(details.location_ids)
    person.locations = [loc for loc in clinic.locations if loc.id in wanted]
    db.session.flush()
    record("practitioner.saved", user, "practitioner", person.id, clinic=clinic.id)
    db.session.commit()
    return person


def remove(person: Practitioner, user: User | None) -> None:
    record("practitioner.removed", user, "practitioner", person.id, clinic=person.clinic_id)
    db.session.delete(person)
    db.session.commit()


def _check(clinic: Clinic, details: PractitionerDetails) -> None:
    details.name = " ".join((details.name or "").split())
    if not details.name:
        raise SetupError("name", "Please give the practitioner's name.")
    for field in ("name", "role", "bio"):
        problem = markup_problem(getattr(details, field))
        if problem:
            raise SetupError(field, problem)
    if details.registration_body not in REGISTRATION_BODIES:
        raise SetupError("registration_body", "Choose a register from the list.")
    details.registration_number = (details.registration_number or "").strip()
    if details.registration_body and not _NUMBER.match(details.registration_number):
        raise SetupError(
            "registration_number",
            f"Please give the {details.registration_body} number, as it appears on the register.",
        )
    details.photo = (details.photo or "").strip()
    if details.photo:
        photo_id = media.reference_id(details.photo)
        if photo_id is None or not media.clinic_media(clinic.id, [photo_id]):
            raise SetupError("photo", "Choose the photo from this clinic's media library.")
    own = {loc.id for loc in clinic.locations}
    if not set(details.location_ids) <= own:
        raise SetupError("locations", "Choose locations of this clinic only.")
