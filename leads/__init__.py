"""Clinic Leads: landing pages and consultation leads for clinics."""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from flask import Flask, Request, Response, current_app, request
from flask.sessions import SecureCookieSessionInterface
from itsdangerous import URLSafeTimedSerializer

import config as settings

MIGRATIONS_DIR = str(Path(__file__).resolve().parent.parent / "migrations")


def create_app(config: Mapping[str, Any] | None = None) -> Flask:
    """Build the app. ``config`` overrides every other source of settings."""
    app = LeadsFlask(__name__, instance_path=_instance_path(config))
    app.config.from_mapping(settings.load(config))
    # Flask's command line resets app.debug from FLASK_DEBUG; check-deploy
    # judges the setting the web server would run with.
    app.extensions["leads.configured_debug"] = bool(app.config.get("DEBUG"))
    os.makedirs(app.instance_path, exist_ok=True)
    _check_settings(app)
    register_extensions(app)
    register_blueprints(app)
    register_errorhandlers(app)
    register_commands(app)
    register_template_helpers(app)
    return app


class LeadsRequest(Request):
    @property
    def max_content_length(self) -> int | None:  # type: ignore[override]
        """The media upload takes an image of up to 10 MB; every other
        request keeps ``MAX_CONTENT_LENGTH``. The rule is matched before any
        ``before_request`` reads the body."""
        from leads.input_guard import FILE_UPLOADS

        if self.url_rule is not None and self.url_rule.endpoint in FILE_UPLOADS:
            return current_app.config["MEDIA_UPLOAD_MAX_BYTES"]
        return super().max_content_length


class SessionCookies(SecureCookieSessionInterface):
    """Flask's signed-cookie sessions, with the signing serializer built once
    for the app's keys rather than at every request (it keeps no state of a
    request: each use makes its own signer)."""

    def get_signing_serializer(self, app: Flask) -> URLSafeTimedSerializer | None:
        keys = (app.secret_key, tuple(app.config["SECRET_KEY_FALLBACKS"] or ()))
        kept = app.extensions.get("session_serializer")
        if kept is None or kept[0] != keys:
            kept = (keys, super().get_signing_serializer(app))
            app.extensions["session_serializer"] = kept
        return kept[1]


class LeadsFlask(Flask):
    request_class = LeadsRequest
    session_interface = SessionCookies()

    def ensure_sync(self, func):  # type: ignore[no-untyped-def,override]
        """Flask asks, about a dozen times a request, whether each hook and
        view is a coroutine function; the answer never changes, so it is kept
        for the functions that live as long as the app (not for one made
        inside a function, such as a request's own callback)."""
        known = self.__dict__.setdefault("_sync_funcs", {})
        try:
            return known[func]
        except KeyError:
            found = super().ensure_sync(func)
            if "<locals>" not in getattr(func, "__qualname__", "<locals>") and len(known) < 256:
                known[func] = found
            return found

    def log_exception(self, exc_info) -> None:  # type: ignore[no-untyped-def,override]
        """Log an unhandled error once, by its type and place, with the request id:
        an exception's text (a database error's parameters, say) and the path
        can carry what a patient typed."""
        from flask import request

        from leads.logs import error_line, request_id

        exc_type, _, tb = exc_info
        self.logger.error(
            "unhandled %s (%s %s, request %s)",
            error_line(exc_type, tb),
            request.method,
            request.endpoint or "no route",
            request_id(),
        )


def _instance_path(config: Mapping[str, Any] | None) -> str | None:
    if config and config.get("INSTANCE_PATH"):
        return str(config["INSTANCE_PATH"])
    return os.environ.get("INSTANCE_PATH") or None


def _check_settings(app: Flask) -> None:
    if app.config["ENV_NAME"] == "production":
        if app.config["SECRET_KEY"] in (None, "", settings.DEV_SECRET_KEY):
            raise RuntimeError("SECRET_KEY must be set to a long random value in production.")
        if len(app.config["SECRET_KEY"]) < 32:
            raise RuntimeError("SECRET_KEY must be at least 32 characters in production.")
    if not app.config.get("DATABASE_URL"):
        app.config["DATABASE_URL"] = "sqlite:///" + os.path.join(app.instance_path, "leads.db")
    app.config["SQLALCHEMY_DATABASE_URI"] = _normalise_db_url(app.config["DATABASE_URL"])
    if not app.config.get("RATELIMIT_STORAGE_URI"):
        app.config["RATELIMIT_STORAGE_URI"] = _limits_storage(app.config.get("REDIS_URL"))


