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

from leads import pictures, seo
from leads.auth import roles_required
from leads.claims import find_claims
from leads.content import render_markdown
from leads.extensions import db
from leads.forms.consultation import ConsultationForm
from leads.forms.editor import (
    ClinicForm,
    LocationForm,
    PageForm,
    PrivacyNoticeForm,
    PublishForm,
    UnpublishForm,
    format_hours,
)
from leads.input_guard import db_id
from leads.models import Location, Page, PageRevision, Treatment
from leads.services import editor, locations, media, pages, practitioners, scope

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
        "editor/index.html",
        overview=editor.pages_overview(current_user),
        privacy=editor.privacy_notices(current_user),
        state=editor.page_state,
    )


# -- creating and editing -----------------------------------------------------


@bp.route("/pages/new", methods=["GET", "POST"])
def create() -> Response | tuple[str, int]:
    location = scope.location_for_editing(current_user, db_id(request.args.get("location")) or 0)
    if location is None:
        abort(404)
    treatment = None
    if request.args.get("treatment"):
        treatment = db.session.get(Treatment, db_id(request.args.get("treatment")) or 0)
        if treatment is None or not location.offers(treatment):
            abort(404)
    copy_from = None
    if request.args.get("copy_from"):
        copy_from = scope.page_for_editing(
            current_user, request.args.get("copy_from", type=int) or 0
        )
        if copy_from is None:
            abort(404)
    form = PageForm(treatment_page=treatment is not None)
    form.picture_choices(media.library(current_user, location.clinic_id))
    if request.method == "GET":
        _new_page_defaults(form, location, treatment)
        if copy_from is not None:
            for name, value in editor.copied_content(copy_from).items():
                form[name].data = value
    if form.validate_on_submit():
        try:
            saved = editor.create_page(
                location,
                treatment,
                {**form.content(), **form.pictures()},
                current_user,
                slug=form.slug.data,
            )
        except editor.SlugError as exc:
            form.slug.errors.append(str(exc))
        except editor.PictureError as exc:
            form[exc.field].errors.append(str(exc))
        except editor.EditorError as exc:
            form.form_errors.append(str(exc))
        else:
            _flash_saved(saved, created=True)
            return redirect(url_for(".edit", page_id=saved.page.id), code=303)
    html = render_template(
        "editor/edit.html",
        form=form,
        page=None,
        location=location,
        treatment=treatment,
        claims=[],
        state="new",
        copy_sources=editor.copy_sources(current_user, treatment),
        copy_from=copy_from,
    )
    return html, (409 if form.form_errors else 422 if form.errors else 200)


@bp.route("/pages/<int:page_id>/", methods=["GET", "POST"])
def edit(page_id: int) -> Response | tuple[str, int]:
    page = _page_or_404(page_id)
    form = _form_for(page)
    if request.method == "GET":
        for name in _fields(form):
            form[name].data = getattr(page, name)
        if not page.is_privacy_notice:
            form.slug.data = editor.page_slug(page)
    if form.validate_on_submit():
        slug = None if page.is_privacy_notice else form.slug.data
        try:
            saved = editor.save_draft(page, _fields(form), current_user, slug=slug)
        except editor.SlugError as exc:
            form.slug.errors.append(str(exc))
        except editor.PictureError as exc:
            form[exc.field].errors.append(str(exc))
        else:
            _flash_saved(saved)
            return redirect(url_for(".edit", page_id=page.id), code=303)
    return _render_edit(page, form, find_claims(page.content())), (422 if form.errors else 200)


def _form_for(page: Page) -> PageForm | PrivacyNoticeForm:
    if page.is_privacy_notice:
        return PrivacyNoticeForm()
    form = PageForm(treatment_page=page.treatment is not None)
    form.picture_choices(media.library(current_user, page.clinic_id))
    return form


def _fields(form: PageForm | PrivacyNoticeForm) -> dict[str, str]:
    """What the form holds of the page: its words, and a landing page's pictures."""
    if isinstance(form, PageForm):
        return {**form.content(), **form.pictures()}
    return form.content()


def _render_edit(page: Page, form: PageForm | PrivacyNoticeForm, claims: list[str]) -> str:
    if page.is_privacy_notice:
        return render_template(
            "editor/privacy_notice.html",
            form=form,
            page=page,
            clinic=page.clinic,
            claims=claims,
            state=editor.page_state(page),
            address=_public_address(page),
        )
    return render_template(
        "editor/edit.html",
        form=form,
        page=page,
        location=page.location,
        treatment=page.treatment,
        claims=claims,
        state=editor.page_state(page),
    )


def _new_page_defaults(form: PageForm, location: Location, treatment: Treatment | None) -> None:
    subject = f"{treatment.name} at {location.name}" if treatment else location.name
    form.title.data = subject
    form.heading.data = subject
    form.cta_text.data = "Book a consultation"
    form.slug.data = treatment.slug if treatment else location.slug


def _flash_saved(saved: editor.Saved, created: bool = False) -> None:
    page = saved.page
    if not saved.changed:
        flash("Nothing to save: the draft is as it was.", "info")
        return
    message = "Page created as a draft." if created else "Draft saved."
    if page.published is None:
        fallback = _fallback(page)
        if fallback:
            instead = f"are sent to the location page, {fallback},"
        else:
            instead = "get a “page not found” page"
        message += f" It is not published: patients who open its address {instead}"
        message += " until you publish it."
    else:
        message += " Patients still see the published version until you publish."
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


