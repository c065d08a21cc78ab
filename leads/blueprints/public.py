"""What patients see: the directory, location and treatment pages, the form."""

from __future__ import annotations

from flask import (
    Blueprint,
    abort,
    current_app,
    make_response,
    redirect,
    render_template,
    request,
    url_for,
)
from werkzeug.wrappers import Response

from leads import attribution, seo, spam
from leads.content import render_revision
from leads.extensions import limiter
from leads.forms.consultation import ConsultationForm
from leads.queue import state
from leads.security import client_key
from leads.services import page_views, pages
from leads.services.leads import Enquiry, submit_lead

bp = Blueprint("public", __name__)

# A flood from one address gets 429 (FORM_POST_LIMIT, high); below that the
# spam traps decide, and a caught submission is kept in quarantine.
form_posts = limiter.shared_limit(
    lambda: current_app.config["FORM_POST_LIMIT"],
    scope="form-post",
    key_func=client_key,
    methods=["POST"],
)


# Staff areas that search engines are asked to leave alone.
STAFF_PREFIXES = (
    "/staff/",
    "/inbox/",
    "/editor/",
    "/admin/",
    "/privacy/",
    "/reports/",
    "/login",
    "/logout",
)


@bp.get("/")
def index() -> Response:
    response = make_response(
        render_template("public/index.html", clinics=pages.clinics_for_directory())
    )
    return _revalidate(response)


@bp.get("/sitemap.xml")
def sitemap() -> Response:
    xml = render_template(
        "public/sitemap.xml",
        entries=pages.sitemap_entries(),
        base=seo.public_url("public.index").rstrip("/"),
    )
    response = make_response(xml)
    response.mimetype = "application/xml"
    response.cache_control.public = True
    response.cache_control.max_age = 300
    return _revalidate(response, keep_cache_control=True)


@bp.get("/robots.txt")
def robots() -> Response:
    text = render_template(
        "public/robots.txt",
        disallow=STAFF_PREFIXES,
        sitemap_url=seo.public_url("public.sitemap"),
    )
    response = make_response(text)
    response.mimetype = "text/plain"
    response.cache_control.public = True
    response.cache_control.max_age = 3600
    return _revalidate(response, keep_cache_control=True)


@bp.route("/<clinic_slug>/<location_slug>/", methods=["GET", "POST"])
@form_posts
def location_page(clinic_slug: str, location_slug: str) -> Response | tuple[str, int]:
    return _landing(clinic_slug, location_slug, None)


@bp.route("/<clinic_slug>/<location_slug>/<treatment_slug>/", methods=["GET", "POST"])
@form_posts
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
    landing = pages.landing_or_404(clinic_slug, location_slug, treatment_slug)
    if request.method == "GET":
        attribution.capture()
    form = ConsultationForm().setup(landing.location, landing.treatment)
    if form.validate_on_submit():
        stamp = form.stamp()
        verdict = spam.assess(
            form.website.data,
            stamp,
            form_key=f"{landing.location.id}.{landing.treatment.id if landing.treatment else 0}",
        )
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
                consent_digest=stamp.consent_digest if stamp else None,
            ),
            landing.location,
            landing.page,
            attribution.current(),
            verdict,
        )
        return redirect(
            url_for(".thank_you", clinic_slug=clinic_slug, location_slug=location_slug), code=303
        )
    revision = landing.page.published
    treatment_pages = pages.published_treatment_pages(landing.location)
    html = render_template(
        "public/landing.html",
        clinic=landing.location.clinic,
        location=landing.location,
        treatment=landing.treatment,
        page=revision,
        # Cached by revision id: a page view renders no Markdown.
        body=render_revision(revision.id, revision.body),
        treatment_pages=treatment_pages,
        canonical_url=_canonical(landing),
        json_ld=seo.clinic_json_ld(landing.location, landing.treatment, treatment_pages),
        form=form,
    )
    response = make_response(html, 422 if form.errors else 200)
    if request.method == "GET":
        page_views.count_view(state(current_app).redis, landing.page.id, request.user_agent.string)
    # The page carries this visitor's form tokens (CSRF, one-time submission
    # token), so no shared cache may keep it and no 304 may hand back an old
    # copy: browsers ask again each time. Last-Modified tells crawlers when
    # the published revision changed.
    response.cache_control.private = True
    response.cache_control.no_cache = True
    response.last_modified = revision.created_at
    response.vary.add("Cookie")
    return response


def _canonical(landing: pages.Landing) -> str:
    if landing.treatment is None:
        return seo.location_url(landing.location)
    return seo.treatment_url(landing.location, landing.treatment)


def _revalidate(response: Response, keep_cache_control: bool = False) -> Response:
    """An ETag from the content, and a 304 when the client has it already."""
    if not keep_cache_control:
        response.cache_control.no_cache = True
    response.add_etag()
    return response.make_conditional(request)