def _limits_storage(redis_url: str | None) -> str:
    """The rate limits' storage: the same Redis as the queue."""
    if not redis_url:
        return "memory://"  # only when no Redis was named: the embedded one starts later
    if redis_url.startswith("unix://"):
        return "redis+unix://" + redis_url[len("unix://") :]
    return redis_url


def _normalise_db_url(url: str) -> str:
    # Hosting platforms hand out postgres:// URLs; SQLAlchemy wants a driver name.
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url


def register_extensions(app: Flask) -> None:
    from leads import auth, logs, media_storage, queue, security, sqlite
    from leads.extensions import csrf, db, limiter, migrate
    from leads.services import landing_cache

    logs.init_app(app)
    security.init_app(app)
    db.init_app(app)
    sqlite.init_app(app)
    migrate.init_app(app, db, directory=MIGRATIONS_DIR, render_as_batch=True)
    csrf.init_app(app)
    queue.init_app(app)
    landing_cache.init_app(app)
    auth.init_app(app)
    limiter.init_app(app)
    _spare_patients(app, limiter)
    media_storage.init_app(app)


def _spare_patients(app: Flask, limiter: Any) -> None:
    """The limiter where it serves, and not where it only costs.

    Reading the public pages is never limited (only the form's posts are, by
    their own views' decorators), so a page view does not ask the limiter at
    all: its before-request check, even when it finds nothing to apply,
    costs about a tenth of a page view. And a patient's answer (the
    thank-you redirect, the form again) carries no ``X-RateLimit-*``
    headers, which cost two Redis round trips a post and tell a patient
    nothing; a refusal (429) keeps its ``Retry-After``. Both hooks stay in
    their places for every other request (the API's clients read the headers).
    """
    checks = app.before_request_funcs.setdefault(None, [])
    check = limiter._check_request_limit
    if check in checks:  # a limiter that checks elsewhere: nothing to spare

        def limits_unless_reading_a_public_page() -> None:
            if request.blueprint == "public" and request.method in ("GET", "HEAD"):
                return
            check()

        checks[checks.index(check)] = limits_unless_reading_a_public_page

    answers = app.after_request_funcs.setdefault(None, [])
    found = [n for n, hook in enumerate(answers) if _is_limit_headers(hook)]
    if found:
        headers = answers[found[0]]

        def headers_unless_answering_a_patient(response: Response) -> Response:
            if request.blueprint == "public" and response.status_code != 429:
                return response
            return headers(response)

        answers[found[0]] = headers_unless_answering_a_patient


def _is_limit_headers(hook: Any) -> bool:
    """Flask-Limiter's after-request hook that writes the ``X-RateLimit-*`` headers."""
    return getattr(getattr(hook, "func", None), "__name__", "") == "__inject_headers"


def register_blueprints(app: Flask) -> None:
    from leads.blueprints import (
        account,
        admin,
        api,
        auth,
        clinics,
        editor,
        inbox,
        invitations,
        media,
        privacy,
        public,
        reports,
        staff,
    )

    app.register_blueprint(public.bp)
    app.register_blueprint(auth.bp)
    app.register_blueprint(staff.bp)
    app.register_blueprint(inbox.bp)
    app.register_blueprint(admin.bp)
    app.register_blueprint(clinics.bp)
    app.register_blueprint(editor.bp)
    app.register_blueprint(media.bp)
    app.register_blueprint(privacy.bp)
    app.register_blueprint(account.bp)
    app.register_blueprint(invitations.bp)
    app.register_blueprint(api.bp)
    app.register_blueprint(reports.bp)


def register_errorhandlers(app: Flask) -> None:
    from leads.blueprints import errors

    errors.register(app)


def register_commands(app: Flask) -> None:
    from leads import commands

    commands.register(app)


def register_template_helpers(app: Flask) -> None:
    from leads import templating

    templating.register(app)


logging.getLogger(__name__).addHandler(logging.NullHandler())
