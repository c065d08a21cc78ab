"""Privacy screens: the spam quarantine, subject access and erasure, and the
patient's link to withdraw marketing consent.

The email address or phone number searched for travels in POST bodies only,
never in a URL.
"""

from __future__ import annotations

import json

from flask import Blueprint, abort, flash, redirect, render_template, url_for
from flask_login import current_user
from werkzeug.wrappers import Response

from leads.auth import roles_required
from leads.forms.privacy import SubjectForm
from leads.lifecycle import ScreenAction, TransitionError
from leads.services import marketing_consent, scope, subject_access
from leads.services.leads import quarantined, screen_lead, screened_out

bp = Blueprint("privacy", __name__, url_prefix="/privacy")


@bp.get("/quarantine/")
@roles_required("admin", "manager")
def quarantine() -> str:
    return render_template(
        "privacy/quarantine.html",
        leads=quarantined(current_user),
        screened_out=screened_out(current_user),
    )


# Each screen action: its URL, and what staff are told once it is done.
_DONE = {
    ScreenAction.RELEASE: "Lead {id} released; it is being delivered to the clinic.",
    ScreenAction.CONFIRM_SPAM: "Lead {id} confirmed as spam; it will not be delivered.",
    ScreenAction.MARK_SPAM: "Lead {id} marked as spam; it leaves the inbox.",
    ScreenAction.UNMARK_SPAM: "Lead {id} marked as not spam; it is back in the inbox.",
}


def _screen(lead_id: int, action: ScreenAction) -> Response:
    lead = scope.lead_or_404(current_user, lead_id)
    try:
        screen_lead(lead, action, current_user)
    except TransitionError:
        abort(404)  # not a lead this action applies to (any more)
    flash(_DONE[action].format(id=lead_id), "info")
    if action == ScreenAction.MARK_SPAM:
        return redirect(url_for(".quarantine"), code=303)
    if action == ScreenAction.UNMARK_SPAM:
        return redirect(url_for("inbox.lead", lead_id=lead_id), code=303)
    return redirect(url_for(".quarantine"), code=303)


@bp.post("/quarantine/<int:lead_id>/release")
@roles_required("admin", "manager")
def release(lead_id: int) -> Response:
    return _screen(lead_id, ScreenAction.RELEASE)


@bp.post("/quarantine/<int:lead_id>/confirm-spam")
@roles_required("admin", "manager")
def confirm_spam(lead_id: int) -> Response:
    return _screen(lead_id, ScreenAction.CONFIRM_SPAM)


@bp.post("/leads/<int:lead_id>/mark-spam")
@roles_required("admin", "manager")
def mark_spam(lead_id: int) -> Response:
    return _screen(lead_id, ScreenAction.MARK_SPAM)


@bp.post("/leads/<int:lead_id>/not-spam")
@roles_required("admin", "manager")
def unmark_spam(lead_id: int) -> Response:
    return _screen(lead_id, ScreenAction.UNMARK_SPAM)


@bp.route("/subject/", methods=["GET", "POST"])
@roles_required("admin")
def subject() -> str | Response | tuple[str, int]:
    form = SubjectForm()
    if not form.validate_on_submit():
        return render_template("privacy/subject.html", form=form, leads=None), (
            422 if form.errors else 200
        )
    email, phone = form.email.data or "", form.phone.data or ""
    leads = subject_access.subject_leads(email, phone)
    if form.action.data == "export":
        body = json.dumps(
            subject_access.export_subject(leads, current_user), indent=2, ensure_ascii=False
        )
        return Response(
            body,
            mimetype="application/json",
            headers={"Content-Disposition": 'attachment; filename="subject-access.json"'},
        )
    if form.action.data == "erase":
        if not form.confirm.data:
            form.confirm.errors = ["Tick the box to confirm the erasure."]
            return render_template("privacy/subject.html", form=form, leads=leads), 422
        counts = subject_access.erase_subject(leads, current_user)
        flash(
            f"Erased {counts['leads']} leads, {counts['deliveries']} deliveries and "
            f"{counts['jobs']} queued jobs.",
            "info",
        )
        return redirect(url_for(".subject"), code=303)
    subject_access.record_search(leads, current_user)
    return render_template("privacy/subject.html", form=form, leads=leads)


@bp.route("/marketing/<token>/", methods=["GET", "POST"])
def withdraw(token: str) -> str:
    from flask import request

    lead = marketing_consent.lead_for_withdrawal(token)
    if lead is None:
        abort(404)
    if request.method == "POST":
        marketing_consent.withdraw_marketing(lead)
        return render_template("privacy/withdrawn.html", clinic=lead.clinic)
    return render_template("privacy/withdraw.html", clinic=lead.clinic)
