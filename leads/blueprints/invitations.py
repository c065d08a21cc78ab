"""Admins invite colleagues by email, from the users screens."""

from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, render_template, url_for
from flask_login import current_user
from werkzeug.wrappers import Response

from leads.auth import roles_required
from leads.blueprints.admin import _chosen, _fill_choices
from leads.extensions import db
from leads.forms.admin import ConfirmForm
from leads.forms.invitations import InvitationForm
from leads.models import User
from leads.services import invitations
from leads.services.accounts import AccountError

bp = Blueprint("invitations", __name__, url_prefix="/admin/users")


@bp.before_request
@roles_required("admin")
def admins_only() -> None:
    return None


@bp.route("/invite", methods=["GET", "POST"])
def new() -> Response | str | tuple[str, int]:
    form = InvitationForm()
    _fill_choices(form)
    if form.validate_on_submit():
        clinics, locations = _chosen(form)
        try:
            user = invitations.invite(
                form.email.data,
                form.role.data,
                clinics,
                locations,
                form.name.data or "",
                by=current_user,
            )
        except AccountError as error:
            form.form_errors.append(str(error))
        else:
            flash(f"Invitation sent to {user.email}.", "info")
            return redirect(url_for("admin.edit_user", user_id=user.id), code=303)
    status = 422 if form.errors or form.form_errors else 200
    return render_template("invitations/new.html", form=form), status


@bp.post("/<int:user_id>/invite-again")
def invite_again(user_id: int) -> Response:
    user = db.session.get(User, user_id)
    if user is None:
        abort(404)
    if not ConfirmForm().validate_on_submit():
        abort(400)
    try:
        invitations.invite_again(user, by=current_user)
    except AccountError as error:
        flash(str(error), "error")
    else:
        flash(
            f"A new invitation is on its way to {user.email}; earlier links no longer work.", "info"
        )
    return redirect(url_for("admin.edit_user", user_id=user.id), code=303)
