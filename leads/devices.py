"""Devices where an account has signed in before: a signed cookie per device.

After a successful sign-in the browser gets a cookie, signed with the secret
key, naming the account (as a keyed hash) and a random device id. A later
attempt for that account carrying it is counted against that device's own
limit (``services.signin_limits``), so failures from anywhere else cannot lock
the real user out on their own device. The cookie proves nothing by itself: the
password is still checked; it only chooses which limit an attempt counts
against. It is HttpOnly, SameSite=Lax, Secure with the session cookie, and
named with the ``__Host-`` prefix where the session cookie is.
"""

from __future__ import annotations

import secrets

from flask import current_app, request
from itsdangerous import BadSignature, URLSafeSerializer
from werkzeug.wrappers import Response

from leads.services.signin_limits import account_key

SALT = "signin-device"
MAX_AGE = 365 * 24 * 3600


def cookie_name() -> str:
    secure = current_app.config.get("SESSION_COOKIE_SECURE")
    return "__Host-device" if secure else "device"


def _serializer() -> URLSafeSerializer:
    return URLSafeSerializer(current_app.config["SECRET_KEY"], salt=SALT)


def known_device(email: str) -> str | None:
    """This request's device id when it signed in to ``email``'s account before."""
    raw = request.cookies.get(cookie_name())
    if not raw or len(raw) > 512:
        return None
    try:
        data = _serializer().loads(raw)
    except (BadSignature, UnicodeError, ValueError):
        return None
    if not isinstance(data, dict) or data.get("a") != account_key(email):
        return None
    device = data.get("d")
    return device if isinstance(device, str) and device else None


def remember_device(response: Response, email: str) -> None:
    """Mark this browser as one where ``email``'s account has signed in."""
    device = known_device(email) or secrets.token_urlsafe(16)
    value = _serializer().dumps({"a": account_key(email), "d": device})
    response.set_cookie(
        cookie_name(),
        value,
        max_age=MAX_AGE,
        path="/",
        secure=bool(current_app.config.get("SESSION_COOKIE_SECURE")),
        httponly=True,
        samesite="Lax",
    )
