"""Staff sign in and sign out."""

from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, request, session, url_for
from flask_login import current_user, logout_user
from werkzeug.wrappers import Response

from leads import devices
from leads.auth import safe_next
from leads.blueprints.account import complete_sign_in, locked_out
from leads.forms.auth import LoginForm
from leads.security import client_key
from leads.services import accounts, signin_limits

bp = Blueprint("auth", __name__)

FAILED = "That email and password do not match an active account."
LIMITED = (
    "Too many attempts to sign in to this account from here. "
    "Please wait a few minutes and try again."
)
BUSY = "We are checking many sign-ins at the moment. Please try again in a few seconds."


@bp.route("/login", methods=["GET", "POST"])
def login() -> Response | tuple[str, int] | tuple[str, int, dict[str, str]] | str:
    """Sign in. Attempts are counted before the password is checked (429 when a
    limit holds); the check waits for a hashing slot at most a second (503)."""
    default = url_for("staff.home")
    if current_user.is_authenticated:
        return redirect(safe_next(request.args.get("next"), default), code=303)
    form = LoginForm()
    if not form.validate_on_submit():
        return render_template("auth/login.html", form=form), (422 if form.errors else 200)
    email = form.email.data
    try:
        reservation = signin_limits.reserve(client_key(), email, devices.known_device(email))
    except signin_limits.TooManyAttempts as refused:
        # Not a dead end: the account's owner can have a sign-in link emailed.
        html, status = locked_out(refused)
        return html, status, {"Retry-After": str(refused.retry_after)}
    try:
        user = accounts.authenticate(email, form.password.data)
    except accounts.HashingBusy as busy:
        reservation.give_back()  # nothing was judged
        form.password.errors.append(BUSY)
        html = render_template("auth/login.html", form=form)
        return html, 503, {"Retry-After": str(busy.retry_after)}
    if user is None:
        form.password.errors.append(FAILED)
        return render_template("auth/login.html", form=form), 401
    reservation.give_back()  # a sign-in that works does not count
    response = complete_sign_in(
        user, form.remember.data, safe_next(request.args.get("next"), default)
    )
    devices.remember_device(response, user.email)
    return response


@bp.errorhandler(429)
def limited(error: Exception) -> tuple[str, int]:
    return locked_out(error)


@bp.post("/logout")
def logout() -> Response:
    accounts.sign_out(current_user if current_user.is_authenticated else None)
    logout_user()
    session.clear()
    flash("You are signed out.", "info")
    return redirect(url_for("auth.login"), code=303)
