"""``flask --app leads check-deploy``: the production settings that are unsafe.

Like Django's ``check --deploy``: each finding names the setting and why it
matters; the command exits non-zero when there is any.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

from flask import Flask

import config as settings


def problems(config: Mapping[str, Any]) -> list[str]:
    """Every unsafe production setting in ``config``, as ``"SETTING: why"`` lines."""
    found: list[str] = []

    def unsafe(name: str, why: str) -> None:
        found.append(f"{name}: {why}")

    if config.get("DEBUG"):
        unsafe("DEBUG", "is on; the debugger runs code for anyone who can reach it")
    if config.get("TESTING"):
        unsafe("TESTING", "is on; errors propagate instead of showing the error page")
    secret = str(config.get("SECRET_KEY") or "")
    if secret in ("", settings.DEV_SECRET_KEY, settings.TestingConfig.SECRET_KEY):
        unsafe("SECRET_KEY", "is the default; anyone can forge sessions and signed links")
    elif len(secret) < 32:
        unsafe("SECRET_KEY", "is shorter than 32 characters")
    if not config.get("SESSION_COOKIE_SECURE"):
        unsafe("SESSION_COOKIE_SECURE", "is off; the session cookie would travel over plain HTTP")
    if not config.get("SESSION_COOKIE_HTTPONLY"):
        unsafe("SESSION_COOKIE_HTTPONLY", "is off; scripts could read the session cookie")
    if not config.get("REMEMBER_COOKIE_SECURE"):
        unsafe("REMEMBER_COOKIE_SECURE", "is off; the remember-me cookie could travel over HTTP")
    database = str(config.get("SQLALCHEMY_DATABASE_URI") or config.get("DATABASE_URL") or "")
    if not database or database.startswith("sqlite"):
        unsafe("DATABASE_URL", "is SQLite (or unset); production needs PostgreSQL")
    if not config.get("SMTP_URL"):
        unsafe("SMTP_URL", "is unset; clinic inboxes would only be written to local Maildirs")
    redis_url = str(config.get("REDIS_URL") or "")
    if not redis_url:
        unsafe("REDIS_URL", "is unset; the embedded Redis is for one machine only")
    elif not redis_url.startswith("unix://") and not urlsplit(redis_url).password:
        unsafe("REDIS_URL", "has no password")
    if not config.get("TRUSTED_HOSTS"):
        unsafe("TRUSTED_HOSTS", "is unset; forged Host headers would be answered")
    if not int(config.get("HSTS_SECONDS") or 0):
        unsafe("HSTS_SECONDS", "is 0; browsers are not told to insist on HTTPS")
    if not str(config.get("PUBLIC_BASE_URL") or "").startswith("https://"):
        unsafe("PUBLIC_BASE_URL", "is not https://; links in emails would be sent in the clear")
    if str(config.get("RATELIMIT_STORAGE_URI") or "").startswith("memory://"):
        unsafe("RATELIMIT_STORAGE_URI", "is in memory; limits would not hold across processes")
    if not config.get("ADMIN_TWO_FACTOR_REQUIRED"):
        unsafe("ADMIN_TWO_FACTOR_REQUIRED", "is off; admins could sign in with a password alone")
    if config.get("WEBHOOK_ALLOW_PRIVATE"):
        unsafe(
            "WEBHOOK_ALLOW_PRIVATE",
            "is on; a webhook could reach loopback, private and metadata addresses",
        )
    if not config.get("WEBHOOK_HTTPS_ONLY"):
        unsafe("WEBHOOK_HTTPS_ONLY", "is off; leads could be sent to webhooks over plain HTTP")
    for name in ("SESSION_COOKIE_NAME", "REMEMBER_COOKIE_NAME"):
        if not str(config.get(name) or "").startswith("__Host-"):
            unsafe(name, "has no __Host- prefix; another subdomain could plant or overwrite it")
    if config.get("SESSION_COOKIE_DOMAIN") or config.get("REMEMBER_COOKIE_DOMAIN"):
        unsafe("SESSION_COOKIE_DOMAIN", "is set; a __Host- cookie must be for this host only")
    if config.get("SESSION_PROTECTION") != "strong":
        unsafe("SESSION_PROTECTION", "is not strong; a copied session cookie keeps working")
    return found


def behaviour_problems(app: Flask) -> list[str]:
    """What the running code does, checked with requests through the app itself:
    JSON answers to scripts that are not signed in, the CSP's base-uri, the
    consent box, and limiter keys."""
    from leads.forms.consultation import ConsultationForm
    from leads.security import client_key
    from leads.services.signin_limits import account_key

    found: list[str] = []
    hosts = app.config.get("TRUSTED_HOSTS") or ["localhost"]
    client = app.test_client()
    base = f"https://{hosts[0]}"
    poll = client.get(
        "/inbox/updates?since=0", base_url=base, headers={"Accept": "application/json"}
    )
    if poll.status_code != 401 or not poll.is_json:
        found.append(f"401 JSON: a script's request without a session got {poll.status_code}")
    policy = client.get("/robots.txt", base_url=base).headers.get("Content-Security-Policy", "")
    if "base-uri 'none'" not in policy:
        found.append("Content-Security-Policy: base-uri is not 'none'")
    with app.test_request_context("/", method="POST", data={"consent_enquiry": "n"}, base_url=base):
        form = ConsultationForm(meta={"csrf": False})
        if form.consent_enquiry.data:
            found.append("consent_enquiry: a value other than the box's own counts as consent")
    with app.test_request_context("/", base_url=base, environ_base={"REMOTE_ADDR": "203.0.113.9"}):
        if "203.0.113.9" in client_key() or "admin@" in account_key("admin@example.org"):
            found.append("rate-limit keys: an address is stored in clear")
    return found


def admins_without_two_factor() -> list[str]:
    """Every active admin account without two-factor sign-in, as findings.
    Reads the database: call it inside the app context."""
    from leads.extensions import db
    from leads.models import User

    admins = db.session.scalars(
        db.select(User).where(User.role == "admin", User.active.is_(True)).order_by(User.email)
    )
    return [
        f"ADMIN {user.email}: has no two-factor sign-in; it is asked for at their next sign-in"
        for user in admins
        if not user.has_two_factor
    ]
