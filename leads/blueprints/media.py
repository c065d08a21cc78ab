"""The media library (marketing and admins) and the image files patients download.

Staff upload under ``/editor/media/``; a marketing account sees and uses the
images of its own clinics only. ``/media/<name>`` serves any stored file:
names are random and carry a digest of the bytes, so an address is
unguessable until a page shows it and never changes its content, which lets
browsers and caches keep it for a year.
"""

from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_login import current_user
from werkzeug.wrappers import Response
from wtforms.fields.choices import SelectChoice

from leads.auth import roles_required
from leads.forms.media import UploadForm
from leads.images import CONTENT_TYPES, EXTENSIONS
from leads.media_storage import NAME, storage
from leads.services import media, scope

bp = Blueprint("media", __name__)

_TYPES = {ext: CONTENT_TYPES[fmt] for fmt, ext in EXTENSIONS.items()}


@bp.after_request
def staff_pages_not_stored(response: Response) -> Response:
    if request.endpoint != "media.file":
        response.cache_control.no_store = True
        response.cache_control.private = True
    return response


@bp.route("/editor/media/", methods=["GET", "POST"])
@roles_required("marketing", "admin")
def library() -> Response | tuple[str, int]:
    clinics = scope.page_clinics(current_user)
    form = UploadForm()
    form.clinic.choices = [SelectChoice(c.id, c.name) for c in clinics]
    if form.validate_on_submit():
        clinic = scope.clinic_for_editing(current_user, form.clinic.data) or abort(404)
        try:
            stored = media.upload(
                clinic,
                form.file.data.read(),
                form.alt.data or "",
                bool(form.decorative.data),
                current_user,
            )
        except media.MediaError as exc:
            (form.alt if exc.field == "alt" else form.file).errors.append(str(exc))
        else:
            flash(
                f"Image uploaded. Put it in a page's body as ![{stored.alt or 'description'}]"
                f"(media:{stored.id}), or choose it as a hero or gallery image.",
                "info",
            )
            return redirect(url_for(".library"), code=303)
    html = render_template(
        "media/library.html",
        form=form,
        images=media.library(current_user),
        clinics={c.id: c for c in clinics},
    )
    status = 422 if form.errors else 200
    return html, status


@bp.get("/media/<name>")
def file(name: str) -> Response:
    if not NAME.match(name):
        abort(404)
    data = storage().get(name)
    if data is None:
        abort(404)
    response = Response(data, mimetype=_TYPES[name.rsplit(".", 1)[1]])
    response.headers["Cache-Control"] = "public, max-age=31536000, immutable"
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Content-Disposition"] = "inline"
    return response
