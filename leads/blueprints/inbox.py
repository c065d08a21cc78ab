"""The lead inbox for clinic managers (and admins).

Every lead read here comes through ``leads.services.scope``: a lead of a clinic
the user does not belong to is a 404 by id, missing from lists, counts and
exports, and refused in bulk actions.
"""

from __future__ import annotations

from flask import (
    Blueprint,
    Response,
    abort,
    flash,
    jsonify,
    redirect,
    render_template,
    request,
    session,
    stream_with_context,
    url_for,
)
from flask_login import current_user
from wtforms.fields.choices import SelectChoice

from leads.auth import roles_required
from leads.extensions import db
from leads.forms.admin import ConfirmForm
from leads.forms.inbox import AssignForm, BulkAssignForm, BulkStatusForm, NoteForm, StatusForm
from leads.input_guard import db_id
from leads.models import CONTACT_METHODS, CONTACT_TIMES, User, utcnow
from leads.services import deliveries, duplicates, inbox, pipeline, routing
from leads.services import export as csv_export
from leads.services.leads import quarantine_count
from leads.services.pipeline import SCREENING_LABELS, STATUS_LABELS, PipelineError
from leads.services.scope import (
    lead_or_404,
    visible_clinics,
    visible_locations,
    visible_treatments,
)

bp = Blueprint("inbox", __name__, url_prefix="/inbox")

LEAD_ROLES = ("admin", "manager")


@bp.after_request
def no_store(response: Response) -> Response:
    # Patient details: never kept by a browser or proxy cache.
    response.headers["Cache-Control"] = "no-store"
    return response


# The search text lives in the (signed, HttpOnly) session cookie, not in the
# URL, so a patient's name or phone never reaches an access log or history.
SEARCH_KEY = "inbox_search"


def _filters() -> inbox.Filters:
    return inbox.parse_filters(request.args, current_user, session.get(SEARCH_KEY, ""))


@bp.get("/")
@roles_required(*LEAD_ROLES)
def index() -> str:
    filters = _filters()
    cursor = request.args.get("after") or None
    try:
        result = inbox.page(current_user, filters, cursor)
    except inbox.BadCursor:
        abort(400)
    html = render_template(
        "inbox/index.html",
        page=result,
        filters=filters,
        statuses=STATUS_LABELS,
        clinics=visible_clinics(current_user),
        locations=visible_locations(current_user),
        treatments=visible_treatments(current_user),
        known=inbox.known_values(current_user),
        bulk_form=BulkStatusForm(),
        assign_form=_bulk_assign_form(),
        first_page=cursor is None,
        held=quarantine_count(current_user),
        clock=lambda lead: routing.clock(lead, result.now),
        age=lambda lead: pipeline.humanise(result.now - lead.created_at),
    )
    inbox.record_listing(current_user, filters, result, deep=cursor is not None)
    return html


@bp.post("/search")
@roles_required(*LEAD_ROLES)
def search() -> Response:
    """The filter form: keeps the search text in the session and the other
    filters in the list's URL. ``clear`` drops them all."""
    if request.form.get("clear"):
        session.pop(SEARCH_KEY, None)
        return redirect(url_for("inbox.index"), code=303)
    text = inbox.clean_search(request.form.get("q"))
    if text:
        session[SEARCH_KEY] = text
    else:
        session.pop(SEARCH_KEY, None)
    filters = inbox.parse_filters(request.form, current_user)
    return redirect(url_for("inbox.index", **filters.args()), code=303)


@bp.get("/updates")
@roles_required(*LEAD_ROLES)
def updates() -> Response:
    """JSON for the page's poller: how many new leads match its filters."""
    since = request.args.get("since", "")
    if since != "0" and db_id(since) is None:
        abort(400)
    return jsonify(inbox.updates(current_user, _filters(), int(since)))


@bp.get("/export.csv")
@roles_required(*LEAD_ROLES)
def export() -> Response:
    filters = _filters()
    csv_export.start_export(current_user, filters)
    rows = csv_export.export_rows(current_user, filters)
    stamp = utcnow().strftime("%Y%m%d-%H%M")
    return Response(
        stream_with_context(rows),
        mimetype="text/csv",
        headers={"Content-Disposition": f'attachment; filename="leads-{stamp}.csv"'},
    )


def _bulk_assign_form() -> BulkAssignForm:
    form = BulkAssignForm()
    form.assignee.choices = [SelectChoice("", "Nobody")] + [
        SelectChoice(str(u.id), u.name or u.email) for u in pipeline.assignable(current_user)
    ]
    return form


@bp.post("/bulk")
@roles_required(*LEAD_ROLES)
def bulk() -> Response:
    back = redirect(url_for("inbox.index", **_filters().args()), code=303)
    if request.form.get("action") == "assign":
        return _bulk_assign(back)
    form = BulkStatusForm()
    if not form.validate_on_submit():
        flash("Choose a status for the ticked leads.", "error")
        return back
    try:
        changed = pipeline.bulk_change_status(
            current_user, _ticked_ids(), form.status.data, form.reason.data or ""
        )
    except PipelineError as error:
        flash(str(error), "error")
        return back
    if changed is None:
        abort(404)
    flash(
        f"{changed} lead{'s' if changed != 1 else ''} changed to "
        f"{STATUS_LABELS[form.status.data].lower()}.",
        "info",
    )
    return back


