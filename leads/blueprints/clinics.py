"""Clinic setup, for admins: clinics, locations, treatments and each treatment's
page template. Every change is a POST with a CSRF token; archiving keeps leads."""

from __future__ import annotations

from types import SimpleNamespace

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_login import current_user
from werkzeug.wrappers import Response
from wtforms.fields.choices import SelectChoice

from leads import seo
from leads.auth import roles_required
from leads.claims import find_claims
from leads.content import render_markdown
from leads.extensions import db
from leads.forms.admin import ConfirmForm
from leads.forms.clinics import (
    ClinicForm,
    NewClinicForm,
    NewLocationForm,
    NewTreatmentForm,
    PractitionerForm,
    TemplateForm,
    TreatmentForm,
    routing_rule_form,
)
from leads.forms.consultation import ConsultationForm
from leads.forms.editor import LocationForm, PublishForm, format_hours
from leads.models import Clinic, Location, Practitioner, RoutingRule, Treatment
from leads.services import (
    clinics,
    editor,
    media,
    pages,
    practitioners,
    routing,
    scope,
    treatment_templates,
)
from leads.services.clinics import ClinicDetails, LocationDetails, SetupError
from leads.services.practitioners import PractitionerDetails

bp = Blueprint("clinics", __name__, url_prefix="/admin")


@bp.before_request
@roles_required("admin")
def admins_only() -> None:
    """Every view of this blueprint: admins only."""


@bp.after_request
def no_store(response: Response) -> Response:
    response.headers["Cache-Control"] = "no-store"
    return response


def _clinic(clinic_id: int) -> Clinic:
    return clinics.get_clinic(clinic_id) or abort(404)


def _location(location_id: int) -> Location:
    return clinics.get_location(location_id) or abort(404)


def _treatment(treatment_id: int) -> Treatment:
    return clinics.get_treatment(treatment_id) or abort(404)


def _archive_flag() -> bool:
    if not ConfirmForm().validate_on_submit():
        abort(400)
    return request.form.get("archived") == "1"


# -- clinics -----------------------------------------------------------------------


@bp.get("/clinics/")
def index() -> str:
    return render_template("clinics/index.html", clinics=clinics.all_clinics())


@bp.route("/clinics/new", methods=["GET", "POST"])
def new_clinic() -> Response | tuple[str, int]:
    form = NewClinicForm()
    if form.validate_on_submit():
        try:
            clinic = clinics.create_clinic(
                form.slug.data, _clinic_details(form), current_user, inbox=form.inbox.data or None
            )
        except SetupError as exc:
            form[exc.field].errors.append(exc.message)
        else:
            flash(f"{clinic.name} created. Add its locations and treatments next.", "info")
            return redirect(url_for(".clinic", clinic_id=clinic.id), code=303)
    html = render_template("clinics/clinic_new.html", form=form)
    return html, (422 if form.errors else 200)


@bp.route("/clinics/<int:clinic_id>/", methods=["GET", "POST"])
def clinic(clinic_id: int) -> Response | tuple[str, int]:
    found = _clinic(clinic_id)
    form = ClinicForm(obj=found if request.method == "GET" else None)
    form.logo_choices(media.library(current_user, found.id))
    if form.validate_on_submit():
        try:
            clinics.update_clinic(found, _clinic_details(form), current_user)
        except SetupError as exc:
            form[exc.field].errors.append(exc.message)
        else:
            flash("Clinic saved.", "info")
            return redirect(url_for(".clinic", clinic_id=found.id), code=303)
    return _clinic_page(found, form)


def _clinic_page(found: Clinic, form: ClinicForm, rule_form=None) -> tuple[str, int]:
    staff = routing.staff_of(found)
    rule_form = rule_form or routing_rule_form(found, staff)
    html = render_template(
        "clinics/clinic.html",
        clinic=found,
        form=form,
        rule_form=rule_form,
        rules=routing.rules_of(found),
        templates={t.id: treatment_templates.template_for(t) for t in found.treatments},
        practitioners=practitioners.for_clinic(found),
    )
    return html, (422 if form.errors or rule_form.errors else 200)


@bp.post("/clinics/<int:clinic_id>/routing")
def save_routing_rule(clinic_id: int) -> Response | tuple[str, int]:
    found = _clinic(clinic_id)
    form = routing_rule_form(found, routing.staff_of(found))
    if form.validate_on_submit():
        try:
            routing.save_rule(
                found,
                form.location.data or None,
                form.treatment.data or None,
                form.members.data or [],
                form.channels.data or [],
                current_user,
            )
        except SetupError as exc:
            form[exc.field].errors.append(exc.message)
        else:
            flash("Routing rule saved.", "info")
            return redirect(url_for(".clinic", clinic_id=found.id) + "#routing", code=303)
    return _clinic_page(found, ClinicForm(obj=found), form)


