"""The page editor: marketing and admins write, preview, publish and restore pages.

Admins also edit the clinic and location details that every page shows.
No view here reads a lead: marketing staff never see a patient's details.
Every change is a POST with a CSRF token; GET requests change nothing.
"""

from __future__ import annotations

from types import SimpleNamespace

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_login import current_user
from werkzeug.wrappers import Response

from leads import seo
from leads.auth import roles_required
from leads.claims import find_claims
from leads.content import render_markdown
from leads.extensions import db
from leads.forms.consultation import ConsultationForm
from leads.forms.editor import (
    ActionForm,
    ClinicForm,
    LocationForm,
    PageForm,
    PublishForm,
    format_hours,
)
from leads.input_guard import db_id
from leads.models import Location, Page, Treatment
from leads.services import editor, locations, pages

bp = Blueprint("editor", __name__, url_prefix="/editor")


@bp.before_request
@roles_required("marketing", "admin")
def staff_only() -> None:
    """Marketing and admins only; managers are refused unless they are admins."""


@bp.after_request
def not_stored(response: Response) -> Response:
    response.cache_control.no_store = True
    response.cache_control.private = True
    return response


# -- the list ---------------------------------------------------------------


@bp.get("/")
def index() -> str:
    return render_template(
        "editor/index.html", overview=editor.pages_overview(), state=editor.page_state
    )


# -- creating and editing -----------------------------------------------------


@bp.route("/pages/new", methods=["GET", "POST"])
def create() -> Response | tuple[str, int]:
    location = db.session.get(Location, db_id(request.args.get("location")) or 0)
    if location is None:
        abort(404)
    treatment = None
    if request.args.get("treatment"):
        treatment = db.session.get(Treatment, db_id(request.args.get("treatment")) or 0)
        if treatment is None or not location.offers(treatment):
            abort(404)
    form = PageForm(treatment_page=treatment is not None)
    if request.method == "GET":
        _new_page_defaults(form, location, treatment)
    if form.validate_on_submit():
        try:
            saved = editor.create_page(
                location, treatment, form.content(), current_user, slug=form.slug.data
            )
        except editor.SlugError as exc:
            form.slug.errors.append(str(exc))
        except editor.EditorError as exc:
            flash(str(exc), "error")
            return redirect(url_for(".index"), code=303)
        else:
            _flash_saved(saved)
            return redirect(url_for(".edit", page_id=saved.page.id), code=303)
    html = render_template(
        "editor/edit.html",
        form=form,
        page=None,
        location=location,
        treatment=treatment,
        claims=[],
        state="new",
    )
    return html, (422 if form.errors else 200)


@bp.route("/pages/<int:page_id>/", methods=["GET", "POST"])
def edit(page_id: int) -> Response | tuple[str, int]:
    page = _page_or_404(page_id)
    form = PageForm(treatment_page=page.treatment is not None)
    if request.method == "GET":
        for name, value in page.content().items():
            form[name].data = value
        form.slug.data = editor.page_slug(page)
    if form.validate_on_submit():
        try:
            saved = editor.save_draft(page, form.content(), current_user, slug=form.slug.data)
        except editor.SlugError as exc:
            form.slug.errors.append(str(exc))
        else:
            _flash_saved(saved)
            return redirect(url_for(".edit", page_id=page.id), code=303)
    html = render_template(
        "editor/edit.html",
        form=form,
        page=page,
        location=page.location,
        treatment=page.treatment,
        claims=find_claims(page.content()),
        state=editor.page_state(page),
        action_form=ActionForm(),
    )
    return html, (422 if form.errors else 200)


def _new_page_defaults(form: PageForm, location: Location, treatment: Treatment | None) -> None:
    subject = f"{treatment.name} at {location.name}" if treatment else location.name
    form.title.data = subject
    form.heading.data = subject
    form.cta_text.data = "Book a consultation"
    form.slug.data = treatment.slug if treatment else location.slug


def _flash_saved(saved: editor.Saved) -> None:
    message = "Draft saved. Patients still see the published version until you publish."
    if saved.slug_changed:
        message += " The new address works now; the old one redirects to it."
    flash(message, "info")
    if saved.claims:
        flash(
            "Check the advertising rules: this page says "
            + ", ".join(f"“{c}”" for c in saved.claims)
            + ". Publishing it will ask you to confirm these claims.",
            "error",
        )


# -- previews -------------------------------------------------------------------


@bp.get("/pages/<int:page_id>/preview")
def preview(page_id: int) -> str:
    """The saved draft, exactly as the public page would show it."""
    page = _page_or_404(page_id)
    return _render_preview(page, page)


@bp.post("/pages/<int:page_id>/preview")
def preview_unsaved(page_id: int) -> tuple[str, int] | str:
    """What is in the edit form now, without saving it (the form's Preview button)."""
    page = _page_or_404(page_id)
    form = PageForm(treatment_page=page.treatment is not None)
    if not form.validate_on_submit():
        html = render_template(
            "editor/edit.html",
            form=form,
            page=page,
            location=page.location,
            treatment=page.treatment,
            claims=[],
            state=editor.page_state(page),
            action_form=ActionForm(),
        )
        return html, 422
    return _render_preview(page, SimpleNamespace(**form.content()))


def _render_preview(page: Page, content: object) -> str:
    location, treatment = page.location, page.treatment
    treatment_pages = pages.published_treatment_pages(location)
    canonical = seo.treatment_url(location, treatment) if treatment else seo.location_url(location)
    return render_template(
        "public/landing.html",
        clinic=location.clinic,
        location=location,
        treatment=treatment,
        page=content,
        body=render_markdown(content.body),
        treatment_pages=treatment_pages,
        canonical_url=canonical,
        json_ld=seo.clinic_json_ld(location, treatment, treatment_pages),
        form=ConsultationForm().setup(location, treatment),
        preview=True,
        preview_back=url_for(".edit", page_id=page.id),
    )


