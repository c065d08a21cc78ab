"""Clinic and location details: the one source every page shows them from."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from leads.extensions import db
from leads.models import Clinic, Location, User
from leads.services import treatment_templates
from leads.services.audit import record

LOCATION_FIELDS = ("name", "street", "city", "postcode", "phone", "opening_hours", "time_zone")


def get_location(location_id: int) -> Location | None:
    return db.session.get(Location, location_id)


def get_clinic(clinic_id: int) -> Clinic | None:
    return db.session.get(Clinic, clinic_id)


def update_clinic(clinic: Clinic, name: str, tagline: str, user: User | None) -> None:
    clinic.name = name
    clinic.tagline = tagline
    record("clinic.updated", user, "clinic", clinic.id)
    db.session.commit()


def update_location(
    location: Location,
    details: Mapping[str, Any],
    treatment_ids: Iterable[int],
    user: User | None,
) -> None:
    """Store validated details and the treatments offered (of the location's own clinic only).

    A treatment no longer offered keeps its page, which answers 404 until it is offered again.
    """
    for name in LOCATION_FIELDS:
        if name in details:
            setattr(location, name, details[name])
    wanted = set(treatment_ids)
    location.treatments = [t for t in location.clinic.treatments if t.id in wanted]
    db.session.flush()
    # Pages that follow their clinic's treatment template show the new facts.
    treatment_templates.sync_location(location)
    record("location.updated", user, "location", location.id)
    db.session.commit()


def treatment_choices(location: Location) -> list[tuple[int, str]]:
    return [(t.id, t.name) for t in location.clinic.treatments]