@bp.post("/routing/<int:rule_id>/delete")
def delete_routing_rule(rule_id: int) -> Response:
    rule = db.session.get(RoutingRule, rule_id) or abort(404)
    if not ConfirmForm().validate_on_submit():
        abort(400)
    clinic_id = rule.clinic_id
    routing.delete_rule(rule, current_user)
    flash("Routing rule removed.", "info")
    return redirect(url_for(".clinic", clinic_id=clinic_id) + "#routing", code=303)


def _clinic_details(form: ClinicForm) -> ClinicDetails:
    return ClinicDetails(
        name=form.name.data,
        tagline=form.tagline.data or "",
        retention_months=form.retention_months.data,
        sla_minutes=form.sla_minutes.data,
        escalate_to=form.escalate_to.data or "",
        brand_colour=form.brand_colour.data or "",
        accent_colour=form.accent_colour.data or "",
        logo=form.logo.data or "",
    )


@bp.post("/clinics/<int:clinic_id>/archive")
def archive_clinic(clinic_id: int) -> Response:
    found = _clinic(clinic_id)
    archived = _archive_flag()
    clinics.set_clinic_archived(found, archived, current_user)
    flash(
        f"{found.name} archived: its pages take no requests; its leads stay."
        if archived
        else f"{found.name} restored.",
        "info",
    )
    return redirect(url_for(".clinic", clinic_id=found.id), code=303)


# -- locations ---------------------------------------------------------------------


@bp.route("/clinics/<int:clinic_id>/locations/new", methods=["GET", "POST"])
def new_location(clinic_id: int) -> Response | tuple[str, int]:
    found = _clinic(clinic_id)
    form = NewLocationForm()
    form.treatments.choices = [(t.id, t.name) for t in clinics.live_treatments(found)]
    if request.method == "GET":
        form.time_zone.data = "Europe/London"
    if form.validate_on_submit():
        try:
            location = clinics.create_location(
                found,
                form.slug.data,
                _location_details(form),
                form.treatments.data or [],
                current_user,
            )
        except SetupError as exc:
            form[exc.field].errors.append(exc.message)
        else:
            flash(f"{location.name} added. Its pages are drafts until you publish.", "info")
            return redirect(url_for(".clinic", clinic_id=found.id), code=303)
    html = render_template("clinics/location.html", clinic=found, location=None, form=form)
    return html, (422 if form.errors else 200)


@bp.route("/locations/<int:location_id>/", methods=["GET", "POST"])
def location(location_id: int) -> Response | tuple[str, int]:
    found = _location(location_id)
    form = LocationForm()
    form.treatments.choices = [
        (t.id, t.name) for t in found.clinic.treatments if t.archived_at is None or found.offers(t)
    ]
    if request.method == "GET":
        form.process(obj=found)
        form.opening_hours.data = format_hours(found.opening_hours)
        form.treatments.data = [t.id for t in found.treatments]
    if form.validate_on_submit():
        clinics.update_location(
            found, _location_details(form), form.treatments.data or [], current_user
        )
        flash("Location saved. Its pages show the new details now.", "info")
        return redirect(url_for(".clinic", clinic_id=found.clinic_id), code=303)
    html = render_template("clinics/location.html", clinic=found.clinic, location=found, form=form)
    return html, (422 if form.errors else 200)


def _location_details(form: LocationForm) -> LocationDetails:
    return LocationDetails(
        name=form.name.data,
        street=form.street.data,
        city=form.city.data,
        postcode=form.postcode.data,
        phone=form.phone.data,
        opening_hours=form.opening_hours.parsed,
        time_zone=form.time_zone.data,
        nation=form.nation.data or "england",
    )


@bp.post("/locations/<int:location_id>/archive")
def archive_location(location_id: int) -> Response:
    found = _location(location_id)
    archived = _archive_flag()
    clinics.set_location_archived(found, archived, current_user)
    flash(
        f"{found.name} archived: its pages send patients to the clinic's other pages; "
        "its leads stay."
        if archived
        else f"{found.name} restored.",
        "info",
    )
    return redirect(url_for(".clinic", clinic_id=found.clinic_id), code=303)


