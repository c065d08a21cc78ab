"""The admin area: staff accounts, the audit log, delivery health and the
clinics' inbox channels. Admins only."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, abort, flash, redirect, render_template, request, url_for
from flask_login import current_user
from wtforms.fields.choices import SelectChoice

from leads.auth import roles_required
from leads.extensions import db
from leads.forms.admin import (
    ChannelForm,
    ConfirmForm,
    NewUserForm,
    PasswordForm,
    TokenForm,
    UserForm,
)
from leads.input_guard import db_id
from leads.models import ApiToken, AuditEntry, Clinic, InboxChannel, Location, User
from leads.services import accounts, api_tokens, deliveries, webhooks
from leads.services.accounts import AccountError

bp = Blueprint("admin", __name__, url_prefix="/admin")

AUDIT_PAGE = 100


@bp.before_request
@roles_required("admin")
def admins_only() -> None:
    """Every view of this blueprint: admins only (others 403, anonymous to sign in)."""
    return None


@bp.after_request
def no_store(response: Response) -> Response:
    response.headers["Cache-Control"] = "no-store"
    return response


def _user_or_404(user_id: int) -> User:
    user = db.session.get(User, user_id)
    if user is None:
        abort(404)
    return user


def _fill_choices(form: UserForm) -> None:
    clinics = list(db.session.scalars(db.select(Clinic).order_by(Clinic.name)))
    form.clinics.choices = [SelectChoice(c.id, c.name) for c in clinics]
    form.locations.choices = [
        SelectChoice(loc.id, f"{loc.name} ({c.name})") for c in clinics for loc in c.locations
    ]


def _chosen(form: UserForm) -> tuple[list[Clinic], list[Location]]:
    clinic_ids = form.clinics.data or []
    location_ids = form.locations.data or []
    clinics = list(db.session.scalars(db.select(Clinic).where(Clinic.id.in_(clinic_ids))))
    locations = list(db.session.scalars(db.select(Location).where(Location.id.in_(location_ids))))
    return clinics, locations


@bp.get("/users")
def users() -> str:
    rows = db.session.scalars(db.select(User).order_by(User.active.desc(), User.email))
    return render_template("admin/users.html", users=list(rows))


@bp.route("/users/new", methods=["GET", "POST"])
def new_user() -> Response | tuple[str, int] | str:
    form = NewUserForm()
    _fill_choices(form)
    if form.validate_on_submit():
        clinics, locations = _chosen(form)
        try:
            user = accounts.create_user(
                form.email.data,
                form.role.data,
                form.password.data,
                clinics,
                name=form.name.data or "",
                by=current_user,
            )
            if locations and form.role.data == "manager":
                accounts.update_user(user, user.role, clinics, locations, user.name, current_user)
        except AccountError as error:
            form.form_errors.append(str(error))
            return render_template("admin/user_form.html", form=form, user=None), 422
        flash(f"Account {user.email} created.", "info")
        return redirect(url_for("admin.edit_user", user_id=user.id), code=303)
    status = 422 if form.errors else 200
    return render_template("admin/user_form.html", form=form, user=None), status


@bp.route("/users/<int:user_id>", methods=["GET", "POST"])
def edit_user(user_id: int) -> Response | tuple[str, int] | str:
    user = _user_or_404(user_id)
    form = UserForm(obj=None if request.method == "POST" else _defaults(user))
    _fill_choices(form)
    if form.validate_on_submit():
        clinics, locations = _chosen(form)
        try:
            accounts.update_user(
                user,
                form.role.data,
                clinics,
                locations,
                form.name.data or "",
                current_user,
            )
        except AccountError as error:
            form.form_errors.append(str(error))
        else:
            flash("Account saved.", "info")
            return redirect(url_for("admin.edit_user", user_id=user.id), code=303)
    status = 422 if form.errors or form.form_errors else 200
    return render_template(
        "admin/user_form.html",
        form=form,
        user=user,
        password_form=PasswordForm(),
        confirm_form=ConfirmForm(),
    ), status


class _Defaults:
    def __init__(self, **values: Any) -> None:
        self.__dict__.update(values)


def _defaults(user: User) -> _Defaults:
    return _Defaults(
        name=user.name,
        role=user.role,
        clinics=[c.id for c in user.clinics],
        locations=[loc.id for loc in user.locations],
    )


@bp.post("/users/<int:user_id>/password")
def reset_password(user_id: int) -> Response:
    user = _user_or_404(user_id)
    form = PasswordForm()
    if form.validate_on_submit():
        try:
            accounts.set_password(user, form.password.data, by=current_user)
        except AccountError as error:
            flash(str(error), "error")
        else:
            flash("Password changed; the account's open sessions have ended.", "info")
    else:
        flash("Choose a password.", "error")
    return redirect(url_for("admin.edit_user", user_id=user.id), code=303)


@bp.post("/users/<int:user_id>/deactivate")
def deactivate_user(user_id: int) -> Response:
    user = _user_or_404(user_id)
    if ConfirmForm().validate_on_submit():
        try:
            accounts.deactivate(user, by=current_user)
        except AccountError as error:
            flash(str(error), "error")
        else:
            flash(f"{user.email} can no longer sign in.", "info")
    return redirect(url_for("admin.edit_user", user_id=user.id), code=303)


@bp.post("/users/<int:user_id>/reactivate")
def reactivate_user(user_id: int) -> Response:
    user = _user_or_404(user_id)
    if ConfirmForm().validate_on_submit():
        accounts.reactivate(user, by=current_user)
        flash(f"{user.email} can sign in again.", "info")
    return redirect(url_for("admin.edit_user", user_id=user.id), code=303)


@bp.get("/audit")
def audit() -> str:
    """The audit log, newest first, a page at a time (``before`` an entry id)."""
    stmt = db.select(AuditEntry).order_by(AuditEntry.id.desc())
    action = request.args.get("action", "").strip()[:48]
    if action:
        stmt = stmt.where(AuditEntry.action == action)
    user_id = db_id(request.args.get("user"))
    if user_id:
        stmt = stmt.where(AuditEntry.user_id == user_id)
    lead_id = db_id(request.args.get("lead"))
    if lead_id:
        stmt = stmt.where(AuditEntry.object_type == "lead", AuditEntry.object_id == lead_id)
    before = db_id(request.args.get("before"))
    if before:
        stmt = stmt.where(AuditEntry.id < before)
    entries = list(db.session.scalars(stmt.limit(AUDIT_PAGE + 1)))
    more = len(entries) > AUDIT_PAGE
    entries = entries[:AUDIT_PAGE]
    actions = list(
        db.session.scalars(db.select(AuditEntry.action).distinct().order_by(AuditEntry.action))
    )
    args = {k: v for k, v in (("action", action), ("user", user_id), ("lead", lead_id)) if v}
    return render_template(
        "admin/audit.html",
        entries=entries,
        actions=actions,
        args=args,
        next_before=entries[-1].id if more and entries else None,
    )


# -- delivery health and inbox channels ---------------------------------------


@bp.get("/deliveries")
def deliveries_health() -> str:
    return render_template(
        "admin/deliveries.html",
        health=deliveries.health(),
        failed=deliveries.failed_deliveries(),
    )


@bp.post("/deliveries/<int:delivery_id>/retry")
def retry_delivery(delivery_id: int) -> Response:
    delivery = deliveries.visible_delivery(current_user, delivery_id)
    if delivery is None:
        abort(404)
    if not ConfirmForm().validate_on_submit():
        abort(400)
    try:
        deliveries.retry_by_hand(delivery, current_user)
        flash(f"Delivery {delivery_id} is being tried again.", "info")
    except deliveries.DeliveryError as error:
        flash(str(error), "error")
    return redirect(url_for(".deliveries_health"), code=303)


def _clinic_or_404(clinic_id: int) -> Clinic:
    clinic = db.session.get(Clinic, clinic_id)
    if clinic is None:
        abort(404)
    return clinic


@bp.route("/clinics/<int:clinic_id>/channels", methods=["GET", "POST"])
def channels(clinic_id: int) -> Response | tuple[str, int]:
    clinic = _clinic_or_404(clinic_id)
    form = ChannelForm()
    form.location.choices = [SelectChoice("", f"All of {clinic.name}")] + [
        SelectChoice(str(loc.id), f"{loc.name} only") for loc in clinic.locations
    ]
    if form.validate_on_submit():
        location = next(
            (loc for loc in clinic.locations if str(loc.id) == form.location.data), None
        )
        try:
            channel = deliveries.add_channel(
                clinic,
                form.kind.data,
                form.target.data,
                current_user,
                location=location,
                thin=bool(form.thin.data),
            )
        except deliveries.DeliveryError as error:
            form.target.errors.append(str(error))
        else:
            if channel.secret:
                # Shown on this page once; it is never shown again.
                return _channels_page(clinic, ChannelForm(formdata=None), channel.secret), 201
            flash("Channel added. New leads go there from now on.", "info")
            return redirect(url_for(".channels", clinic_id=clinic.id), code=303)
    return _channels_page(clinic, form), (422 if form.errors else 200)


def _channels_page(clinic: Clinic, form: ChannelForm, new_secret: str | None = None) -> str:
    if not form.location.choices:
        form.location.choices = [SelectChoice("", f"All of {clinic.name}")] + [
            SelectChoice(str(loc.id), f"{loc.name} only") for loc in clinic.locations
        ]
    rows = sorted(clinic.channels, key=lambda c: (c.location_id or 0, c.id))
    return render_template(
        "admin/channels.html",
        clinic=clinic,
        channels=rows,
        locations={loc.id: loc for loc in clinic.locations},
        form=form,
        new_secret=new_secret,
        tokens=api_tokens.tokens_of(clinic),
        token_form=TokenForm(formdata=None),
    )


@bp.post("/channels/<int:channel_id>/active")
def toggle_channel(channel_id: int) -> Response:
    channel = db.session.get(InboxChannel, channel_id)
    if channel is None:
        abort(404)
    if not ConfirmForm().validate_on_submit():
        abort(400)
    deliveries.set_channel_active(channel, request.form.get("active") == "1", current_user)
    flash("Channel updated.", "info")
    return redirect(url_for(".channels", clinic_id=channel.clinic_id), code=303)


@bp.post("/channels/<int:channel_id>/secret")
def rotate_secret(channel_id: int) -> tuple[str, int]:
    """A new signing secret, shown once; the old one signs too for a while."""
    channel = db.session.get(InboxChannel, channel_id)
    if channel is None or channel.kind != "webhook":
        abort(404)
    if not ConfirmForm().validate_on_submit():
        abort(400)
    secret = webhooks.rotate_secret(channel, current_user)
    return _channels_page(channel.clinic, ChannelForm(formdata=None), secret), 200


# -- API tokens -----------------------------------------------------------------


@bp.post("/clinics/<int:clinic_id>/tokens")
def create_token(clinic_id: int) -> tuple[str, int]:
    clinic = _clinic_or_404(clinic_id)
    form = TokenForm()
    if not form.validate_on_submit():
        page = _channels_page(clinic, ChannelForm(formdata=None))
        return page, 422
    try:
        token, raw = api_tokens.create_token(clinic, form.name.data, current_user)
    except api_tokens.TokenError as error:
        flash(str(error), "error")
        return _channels_page(clinic, ChannelForm(formdata=None)), 422
    html = render_template("admin/token_created.html", clinic=clinic, token=token, raw=raw)
    return html, 201


@bp.post("/tokens/<int:token_id>/revoke")
def revoke_token(token_id: int) -> Response:
    token = db.session.get(ApiToken, token_id)
    if token is None:
        abort(404)
    if not ConfirmForm().validate_on_submit():
        abort(400)
    api_tokens.revoke(token, current_user)
    flash(f"Token {token.name} revoked: it no longer opens the API.", "info")
    return redirect(url_for(".channels", clinic_id=token.clinic_id), code=303)