@bp.post("/clinics/<int:clinic_id>/privacy-notice")
def create_privacy_notice(clinic_id: int) -> Response:
    """Start the clinic's privacy notice as a draft (or open the one it has)."""
    clinic = scope.clinic_for_editing(current_user, clinic_id) or abort(404)
    page = editor.create_privacy_notice(clinic, current_user)
    return redirect(url_for(".edit", page_id=page.id), code=303)


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
    form = _form_for(page)
    if not form.validate_on_submit():
        return _render_edit(page, form, []), 422
    return _render_preview(page, SimpleNamespace(**{**page.snapshot(), **_fields(form)}))


def _render_preview(page: Page, content: object) -> str:
    if page.is_privacy_notice:
        return render_template(
            "public/privacy_notice.html",
            clinic=page.clinic,
            page=content,
            body=render_markdown(content.body, pictures.for_clinic(page.clinic_id)),
            preview=True,
            preview_back=url_for(".edit", page_id=page.id),
        )
    location, treatment = page.location, page.treatment
    treatment_pages = pages.published_treatment_pages(location)
    canonical = seo.treatment_url(location, treatment) if treatment else seo.location_url(location)
    return render_template(
        "public/landing.html",
        clinic=location.clinic,
        location=location,
        treatment=treatment,
        page=content,
        body=render_markdown(content.body, pictures.for_clinic(page.clinic_id)),
        pictures=pictures.page_pictures(page.clinic_id, content.hero_image, content.gallery),
        team=(team := practitioners.at_location(location)),
        team_photos=practitioners.photos(team),
        treatment_pages=treatment_pages,
        canonical_url=canonical,
        json_ld=seo.clinic_json_ld(location, treatment, treatment_pages),
        form=ConsultationForm().setup(location, treatment),
        privacy_url=pages.privacy_notice_path(location.clinic),
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


@bp.route("/pages/<int:page_id>/unpublish", methods=["GET", "POST"])
def unpublish(page_id: int) -> Response | str:
    """GET asks for confirmation and says what patients will see instead; POST does it."""
    page = _page_or_404(page_id)
    form = UnpublishForm()
    fallback = _fallback(page)
    if form.validate_on_submit() and page.published is not None:
        editor.unpublish_page(page, current_user)
        if fallback:
            instead = f"Patients who open its address are sent to the location page, {fallback}."
        else:
            instead = (
                f"Patients who open its address get a “page not found” page from "
                f"{page.clinic.name} with links to its locations."
            )
        flash("Unpublished. " + instead, "info")
        return redirect(url_for(".edit", page_id=page.id), code=303)
    if request.method == "POST":
        return redirect(url_for(".unpublish", page_id=page.id), code=303)
    return render_template(
        "editor/unpublish.html",
        page=page,
        form=form,
        fallback=fallback,
        address=_public_address(page),
        title=_page_label(page),
    )


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
    return _render_compare(page, revision, PublishForm(claims="|".join(claims)), claims)


def _render_compare(
    page: Page, revision: PageRevision, form: PublishForm, claims: list[str]
) -> str:
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
        except editor.ClaimsNeedConfirmation as exc:
            form.claims.data = "|".join(exc.claims)
            form.confirm_claims.errors.append(
                "Please confirm the claims in this revision before restoring it."
            )
            return _render_compare(page, revision, form, exc.claims), 422
        flash(f"Revision {number} is live again, as revision {new.number}.", "info")
        return redirect(url_for(".edit", page_id=page.id), code=303)
    return redirect(url_for(".compare", page_id=page.id, number=number), code=303)


# -- clinic and location details (admins) --------------------------------------------


@bp.route("/clinics/<int:clinic_id>/", methods=["GET", "POST"])
@roles_required("admin")
def clinic_details(clinic_id: int) -> Response | tuple[str, int]:
    clinic = scope.clinic_for_editing(current_user, clinic_id) or abort(404)
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
    location = scope.location_for_editing(current_user, location_id) or abort(404)
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
    """The page if the signed-in user may edit it; another clinic's page is a 404."""
    page = scope.page_for_editing(current_user, page_id)
    if page is None:
        abort(404)
    return page


def _fallback(page: Page) -> str | None:
    """Where patients of an unpublished page are sent; None: a not-found page."""
    if page.location is None:
        return None
    return pages.fallback_address(page.location, page.treatment)


def _public_address(page: Page) -> str:
    location = page.location
    if location is None:
        return url_for("public.privacy_notice", clinic_slug=page.clinic.slug)
    values = {"clinic_slug": location.clinic.slug, "location_slug": location.slug}
    if page.treatment is None:
        return url_for("public.location_page", **values)
    return url_for("public.treatment_page", treatment_slug=page.treatment.slug, **values)


def _page_label(page: Page) -> str:
    if page.location is None:
        return page.clinic.name + ": privacy notice"
    label = page.location.clinic.name + ", " + page.location.name
    return label + (f": {page.treatment.name}" if page.treatment else "")
