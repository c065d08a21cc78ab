"""Who is signed in, and what their role lets them reach.

Sessions carry ``<user id>.<session version>``: raising a user's session
version (at logout, at deactivation) makes every older cookie worthless.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar
from urllib.parse import urlsplit

from flask import Flask, Response, abort, flash, jsonify, redirect, request
from flask_login import current_user, login_url

from leads.extensions import db, login_manager
from leads.models import User

F = TypeVar("F", bound=Callable[..., Any])


def init_app(app: Flask) -> None:
    # No context processor: it would load the user for every template, so a
    # patient's page would run the session check and send its cookie again on
    # every view. Templates get ``current_user`` as a proxy, loaded when used.
    login_manager.init_app(app, add_context_processor=False)
    app.jinja_env.globals["current_user"] = current_user
    login_manager.login_view = "auth.login"
    login_manager.login_message = "Please sign in to see that page."
    login_manager.login_message_category = "info"
    # The session cookie is rebuilt at every login (see services.accounts.sign_in);
    # "strong" also ends a session whose client address or browser changed.
    login_manager.session_protection = app.config["SESSION_PROTECTION"]
    login_manager.unauthorized_handler(_unauthorized)


def wants_json() -> bool:
    """The request asks for JSON (a script's fetch), not a page."""
    best = request.accept_mimetypes.best_match(["text/html", "application/json"])
    return request.is_json or best == "application/json"


def _unauthorized() -> Response:
    """Not signed in: scripts get 401 with JSON; people are sent to sign in."""
    if wants_json():
        response = jsonify(error="unauthorized", message="Please sign in again.")
        response.status_code = 401
        return response
    flash(login_manager.login_message, login_manager.login_message_category)
    return redirect(login_url(login_manager.login_view, next_url=request.url))


@login_manager.user_loader
def load_user(user_id: str) -> User | None:
    ident, _, version = user_id.partition(".")
    if not ident.isdigit() or not version.isdigit():
        return None
    user = db.session.get(User, int(ident))
    if user is None or not user.active or user.session_version != int(version):
        return None
    return user


def roles_required(*roles: str) -> Callable[[F], F]:
    """Signed-in users with one of ``roles`` only; others are sent to sign in
    (anonymous) or refused with 403 (signed in, wrong role)."""

    def decorator(view: F) -> F:
        @wraps(view)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            if not current_user.is_authenticated:
                return login_manager.unauthorized()
            if current_user.role not in roles:
                abort(403)
            return view(*args, **kwargs)

        return wrapper  # type: ignore[return-value]

    return decorator


def safe_next(target: str | None, default: str) -> str:
    """``target`` if it is a path on this site, else ``default`` (no open redirect)."""
    if not target:
        return default
    target = target.strip().replace("\\", "/")
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//"):
        return default
    if any(ord(ch) < 32 for ch in target):
        return default
    return target