# -- publishing -----------------------------------------------------------------


@bp.route("/pages/<int:page_id>/publish", methods=["GET", "POST"])
def publish(page_id: int) -> Response | tuple[str, int]:
    page = _page_or_404(page_id)
    form = PublishForm()
    claims = find_claims(page.content())
    if request.method == "GET":
        form.claims.data = "|".join(claims)
    if form.validate_on_submit():
        try:
            revision = editor.publish_page(
                page, current_user, note=form.note.data or "", confirmed=form.confirmed()
            )
        except editor.ClaimsNeedConfirmation as exc:
            claims = exc.claims
            form.claims.data = "|".join(claims)
            form.confirm_claims.errors.append(
                "Please confirm the claims listed above, or change the copy first."
            )
        else:
            flash(f"Published revision {revision.number}. Patients see it now.", "info")
            return redirect(url_for(".edit", page_id=page.id), code=303)
    changes = editor.compare(page.published, page) if page.published else []
    html = render_template(
        "editor/publish.html",
        page=page,
        form=form,
        claims=claims,
        changes=changes,
        title=_page_label(page),
    )
    return html, (422 if form.errors else 200)


@bp.post("/pages/<int:page_id>/unpublish")
def unpublish(page_id: int) -> Response:
    page = _page_or_404(page_id)
    if ActionForm().validate_on_submit():
        editor.unpublish_page(page, current_user)
        flash("Unpublished. Patients now get a “page not found” at its address.", "info")
    return redirect(url_for(".edit", page_id=page.id), code=303)


# -- history ----------------------------------------------------------------------


@bp.get("/pages/<int:page_id>/revisions/")
def history(page_id: int) -> str:
    page = _page_or_404(page_id)
    return render_template("editor/history.html", page=page, title=_page_label(page))


@bp.get("/pages/<int:page_id>/revisions/<int:number>")
def compare(page_id: int, number: int) -> str:
    page = _page_or_404(page_id)
    revision = editor.get_revision(page, number) or abort(404)
    claims = find_claims(revision.content())
    form = PublishForm(claims="|".join(claims))
    # Against the draft by default; ?against=live compares with what patients see.
    against_live = request.args.get("against") == "live" and page.published is not None
    return render_template(
        "editor/compare.html",
        page=page,
        revision=revision,
        changes=editor.compare(revision, page.published if against_live else page),
        against_live=against_live,
        claims=claims,
        form=form,
        title=_page_label(page),
    )


@bp.post("/pages/<int:page_id>/revisions/<int:number>/restore")
def restore(page_id: int, number: int) -> Response | tuple[str, int]:
    page = _page_or_404(page_id)
    revision = editor.get_revision(page, number) or abort(404)
    form = PublishForm()
    if form.validate_on_submit():
        try:
            new = editor.restore_revision(page, revision, current_user, form.confirmed())
        except editor.ClaimsNeedConfirmation:
            flash("Please confirm the claims in that revision before restoring it.", "error")
            return redirect(url_for(".compare", page_id=page.id, number=number), code=303)
        flash(f"Revision {number} is live again, as revision {new.number}.", "info")
        return redirect(url_for(".edit", page_id=page.id), code=303)
    return redirect(url_for(".compare", page_id=page.id, number=number), code=303)


# -- clinic and location details (admins) --------------------------------------------


@bp.route("/clinics/<int:clinic_id>/", methods=["GET", "POST"])
@roles_required("admin")
def clinic_details(clinic_id: int) -> Response | tuple[str, int]:
    clinic = locations.get_clinic(clinic_id) or abort(404)
    form = ClinicForm(obj=clinic)
    if form.validate_on_submit():
        locations.update_clinic(clinic, form.name.data, form.tagline.data or "", current_user)
        flash("Clinic details saved. Every page shows them now.", "info")
        return redirect(url_for(".index"), code=303)
    html = render_template("editor/clinic.html", clinic=clinic, form=form)
    return html, (422 if form.errors else 200)


@bp.route("/locations/<int:location_id>/", methods=["GET", "POST"])
@roles_required("admin")
def location_details(location_id: int) -> Response | tuple[str, int]:
    location = locations.get_location(location_id) or abort(404)
    form = LocationForm()
    form.treatments.choices = locations.treatment_choices(location)
    if request.method == "GET":
        form.process(obj=location)
        form.opening_hours.data = format_hours(location.opening_hours)
        form.treatments.data = [t.id for t in location.treatments]
    if form.validate_on_submit():
        details = {
            name: form[name].data
            for name in ("name", "street", "city", "postcode", "phone", "time_zone")
        }
        details["opening_hours"] = form.opening_hours.parsed
        locations.update_location(location, details, form.treatments.data or [], current_user)
        flash("Location details saved. Every page of this location shows them now.", "info")
        return redirect(url_for(".index"), code=303)
    html = render_template("editor/location.html", location=location, form=form)
    return html, (422 if form.errors else 200)


# -- helpers ----------------------------------------------------------------------


def _page_or_404(page_id: int) -> Page:
    page = editor.get_page(page_id)
    if page is None:
        abort(404)
    return page


def _page_label(page: Page) -> str:
    label = page.location.clinic.name + ", " + page.location.name
    return label + (f": {page.treatment.name}" if page.treatment else "")
