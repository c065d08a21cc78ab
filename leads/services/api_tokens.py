"""API tokens: made, listed, revoked, and checked on each API request.

A token is shown once, when made; the database keeps its SHA-256 digest (the
token is 256 random bits, so a plain digest is enough: there is nothing to
guess). Each token belongs to one clinic and reads that clinic's leads through
the same scope helper as the inbox (``leads.services.scope``), as a manager of
that clinic would.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass, field
from datetime import timedelta

import sqlalchemy as sa

from leads.extensions import db
from leads.models import ApiToken, Clinic, Location, User, utcnow
from leads.services.audit import record

TOKEN_PREFIX = "clk_"  # noqa: S105 - a label, not a secret
# last_used_at is written at most this often per token: a busy client must not
# turn every read into a write.
LAST_USED_EVERY = timedelta(minutes=1)


class TokenError(ValueError):
    """A token request that cannot be met; the message is for staff."""


def digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def create_token(clinic: Clinic, name: str, user: User | None) -> tuple[ApiToken, str]:
    """A new token for ``clinic``: the row, and the token itself (show it once)."""
    name = " ".join(name.split())
    if not name:
        raise TokenError("Name the token.")
    if len(name) > 120:
        raise TokenError("Keep the name under 120 characters.")
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    row = ApiToken(
        clinic_id=clinic.id,
        name=name,
        token_hash=digest(token),
        prefix=token[:12],
        created_by_id=user.id if user is not None else None,
    )
    db.session.add(row)
    db.session.flush()
    record("api_token_created", user, "api_token", row.id, clinic_id=clinic.id)
    db.session.commit()
    return row, token


def tokens_of(clinic: Clinic) -> list[ApiToken]:
    return list(
        db.session.scalars(
            sa.select(ApiToken)
            .where(ApiToken.clinic_id == clinic.id)
            .order_by(ApiToken.revoked_at.is_not(None), ApiToken.id.desc())
        )
    )


def revoke(token: ApiToken, user: User | None) -> None:
    if token.revoked_at is not None:
        return
    token.revoked_at = utcnow()
    record("api_token_revoked", user, "api_token", token.id, clinic_id=token.clinic_id)
    db.session.commit()


def authenticate(raw: str) -> ApiToken | None:
    """The live token for ``raw``, its last use noted; None if unknown or revoked."""
    if not raw.startswith(TOKEN_PREFIX) or len(raw) > 200:
        return None
    token = db.session.scalar(sa.select(ApiToken).where(ApiToken.token_hash == digest(raw)))
    if token is None or token.revoked_at is not None:
        return None
    now = utcnow()
    if token.last_used_at is None or now - token.last_used_at >= LAST_USED_EVERY:
        token.last_used_at = now
        db.session.commit()
    return token


@dataclass
class TokenPrincipal:
    """Who an API request acts as: a manager of the token's clinic, all its
    locations, for the scope helper and the pipeline's recorded changes."""

    token_id: int
    name: str
    clinics: list[Clinic]
    locations: list[Location] = field(default_factory=list)
    role: str = "manager"
    active: bool = True
    is_authenticated: bool = True
    # No staff account: timeline events and audit entries carry no user.
    id: None = None
    email: str = ""


def principal(token: ApiToken) -> TokenPrincipal:
    return TokenPrincipal(token_id=token.id, name=f"API token {token.name}", clinics=[token.clinic])
