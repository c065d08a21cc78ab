"""Staff accounts."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from leads.extensions import db
from leads.models.base import utcnow
from leads.models.clinic import Clinic

ROLES = ("admin", "marketing", "manager")

user_clinics = sa.Table(
    "user_clinics",
    db.metadata,
    sa.Column("user_id", sa.ForeignKey("users.id", ondelete="CASCADE"), primary_key=True),
    sa.Column("clinic_id", sa.ForeignKey("clinics.id", ondelete="CASCADE"), primary_key=True),
)


class User(db.Model):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(sa.String(254), unique=True)
    name: Mapped[str] = mapped_column(sa.String(120), default="")
    password_hash: Mapped[str] = mapped_column(sa.String(255), default="")
    role: Mapped[str] = mapped_column(sa.String(16))
    active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    clinics: Mapped[list[Clinic]] = relationship(secondary=user_clinics)

    def __repr__(self) -> str:
        return f"<User {self.id} {self.role}>"
