"""Template filters and globals."""

from __future__ import annotations

from flask import Flask, current_app, url_for
from wtforms import Field

from leads import content, phones, pictures
from leads.seo import SCHEMA_DAYS as DAY_NAMES


def days(spec: str) -> str:
    """Mo-Fr -> Monday to Friday; Sa -> Saturday."""
    first, _, last = spec.partition("-")
    start = DAY_NAMES.get(first, first)
    return f"{start} to {DAY_NAMES.get(last, last)}" if last else start


def aria(field: Field, hint: str | None = None, required: bool = True) -> dict[str, str | bool]:
    """Accessibility attributes for a form field: its hint and error, if any."""
    described = []
    if hint:
        described.append(f"{field.id}-hint")
    attrs: dict[str, str | bool] = {}
    if field.errors:
        described.append(f"{field.id}-error")
        attrs["aria-invalid"] = "true"
    if described:
        attrs["aria-describedby"] = " ".join(described)
    if required and field.flags.required:
        attrs["aria-required"] = "true"
    return attrs


def clinic_theme_url(clinic) -> str | None:  # type: ignore[no-untyped-def]
    """The address of the clinic's stylesheet (its colours), or None: the site's own."""
    from leads.services import look

    text = look.stylesheet(clinic.brand_colour or "", clinic.accent_colour or "")
    if not text:
        return None
    return url_for(
        "public.clinic_theme", clinic_slug=clinic.slug, digest=look.stylesheet_digest(text)
    )


def clinic_logo(clinic):  # type: ignore[no-untyped-def]
    """The HTML of the clinic's logo, or None."""
    return pictures.logo(clinic.id, clinic.logo or "")


# The staff areas: (endpoint, label, roles that see it). Shown when the endpoint exists.
STAFF_SECTIONS: list[tuple[str, str, tuple[str, ...]]] = [
    ("inbox.index", "Leads", ("admin", "manager")),
    ("editor.index", "Pages", ("admin", "marketing")),
    ("media.library", "Media", ("admin", "marketing")),
    ("reports.index", "Reports", ("admin", "manager", "marketing")),
    ("privacy.quarantine", "Quarantine", ("admin", "manager")),
    ("privacy.subject", "Subject access", ("admin",)),
    ("clinics.index", "Clinics", ("admin",)),
    ("admin.users", "Users", ("admin",)),
    ("admin.audit", "Audit log", ("admin",)),
    ("admin.deliveries_health", "Deliveries", ("admin",)),
]


def staff_sections() -> list[tuple[str, str, tuple[str, ...]]]:
    return [s for s in STAFF_SECTIONS if s[0] in current_app.view_functions]


def register(app: Flask) -> None:
    app.jinja_env.globals["staff_sections"] = staff_sections
    app.jinja_env.globals["aria"] = aria
    app.jinja_env.globals["picture"] = pictures.picture
    app.jinja_env.globals["clinic_theme_url"] = clinic_theme_url
    app.jinja_env.globals["clinic_logo"] = clinic_logo
    app.jinja_env.globals["site_name"] = "Clinic Leads"
    app.jinja_env.filters["markdown"] = content.render_markdown
    app.jinja_env.filters["plain"] = content.plain_text
    app.jinja_env.filters["safe_url"] = content.safe_url
    app.jinja_env.filters["phone"] = phones.display
    app.jinja_env.tests["listed_phone"] = phones.is_listed
    app.jinja_env.filters["days"] = days
    # Times staff see, in the lead's location's time zone (stored as naive UTC).
    app.jinja_env.filters["local"] = local_time
    app.jinja_env.filters["zone"] = zone_name


def local_time(moment, location, fmt: str = "%d %b %Y %H:%M") -> str:
    from leads.services.routing import local

    shown = local(moment, location)
    return shown.strftime(fmt) if shown else ""


def zone_name(moment, location) -> str:
    """The zone's short name at that moment (GMT, BST, CET)."""
    from leads.services.routing import local

    shown = local(moment, location)
    return shown.tzname() or "" if shown else ""