def _ticked_ids() -> list[int]:
    """The ticked leads' ids. :raise 404: one is not an id at all."""
    raw = request.form.getlist("lead_id")
    if not all(db_id(value) for value in raw):
        abort(404)
    return [int(v) for v in raw]


def _bulk_assign(back: Response) -> Response:
    form = _bulk_assign_form()
    if not form.validate_on_submit():
        flash("The form expired; please try again.", "error")
        return back
    chosen = form.assignee.data or ""
    if chosen and not db_id(chosen):
        flash("Choose a colleague from the list.", "error")
        return back
    try:
        changed = pipeline.bulk_assign(current_user, _ticked_ids(), int(chosen) if chosen else None)
    except PipelineError as error:
        flash(str(error), "error")
        return back
    if changed is None:
        abort(404)
    flash(f"{changed} lead{'s' if changed != 1 else ''} assigned.", "info")
    return back


@bp.get("/leads/<int:lead_id>")
@roles_required(*LEAD_ROLES)
def lead(lead_id: int) -> str:
    found = lead_or_404(current_user, lead_id)
    pipeline.record_view(found, current_user)
    status_form = StatusForm(status=found.status, reason=found.lost_reason)
    shown = routing.local(found.appointment_at, found.location)
    status_form.appointment.data = shown.replace(tzinfo=None) if shown else None
    assign_form = AssignForm(assignee=str(found.assigned_to_id or ""))
    colleagues = pipeline.colleagues(found)
    assign_form.assignee.choices = [SelectChoice("", "Nobody")] + [
        SelectChoice(str(u.id), u.name or u.email) for u in colleagues
    ]
    people_ids = {e.user_id for e in found.events if e.user_id}
    people_ids |= {
        e.data.get(k)
        for e in found.events
        if e.kind == "assigned"
        for k in ("from", "to")
        if e.data.get(k)
    }
    if found.assigned_to_id:
        people_ids.add(found.assigned_to_id)
    people = (
        {u.id: u for u in db.session.scalars(db.select(User).where(User.id.in_(people_ids)))}
        if people_ids
        else {}
    )
    return render_template(
        "inbox/lead.html",
        lead=found,
        statuses=STATUS_LABELS,
        screenings=SCREENING_LABELS,
        status_form=status_form,
        assign_form=assign_form,
        note_form=NoteForm(),
        people=people,
        duplicates=duplicates.duplicates_of(current_user, found),
        first_contact=pipeline.humanise(pipeline.time_to_first_contact(found)),
        response_clock=routing.clock(found, utcnow()),
        contact_methods=CONTACT_METHODS,
        contact_times=CONTACT_TIMES,
    )


def _back(lead_id: int) -> Response:
    return redirect(url_for("inbox.lead", lead_id=lead_id), code=303)


@bp.post("/leads/<int:lead_id>/status")
@roles_required(*LEAD_ROLES)
def change_status(lead_id: int) -> Response:
    found = lead_or_404(current_user, lead_id)
    form = StatusForm()
    if not form.validate_on_submit():
        problems = form.appointment.errors or ["Choose a status from the list."]
        flash(str(problems[0]), "error")
        return _back(lead_id)
    try:
        if pipeline.change_status(
            found,
            form.status.data,
            current_user,
            form.reason.data or "",
            appointment=form.appointment.data,
        ):
            flash(f"Status changed to {STATUS_LABELS[form.status.data].lower()}.", "info")
    except PipelineError as error:
        flash(str(error), "error")
    return _back(lead_id)


@bp.post("/leads/<int:lead_id>/assign")
@roles_required(*LEAD_ROLES)
def assign(lead_id: int) -> Response:
    found = lead_or_404(current_user, lead_id)
    form = AssignForm()
    if not form.validate_on_submit():
        flash("That form had expired; please try again.", "error")
        return _back(lead_id)
    raw = form.assignee.data or ""
    if raw and db_id(raw) is None:
        flash("Choose a colleague of this clinic.", "error")
        return _back(lead_id)
    try:
        if pipeline.assign(found, int(raw) if raw else None, current_user):
            flash("Assignment saved.", "info")
    except PipelineError as error:
        flash(str(error), "error")
    return _back(lead_id)


@bp.post("/leads/<int:lead_id>/deliveries/<int:delivery_id>/retry")
@roles_required(*LEAD_ROLES)
def retry_delivery(lead_id: int, delivery_id: int) -> Response:
    found = lead_or_404(current_user, lead_id)
    delivery = deliveries.visible_delivery(current_user, delivery_id)
    if delivery is None or delivery.lead_id != found.id:
        abort(404)
    if not ConfirmForm().validate_on_submit():
        abort(400)
    try:
        deliveries.retry_by_hand(delivery, current_user)
        flash("Trying that delivery again now.", "info")
    except deliveries.DeliveryError as error:
        flash(str(error), "error")
    return _back(lead_id)


@bp.post("/leads/<int:lead_id>/notes")
@roles_required(*LEAD_ROLES)
def add_note(lead_id: int) -> Response:
    found = lead_or_404(current_user, lead_id)
    form = NoteForm()
    if not form.validate_on_submit():
        flash(
            next(iter(form.errors.values()))[0] if form.errors else "Write the note first.", "error"
        )
        return _back(lead_id)
    try:
        pipeline.add_note(found, form.text.data, current_user)
        flash("Note added.", "info")
    except PipelineError as error:
        flash(str(error), "error")
    return _back(lead_id)
