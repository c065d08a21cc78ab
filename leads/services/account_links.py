"""Signed, single-use links that let a member of staff in by email: the
invitation to join, the password reset and the sign-in link offered while an
account's sign-in limit holds.

A link carries the user's id and a fingerprint of their session version and
password hash, signed with the app's secret and stamped with its time. It
stops working when it is older than its purpose allows, and as soon as it is
used: using it changes the password or raises the session version, which
changes the fingerprint. It also stops working when the password changes
some other way. Nothing is stored for it.
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass

from flask import current_app, render_template
from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer

from leads.extensions import db
from leads.models import User
from leads.services import accounts
from leads.services.audit import record
from leads.services.staff_mail import send_staff_mail


@dataclass(frozen=True)
class Purpose:
    name: str
    endpoint: str
    setting: str  # seconds the link stays valid


INVITE = Purpose("invite", "account.join", "INVITATION_VALID_SECONDS")
RESET = Purpose("reset", "account.reset_password", "PASSWORD_RESET_VALID_SECONDS")
SIGN_IN = Purpose("sign-in", "account.sign_in_by_link", "SIGN_IN_LINK_VALID_SECONDS")


class LinkError(Exception):
    """A link that cannot be used; the message is for the person holding it.
    ``status``: 404 for a link we never made, 410 for one that has expired or
    was used."""

    status = 404


class LinkExpired(LinkError):
    status = 410


class LinkSpent(LinkError):
    status = 410


def _serializer(purpose: Purpose) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(
        current_app.config["SECRET_KEY"], salt=f"staff-link-{purpose.name}"
    )


def _fingerprint(user: User) -> str:
    key = str(current_app.config["SECRET_KEY"]).encode()
    state = f"{user.id}:{user.session_version}:{user.password_hash}:{user.email}".encode()
    return hmac.new(key, state, hashlib.sha256).hexdigest()[:20]


def make_token(user: User, purpose: Purpose) -> str:
    return _serializer(purpose).dumps([user.id, _fingerprint(user)])


def link(user: User, purpose: Purpose) -> str:
    """The full address of a new link for ``user``, for an email."""
    path = current_app.url_map.bind("localhost").build(
        purpose.endpoint, {"token": make_token(user, purpose)}
    )
    return current_app.config["PUBLIC_BASE_URL"].rstrip("/") + path


def valid_minutes(purpose: Purpose) -> int:
    return int(current_app.config[purpose.setting]) // 60


def user_for(token: str, purpose: Purpose) -> User:
    """The active user this link is for, or LinkError saying why not."""
    serializer = _serializer(purpose)
    try:
        user_id, fingerprint = serializer.loads(
            token, max_age=int(current_app.config[purpose.setting])
        )
    except SignatureExpired:
        raise LinkExpired("This link has expired. Ask for a new one.") from None
    except (BadSignature, ValueError, TypeError):
        raise LinkError("This link is not valid. Ask for a new one.") from None
    if not isinstance(user_id, int) or not isinstance(fingerprint, str):
        raise LinkError("This link is not valid. Ask for a new one.")
    user = db.session.get(User, user_id)
    if (
        user is None
        or not user.active
        or not hmac.compare_digest(fingerprint, _fingerprint(user))
        or (purpose is INVITE) == user.has_joined
    ):
        raise LinkSpent("This link has been used already or is no longer valid. Ask for a new one.")
    return user


def send_invitation(user: User, by: User | None) -> None:
    """Email ``user`` their invitation; part of the caller's transaction."""
    send_staff_mail(
        user.email,
        f"You are invited to {current_app.jinja_env.globals['site_name']}",
        render_template(
            "emails/staff_invitation.txt",
            user=user,
            by=by,
            link=link(user, INVITE),
            hours=int(current_app.config[INVITE.setting]) // 3600,
        ),
    )


def send_password_reset(email: str) -> None:
    """Email a reset link if ``email`` belongs to an active account that has a
    password; otherwise nothing. The caller answers the same either way."""
    user = accounts.user_by_email(email)
    if user is None or not user.active or not user.has_joined:
        return
    send_staff_mail(
        user.email,
        "Choose a new password",
        render_template(
            "emails/staff_password_reset.txt",
            user=user,
            link=link(user, RESET),
            minutes=valid_minutes(RESET),
        ),
    )
    record("password_reset_requested", None, "user", user.id)
    db.session.commit()


def send_sign_in_link(email: str) -> None:
    """Email a single-use sign-in link, as ``send_password_reset`` does."""
    user = accounts.user_by_email(email)
    if user is None or not user.active or not user.has_joined:
        return
    send_staff_mail(
        user.email,
        "Your sign-in link",
        render_template(
            "emails/staff_sign_in_link.txt",
            user=user,
            link=link(user, SIGN_IN),
            minutes=valid_minutes(SIGN_IN),
        ),
    )
    record("sign_in_link_requested", None, "user", user.id)
    db.session.commit()


def use_sign_in_link(user: User) -> None:
    """Spend a sign-in link: the session version moves on, so this link and
    every other session of the account stop working."""
    user.session_version += 1
    record("sign_in_link_used", user, "user", user.id)
    db.session.commit()
