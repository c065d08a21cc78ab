"""Two-factor sign-in with time-based codes (TOTP, RFC 6238) from an
authenticator app.

Enrolment stores a new secret, shows it as a QR code, and turns two-factor
sign-in on only once a first code from the app matches. A code is accepted
for the current 30-second step or the one either side (clock drift), and
each step once only: the last step accepted is stored, so a code seen over
someone's shoulder cannot be used again. Admins must have it when
``ADMIN_TWO_FACTOR_REQUIRED`` is set (production).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time

import pyotp
import segno
from flask import current_app
from markupsafe import Markup

from leads.extensions import db
from leads.models import User, utcnow
from leads.services.accounts import AccountError
from leads.services.audit import record

STEP_SECONDS = 30
RECOVERY_CODES = 10
_RECOVERY_ALPHABET = "abcdefghjkmnpqrstuvwxyz23456789"  # no 0/o, 1/l/i


def required(user: User) -> bool:
    """Whether ``user`` must sign in with a code (admins, when so configured)."""
    return bool(current_app.config["ADMIN_TWO_FACTOR_REQUIRED"]) and user.is_admin


def start(user: User) -> None:
    """A new secret for ``user`` to add to their app; not in use until confirmed."""
    if user.has_two_factor:
        raise AccountError("Two-factor sign-in is on already.")
    user.totp_secret = pyotp.random_base32()
    user.totp_confirmed_at = None
    db.session.commit()


def provisioning_uri(user: User) -> str:
    issuer = current_app.jinja_env.globals.get("site_name", "Clinic Leads")
    return pyotp.TOTP(user.totp_secret).provisioning_uri(name=user.email, issuer_name=issuer)


def qr_code_svg(user: User) -> Markup:
    """The enrolment QR code as inline SVG: no script, no style attribute, so
    the strict Content-Security-Policy lets it show."""
    qr = segno.make(provisioning_uri(user), error="m")
    svg = qr.svg_inline(
        scale=5, dark="#000", light="#fff", title="QR code for your authenticator app"
    )
    return Markup(svg)  # noqa: S704 - segno's own markup; the only input is our URI, escaped by segno


def confirm(user: User, code: str) -> list[str]:
    """Turn two-factor sign-in on with a first code from the app; returns the
    recovery codes, to be shown once."""
    if not user.totp_secret or user.has_two_factor:
        raise AccountError("Start the set-up again.")
    if not _accept(user, code):
        db.session.rollback()
        raise AccountError("That code does not match. Check the app shows this account.")
    user.totp_confirmed_at = utcnow()
    codes = _new_recovery_codes(user)
    record("two_factor_enabled", user, "user", user.id)
    db.session.commit()
    return codes


def new_recovery_codes(user: User) -> list[str]:
    """Replace ``user``'s recovery codes; the old ones stop working."""
    if not user.has_two_factor:
        raise AccountError("Two-factor sign-in is off.")
    codes = _new_recovery_codes(user)
    record("recovery_codes_replaced", user, "user", user.id)
    db.session.commit()
    return codes


def _new_recovery_codes(user: User) -> list[str]:
    codes = [
        "-".join("".join(secrets.choice(_RECOVERY_ALPHABET) for _ in range(4)) for _ in range(4))
        for _ in range(RECOVERY_CODES)
    ]
    user.totp_recovery_codes = [_digest(code) for code in codes]
    return codes


def _digest(code: str) -> str:
    return hashlib.sha256("".join(code.lower().replace("-", "").split()).encode()).hexdigest()


def check(user: User, code: str) -> bool:
    """Whether ``code`` is a fresh, valid code for ``user``: from the app, or
    one of their recovery codes (each works once)."""
    if not user.has_two_factor:
        return False
    accepted = _accept(user, code)
    if not accepted:
        digest = _digest(code)
        unused = list(user.totp_recovery_codes or [])
        match = next((d for d in unused if hmac.compare_digest(d, digest)), None)
        if match is not None:
            unused.remove(match)
            user.totp_recovery_codes = unused
            record("recovery_code_used", user, "user", user.id, left=len(unused))
            accepted = True
    db.session.commit()
    return accepted


def remove(user: User, code: str | None, by: User) -> None:
    """Turn two-factor sign-in off. The owner needs a current code; an admin
    may remove it for a colleague who lost their device."""
    if by.id != user.id and not by.is_admin:
        raise AccountError("Only an admin can do that.")
    if by.id == user.id:
        if required(user):
            raise AccountError("Admins must keep two-factor sign-in.")
        if user.has_two_factor and not _accept(user, code or ""):
            db.session.rollback()
            raise AccountError("That code does not match.")
    user.totp_secret = ""
    user.totp_confirmed_at = None
    user.totp_last_step = 0
    user.totp_recovery_codes = []
    if by.id != user.id:
        user.session_version += 1
    record("two_factor_removed", by, "user", user.id)
    db.session.commit()


def _accept(user: User, code: str) -> bool:
    code = "".join(code.split())
    if len(code) != 6 or not code.isdigit():
        return False
    totp = pyotp.TOTP(user.totp_secret)
    step = int(time.time()) // STEP_SECONDS
    for candidate in (step, step - 1, step + 1):
        if candidate > user.totp_last_step and hmac.compare_digest(
            totp.generate_otp(candidate), code
        ):
            user.totp_last_step = candidate
            return True
    return False
