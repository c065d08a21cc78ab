"""What patients see: the directory, location and treatment pages, the form."""

from __future__ import annotations

import contextlib
import logging
import time
from typing import Any

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
from sqlalchemy.exc import InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from werkzeug.wrappers import Response

from leads import attribution, pictures, seo, spam
from leads.content import render_revision
from leads.extensions import csrf, db, limiter
from leads.forms.consultation import ConsultationForm
from leads.models import Location
from leads.security import client_key
from leads.services import (
    clinics,
    consent,
    landing_cache,
    look,
    page_views,
    pages,
    practitioners,
)
from leads.services.leads import Enquiry, StampAlreadyUsed, StorageUnavailable, submit_lead

bp = Blueprint("public", __name__)
log = logging.getLogger(__name__)

# One line above a form that came back for its stamp; the typed values stay.
STAMP_NOTICES = {
    spam.StampProblem.MISSING: "Please check your details and press the button again to send.",
    spam.StampProblem.FORGED: "Please check your details and press the button again to send.",
    spam.StampProblem.EXPIRED: (
        "This page was open for a long time. Please check your details and send again."
    ),
    spam.StampProblem.OTHER_FORM: "Please check your details and press the button again to send.",
    "used": (
        "This form was already used for another enquiry. "
        "Please check your details and press the button again to send."
    ),
}
# The typed values a 503 page gives back (never the stamp's one-time number in a URL).
KEPT_FIELDS = (
    "full_name",
    "email",
    "phone",
    "treatment",
    "contact_method",
    "contact_time",
    "message",
    "consent_enquiry",
    "marketing_opt_in",
    "rendered",
)

