"""A member of staff's own way in: invitations, forgotten passwords, the
sign-in link offered while an account's sign-in limit holds, and two-factor
sign-in."""

from __future__ import annotations

import hashlib
import hmac
import time

from flask import (
    Blueprint,
    abort,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_login import current_user, login_required, login_user
from werkzeug.wrappers import Response

from leads.auth import load_user, roles_required
from leads.extensions import db, limiter
from leads.forms.account import (
    CodeForm,
    ConfirmForm,
    DigestForm,
    EmailLinkForm,
    NewPasswordForm,
    SignInCodeForm,
)
from leads.models import User
from leads.services import account_links, accounts, invitations
from leads.services import two_factor as two_factor_svc
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


def _link_answered(response: Response) -> bool:
    return response.status_code == 200


def _per_account(scope: str):  # type: ignore[no-untyped-def]
    # Counted only for requests that were answered (a link went out if the
    # account exists), so requests refused for their address do not spend
    # the account's budget.
    return limiter.shared_limit(
        lambda: current_app.config["ACCOUNT_LINK_LIMIT_PER_ACCOUNT"],
        scope=scope,
        key_func=_email_key,
        methods=["POST"],
        deduct_when=_link_answered,
    )


# A sign-in waiting for its two-factor code: the user's session id, the
# choices made on the sign-in page and when the password was right.
PENDING = "two_factor_pending"
PENDING_SECONDS = 300


def start_session(user: User, remember: bool) -> None:
    """A new session for ``user``: nothing of the anonymous one is carried over."""
    session.clear()
    login_user(user, remember=remember)
    accounts.sign_in(user)


def complete_sign_in(user: User, remember: bool, next_url: str) -> Response:
    """Sign ``user`` in and send them on to ``next_url``; first ask for their
    two-factor code when they have one, and send an admin who must have one
    but does not to set it up."""
    if user.has_two_factor:
        session.clear()
        session[PENDING] = {
            "user": user.get_id(),
            "remember": bool(remember),
            "next": next_url,
            "at": int(time.time()),
        }
        return redirect(url_for("account.two_factor_code"), code=303)
    start_session(user, remember)
    if two_factor_svc.required(user):
        flash("Admins sign in with a code from an authenticator app. Set it up now.", "info")
        return redirect(url_for("account.two_factor"), code=303)
    return redirect(next_url, code=303)


def _pending_user() -> tuple[User, dict] | None:
    pending = session.get(PENDING)
    if not isinstance(pending, dict) or not isinstance(pending.get("at"), int):
        return None
    if time.time() - pending["at"] > PENDING_SECONDS:
        return None
    user = load_user(str(pending.get("user", "")))
    if user is None or not user.has_two_factor:
        return None
    return user, pending


def _pending_key() -> str:
    return "two-factor:" + str((session.get(PENDING) or {}).get("user", "-"))[:40]


@bp.route("/login/code", methods=["GET", "POST"])
@limiter.limit(
    lambda: current_app.config["TWO_FACTOR_CODE_LIMIT"], key_func=_pending_key, methods=["POST"]
)
def two_factor_code() -> Response | str | tuple[str, int]:
    found = _pending_user()
    if found is None:
        session.pop(PENDING, None)
        flash("Please sign in again.", "info")
        return redirect(url_for("auth.login"), code=303)
    user, pending = found
    form = SignInCodeForm()
    if form.validate_on_submit():
        if two_factor_svc.check(user, form.code.data):
            session.pop(PENDING, None)
            start_session(user, bool(pending.get("remember", False)))
            return redirect(pending.get("next") or url_for("staff.home"), code=303)
        form.code.errors.append("That code is not right, or was used already. Try the next one.")
    return render_template("account/code.html", form=form), (422 if form.errors else 200)


@bp.before_app_request
def admins_set_up_two_factor() -> Response | None:
    """While an admin who must have two-factor sign-in has none, every staff
    page leads to setting it up."""
    if not current_app.config["ADMIN_TWO_FACTOR_REQUIRED"]:
        return None
    if request.endpoint in ("static", "auth.logout", "auth.login"):
        return None
    if request.blueprint in (None, "public") or (
        request.blueprint == "account" and request.endpoint != "account.remove_colleague_two_factor"
    ):
        return None
    if (
        current_user.is_authenticated
        and two_factor_svc.required(current_user)
        and not current_user.has_two_factor
    ):
        return redirect(url_for("account.two_factor"), code=303)
    return None


@bp.route("/account/digest", methods=["GET", "POST"])
@roles_required("admin", "manager")
def digest_settings() -> Response | tuple[str, int]:
    """When the daily digest of leads needing attention is sent, if at all."""
    from leads.services import digest

    form = DigestForm()
    if request.method == "GET":
        form.digest_time.data = current_user.digest_time
    elif form.validate_on_submit():
        try:
            digest.set_digest_time(current_user, form.digest_time.data or "")
        except digest.DigestError as exc:
            form.digest_time.errors.append(str(exc))
        else:
            flash(
                f"Your digest comes at {current_user.digest_time} each day."
                if current_user.digest_time
                else "No daily digest.",
                "info",
            )
            return redirect(url_for("account.digest_settings"), code=303)
    html = render_template("account/digest.html", form=form)
    return html, (422 if form.errors else 200)


@bp.get("/account/two-factor")
@login_required
def two_factor() -> str:
    user = current_user
    qr = two_factor_svc.qr_code_svg(user) if user.totp_secret and not user.has_two_factor else None
    return render_template(
        "account/two_factor.html",
        qr=qr,
        secret=user.totp_secret if qr else "",
        required=two_factor_svc.required(user),
        form=CodeForm(),
        confirm_form=ConfirmForm(),
    )


@bp.post("/account/two-factor/start")
@login_required
def start_two_factor() -> Response:
    if ConfirmForm().validate_on_submit():
        try:
            two_factor_svc.start(current_user)
        except AccountError as error:
            flash(str(error), "error")
    return redirect(url_for("account.two_factor"), code=303)


@bp.post("/account/two-factor/confirm")
@login_required
def confirm_two_factor() -> str | tuple[str, int]:
    form = CodeForm()
    if form.validate_on_submit():
        try:
            codes = two_factor_svc.confirm(current_user, form.code.data)
        except AccountError as error:
            form.code.errors.append(str(error))
        else:
            flash(
                "Two-factor sign-in is on. You will be asked for a code when you sign in.", "info"
            )
            return render_template("account/recovery_codes.html", codes=codes)
    user = current_user
    return render_template(
        "account/two_factor.html",
        qr=two_factor_svc.qr_code_svg(user) if user.totp_secret else None,
        secret=user.totp_secret,
        required=two_factor_svc.required(user),
        form=form,
        confirm_form=ConfirmForm(),
    ), 422


@bp.post("/account/two-factor/recovery-codes")
@login_required
def new_recovery_codes() -> Response | str:
    if ConfirmForm().validate_on_submit():
        try:
            codes = two_factor_svc.new_recovery_codes(current_user)
        except AccountError as error:
            flash(str(error), "error")
        else:
            return render_template("account/recovery_codes.html", codes=codes)
    return redirect(url_for("account.two_factor"), code=303)


@bp.post("/account/two-factor/remove")
@login_required
def remove_two_factor() -> Response:
    form = CodeForm()
    code = form.code.data if form.validate_on_submit() else None
    if code is None:
        flash("Enter a current code from your app to turn two-factor sign-in off.", "error")
        return redirect(url_for("account.two_factor"), code=303)
    try:
        two_factor_svc.remove(current_user, code, by=current_user)
    except AccountError as error:
        flash(str(error), "error")
    else:
        flash("Two-factor sign-in is off.", "info")
    return redirect(url_for("account.two_factor"), code=303)


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
def too_many(error: Exception) -> tuple[str, int]:
    if request.endpoint == "account.two_factor_code":
        form = SignInCodeForm(formdata=None)
        form.code.errors = ["Too many codes tried. Wait a few minutes, then try again."]
        return render_template("account/code.html", form=form), 429
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


@bp.post("/admin/users/<int:user_id>/two-factor/remove")
@roles_required("admin")
def remove_colleague_two_factor(user_id: int) -> Response:
    """An admin turns two-factor sign-in off for a colleague who lost their
    device; their sessions end, and they set it up again at next sign-in
    when it is required."""
    user = db.session.get(User, user_id)
    if user is None:
        abort(404)
    if not ConfirmForm().validate_on_submit():
        abort(400)
    try:
        two_factor_svc.remove(user, None, by=current_user)
    except AccountError as error:
        flash(str(error), "error")
    else:
        flash(f"Two-factor sign-in is off for {user.email}.", "info")
    return redirect(url_for("admin.edit_user", user_id=user.id), code=303)