@bp.post("/locations/<int:location_id>/publish")
def publish_location(location_id: int) -> Response:
    found = _location(location_id)
    if not ConfirmForm().validate_on_submit():
        abort(400)
    try:
        count = clinics.publish_location(found, current_user)
    except SetupError as exc:
        flash(exc.message, "error")
    else:
        flash(
            f"Published {count} page{'s' if count != 1 else ''} of {found.name}."
            if count
            else f"Every page of {found.name} is published already.",
            "info",
        )
    return redirect(url_for(".clinic", clinic_id=found.clinic_id), code=303)


# -- practitioners -----------------------------------------------------------------


@bp.route("/clinics/<int:clinic_id>/practitioners/new", methods=["GET", "POST"])
def new_practitioner(clinic_id: int) -> Response | tuple[str, int]:
    return _practitioner_form(_clinic(clinic_id), None)


@bp.route("/practitioners/<int:practitioner_id>/", methods=["GET", "POST"])
def practitioner(practitioner_id: int) -> Response | tuple[str, int]:
    person = practitioners.get(practitioner_id) or abort(404)
    return _practitioner_form(person.clinic, person)


@bp.post("/practitioners/<int:practitioner_id>/remove")
def remove_practitioner(practitioner_id: int) -> Response:
    person = practitioners.get(practitioner_id) or abort(404)
    if not ConfirmForm().validate_on_submit():
        abort(400)
    clinic_id, name = person.clinic_id, person.name
    practitioners.remove(person, current_user)
    flash(f"{name} removed from the clinic's practitioners.", "info")
    return redirect(url_for(".clinic", clinic_id=clinic_id), code=303)


def _practitioner_form(clinic: Clinic, person: Practitioner | None) -> Response | tuple[str, int]:
    form = PractitionerForm(obj=person if request.method == "GET" else None)
    form.photo_choices(media.library(current_user, clinic.id))
    form.locations.choices = [SelectChoice(loc.id, loc.name) for loc in clinic.locations]
    if request.method == "GET" and person is not None:
        form.locations.data = [loc.id for loc in person.locations]
    if form.validate_on_submit():
        details = PractitionerDetails(
            name=form.name.data or "",
            role=form.role.data or "",
            registration_body=form.registration_body.data or "",
            registration_number=form.registration_number.data or "",
            photo=form.photo.data or "",
            bio=form.bio.data or "",
            location_ids=tuple(form.locations.data or ()),
        )
        try:
            saved = practitioners.save(clinic, details, current_user, person)
        except SetupError as exc:
            form[exc.field].errors.append(exc.message)
        else:
            flash(f"{saved.name} saved.", "info")
            return redirect(url_for(".clinic", clinic_id=clinic.id), code=303)
    html = render_template(
        "clinics/practitioner.html", clinic=clinic, practitioner=person, form=form
    )
    return html, (422 if form.errors else 200)


# -- treatments --------------------------------------------------------------------


@bp.route("/clinics/<int:clinic_id>/treatments/new", methods=["GET", "POST"])
def new_treatment(clinic_id: int) -> Response | tuple[str, int]:
    found = _clinic(clinic_id)
    form = NewTreatmentForm()
    form.locations.choices = [(loc.id, loc.name) for loc in clinics.live_locations(found)]
    if form.validate_on_submit():
        try:
            treatment = clinics.create_treatment(
                found,
                form.slug.data,
                form.name.data,
                form.summary.data or "",
                form.locations.data or [],
                current_user,
            )
        except SetupError as exc:
            form[exc.field].errors.append(exc.message)
        else:
            flash(f"{treatment.name} added. Write its page template next.", "info")
            return redirect(url_for(".template", treatment_id=treatment.id), code=303)
    html = render_template("clinics/treatment.html", clinic=found, treatment=None, form=form)
    return html, (422 if form.errors else 200)


@bp.route("/treatments/<int:treatment_id>/", methods=["GET", "POST"])
def treatment(treatment_id: int) -> Response | tuple[str, int]:
    found = _treatment(treatment_id)
    form = TreatmentForm(obj=found if request.method == "GET" else None)
    form.locations.choices = [
        (loc.id, loc.name)
        for loc in found.clinic.locations
        if loc.archived_at is None or loc.offers(found)
    ]
    if request.method == "GET":
        form.locations.data = [loc.id for loc in found.locations]
    if form.validate_on_submit():
        clinics.update_treatment(
            found, form.name.data, form.summary.data or "", form.locations.data or [], current_user
        )
        flash("Treatment saved.", "info")
        return redirect(url_for(".clinic", clinic_id=found.clinic_id), code=303)
    html = render_template(
        "clinics/treatment.html", clinic=found.clinic, treatment=found, form=form
    )
    return html, (422 if form.errors else 200)


