"""Staff sign in and sign out."""

from __future__ import annotations

from flask import (
    Blueprint,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_login import current_user, login_user, logout_user
from werkzeug.wrappers import Response

from leads.auth import safe_next
from leads.extensions import limiter
from leads.forms.auth import LoginForm
from leads.services import accounts

bp = Blueprint("auth", __name__)

FAILED = "That email and password do not match an active account."


def _account_key() -> str:
    return "login-account:" + (request.form.get("email", "").strip().lower()[:254] or "-")


def _failed(response: Response) -> bool:
    """Only failed sign-ins count towards the limits."""
    return request.method == "POST" and response.status_code != 303


@bp.route("/login", methods=["GET", "POST"])
@limiter.limit(
    lambda: current_app.config["LOGIN_LIMIT_PER_ADDRESS"], methods=["POST"], deduct_when=_failed
)
@limiter.limit(
    lambda: current_app.config["LOGIN_LIMIT_PER_ACCOUNT"],
    methods=["POST"],
    key_func=_account_key,
    deduct_when=_failed,
)
def login() -> Response | tuple[str, int] | str:
    default = url_for("staff.home")
    if current_user.is_authenticated:
        return redirect(safe_next(request.args.get("next"), default), code=303)
    form = LoginForm()
    if form.validate_on_submit():
        user = accounts.authenticate(form.email.data, form.password.data)
        if user is not None:
            # A new session: nothing of the anonymous one is carried over.
            session.clear()
            login_user(user, remember=form.remember.data)
            accounts.sign_in(user)
            return redirect(safe_next(request.args.get("next"), default), code=303)
        form.password.errors.append(FAILED)
        return render_template("auth/login.html", form=form), 401
    return render_template("auth/login.html", form=form), (422 if form.errors else 200)


@bp.post("/logout")
def logout() -> Response:
    accounts.sign_out(current_user if current_user.is_authenticated else None)
    logout_user()
    session.clear()
    flash("You are signed out.", "info")
    return redirect(url_for("auth.login"), code=303)
