"""A member of staff's own way in: invitations, forgotten passwords, the
sign-in link offered while an account's sign-in limit holds, and two-factor
sign-in."""

from __future__ import annotations

import hashlib
import hmac
import time

from flask import (
    Blueprint,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    url_for,
)
from werkzeug.wrappers import Response

from leads.extensions import limiter
from leads.forms.account import ConfirmForm, EmailLinkForm, NewPasswordForm
from leads.models import User
from leads.services import account_links, accounts, invitations
from leads.services.account_links import LinkError, Purpose
from leads.services.accounts import AccountError

bp = Blueprint("account", __name__)

LINK_SENT = (
    "If an account uses {email}, we have emailed it a link. "
    "The link works once, for {minutes} minutes."
)


def _email_key() -> str:
    """The account a link is asked for, as a keyed hash: Redis holds no address."""
    email = request.form.get("email", "").strip().lower()[:254]
    secret = str(current_app.config["SECRET_KEY"]).encode()
    return "account-link:" + hmac.new(secret, email.encode(), hashlib.sha256).hexdigest()[:24]


def _address_key() -> str:
    from leads.security import client_key

    return "account-link-address:" + client_key()


# Asking for links: one budget per client address for both kinds, and one
# per account for each kind, so a stranger spending an account's reset budget
# leaves its sign-in links alone. Every request within the per-account budget
# sends a link, and a sign-in link stays valid at least as long as that
# budget's window: while the budget is spent, the newest link in the owner's
# mailbox still works.
_limit_per_address = limiter.shared_limit(
    lambda: current_app.config["ACCOUNT_LINK_LIMIT_PER_ADDRESS"],
    scope="account-link-address",
    key_func=_address_key,
    methods=["POST"],
)


def _per_account(scope: str):  # type: ignore[no-untyped-def]
    return limiter.shared_limit(
        lambda: current_app.config["ACCOUNT_LINK_LIMIT_PER_ACCOUNT"],
        scope=scope,
        key_func=_email_key,
        methods=["POST"],
    )


def complete_sign_in(user: User, remember: bool, next_url: str) -> Response:
    """Sign ``user`` in and send them on to ``next_url``."""
    accounts.sign_in(user, remember=remember)
    return redirect(next_url, code=303)


def locked_out(error: Exception) -> tuple[str, int]:
    """The sign-in page while a limit holds: instead of a dead end, the
    account's owner can have a single-use sign-in link emailed."""
    form = EmailLinkForm(formdata=None, email=request.form.get("email", "").strip()[:254])
    return render_template("account/locked.html", form=form), 429


@bp.route("/login/forgot", methods=["GET", "POST"])
@_limit_per_address
@_per_account("password-reset")
def forgot_password() -> str | tuple[str, int]:
    form = EmailLinkForm()
    if form.validate_on_submit():
        account_links.send_password_reset(form.email.data)
        return _link_sent(form.email.data, account_links.RESET)
    status = 422 if form.errors else 200
    return render_template("account/forgot.html", form=form), status


@bp.post("/login/link")
@_limit_per_address
@_per_account("sign-in-link")
def request_sign_in_link() -> str | tuple[str, int]:
    form = EmailLinkForm()
    if form.validate_on_submit():
        account_links.send_sign_in_link(form.email.data)
        return _link_sent(form.email.data, account_links.SIGN_IN)
    return render_template("account/locked.html", form=form), 422


@bp.errorhandler(429)
def too_many_links(error: Exception) -> tuple[str, int]:
    return render_template("account/too_many_links.html"), 429


def _link_sent(email: str, purpose: Purpose) -> str:
    message = LINK_SENT.format(email=email, minutes=account_links.valid_minutes(purpose))
    return render_template("account/link_sent.html", message=message)


def _link_error(error: LinkError) -> tuple[str, int]:
    return render_template("account/link_error.html", message=str(error)), error.status


@bp.route("/login/reset/<token>", methods=["GET", "POST"])
def reset_password(token: str) -> Response | str | tuple[str, int]:
    try:
        user = account_links.user_for(token, account_links.RESET)
    except LinkError as error:
        return _link_error(error)
    form = NewPasswordForm()
    if form.validate_on_submit():
        try:
            accounts.set_password(user, form.password.data, by=user)
        except AccountError as error:
            form.password.errors.append(str(error))
        else:
            flash("Your new password is set.", "info")
            return complete_sign_in(user, False, url_for("staff.home"))
    return render_template(
        "account/new_password.html",
        form=form,
        user=user,
        heading="Choose a new password",
        button="Set password and sign in",
    ), (422 if form.errors else 200)


@bp.route("/join/<token>", methods=["GET", "POST"])
def join(token: str) -> Response | str | tuple[str, int]:
    try:
        user = account_links.user_for(token, account_links.INVITE)
    except LinkError as error:
        return _link_error(error)
    form = NewPasswordForm()
    if form.validate_on_submit():
        try:
            invitations.accept(user, form.password.data)
        except AccountError as error:
            form.password.errors.append(str(error))
        else:
            flash("Welcome. Your account is ready.", "info")
            return complete_sign_in(user, False, url_for("staff.home"))
    return render_template(
        "account/new_password.html",
        form=form,
        user=user,
        heading="Choose your password",
        button="Join",
    ), (422 if form.errors else 200)


@bp.route("/login/link/<token>", methods=["GET", "POST"])
def sign_in_by_link(token: str) -> Response | str | tuple[str, int]:
    """GET only shows a button: mail scanners that open links spend nothing."""
    try:
        user = account_links.user_for(token, account_links.SIGN_IN)
    except LinkError as error:
        return _link_error(error)
    form = ConfirmForm()
    if form.validate_on_submit():
        account_links.use_sign_in_link(user)
        return complete_sign_in(user, False, url_for("staff.home"))
    return render_template("account/sign_in_link.html", form=form, user=user)


def _now() -> int:
    return int(time.time())
