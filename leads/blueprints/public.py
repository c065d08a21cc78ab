"""What patients see: the directory, location and treatment pages, the form."""

from __future__ import annotations

from flask import Blueprint, abort, redirect, render_template, request, url_for
from werkzeug.wrappers import Response

from leads import attribution, page_cache
from leads.content import render_revision
from leads.forms.consultation import ConsultationForm
from leads.services import pages
from leads.services.leads import Enquiry, submit_lead

bp = Blueprint("public", __name__)


@bp.get("/")
def index() -> str:
    return render_template("public/index.html", clinics=pages.clinics_for_directory())


@bp.route("/<clinic_slug>/<location_slug>/", methods=["GET", "POST"])
def location_page(clinic_slug: str, location_slug: str) -> Response | tuple[str, int]:
    return _landing(clinic_slug, location_slug, None)


@bp.route("/<clinic_slug>/<location_slug>/<treatment_slug>/", methods=["GET", "POST"])
def treatment_page(
    clinic_slug: str, location_slug: str, treatment_slug: str
) -> Response | tuple[str, int]:
    return _landing(clinic_slug, location_slug, treatment_slug)


@bp.get("/<clinic_slug>/<location_slug>/thank-you/")
def thank_you(clinic_slug: str, location_slug: str) -> str:
    location = pages.find_location(clinic_slug, location_slug)
    if location is None:
        abort(404)
    return render_template("public/thank_you.html", location=location, clinic=location.clinic)


def _landing(
    clinic_slug: str, location_slug: str, treatment_slug: str | None
) -> Response | tuple[str, int]:
    version = None
    if request.method == "GET":
        attribution.capture()
        html, version = page_cache.get()
        if html:
            return html, 200
    landing = pages.landing_or_404(clinic_slug, location_slug, treatment_slug)
    form = ConsultationForm().setup(landing.location, landing.treatment)
    if form.validate_on_submit():
        submit_lead(
            Enquiry(
                full_name=form.full_name.data,
                email=form.email.data,
                phone=form.phone.data,
                treatment=form.chosen_treatment(),
                contact_method=form.contact_method.data,
                contact_time=form.contact_time.data,
                message=form.message.data or "",
                consent_enquiry=form.consent_enquiry.data,
                marketing_opt_in=form.marketing_opt_in.data,
                submission_token=form.submission_token.data,
            ),
            landing.location,
            landing.page,
            attribution.current(),
        )
        return redirect(
            url_for(".thank_you", clinic_slug=clinic_slug, location_slug=location_slug), code=303
        )
    revision = landing.page.published
    html = render_template(
        "public/landing.html",
        clinic=landing.location.clinic,
        location=landing.location,
        treatment=landing.treatment,
        page=revision,
        body=render_revision(revision.id, revision.body),
        treatment_pages=pages.published_treatment_pages(landing.location),
        form=form,
    )
    if request.method == "GET":
        page_cache.put(html, version, form.csrf_token.current_token, form.submission_token.data)
    return html, (422 if form.errors else 200)
