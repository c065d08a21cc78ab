"""Staff accounts and the audit log of what they do."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

import sqlalchemy as sa
from flask_login import UserMixin
from sqlalchemy.orm import Mapped, mapped_column, relationship

from leads.extensions import db
from leads.models.base import utcnow
from leads.models.clinic import Clinic, Location

ROLES = ("admin", "marketing", "manager")

user_clinics = sa.Table(
    "user_clinics",
    db.metadata,
    sa.Column("user_id", sa.ForeignKey("users.id", ondelete="CASCADE"), primary_key=True),
    sa.Column("clinic_id", sa.ForeignKey("clinics.id", ondelete="CASCADE"), primary_key=True),
)

# A manager limited to some locations of their clinics; none listed means all.
user_locations = sa.Table(
    "user_locations",
    db.metadata,
    sa.Column("user_id", sa.ForeignKey("users.id", ondelete="CASCADE"), primary_key=True),
    sa.Column("location_id", sa.ForeignKey("locations.id", ondelete="CASCADE"), primary_key=True),
)


class User(UserMixin, db.Model):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(sa.String(254), unique=True)
    name: Mapped[str] = mapped_column(sa.String(120), default="")
    password_hash: Mapped[str] = mapped_column(sa.String(255), default="")
    role: Mapped[str] = mapped_column(sa.String(16))
    active: Mapped[bool] = mapped_column(default=True)
    # Part of the session cookie's user id: raising it logs out every session.
    session_version: Mapped[int] = mapped_column(default=1, server_default="1")
    last_login_at: Mapped[datetime | None] = mapped_column(default=None)
    # Two-factor sign-in (TOTP): the shared secret, set at enrolment and in
    # use once confirmed with a first code; the last time step accepted, so a
    # code works once.
    totp_secret: Mapped[str] = mapped_column(sa.String(64), default="", server_default="")
    totp_confirmed_at: Mapped[datetime | None] = mapped_column(default=None)
    totp_last_step: Mapped[int] = mapped_column(sa.BigInteger, default=0, server_default="0")
    # SHA-256 of each unused recovery code (random, 80 bits: no salt needed).
    totp_recovery_codes: Mapped[list[str]] = mapped_column(
        sa.JSON, default=list, server_default="[]"
    )
    # The daily digest: local time ("07:30", in the first clinic location's
    # time zone) or empty for none; the local day it was last sent.
    digest_time: Mapped[str] = mapped_column(sa.String(5), default="", server_default="")
    digest_sent_on: Mapped[date | None] = mapped_column(default=None)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    clinics: Mapped[list[Clinic]] = relationship(secondary=user_clinics, order_by="Clinic.name")
    locations: Mapped[list[Location]] = relationship(secondary=user_locations)

    # Flask-Login
    def get_id(self) -> str:
        return f"{self.id}.{self.session_version}"

    @property
    def is_active(self) -> bool:
        return self.active

    @property
    def has_two_factor(self) -> bool:
        return bool(self.totp_secret) and self.totp_confirmed_at is not None

    @property
    def has_joined(self) -> bool:
        """False for an invited colleague who has not chosen a password yet."""
        return bool(self.password_hash)

    @property
    def is_admin(self) -> bool:
        return self.role == "admin"

    def __repr__(self) -> str:
        return f"<User {self.id} {self.role}>"


class AuditEntry(db.Model):
    """What a staff member saw or changed. Ids only: never a patient's details."""

    __tablename__ = "audit_entries"
    __table_args__ = (sa.Index("ix_audit_object", "object_type", "object_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("users.id", ondelete="SET NULL"), default=None
    )
    action: Mapped[str] = mapped_column(sa.String(48))
    object_type: Mapped[str] = mapped_column(sa.String(32), default="")
    object_id: Mapped[int | None] = mapped_column(default=None)
    details: Mapped[dict[str, Any]] = mapped_column(sa.JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)

    user: Mapped[User | None] = relationship()
