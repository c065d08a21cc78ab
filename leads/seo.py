"""What search engines read: absolute URLs, schema.org JSON-LD, the sitemap.

Addresses are built from ``PUBLIC_BASE_URL``, never from the request's Host
header, so a canonical link cannot be pointed elsewhere by whoever sends the
request.
"""

from __future__ import annotations

from typing import Any

from flask import current_app, url_for

from leads.content import plain_text
from leads.models import Location, Treatment

DAYS = ("Mo", "Tu", "We", "Th", "Fr", "Sa", "Su")
SCHEMA_DAYS = {
    "Mo": "Monday",
    "Tu": "Tuesday",
    "We": "Wednesday",
    "Th": "Thursday",
    "Fr": "Friday",
    "Sa": "Saturday",
    "Su": "Sunday",
}


def public_url(endpoint: str, **values: Any) -> str:
    """The absolute public address of ``endpoint``."""
    base = current_app.config["PUBLIC_BASE_URL"].rstrip("/")
    return base + url_for(endpoint, **values)


def location_url(location: Location) -> str:
    return public_url(
        "public.location_page", clinic_slug=location.clinic.slug, location_slug=location.slug
    )


def treatment_url(location: Location, treatment: Treatment) -> str:
    return public_url(
        "public.treatment_page",
        clinic_slug=location.clinic.slug,
        location_slug=location.slug,
        treatment_slug=treatment.slug,
    )


def expand_days(spec: str) -> list[str]:
    """ "Mo-Fr" -> the five schema.org day names; "Sa" -> ["Saturday"]."""
    first, _, last = spec.partition("-")
    if first not in SCHEMA_DAYS or (last and last not in SCHEMA_DAYS):
        return []
    if not last:
        return [SCHEMA_DAYS[first]]
    start, end = DAYS.index(first), DAYS.index(last)
    span = DAYS[start : end + 1] if start <= end else DAYS[start:] + DAYS[: end + 1]
    return [SCHEMA_DAYS[day] for day in span]


def clinic_json_ld(
    location: Location,
    treatment: Treatment | None = None,
    treatment_pages: dict[int, bool] | None = None,
) -> dict[str, Any]:
    """schema.org data for a location page, or for a treatment page at that location.

    A location is a MedicalClinic belonging to its clinic (a MedicalOrganization).
    On a treatment page the clinic lists that treatment as a MedicalProcedure
    it offers (``availableService``); on a location page it lists every
    treatment offered there that has a published page.
    """
    clinic = location.clinic
    treatment_pages = treatment_pages or {}
    clinic_id = location_url(location) + "#clinic"
    place: dict[str, Any] = {
        "@type": "MedicalClinic",
        "@id": clinic_id,
        "name": f"{plain_text(clinic.name)}, {plain_text(location.name)}",
        "url": location_url(location),
        "telephone": location.phone,
        "address": {
            "@type": "PostalAddress",
            "streetAddress": plain_text(location.street),
            "addressLocality": plain_text(location.city),
            "postalCode": plain_text(location.postcode),
            "addressCountry": location.country,
        },
        "openingHoursSpecification": [
            {
                "@type": "OpeningHoursSpecification",
                "dayOfWeek": expand_days(row.get("days", "")),
                "opens": row.get("opens", ""),
                "closes": row.get("closes", ""),
            }
            for row in location.opening_hours or []
        ],
        "parentOrganization": {
            "@type": "MedicalOrganization",
            "name": plain_text(clinic.name),
            "url": public_url("public.index") + f"#clinic-{clinic.slug}",
        },
    }
    if treatment is not None:
        procedure = _procedure(location, treatment)
        place["availableService"] = [{"@id": procedure["@id"]}]
        return {"@context": "https://schema.org", "@graph": [procedure, place]}
    offered = [_procedure(location, t) for t in location.treatments if treatment_pages.get(t.id)]
    if offered:
        place["availableService"] = offered
    return {"@context": "https://schema.org", **place}


def _procedure(location: Location, treatment: Treatment) -> dict[str, Any]:
    url = treatment_url(location, treatment)
    data: dict[str, Any] = {
        "@type": "MedicalProcedure",
        "@id": url + "#procedure",
        "name": plain_text(treatment.name),
        "url": url,
    }
    if treatment.summary:
        data["description"] = plain_text(treatment.summary)
    return data