# A flood from one address gets 429 (FORM_POST_LIMIT, high); below that the
# spam traps decide, and a caught submission is kept in quarantine.
form_posts = limiter.shared_limit(
    lambda: current_app.config["FORM_POST_LIMIT"],
    scope="form-post",
    key_func=client_key,
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


@bp.after_request
def not_found_is_not_stored(response: Response) -> Response:
    """An address that answers 404 (``/<anything>/`` reaches the clinic page) is not
    kept by any cache, as for addresses that match no route at all."""
    if response.status_code == 404:
        response.cache_control.no_store = True
    return response


@bp.get("/c/<clinic_slug>/theme-<digest>.css")
def clinic_theme(clinic_slug: str, digest: str) -> Response:
    """The clinic's colours as a stylesheet; its address changes with them."""
    clinic = clinics.clinic_by_slug(clinic_slug)
    text = look.stylesheet(clinic.brand_colour, clinic.accent_colour) if clinic else ""
    if not text or digest != look.stylesheet_digest(text):
        abort(404)
    response = make_response(text)
    response.mimetype = "text/css"
    response.headers["Cache-Control"] = "public, max-age=31536000, immutable"
    return response


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


@bp.get("/<clinic_slug>/")
def clinic_page(clinic_slug: str) -> Response:
    """A clinic's open locations; where an archived location's pages send patients."""
    found = pages.clinic_or_404(clinic_slug)
    html = render_template("public/clinic.html", clinic=found.clinic, locations=found.locations)
    # An archived clinic takes no more requests: 410 tells search engines so.
    response = make_response(html, 410 if found.clinic.archived_at else 200)
    return _revalidate(response)


@bp.get("/<clinic_slug>/<location_slug>/")
def location_page(clinic_slug: str, location_slug: str) -> Response | tuple[str, int]:
    return _landing(clinic_slug, location_slug, None)


@bp.get("/<clinic_slug>/<location_slug>/<treatment_slug>/")
def treatment_page(
    clinic_slug: str, location_slug: str, treatment_slug: str
) -> Response | tuple[str, int]:
    return _landing(clinic_slug, location_slug, treatment_slug)


# The form's posts, apart from the views so that only they pay for the limiter.
@bp.post("/<clinic_slug>/<location_slug>/")
@csrf.exempt  # the form's signed stamp protects it: patients may have no cookies
@form_posts
def send_from_location_page(clinic_slug: str, location_slug: str) -> Response | tuple[str, int]:
    return _landing(clinic_slug, location_slug, None)


@bp.post("/<clinic_slug>/<location_slug>/<treatment_slug>/")
@csrf.exempt
@form_posts
def send_from_treatment_page(
    clinic_slug: str, location_slug: str, treatment_slug: str
) -> Response | tuple[str, int]:
    return _landing(clinic_slug, location_slug, treatment_slug)


@bp.get("/<clinic_slug>/privacy-notice/")
def privacy_notice(clinic_slug: str) -> Response:
    """The clinic's published privacy notice, at an address that never changes."""
    notice = pages.privacy_notice(clinic_slug)
    if notice is None:
        abort(404)
    revision = notice.page.published
    response = make_response(
        render_template(
            "public/privacy_notice.html",
            clinic=notice.clinic,
            page=revision,
            body=render_revision(revision.id, revision.body, pictures.for_clinic(notice.clinic.id)),
        )
    )
    response.last_modified = revision.created_at
    return _revalidate(response)


@bp.get("/<clinic_slug>/<location_slug>/thank-you/")
def thank_you(clinic_slug: str, location_slug: str) -> str:
    location = pages.find_location(clinic_slug, location_slug)
    if location is None:
        abort(404)
    return render_template("public/thank_you.html", location=location, clinic=location.clinic)


def _landing(
    clinic_slug: str, location_slug: str, treatment_slug: str | None
) -> Response | tuple[str, int]:
    key = (clinic_slug, location_slug, treatment_slug)
    version = None
    if request.method == "GET":
        version = landing_cache.content_version()
        kept = landing_cache.cache().get(key, version) if version is not None else None
        if kept is not None:
            return _page_view(kept)
    return _landing_afresh(key, version)


def _landing_afresh(
    key: tuple[str, str, str | None], version: int | None
) -> Response | tuple[str, int]:
    """A landing page looked up and rendered now: a form post, the first view
    of a revision in this process, or any view while Redis is away."""
    clinic_slug, location_slug, treatment_slug = key
    try:
        landing = pages.landing_or_404(
            clinic_slug, location_slug, treatment_slug, revision=request.method != "POST"
        )
    except pages.PageNotPublished as missing:
        if missing.fallback is None:
            abort(404)
        # 302, not 301: the page comes back when it is published again. A form
        # sent just as the page went (307) goes on to the location page with
        # everything typed, so the patient's words are never dropped.
        query = request.query_string.decode("utf-8", "replace")
        code = 307 if request.method == "POST" else 302
        return redirect(missing.fallback + (f"?{query}" if query else ""), code=code)
    form = ConsultationForm().setup(landing.location, landing.treatment)
    notice = None
    if form.is_submitted():
        problem: spam.StampProblem | str | None = form.stamp_problem()
        if form.validate() and problem is None:
            try:
                _send(form, landing)
            except StampAlreadyUsed:
                problem = "used"
            else:
                return redirect(
                    url_for(".thank_you", clinic_slug=clinic_slug, location_slug=location_slug),
                    code=303,
                )
        if problem is not None:
            # Never a dead end: the same page, what was typed, a fresh stamp.
            form.new_stamp(reissued=True)
            notice = STAMP_NOTICES[problem]
    context = landing_context(landing, form, notice)
    if not form.is_submitted():
        kept = landing_cache.KeptLanding(
            version if version is not None else -1,
            time.monotonic(),
            landing.page.id,
            form.form_key,
            landing.page.published.created_at,
            landing_cache.render_parts(context),
        )
        if version is not None:
            landing_cache.cache().put(key, kept)
        return _page_view(kept)
    # A form that came back: never kept for Back/Forward, so Back after a
    # later success shows the page afresh, not this old error state.
    response = make_response(render_template("public/landing.html", **context), 422)
    response.cache_control.no_store = True
    return response


def landing_context(
    landing: pages.Landing, form: ConsultationForm, notice: str | None = None
) -> dict[str, Any]:
    """What public/landing.html shows for ``landing`` with ``form``."""
    revision = landing.page.published
    treatment_pages = pages.published_treatment_pages(landing.location)
    return dict(
        clinic=landing.location.clinic,
        location=landing.location,
        treatment=landing.treatment,
        page=revision,
        # Cached by revision id: a page view renders no Markdown.
        body=render_revision(
            revision.id, revision.body, pictures.for_clinic(landing.location.clinic_id)
        ),
        pictures=pictures.revision_pictures(
            revision.id, landing.location.clinic_id, revision.hero_image, revision.gallery
        ),
        **_team(landing.location),
        treatment_pages=treatment_pages,
        canonical_url=_canonical(landing),
        json_ld=seo.clinic_json_ld(landing.location, landing.treatment, treatment_pages),
        form=form,
        privacy_url=pages.privacy_notice_path(landing.location.clinic),
        notice=notice,
    )


def _page_view(kept: landing_cache.KeptLanding) -> Response:
    """A landing page for one visitor: the parts kept for its revision and a
    stamp of the visitor's own."""
    attribution.capture()
    stamp = spam.render_stamp(consent.digest(consent.wording_text()), kept.form_key)
    response = make_response(
        render_template("public/landing_view.html", parts=kept.parts, stamp=stamp), 200
    )
    if request.method == "GET":  # not HEAD
        page_views.tally().add(kept.page_id, request.user_agent.string)
    # Private, no-cache, Last-Modified and Vary, made once per kept copy.
    response.headers.extend(kept.headers)
    return response


def _send(form: ConsultationForm, landing: pages.Landing) -> None:
    stamp = form.stamp()
    verdict = spam.assess(
        form.website.data,
        stamp,
        form_key=form.form_key,
        contacts=(form.email.data, form.phone_e164),
    )
    submit_lead(
        Enquiry(
            full_name=form.full_name.data,
            email=form.email.data,
            phone=form.phone_e164,
            treatment=form.chosen_treatment(),
            contact_method=form.contact_method.data,
            contact_time=form.contact_time.data,
            message=form.message.data or "",
            consent_enquiry=form.consent_enquiry.data,
            marketing_opt_in=form.marketing_opt_in.data,
            submission_token=stamp.nonce,
            consent_digest=stamp.consent_digest,
            consent_wording=form.shown_wording,
        ),
        landing.location,
        landing.page,
        attribution.current(),
        verdict,
    )


@bp.errorhandler(StorageUnavailable)
@bp.errorhandler(OperationalError)
@bp.errorhandler(InterfaceError)
@bp.errorhandler(PoolTimeout)
def storage_unavailable(error: Exception) -> Response:
    """The database is out of reach: a 503 that gives back what was typed, in a
    form that sends it again with one press. Nothing was stored or enqueued."""
    if not isinstance(error, StorageUnavailable):  # submit_lead logged that one
        log.error("public page: database unavailable (%s)", type(error).__name__)
    with contextlib.suppress(OperationalError, InterfaceError, PoolTimeout):
        db.session.rollback()
    kept = {name: request.form.get(name, "") for name in KEPT_FIELDS}
    html = render_template(
        "public/unavailable.html", kept=kept if request.method == "POST" else None
    )
    response = make_response(html, 503)
    response.headers["Retry-After"] = "30"
    response.cache_control.no_store = True
    return response


def _team(location: Location) -> dict[str, object]:
    """The practitioners at ``location`` and their photos, for the landing page."""
    team = practitioners.at_location(location)
    return {"team": team, "team_photos": practitioners.photos(team)}


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