@bp.post("/treatments/<int:treatment_id>/archive")
def archive_treatment(treatment_id: int) -> Response:
    found = _treatment(treatment_id)
    archived = _archive_flag()
    clinics.set_treatment_archived(found, archived, current_user)
    flash(
        f"{found.name} archived: its pages send patients to each location's page; its leads stay."
        if archived
        else f"{found.name} restored.",
        "info",
    )
    return redirect(url_for(".clinic", clinic_id=found.clinic_id), code=303)


# -- a treatment's page template -----------------------------------------------------


@bp.route("/treatments/<int:treatment_id>/template", methods=["GET", "POST"])
def template(treatment_id: int) -> Response | tuple[str, int]:
    found = _treatment(treatment_id)
    saved = treatment_templates.template_for(found)
    form = TemplateForm()
    if request.method == "GET":
        if saved is not None:
            for name, value in saved.content().items():
                form[name].data = value
        else:
            form.title.data = f"{found.name} at {{location}}"
            form.heading.data = f"{found.name} in {{city}}"
            form.cta_text.data = "Book a consultation"
    if form.validate_on_submit():
        try:
            applied = treatment_templates.save_template(found, form.content(), current_user)
        except SetupError as exc:
            form[exc.field].errors.append(exc.message)
        else:
            message = f"Template saved and filled in at {len(applied.updated)} location(s)."
            if applied.overridden:
                message += f" {len(applied.overridden)} location(s) keep their own version."
            flash(message + " Patients see it once you publish.", "info")
            if applied.claims:
                flash(
                    "Check the advertising rules: this template says "
                    + ", ".join(f"“{c}”" for c in applied.claims)
                    + ". Publishing will ask you to confirm these claims.",
                    "error",
                )
            return redirect(url_for(".template", treatment_id=found.id), code=303)
    html = render_template(
        "clinics/template.html",
        clinic=found.clinic,
        treatment=found,
        saved=saved,
        form=form,
        uses=treatment_templates.uses(found),
        placeholders=treatment_templates.PLACEHOLDERS,
        publish_form=_publish_form(found),
        claims=find_claims(saved.content()) if saved else [],
    )
    return html, (422 if form.errors else 200)


def _publish_form(treatment: Treatment) -> PublishForm:
    saved = treatment_templates.template_for(treatment)
    form = PublishForm()
    if request.method == "GET" or not form.claims.data:
        form.claims.data = "|".join(find_claims(saved.content())) if saved else ""
    return form


@bp.get("/treatments/<int:treatment_id>/template/preview/<int:location_id>")
def preview_template(treatment_id: int, location_id: int) -> str:
    """The saved template filled in with one location's facts, as patients would see it."""
    found = _treatment(treatment_id)
    place = _location(location_id)
    saved = treatment_templates.template_for(found)
    if saved is None or place.clinic_id != found.clinic_id:
        abort(404)
    content = SimpleNamespace(**treatment_templates.fill(saved.content(), place))
    treatment_pages = pages.published_treatment_pages(place)
    return render_template(
        "public/landing.html",
        clinic=place.clinic,
        location=place,
        treatment=found,
        page=content,
        body=render_markdown(content.body),
        treatment_pages=treatment_pages,
        canonical_url=seo.treatment_url(place, found),
        json_ld=seo.clinic_json_ld(place, found, treatment_pages),
        form=ConsultationForm().setup(place, found),
        preview=True,
        preview_back=url_for(".template", treatment_id=found.id),
    )


@bp.post("/treatments/<int:treatment_id>/template/publish")
def publish_template(treatment_id: int) -> Response:
    found = _treatment(treatment_id)
    form = PublishForm()
    if not form.validate_on_submit():
        abort(400)
    try:
        count = treatment_templates.publish_following(found, current_user, form.confirmed())
    except editor.ClaimsNeedConfirmation as exc:
        flash(
            "Please tick the box to confirm these claims, or change the template first: "
            + ", ".join(exc.claims),
            "error",
        )
    else:
        flash(
            f"Published {count} page(s) that follow the template."
            if count
            else "Every page that follows the template is published already.",
            "info",
        )
    return redirect(url_for(".template", treatment_id=found.id), code=303)


@bp.post("/pages/<int:page_id>/follow-template")
def follow_template(page_id: int) -> Response:
    page = scope.page_for_editing(current_user, page_id) or abort(404)
    if not ConfirmForm().validate_on_submit():
        abort(400)
    if page.treatment is None:
        abort(404)
    try:
        treatment_templates.follow_template(page, current_user)
    except SetupError as exc:
        flash(exc.message, "error")
    else:
        flash(f"{page.location.name} follows the template again (a draft until published).", "info")
    return redirect(url_for(".template", treatment_id=page.treatment_id), code=303)
